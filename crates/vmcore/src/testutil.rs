//! Builders for synthetic dumps: used by this crate's tests, doc examples and fuzz seeds,
//! and by crates that test code built on [`PhysMemory`].

use crate::error::{Error, Result};
use crate::phys::{PageState, PhysMemory};
use std::collections::BTreeMap;

/// Builds a small ELF core (little-endian x86_64, ELF64 by default).
#[derive(Debug, Clone)]
pub struct ElfBuilder {
    elf32: bool,
    phoff: Option<u64>,
    xnum: bool,
    loads: Vec<(u64, u64, Vec<u8>, u64)>,
    notes: Vec<(Vec<u8>, u32, Vec<u8>)>,
}

impl Default for ElfBuilder {
    fn default() -> Self {
        Self::new()
    }
}

fn note_bytes(name: &[u8], n_type: u32, desc: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(name.len() as u32 + 1).to_le_bytes());
    v.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    v.extend_from_slice(&n_type.to_le_bytes());
    v.extend_from_slice(name);
    v.push(0);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v.extend_from_slice(desc);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

impl ElfBuilder {
    /// An empty ELF64 core.
    pub fn new() -> Self {
        Self {
            elf32: false,
            phoff: None,
            xnum: false,
            loads: Vec::new(),
            notes: Vec::new(),
        }
    }
    /// Write an ELF32 core instead.
    pub fn elf32(mut self) -> Self {
        self.elf32 = true;
        self
    }
    /// Put the program headers at `phoff` (QEMU 10 uses 192, after two section headers).
    pub fn phoff(mut self, phoff: u64) -> Self {
        self.phoff = Some(phoff);
        self
    }
    /// Use extended numbering (`e_phnum = PN_XNUM`, count in section 0's `sh_info`).
    pub fn extended_numbering(mut self) -> Self {
        self.xnum = true;
        self
    }
    /// Add a PT_LOAD at physical `paddr` / virtual `vaddr` whose file bytes are `data` and
    /// memory size `memsz` (>= data.len(); the rest is "not dumped").
    pub fn load(mut self, paddr: u64, vaddr: u64, data: &[u8], memsz: u64) -> Self {
        self.loads.push((paddr, vaddr, data.to_vec(), memsz));
        self
    }
    /// Add a note.
    pub fn note(mut self, name: &[u8], n_type: u32, desc: &[u8]) -> Self {
        self.notes.push((name.to_vec(), n_type, desc.to_vec()));
        self
    }
    /// Add a VMCOREINFO note.
    pub fn vmcoreinfo(self, text: &[u8]) -> Self {
        self.note(b"VMCOREINFO", 0, text)
    }

    /// Lay the file out: header, [section header 0], program headers, notes, load data.
    pub fn build(&self) -> Vec<u8> {
        let (ehsize, phent, shent) = if self.elf32 {
            (52u64, 32u64, 40u64)
        } else {
            (64, 56, 64)
        };
        let nph = self.loads.len() as u64 + u64::from(!self.notes.is_empty());
        let shoff = if self.xnum { ehsize } else { 0 };
        let phoff = self
            .phoff
            .unwrap_or(if self.xnum { ehsize + shent } else { ehsize });
        let mut notes = Vec::new();
        for (n, t, d) in &self.notes {
            notes.extend(note_bytes(n, *t, d));
        }
        let notes_off = phoff + nph * phent;
        let mut data_off = notes_off + notes.len() as u64;
        let mut out = vec![0u8; data_off as usize];
        out[..4].copy_from_slice(&crate::ELF_MAGIC);
        out[4] = if self.elf32 { 1 } else { 2 };
        out[5] = 1;
        out[6] = 1;
        let put16 = |o: &mut Vec<u8>, at: u64, v: u16| {
            o[at as usize..at as usize + 2].copy_from_slice(&v.to_le_bytes())
        };
        let put32 = |o: &mut Vec<u8>, at: u64, v: u32| {
            o[at as usize..at as usize + 4].copy_from_slice(&v.to_le_bytes())
        };
        let put64 = |o: &mut Vec<u8>, at: u64, v: u64| {
            o[at as usize..at as usize + 8].copy_from_slice(&v.to_le_bytes())
        };
        put16(&mut out, 16, 4);
        put16(&mut out, 18, if self.elf32 { 3 } else { 62 });
        put32(&mut out, 20, 1);
        let phnum = if self.xnum { 0xffff } else { nph as u16 };
        if self.elf32 {
            put32(&mut out, 28, phoff as u32);
            put32(&mut out, 32, shoff as u32);
            put16(&mut out, 40, ehsize as u16);
            put16(&mut out, 42, phent as u16);
            put16(&mut out, 44, phnum);
            put16(&mut out, 46, shent as u16);
            put16(&mut out, 48, u16::from(self.xnum));
        } else {
            put64(&mut out, 32, phoff);
            put64(&mut out, 40, shoff);
            put16(&mut out, 52, ehsize as u16);
            put16(&mut out, 54, phent as u16);
            put16(&mut out, 56, phnum);
            put16(&mut out, 58, shent as u16);
            put16(&mut out, 60, u16::from(self.xnum));
        }
        if self.xnum {
            let info_at = shoff + if self.elf32 { 28 } else { 44 };
            put32(&mut out, info_at, nph as u32);
        }
        let mut ph = phoff;
        let mut write_ph =
            |o: &mut Vec<u8>, t: u32, off: u64, va: u64, pa: u64, fs: u64, ms: u64| {
                if self.elf32 {
                    put32(o, ph, t);
                    put32(o, ph + 4, off as u32);
                    put32(o, ph + 8, va as u32);
                    put32(o, ph + 12, pa as u32);
                    put32(o, ph + 16, fs as u32);
                    put32(o, ph + 20, ms as u32);
                    put32(o, ph + 24, 7);
                } else {
                    put32(o, ph, t);
                    put32(o, ph + 4, 7);
                    put64(o, ph + 8, off);
                    put64(o, ph + 16, va);
                    put64(o, ph + 24, pa);
                    put64(o, ph + 32, fs);
                    put64(o, ph + 40, ms);
                }
                ph += phent;
            };
        if !self.notes.is_empty() {
            let n = notes.len() as u64;
            write_ph(&mut out, crate::PT_NOTE, notes_off, 0, 0, n, n);
        }
        out[notes_off as usize..notes_off as usize + notes.len()].copy_from_slice(&notes);
        for (pa, va, d, ms) in &self.loads {
            write_ph(
                &mut out,
                crate::PT_LOAD,
                data_off,
                *va,
                *pa,
                d.len() as u64,
                (*ms).max(d.len() as u64),
            );
            out.extend_from_slice(d);
            data_off += d.len() as u64;
        }
        out
    }
}

