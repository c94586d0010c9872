//! ELF32 and ELF64 core files as /proc/vmcore, QEMU and `makedumpfile -E` write them.

use crate::error::{Error, Result};
use crate::io::ReadAt;
use crate::notes::{parse_notes, Note};
use crate::phys::{PageState, PhysMemory};

/// Program header type of a loadable segment.
pub const PT_LOAD: u32 = 1;
/// Program header type of a note segment.
pub const PT_NOTE: u32 = 4;
/// `e_phnum` value meaning "the real count is in section header 0's `sh_info`".
pub const PN_XNUM: u16 = 0xffff;
/// `e_machine` of x86_64.
pub const EM_X86_64: u16 = 62;
/// `e_machine` of i386.
pub const EM_386: u16 = 3;

/// Upper bound on program headers accepted (far above any real dump, far below what an
/// allocation could not afford).
pub const MAX_PHDRS: u64 = 1 << 20;
/// Upper bound on the total bytes of PT_NOTE segments read into memory.
pub const MAX_NOTE_BYTES: u64 = 64 << 20;

/// Byte order of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    /// Little-endian (x86, most dumps).
    Little,
    /// Big-endian.
    Big,
}

impl Endian {
    /// Decode a `u16` from the first two bytes of `b`.
    pub fn u16(self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        match self {
            Self::Little => u16::from_le_bytes(a),
            Self::Big => u16::from_be_bytes(a),
        }
    }
    /// Decode a `u32` from the first four bytes of `b`.
    pub fn u32(self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        match self {
            Self::Little => u32::from_le_bytes(a),
            Self::Big => u32::from_be_bytes(a),
        }
    }
    /// Decode a `u64` from the first eight bytes of `b`.
    pub fn u64(self, b: &[u8]) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        match self {
            Self::Little => u64::from_le_bytes(a),
            Self::Big => u64::from_be_bytes(a),
        }
    }
}

/// ELF class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 32-bit.
    Elf32,
    /// 64-bit.
    Elf64,
}

/// The fields of the ELF header a core reader uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfHeader {
    /// 32 or 64 bit.
    pub class: Class,
    /// Byte order.
    pub endian: Endian,
    /// `e_type` (4 = core).
    pub e_type: u16,
    /// `e_machine` (62 = x86_64).
    pub machine: u16,
    /// Program header table offset.
    pub phoff: u64,
    /// Program header entry size.
    pub phentsize: u16,
    /// Number of program headers (after resolving `PN_XNUM`).
    pub phnum: u64,
    /// Section header table offset (0 if none).
    pub shoff: u64,
    /// Number of section headers as written in the header.
    pub shnum: u16,
}

/// One PT_LOAD program header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSegment {
    /// File offset of the data.
    pub offset: u64,
    /// Virtual address (the direct map, kernel text, or equal to `paddr` in QEMU dumps).
    pub vaddr: u64,
    /// Physical address.
    pub paddr: u64,
    /// Bytes present in the file.
    pub filesz: u64,
    /// Bytes of memory described; the part past `filesz` was not dumped.
    pub memsz: u64,
    /// `p_flags`.
    pub flags: u32,
}

/// A physical range with its file backing, non-overlapping and sorted (built from the
/// PT_LOADs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhysRange {
    /// First physical address.
    pub start: u64,
    /// One past the last physical address described.
    pub end: u64,
    /// One past the last physical address whose bytes are in the file (`<= end`).
    pub file_end: u64,
    /// File offset of `start`.
    pub offset: u64,
}

/// A parsed ELF core over a byte source.
#[derive(Debug)]
pub struct ElfDump<R> {
    data: R,
    header: ElfHeader,
    loads: Vec<LoadSegment>,
    ranges: Vec<PhysRange>,
    notes: Vec<Note>,
    page_size: u64,
}

fn malformed(what: impl Into<String>, offset: u64) -> Error {
    Error::MalformedElf {
        what: what.into(),
        offset,
    }
}

fn need(what: &'static str, start: u64, len: u64, file_len: u64) -> Result<()> {
    match start.checked_add(len) {
        Some(end) if end <= file_len => Ok(()),
        end => Err(Error::Truncated {
            what,
            start,
            end: end.unwrap_or(u64::MAX),
            file_len,
        }),
    }
}

