//! The little of ELF cores this crate needs: the note blob of an input core (what a
//! kdump-compressed file stores after its sub-header) and where VMCOREINFO lies inside it.

use crate::source::ReadAt;

/// Largest note blob accepted (64 MiB).
pub const MAX_NOTES: u64 = 64 << 20;
/// `p_type` of a note segment.
pub const PT_NOTE: u32 = 4;
/// `p_type` of a loadable segment.
pub const PT_LOAD: u32 = 1;

/// Why an ELF core could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ElfError {
    /// Not a little-endian ELF64 file.
    #[error("not a little-endian ELF64 core")]
    NotElf64,
    /// A header or segment lies outside the file or is too large.
    #[error("ELF {what} at offset {offset:#x} is out of range")]
    OutOfRange {
        /// What.
        what: &'static str,
        /// Offset.
        offset: u64,
    },
}

/// One ELF64 program header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Phdr {
    /// `p_type`.
    pub p_type: u32,
    /// `p_flags`.
    pub p_flags: u32,
    /// `p_offset`.
    pub p_offset: u64,
    /// `p_vaddr`.
    pub p_vaddr: u64,
    /// `p_paddr`.
    pub p_paddr: u64,
    /// `p_filesz`.
    pub p_filesz: u64,
    /// `p_memsz`.
    pub p_memsz: u64,
    /// `p_align`.
    pub p_align: u64,
}

impl Phdr {
    /// Size on disk.
    pub const SIZE: usize = 56;
    /// Decode 56 little-endian bytes.
    pub fn parse(b: &[u8]) -> Option<Self> {
        let b = b.get(..Self::SIZE)?;
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u64_at = |o: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[o..o + 8]);
            u64::from_le_bytes(a)
        };
        Some(Phdr {
            p_type: u32_at(0),
            p_flags: u32_at(4),
            p_offset: u64_at(8),
            p_vaddr: u64_at(16),
            p_paddr: u64_at(24),
            p_filesz: u64_at(32),
            p_memsz: u64_at(40),
            p_align: u64_at(48),
        })
    }
    /// Encode to 56 bytes.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..4].copy_from_slice(&self.p_type.to_le_bytes());
        b[4..8].copy_from_slice(&self.p_flags.to_le_bytes());
        for (i, v) in [
            self.p_offset,
            self.p_vaddr,
            self.p_paddr,
            self.p_filesz,
            self.p_memsz,
            self.p_align,
        ]
        .iter()
        .enumerate()
        {
            b[8 + 8 * i..16 + 8 * i].copy_from_slice(&v.to_le_bytes());
        }
        b
    }
}

/// Read the program headers of a little-endian ELF64 file (at most 65535, or `PN_XNUM`'s
/// count from section header 0, capped by the file size).
pub fn program_headers(src: &impl ReadAt) -> Result<Vec<Phdr>, ElfError> {
    let mut eh = [0u8; 64];
    src.read_exact_at(0, &mut eh)
        .map_err(|_| ElfError::NotElf64)?;
    if eh[..4] != *b"\x7fELF" || eh[4] != 2 || eh[5] != 1 {
        return Err(ElfError::NotElf64);
    }
    let phoff = u64::from_le_bytes(eh[32..40].try_into().unwrap_or_default());
    let shoff = u64::from_le_bytes(eh[40..48].try_into().unwrap_or_default());
    let phentsize = u16::from_le_bytes([eh[54], eh[55]]) as u64;
    let mut phnum = u16::from_le_bytes([eh[56], eh[57]]) as u64;
    if phentsize < Phdr::SIZE as u64 {
        return Err(ElfError::OutOfRange {
            what: "program header size",
            offset: 54,
        });
    }
    if phnum == 0xffff && shoff != 0 {
        // PN_XNUM: the real count is sh_info of section header 0.
        let mut sh = [0u8; 4];
        src.read_exact_at(shoff.saturating_add(44), &mut sh)
            .map_err(|_| ElfError::OutOfRange {
                what: "section header 0",
                offset: shoff,
            })?;
        phnum = u32::from_le_bytes(sh) as u64;
    }
    let table = phnum
        .checked_mul(phentsize)
        .filter(|&t| phoff.checked_add(t).is_some_and(|e| e <= src.len()))
        .ok_or(ElfError::OutOfRange {
            what: "program header table",
            offset: phoff,
        })?;
    let mut raw = vec![0u8; table as usize];
    src.read_exact_at(phoff, &mut raw)
        .map_err(|_| ElfError::OutOfRange {
            what: "program header table",
            offset: phoff,
        })?;
    Ok(raw
        .chunks_exact(phentsize as usize)
        .filter_map(Phdr::parse)
        .collect())
}

/// The contents of every PT_NOTE segment, concatenated in order.
pub fn note_blob(src: &impl ReadAt, phdrs: &[Phdr]) -> Result<Vec<u8>, ElfError> {
    let mut blob = Vec::new();
    for p in phdrs.iter().filter(|p| p.p_type == PT_NOTE) {
        let oob = ElfError::OutOfRange {
            what: "note segment",
            offset: p.p_offset,
        };
        if (blob.len() as u64).saturating_add(p.p_filesz) > MAX_NOTES {
            return Err(oob);
        }
        let start = blob.len();
        blob.resize(start + p.p_filesz as usize, 0);
        src.read_exact_at(p.p_offset, &mut blob[start..])
            .map_err(|_| oob)?;
    }
    Ok(blob)
}

/// Offset and size of the VMCOREINFO note's descriptor inside a note blob.
pub fn find_vmcoreinfo(blob: &[u8]) -> Option<(u64, u64)> {
    let mut pos = 0usize;
    let align4 = |n: usize| n.checked_add(3).map(|v| v & !3);
    while let Some(h) = blob.get(pos..pos.checked_add(12)?) {
        let namesz = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let descsz = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
        let name_at = pos + 12;
        let desc_at = name_at.checked_add(align4(namesz)?)?;
        let next = desc_at.checked_add(align4(descsz)?)?;
        if next > blob.len() || (namesz == 0 && descsz == 0) {
            return None;
        }
        let name = &blob[name_at..name_at + namesz];
        if name.strip_suffix(b"\0").unwrap_or(name) == b"VMCOREINFO" {
            return Some((desc_at as u64, descsz as u64));
        }
        pos = next;
    }
    None
}

/// Number of `NT_PRSTATUS` notes named "CORE" (one per CPU).
pub fn count_prstatus(blob: &[u8]) -> usize {
    let mut pos = 0usize;
    let mut n = 0;
    let align4 = |x: usize| (x + 3) & !3;
    while let Some(h) = blob.get(pos..pos + 12) {
        let namesz = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let descsz = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
        let ty = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
        if namesz > blob.len() || descsz > blob.len() || (namesz == 0 && descsz == 0) {
            break;
        }
        let name = blob.get(pos + 12..pos + 12 + namesz).unwrap_or(&[]);
        if ty == 1 && name.strip_suffix(b"\0").unwrap_or(name) == b"CORE" {
            n += 1;
        }
        pos += 12 + align4(namesz) + align4(descsz);
    }
    n
}
