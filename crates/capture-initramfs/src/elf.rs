//! The few ELF facts the builder needs, read without trusting the file: an executable's
//! interpreter (PT_INTERP) and dynamic section (DT_NEEDED, DT_RUNPATH, DT_RPATH), and a
//! module's `.modinfo` section (`firmware=`, `softdep=` ...).
//!
//! ELF32 and ELF64, either byte order. Every offset and count is checked against the input;
//! malformed input is an error string, never a panic.

/// What [`parse_elf`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElfInfo {
    /// ELFCLASS64 (else 32).
    pub is_64: bool,
    /// Little-endian (else big).
    pub little_endian: bool,
    /// e_machine.
    pub machine: u16,
    /// e_type (2 executable, 3 shared object / PIE, 1 relocatable).
    pub elf_type: u16,
    /// The PT_INTERP path, if any.
    pub interp: Option<String>,
    /// DT_NEEDED names, in order.
    pub needed: Vec<String>,
    /// DT_RUNPATH entries (`:`-split), in order.
    pub runpath: Vec<String>,
    /// DT_RPATH entries (`:`-split), in order.
    pub rpath: Vec<String>,
}

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;
/// Most dynamic entries or DT_NEEDED names read.
const MAX_DYN: usize = 65536;

struct Reader<'a> {
    b: &'a [u8],
    le: bool,
    is_64: bool,
}

impl<'a> Reader<'a> {
    fn bytes(&self, off: u64, len: u64) -> Result<&'a [u8], String> {
        let start = usize::try_from(off).map_err(|_| format!("offset {off:#x} out of range"))?;
        let len = usize::try_from(len).map_err(|_| format!("length {len:#x} out of range"))?;
        start
            .checked_add(len)
            .and_then(|end| self.b.get(start..end))
            .ok_or_else(|| {
                format!(
                    "{len} bytes at offset {off:#x} run past the end ({} bytes)",
                    self.b.len()
                )
            })
    }
    fn u16(&self, off: u64) -> Result<u16, String> {
        let s = self.bytes(off, 2)?;
        let a = [s[0], s[1]];
        Ok(if self.le {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        })
    }
    fn u32(&self, off: u64) -> Result<u32, String> {
        let s = self.bytes(off, 4)?;
        let a = [s[0], s[1], s[2], s[3]];
        Ok(if self.le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }
    fn u64(&self, off: u64) -> Result<u64, String> {
        let s = self.bytes(off, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(if self.le {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        })
    }
    /// A word: 8 bytes for ELF64, 4 for ELF32.
    fn word(&self, off: u64) -> Result<u64, String> {
        if self.is_64 {
            self.u64(off)
        } else {
            self.u32(off).map(u64::from)
        }
    }
}

fn header(b: &[u8]) -> Result<Reader<'_>, String> {
    if b.len() < 52 || &b[..4] != b"\x7fELF" {
        return Err("not an ELF file (no \\x7fELF magic or shorter than a header)".into());
    }
    let is_64 = match b[4] {
        1 => false,
        2 => true,
        c => return Err(format!("EI_CLASS {c} is neither 1 nor 2")),
    };
    let le = match b[5] {
        1 => true,
        2 => false,
        d => return Err(format!("EI_DATA {d} is neither 1 nor 2")),
    };
    if is_64 && b.len() < 64 {
        return Err("shorter than an ELF64 header".into());
    }
    Ok(Reader { b, le, is_64 })
}

struct Phdr {
    kind: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
}

