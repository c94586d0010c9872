//! ELF vmlinux kernels: the PT_LOAD program headers with their physical addresses.

use crate::Error;

/// One loadable segment of an ELF kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElfLoad {
    /// Offset in the file.
    pub offset: u64,
    /// Bytes in the file.
    pub filesz: u64,
    /// Bytes in memory (the rest is zero).
    pub memsz: u64,
    /// Physical load address.
    pub paddr: u64,
    /// Virtual address.
    pub vaddr: u64,
    /// Alignment.
    pub align: u64,
}

/// A parsed ELF64 x86_64 executable kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfKernel {
    /// e_entry (for vmlinux this is the physical address of startup_64).
    pub entry: u64,
    /// The PT_LOAD segments in file order.
    pub loads: Vec<ElfLoad>,
}

/// Most program headers we accept.
pub const MAX_PHDRS: usize = 256;

fn rd<const N: usize>(b: &[u8], off: u64) -> Result<[u8; N], Error> {
    let s = usize::try_from(off)
        .ok()
        .and_then(|o| b.get(o..o.checked_add(N)?));
    let s = s.ok_or(Error::Truncated {
        what: "ELF header",
        offset: off,
    })?;
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    Ok(a)
}
fn u16at(b: &[u8], o: u64) -> Result<u16, Error> {
    Ok(u16::from_le_bytes(rd(b, o)?))
}
fn u32at(b: &[u8], o: u64) -> Result<u32, Error> {
    Ok(u32::from_le_bytes(rd(b, o)?))
}
fn u64at(b: &[u8], o: u64) -> Result<u64, Error> {
    Ok(u64::from_le_bytes(rd(b, o)?))
}

/// True when the bytes start like an ELF64 little-endian x86_64 executable.
pub fn looks_like(b: &[u8]) -> bool {
    b.len() >= 64
        && &b[..4] == b"\x7fELF"
        && b[4] == 2
        && b[5] == 1
        && u16at(b, 18).ok() == Some(62)
}

/// Parse an ELF kernel's program headers, checking that every PT_LOAD lies inside the file.
pub fn parse(b: &[u8]) -> Result<ElfKernel, Error> {
    if b.len() < 64 || &b[..4] != b"\x7fELF" {
        return Err(Error::NotElf("no ELF magic".into()));
    }
    if b[4] != 2 || b[5] != 1 {
        return Err(Error::NotElf("not a little-endian ELF64 file".into()));
    }
    if u16at(b, 18)? != 62 {
        return Err(Error::NotElf(format!(
            "e_machine {} is not x86_64 (62)",
            u16at(b, 18)?
        )));
    }
    let etype = u16at(b, 16)?;
    if etype != 2 {
        return Err(Error::NotElf(format!("e_type {etype} is not ET_EXEC (2)")));
    }
    let entry = u64at(b, 24)?;
    let phoff = u64at(b, 32)?;
    let phentsize = u16at(b, 54)? as u64;
    let phnum = u16at(b, 56)? as usize;
    if phentsize < 56 {
        return Err(Error::NotElf(format!(
            "e_phentsize {phentsize} is below 56"
        )));
    }
    if phnum > MAX_PHDRS {
        return Err(Error::NotElf(format!(
            "{phnum} program headers (at most {MAX_PHDRS})"
        )));
    }
    let mut loads = Vec::new();
    for i in 0..phnum as u64 {
        let o = phoff.checked_add(i * phentsize).ok_or(Error::Truncated {
            what: "program header",
            offset: phoff,
        })?;
        if u32at(b, o)? != 1 {
            continue;
        }
        let l = ElfLoad {
            offset: u64at(b, o + 8)?,
            vaddr: u64at(b, o + 16)?,
            paddr: u64at(b, o + 24)?,
            filesz: u64at(b, o + 32)?,
            memsz: u64at(b, o + 40)?,
            align: u64at(b, o + 48)?,
        };
        if l.offset
            .checked_add(l.filesz)
            .is_none_or(|e| e > b.len() as u64)
        {
            return Err(Error::Truncated {
                what: "PT_LOAD contents",
                offset: l.offset,
            });
        }
        if l.filesz > l.memsz || l.paddr.checked_add(l.memsz).is_none() {
            return Err(Error::NotElf(format!(
                "PT_LOAD #{i}: filesz {:#x} > memsz {:#x} or address overflow",
                l.filesz, l.memsz
            )));
        }
        loads.push(l);
    }
    if loads.is_empty() {
        return Err(Error::NotElf("no PT_LOAD program header".into()));
    }
    Ok(ElfKernel { entry, loads })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A crafted ELF kernel ([`crate::synthetic_elf_kernel`]).
    pub(crate) fn crafted() -> Vec<u8> {
        crate::synthetic_elf_kernel()
    }

    #[test]
    fn crafted_elf() {
        let v = crafted();
        assert!(looks_like(&v));
        let k = parse(&v).unwrap();
        assert_eq!(k.entry, 0x100_0000);
        assert_eq!(k.loads.len(), 2);
        assert_eq!(k.loads[1].memsz, 0x5000);
        let mut trunc = v.clone();
        trunc.truncate(0x2800);
        assert!(matches!(parse(&trunc), Err(Error::Truncated { .. })));
        let mut arm = v.clone();
        arm[18] = 183;
        assert!(parse(&arm).is_err());
        let mut many = v.clone();
        many[56..58].copy_from_slice(&60000u16.to_le_bytes());
        assert!(parse(&many).is_err());
        let mut rel = v;
        rel[16] = 1;
        assert!(parse(&rel).is_err());
    }
}