/// Parse the ELF identification and header.
pub fn parse_header(data: &impl ReadAt) -> Result<ElfHeader> {
    let file_len = data.len();
    let mut ident = [0u8; 16];
    need("ELF identification", 0, 16, file_len)?;
    data.read_exact_at(0, &mut ident)?;
    if ident[..4] != crate::ELF_MAGIC {
        let mut sig = [0u8; 8];
        sig.copy_from_slice(&ident[..8]);
        return Err(Error::UnknownFormat(sig));
    }
    let class = match ident[4] {
        1 => Class::Elf32,
        2 => Class::Elf64,
        c => return Err(malformed(format!("EI_CLASS {c} is neither 1 nor 2"), 4)),
    };
    let endian = match ident[5] {
        1 => Endian::Little,
        2 => Endian::Big,
        d => return Err(malformed(format!("EI_DATA {d} is neither 1 nor 2"), 5)),
    };
    let ehsize = match class {
        Class::Elf32 => 52,
        Class::Elf64 => 64,
    };
    need("ELF header", 0, ehsize, file_len)?;
    let mut h = [0u8; 64];
    data.read_exact_at(0, &mut h[..ehsize as usize])?;
    let e = endian;
    let (phoff, shoff, phentsize, phnum, shentsize, shnum) = match class {
        Class::Elf64 => (
            e.u64(&h[32..]),
            e.u64(&h[40..]),
            e.u16(&h[54..]),
            e.u16(&h[56..]),
            e.u16(&h[58..]),
            e.u16(&h[60..]),
        ),
        Class::Elf32 => (
            u64::from(e.u32(&h[28..])),
            u64::from(e.u32(&h[32..])),
            e.u16(&h[42..]),
            e.u16(&h[44..]),
            e.u16(&h[46..]),
            e.u16(&h[48..]),
        ),
    };
    let want_phent = match class {
        Class::Elf32 => 32,
        Class::Elf64 => 56,
    };
    if phnum != 0 && phentsize != want_phent {
        return Err(malformed(
            format!("e_phentsize {phentsize}, expected {want_phent}"),
            0,
        ));
    }
    let mut real_phnum = u64::from(phnum);
    if phnum == PN_XNUM {
        // Extended numbering: section header 0 holds the count in sh_info.
        let (want_shent, info_at) = match class {
            Class::Elf32 => (40u16, 28usize),
            Class::Elf64 => (64u16, 44usize),
        };
        if shoff == 0 || shentsize != want_shent {
            return Err(malformed(
                "e_phnum is PN_XNUM but there is no usable section header 0",
                0,
            ));
        }
        need("section header 0", shoff, u64::from(want_shent), file_len)?;
        let mut sh = [0u8; 64];
        data.read_exact_at(shoff, &mut sh[..usize::from(want_shent)])?;
        real_phnum = u64::from(e.u32(&sh[info_at..]));
    }
    if real_phnum > MAX_PHDRS {
        return Err(malformed(
            format!("{real_phnum} program headers (limit {MAX_PHDRS})"),
            0,
        ));
    }
    Ok(ElfHeader {
        class,
        endian,
        e_type: e.u16(&h[16..]),
        machine: e.u16(&h[18..]),
        phoff,
        phentsize,
        phnum: real_phnum,
        shoff,
        shnum,
    })
}

impl<R: ReadAt> ElfDump<R> {
    /// Parse the headers, program headers and notes of an ELF core.
    pub fn parse(data: R) -> Result<Self> {
        let header = parse_header(&data)?;
        let file_len = data.len();
        let e = header.endian;
        let ent = u64::from(header.phentsize);
        let table_len = header
            .phnum
            .checked_mul(ent)
            .ok_or_else(|| malformed("program header table size overflows", header.phoff))?;
        need("program header table", header.phoff, table_len, file_len)?;
        let mut table = vec![0u8; table_len as usize];
        data.read_exact_at(header.phoff, &mut table)?;
        let mut loads = Vec::new();
        let mut notes = Vec::new();
        let mut note_bytes = 0u64;
        for (i, ph) in table.chunks_exact(ent.max(1) as usize).enumerate() {
            let at = header.phoff + i as u64 * ent;
            let (p_type, flags, offset, vaddr, paddr, filesz, memsz) = match header.class {
                Class::Elf64 => (
                    e.u32(&ph[0..]),
                    e.u32(&ph[4..]),
                    e.u64(&ph[8..]),
                    e.u64(&ph[16..]),
                    e.u64(&ph[24..]),
                    e.u64(&ph[32..]),
                    e.u64(&ph[40..]),
                ),
                Class::Elf32 => (
                    e.u32(&ph[0..]),
                    e.u32(&ph[24..]),
                    u64::from(e.u32(&ph[4..])),
                    u64::from(e.u32(&ph[8..])),
                    u64::from(e.u32(&ph[12..])),
                    u64::from(e.u32(&ph[16..])),
                    u64::from(e.u32(&ph[20..])),
                ),
            };
            match p_type {
                PT_LOAD => {
                    if filesz > memsz {
                        return Err(malformed(
                            format!("PT_LOAD p_filesz {filesz:#x} > p_memsz {memsz:#x}"),
                            at,
                        ));
                    }
                    if offset.checked_add(filesz).is_none() || paddr.checked_add(memsz).is_none() {
                        return Err(malformed("PT_LOAD range overflows", at));
                    }
                    loads.push(LoadSegment {
                        offset,
                        vaddr,
                        paddr,
                        filesz,
                        memsz,
                        flags,
                    });
                }
                PT_NOTE => {
                    note_bytes = note_bytes.saturating_add(filesz);
                    if note_bytes > MAX_NOTE_BYTES {
                        return Err(malformed(
                            format!("note segments exceed {MAX_NOTE_BYTES} bytes"),
                            at,
                        ));
                    }
                    // A note segment running past the end of a truncated file keeps what
                    // is there.
                    let avail = file_len.saturating_sub(offset).min(filesz);
                    let mut buf = vec![0u8; avail as usize];
                    data.read_exact_at(offset, &mut buf)?;
                    parse_notes(&buf, e, offset, &mut notes);
                }
                _ => {}
            }
        }
        let ranges = build_ranges(&loads);
        Ok(Self {
            data,
            header,
            loads,
            ranges,
            notes,
            page_size: 4096,
        })
    }