fn phdrs(r: &Reader) -> Result<Vec<Phdr>, String> {
    let (phoff, phentsize, phnum) = if r.is_64 {
        (r.u64(32)?, r.u16(54)?, r.u16(56)?)
    } else {
        (u64::from(r.u32(28)?), r.u16(42)?, r.u16(44)?)
    };
    if phnum == 0 {
        return Ok(Vec::new());
    }
    let min = if r.is_64 { 56 } else { 32 };
    if phentsize < min {
        return Err(format!("e_phentsize {phentsize} is below {min}"));
    }
    // checks the whole table lies in the file before allocating
    r.bytes(phoff, u64::from(phentsize) * u64::from(phnum))?;
    let mut out = Vec::with_capacity(usize::from(phnum));
    for i in 0..u64::from(phnum) {
        let o = phoff + i * u64::from(phentsize);
        out.push(if r.is_64 {
            Phdr {
                kind: r.u32(o)?,
                offset: r.u64(o + 8)?,
                vaddr: r.u64(o + 16)?,
                filesz: r.u64(o + 32)?,
            }
        } else {
            Phdr {
                kind: r.u32(o)?,
                offset: u64::from(r.u32(o + 4)?),
                vaddr: u64::from(r.u32(o + 8)?),
                filesz: u64::from(r.u32(o + 16)?),
            }
        });
    }
    Ok(out)
}

fn vaddr_to_offset(ph: &[Phdr], vaddr: u64) -> Option<u64> {
    ph.iter()
        .filter(|p| p.kind == PT_LOAD)
        .find(|p| vaddr >= p.vaddr && vaddr - p.vaddr < p.filesz)
        .and_then(|p| p.offset.checked_add(vaddr - p.vaddr))
}

fn cstr(bytes: &[u8]) -> Result<String, String> {
    let end = bytes
        .iter()
        .position(|&c| c == 0)
        .ok_or("string without its NUL terminator")?;
    String::from_utf8(bytes[..end].to_vec()).map_err(|_| "string is not UTF-8".to_string())
}

/// Read the interpreter and the dynamic section of an executable or shared object.
/// A static executable gives an [`ElfInfo`] with no interpreter and no DT_NEEDED.
pub fn parse_elf(bytes: &[u8]) -> Result<ElfInfo, String> {
    let r = header(bytes)?;
    let mut info = ElfInfo {
        is_64: r.is_64,
        little_endian: r.le,
        elf_type: r.u16(16)?,
        machine: r.u16(18)?,
        ..ElfInfo::default()
    };
    let ph = phdrs(&r)?;
    if let Some(p) = ph.iter().find(|p| p.kind == PT_INTERP) {
        let s = r
            .bytes(p.offset, p.filesz)
            .map_err(|e| format!("PT_INTERP: {e}"))?;
        info.interp = Some(cstr(s).map_err(|e| format!("PT_INTERP: {e}"))?);
    }
    let Some(dynp) = ph.iter().find(|p| p.kind == PT_DYNAMIC) else {
        return Ok(info);
    };
    let dyn_bytes = r
        .bytes(dynp.offset, dynp.filesz)
        .map_err(|e| format!("PT_DYNAMIC: {e}"))?;
    let entsize: u64 = if r.is_64 { 16 } else { 8 };
    let count = (dyn_bytes.len() as u64 / entsize).min(MAX_DYN as u64);
    let mut entries = Vec::new();
    let (mut strtab, mut strsz) = (None, None);
    for i in 0..count {
        let o = dynp.offset + i * entsize;
        let tag = r.word(o)?;
        let val = r.word(o + entsize / 2)?;
        match tag {
            DT_NULL => break,
            DT_STRTAB => strtab = Some(val),
            DT_STRSZ => strsz = Some(val),
            DT_NEEDED | DT_RPATH | DT_RUNPATH => entries.push((tag, val)),
            _ => {}
        }
    }
    if entries.is_empty() {
        return Ok(info);
    }
    let strtab = strtab.ok_or("DT_NEEDED/DT_RUNPATH without DT_STRTAB")?;
    let stroff = vaddr_to_offset(&ph, strtab)
        .ok_or_else(|| format!("DT_STRTAB {strtab:#x} is in no PT_LOAD segment"))?;
    let strsz = strsz.ok_or("DT_STRTAB without DT_STRSZ")?;
    let table = r
        .bytes(stroff, strsz)
        .map_err(|e| format!("string table: {e}"))?;
    for (tag, val) in entries {
        let s = usize::try_from(val)
            .ok()
            .and_then(|v| table.get(v..))
            .ok_or_else(|| format!("string offset {val:#x} past DT_STRSZ {strsz:#x}"))?;
        let s = cstr(s)?;
        match tag {
            DT_NEEDED => info.needed.push(s),
            DT_RPATH => info
                .rpath
                .extend(s.split(':').filter(|p| !p.is_empty()).map(String::from)),
            _ => info
                .runpath
                .extend(s.split(':').filter(|p| !p.is_empty()).map(String::from)),
        }
    }
    Ok(info)
}

