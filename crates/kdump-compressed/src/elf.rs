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

/// Excluded runs at least this long (in pages) end a PT_LOAD in ELF output; shorter runs are
/// copied as they are (makedumpfile's rule).
pub const PFN_EXCLUDED: u64 = 256;

/// Planned `p_offset` of a segment without data (written as 0).
pub const NO_OFFSET: u64 = u64::MAX;

/// `p_paddr` value meaning "no physical address".
const NOT_PADDR: u64 = u64::MAX;

/// The program headers of an ELF dump for `phdrs_in` (the input's PT_LOADs, in order) and
/// the dumped pages, laid out as makedumpfile lays them: PT_NOTE first, then the PT_LOADs,
/// each input PT_LOAD cut wherever at least [`PFN_EXCLUDED`] pages in a row are excluded.
/// Returns the PT_LOADs with `p_offset` relative to the start of the load data ([`NO_OFFSET`]
/// for a segment without data), plus for each the input file offset its bytes come from.
pub fn plan_elf_loads(
    phdrs_in: &[Phdr],
    page_size: u64,
    mut is_dumped: impl FnMut(u64) -> bool,
) -> Vec<(Phdr, u64)> {
    let mut out = Vec::new();
    let mut off_seg = 0u64;
    let ps = page_size.max(1);
    for l in phdrs_in
        .iter()
        .filter(|p| p.p_type == PT_LOAD && p.p_paddr != NOT_PADDR)
    {
        let Some(end) = l.p_paddr.checked_add(l.p_memsz) else {
            continue;
        };
        let mut load = *l;
        let mut paddr = l.p_paddr;
        let mut pfn_start = l.p_paddr / ps;
        let mut pfn_end = end / ps;
        let frac_head = ps - (l.p_paddr % ps);
        let frac_tail = end % ps;
        let (mut memsz, mut filesz) = (0u64, 0u64);
        if frac_head != ps {
            memsz = frac_head;
            filesz = frac_head;
            pfn_start += 1;
        }
        if frac_tail != 0 {
            pfn_end += 1;
        }
        let mut excluded = 0u64;
        let src_of = |paddr: u64| l.p_offset.saturating_add(paddr - l.p_paddr);
        for pfn in pfn_start..pfn_end {
            let last_partial = pfn == pfn_end - 1 && frac_tail != 0;
            let step = if last_partial { frac_tail } else { ps };
            if !is_dumped(pfn) {
                excluded += 1;
                memsz += step;
                continue;
            }
            if excluded == 0 {
                memsz += step;
                filesz += step;
                continue;
            }
            if excluded < PFN_EXCLUDED {
                memsz += step;
                filesz += ps * excluded + step;
                excluded = 0;
                continue;
            }
            load.p_memsz = memsz;
            load.p_filesz = filesz;
            // A segment with no data gets offset 0 (marked here, see `write_elf`).
            load.p_offset = if filesz > 0 { off_seg } else { NO_OFFSET };
            out.push((load, src_of(paddr)));
            load.p_paddr = load.p_paddr.wrapping_add(memsz);
            load.p_vaddr = load.p_vaddr.wrapping_add(memsz);
            paddr = load.p_paddr;
            off_seg += filesz;
            excluded = 0;
            memsz = ps;
            filesz = ps;
        }
        load.p_memsz = memsz;
        load.p_filesz = filesz;
        load.p_offset = off_seg;
        out.push((load, src_of(paddr)));
        off_seg += filesz;
    }
    out
}

/// Write an ELF dump: the input's ELF header (`ehdr_in`, its first 64 bytes) with the new
/// program header count, a PT_NOTE holding `notes` (the input's first note segment), then the
/// planned PT_LOADs ([`plan_elf_loads`]) whose bytes `read_input(offset, buf)` copies from the
/// input file. Returns the file size.
pub fn write_elf<K: crate::write::Sink>(
    sink: &mut K,
    ehdr_in: &[u8; 64],
    note_in: &Phdr,
    notes: &[u8],
    loads: &[(Phdr, u64)],
    mut read_input: impl FnMut(u64, &mut [u8]) -> std::io::Result<()>,
) -> Result<u64, crate::write::WriteError> {
    use crate::write::WriteError;
    let io = |what, offset| {
        move |source| WriteError::Io {
            what,
            offset,
            source,
        }
    };
    let count = loads.len() as u64 + 1;
    let mut ehdr = *ehdr_in;
    let xnum = count >= 0xffff;
    let phnum: u16 = if xnum { 0xffff } else { count as u16 };
    ehdr[32..40].copy_from_slice(&64u64.to_le_bytes());
    ehdr[56..58].copy_from_slice(&phnum.to_le_bytes());
    let mut note_off = 64 + count * Phdr::SIZE as u64;
    let mut head = Vec::new();
    if xnum {
        // Section header 0 carries the real count (sh_info).
        ehdr[40..48].copy_from_slice(&note_off.to_le_bytes());
        ehdr[58..60].copy_from_slice(&64u16.to_le_bytes());
        ehdr[60..62].copy_from_slice(&1u16.to_le_bytes());
        ehdr[62..64].copy_from_slice(&0u16.to_le_bytes());
        let mut sh = [0u8; 64];
        sh[32..40].copy_from_slice(&1u64.to_le_bytes()); // sh_size = e_shnum
        sh[44..48].copy_from_slice(&(count.min(u32::MAX as u64) as u32).to_le_bytes());
        head.extend_from_slice(&sh);
        note_off += 64;
    }
    let load_base = note_off + notes.len() as u64;
    let mut ph = Vec::with_capacity(count as usize * Phdr::SIZE);
    let mut note = *note_in;
    note.p_offset = note_off;
    note.p_filesz = notes.len() as u64;
    ph.extend_from_slice(&note.to_bytes());
    for (l, _) in loads {
        let mut l = *l;
        l.p_offset = if l.p_offset == NO_OFFSET {
            0
        } else {
            l.p_offset.saturating_add(load_base)
        };
        ph.extend_from_slice(&l.to_bytes());
    }
    sink.write_at(0, &ehdr).map_err(io("ELF header", 0))?;
    sink.write_at(64, &ph).map_err(io("program headers", 64))?;
    if !head.is_empty() {
        sink.write_at(note_off - 64, &head)
            .map_err(io("section header", note_off - 64))?;
    }
    sink.write_at(note_off, notes)
        .map_err(io("notes", note_off))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = load_base;
    for (l, src) in loads {
        let mut left = l.p_filesz;
        let mut from = *src;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            read_input(from, &mut buf[..n]).map_err(io("input segment", from))?;
            sink.write_at(at, &buf[..n]).map_err(|source| {
                let mut h = ehdr;
                // Mark the file unusable rather than silently short: e_type 0 is ET_NONE.
                h[16] = 0;
                h[17] = 0;
                let _ = sink.write_at(0, &h);
                WriteError::Incomplete {
                    offset: at,
                    pages_written: 0,
                    source,
                }
            })?;
            at += n as u64;
            from += n as u64;
            left -= n as u64;
        }
    }
    Ok(at)
}