    /// The ELF header.
    pub fn header(&self) -> &ElfHeader {
        &self.header
    }
    /// The PT_LOAD segments in file order.
    pub fn loads(&self) -> &[LoadSegment] {
        &self.loads
    }
    /// The physical ranges (sorted, overlaps removed: where the kernel-text PT_LOAD repeats
    /// part of the direct map, the earlier-starting segment serves the bytes).
    pub fn ranges(&self) -> &[PhysRange] {
        &self.ranges
    }
    /// All notes of all PT_NOTE segments, in file order.
    pub fn notes(&self) -> &[Note] {
        &self.notes
    }
    /// The byte source.
    pub fn data(&self) -> &R {
        &self.data
    }
    /// Set the page size used for pfn arithmetic (from VMCOREINFO `PAGESIZE`).
    pub fn set_page_size(&mut self, page_size: u64) {
        if page_size.is_power_of_two() && (512..=(1 << 20)).contains(&page_size) {
            self.page_size = page_size;
        }
    }

    fn range_index(&self, paddr: u64) -> Option<usize> {
        let i = self.ranges.partition_point(|r| r.start <= paddr);
        let i = i.checked_sub(1)?;
        (paddr < self.ranges[i].end).then_some(i)
    }

    /// The file bytes holding physical `paddr..paddr + len`, when they lie in one range
    /// and the source is memory-mapped.
    pub fn phys_slice(&self, paddr: u64, len: usize) -> Option<&[u8]> {
        let r = &self.ranges[self.range_index(paddr)?];
        if paddr.checked_add(len as u64)? > r.file_end {
            return None;
        }
        self.data.slice(r.offset + (paddr - r.start), len)
    }
}

fn build_ranges(loads: &[LoadSegment]) -> Vec<PhysRange> {
    let mut sorted: Vec<&LoadSegment> = loads.iter().filter(|l| l.memsz > 0).collect();
    // Earlier start first; for equal starts the segment with more file bytes first.
    sorted.sort_by(|a, b| a.paddr.cmp(&b.paddr).then(b.filesz.cmp(&a.filesz)));
    let mut out: Vec<PhysRange> = Vec::with_capacity(sorted.len());
    let mut covered = 0u64;
    for l in sorted {
        let end = l.paddr + l.memsz;
        let file_end = l.paddr + l.filesz;
        if !out.is_empty() && end <= covered {
            continue;
        }
        let start = if out.is_empty() {
            l.paddr
        } else {
            l.paddr.max(covered)
        };
        let skip = start - l.paddr;
        out.push(PhysRange {
            start,
            end,
            file_end: file_end.max(start),
            offset: l.offset + skip.min(l.filesz),
        });
        covered = end;
    }
    out
}

impl<R: ReadAt> PhysMemory for ElfDump<R> {
    fn page_size(&self) -> u64 {
        self.page_size
    }

    fn max_pfn(&self) -> u64 {
        self.ranges
            .iter()
            .map(|r| r.end.div_ceil(self.page_size))
            .max()
            .unwrap_or(0)
    }

    fn page_state(&self, pfn: u64) -> PageState {
        let Some(paddr) = pfn.checked_mul(self.page_size) else {
            return PageState::Hole;
        };
        match self.range_index(paddr) {
            None => {
                // The page may start in a hole and continue into a range.
                let next = self.ranges.partition_point(|r| r.start <= paddr);
                match self.ranges.get(next) {
                    Some(r) if r.start < paddr.saturating_add(self.page_size) => PageState::Partial,
                    _ => PageState::Hole,
                }
            }
            Some(i) => {
                let r = &self.ranges[i];
                let page_end = paddr.saturating_add(self.page_size);
                if paddr >= r.file_end {
                    PageState::Excluded
                } else if page_end <= r.file_end {
                    PageState::Present
                } else {
                    PageState::Partial
                }
            }
        }
    }

    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let addr = paddr
                .checked_add(done as u64)
                .ok_or(Error::Hole(u64::MAX))?;
            let i = self.range_index(addr).ok_or(Error::Hole(addr))?;
            let r = &self.ranges[i];
            if addr >= r.file_end {
                return Err(Error::Excluded(addr));
            }
            let chunk = ((r.file_end - addr).min((buf.len() - done) as u64)) as usize;
            self.data
                .read_exact_at(r.offset + (addr - r.start), &mut buf[done..done + chunk])?;
            done += chunk;
        }
        Ok(())
    }
}