/// The bytes of the section called `name` (by the section header string table), if any.
pub fn section<'a>(bytes: &'a [u8], name: &str) -> Result<Option<&'a [u8]>, String> {
    let r = header(bytes)?;
    let (shoff, shentsize, shnum, shstrndx) = if r.is_64 {
        (r.u64(40)?, r.u16(58)?, r.u16(60)?, r.u16(62)?)
    } else {
        (u64::from(r.u32(32)?), r.u16(46)?, r.u16(48)?, r.u16(50)?)
    };
    if shnum == 0 || shoff == 0 {
        return Ok(None);
    }
    let min = if r.is_64 { 64 } else { 40 };
    if shentsize < min {
        return Err(format!("e_shentsize {shentsize} is below {min}"));
    }
    if shstrndx >= shnum {
        return Err(format!(
            "e_shstrndx {shstrndx} is not below e_shnum {shnum}"
        ));
    }
    r.bytes(shoff, u64::from(shentsize) * u64::from(shnum))?;
    // (sh_name, sh_offset, sh_size)
    let sh = |i: u16| -> Result<(u32, u64, u64), String> {
        let o = shoff + u64::from(i) * u64::from(shentsize);
        Ok(if r.is_64 {
            (r.u32(o)?, r.u64(o + 24)?, r.u64(o + 32)?)
        } else {
            (
                r.u32(o)?,
                u64::from(r.u32(o + 16)?),
                u64::from(r.u32(o + 20)?),
            )
        })
    };
    let (_, stroff, strsize) = sh(shstrndx)?;
    let names = r
        .bytes(stroff, strsize)
        .map_err(|e| format!("section names: {e}"))?;
    for i in 0..shnum {
        let (n, off, size) = sh(i)?;
        let Some(nb) = names.get(n as usize..) else {
            continue;
        };
        if cstr(nb).ok().as_deref() == Some(name) {
            return r
                .bytes(off, size)
                .map(Some)
                .map_err(|e| format!("section {name}: {e}"));
        }
    }
    Ok(None)
}

/// The `key=value` strings of a module's `.modinfo` section (empty when it has none).
pub fn modinfo(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let Some(sec) = section(bytes, ".modinfo")? else {
        return Ok(Vec::new());
    };
    Ok(sec
        .split(|&c| c == 0)
        .filter_map(|s| {
            let s = std::str::from_utf8(s).ok()?;
            let (k, v) = s.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_binaries() {
        let Ok(b) = std::fs::read("/bin/ls") else {
            return;
        };
        let i = parse_elf(&b).unwrap();
        assert!(i.is_64 && i.little_endian);
        assert_eq!(i.machine, 62);
        assert!(i.interp.as_deref().unwrap().contains("ld-linux"), "{i:?}");
        assert!(i.needed.iter().any(|n| n.starts_with("libc.so")), "{i:?}");
        if let Ok(b) = std::fs::read("/bin/busybox") {
            let i = parse_elf(&b).unwrap();
            assert!(
                i.interp.is_none() && i.needed.is_empty(),
                "busybox-static: {i:?}"
            );
        }
    }

    #[test]
    fn truncations_never_panic() {
        let Ok(b) = std::fs::read("/bin/true") else {
            return;
        };
        for cut in (0..b.len()).step_by(97) {
            let _ = parse_elf(&b[..cut]);
            let _ = section(&b[..cut], ".dynstr");
        }
        assert!(parse_elf(b"\x7fELF").is_err());
        assert!(section(&b, ".dynstr").unwrap().is_some());
        assert!(section(&b, ".no-such").unwrap().is_none());
    }
}