/// A sparse physical memory image: page frames set one by one, everything else a hole.
/// Useful to test code built on [`PhysMemory`] (page-table walks, struct page scans).
#[derive(Debug, Clone, Default)]
pub struct MemImage {
    pages: BTreeMap<u64, Vec<u8>>,
    excluded: std::collections::BTreeSet<u64>,
}

impl MemImage {
    /// An empty image (4 KiB pages).
    pub fn new() -> Self {
        Self::default()
    }
    /// Page `pfn` with contents `data` (shorter data is zero-padded, longer cut).
    pub fn set_page(&mut self, pfn: u64, data: &[u8]) {
        let mut p = vec![0u8; 4096];
        let n = data.len().min(4096);
        p[..n].copy_from_slice(&data[..n]);
        self.pages.insert(pfn, p);
    }
    /// Write a little-endian `u64` at physical `paddr`, creating the page if needed.
    pub fn write_u64(&mut self, paddr: u64, v: u64) {
        let page = self
            .pages
            .entry(paddr >> 12)
            .or_insert_with(|| vec![0u8; 4096]);
        let at = (paddr & 4095) as usize;
        if at + 8 <= 4096 {
            page[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
    }
    /// Write bytes at `paddr` (may span pages), creating pages as needed.
    pub fn write(&mut self, paddr: u64, data: &[u8]) {
        for (i, b) in data.iter().enumerate() {
            let a = paddr + i as u64;
            let page = self.pages.entry(a >> 12).or_insert_with(|| vec![0u8; 4096]);
            page[(a & 4095) as usize] = *b;
        }
    }
    /// Mark page `pfn` as described but not dumped.
    pub fn exclude(&mut self, pfn: u64) {
        self.pages.remove(&pfn);
        self.excluded.insert(pfn);
    }
}

impl PhysMemory for MemImage {
    fn page_size(&self) -> u64 {
        4096
    }
    fn max_pfn(&self) -> u64 {
        let a = self.pages.keys().next_back().map_or(0, |p| p + 1);
        let b = self.excluded.iter().next_back().map_or(0, |p| p + 1);
        a.max(b)
    }
    fn page_state(&self, pfn: u64) -> PageState {
        if self.pages.contains_key(&pfn) {
            PageState::Present
        } else if self.excluded.contains(&pfn) {
            PageState::Excluded
        } else {
            PageState::Hole
        }
    }
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = paddr
                .checked_add(done as u64)
                .ok_or(Error::Hole(u64::MAX))?;
            let Some(page) = self.pages.get(&(a >> 12)) else {
                return Err(if self.excluded.contains(&(a >> 12)) {
                    Error::Excluded(a)
                } else {
                    Error::Hole(a)
                });
            };
            let at = (a & 4095) as usize;
            let n = (4096 - at).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&page[at..at + n]);
            done += n;
        }
        Ok(())
    }
}
