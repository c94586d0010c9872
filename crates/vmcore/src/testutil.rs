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

impl MemImage {
    /// The present pages as runs of consecutive frames: (first pfn, bytes).
    pub fn runs(&self) -> Vec<(u64, Vec<u8>)> {
        let mut out: Vec<(u64, Vec<u8>)> = Vec::new();
        for (&pfn, page) in &self.pages {
            match out.last_mut() {
                Some((start, data)) if *start + (data.len() / 4096) as u64 == pfn => {
                    data.extend_from_slice(page)
                }
                _ => out.push((pfn, page.clone())),
            }
        }
        out
    }
}

/// Top of the synthetic kernel's page tables: `SYMBOL(init_top_pgt)` of a [`KernelImage`].
pub const KERNEL_TOP_PGT: u64 = 0xffff_ffff_8200_0000;
/// Physical address of the [`KernelImage`] top-level table (`phys_base` 0).
pub const KERNEL_ROOT: u64 = 0x0200_0000;

/// A synthetic x86_64 kernel memory: a [`MemImage`] with page tables (4- or 5-level)
/// built by [`map`](Self::map), turned into a [`Vmcore`](crate::Vmcore) or an ELF core
/// whose VMCOREINFO names the page tables.
#[derive(Debug, Clone)]
pub struct KernelImage {
    /// The physical memory.
    pub mem: MemImage,
    /// 4 or 5.
    pub levels: u8,
    next_table: u64,
}

impl KernelImage {
    /// Empty tables; page tables are allocated from 0x3000000 up.
    pub fn new(levels: u8) -> Self {
        let mut mem = MemImage::new();
        mem.set_page(KERNEL_ROOT >> 12, &[]);
        Self {
            mem,
            levels,
            next_table: 0x0300_0000,
        }
    }

    /// The entry at index `idx` of the table at physical `table`: (its address, its value).
    pub fn entry(&self, table: u64, idx: u64) -> (u64, u64) {
        let addr = table + idx * 8;
        let mut b = [0u8; 8];
        let v = if self.mem.read_phys(addr, &mut b).is_ok() {
            u64::from_le_bytes(b)
        } else {
            0
        };
        (addr, v)
    }

    /// Map `vaddr` to `paddr` with one page of `size` (4 KiB, 2 MiB or 1 GiB).
    pub fn map(&mut self, vaddr: u64, paddr: u64, size: u64) {
        let shifts: &[u32] = if self.levels == 5 {
            &[48, 39, 30, 21, 12]
        } else {
            &[39, 30, 21, 12]
        };
        let mut table = KERNEL_ROOT;
        for &s in shifts {
            let idx = (vaddr >> s) & 0x1ff;
            let (addr, v) = self.entry(table, idx);
            if 1u64 << s == size {
                let pse = if s == 12 { 0 } else { 0x80 };
                self.mem.write_u64(addr, paddr | 0x63 | pse);
                return;
            }
            if v & 1 == 0 {
                let t = self.next_table;
                self.next_table += 4096;
                self.mem.set_page(t >> 12, &[]);
                self.mem.write_u64(addr, t | 0x63);
                table = t;
            } else {
                table = v & crate::x86_64::ENTRY_ADDR_MASK;
            }
        }
    }

    /// The VMCOREINFO text describing the page tables, followed by `extra`.
    pub fn vmcoreinfo(&self, extra: &str) -> String {
        format!(
            "OSRELEASE=6.1.0\nPAGESIZE=4096\nSYMBOL(init_top_pgt)={KERNEL_TOP_PGT:x}\nNUMBER(phys_base)=0\nNUMBER(pgtable_l5_enabled)={}\n{extra}",
            u8::from(self.levels == 5)
        )
    }

    /// A dump over the memory image, VMCOREINFO = tables + `extra`.
    pub fn vmcore(self, extra: &str) -> crate::Vmcore {
        let info = self.vmcoreinfo(extra);
        crate::Vmcore::from_source_with_info(Box::new(self.mem), info.as_bytes())
    }

    /// The same as an ELF64 core: one PT_LOAD per run of present pages, a VMCOREINFO note.
    pub fn to_elf(&self, extra: &str) -> Vec<u8> {
        let mut b = ElfBuilder::new().vmcoreinfo(self.vmcoreinfo(extra).as_bytes());
        for (pfn, data) in self.mem.runs() {
            let len = data.len() as u64;
            b = b.load(pfn << 12, 0, &data, len);
        }
        b.build()
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

/// Lay out a lockless printk ring buffer (6.1 offsets: 8 descriptors, 4 KiB of text) in
/// physical pages 0xf..0x16 of `t`, mapped at `base + paddr`; `records` are
/// (timestamp ns, text, descriptor state: 1 committed, 2 finalized, other skipped).
/// Returns the VMCOREINFO lines describing it. The first record starts 64 bytes before the
/// end of the text ring so that later ones wrap.
pub fn lockless_ring(t: &mut KernelImage, base: u64, records: &[(u64, &[u8], u64)]) -> String {
    // physical layout: prb at 0x10000, descs 0x11000, infos 0x12000, text 0x14000 (4 KiB).
    for p in 0x10..0x16u64 {
        t.mem.set_page(p, &[]);
        t.map(base + p * 4096, p * 4096, 4096);
    }
    t.map(base + 0xf000, 0xf000, 4096);
    t.mem.set_page(0xf, &[]);
    let va = |p: u64| base + p;
    let count_bits = 3u32; // 8 descriptors
    let size_bits = 12u32; // 4 KiB of text
    t.mem.write_u64(0xf000, va(0x10000)); // prb pointer variable
    t.mem.write(0x10000, &count_bits.to_le_bytes());
    t.mem.write_u64(0x10008, va(0x11000));
    t.mem.write_u64(0x10010, va(0x12000));
    t.mem.write(0x10030, &size_bits.to_le_bytes());
    t.mem.write_u64(0x10038, va(0x14000));
    let mut lpos = 4096 - 64; // start near the end so one record wraps
    let first_id = 0x100u64;
    for (i, (ts, text, state)) in records.iter().enumerate() {
        let id = first_id + i as u64;
        let slot = id % 8;
        let len = (8 + text.len() as u64 + 7) & !7;
        let mut begin = lpos;
        if begin % 4096 + len >= 4096 {
            begin = (begin / 4096 + 1) * 4096; // wraps to the start of the ring
        }
        let next = begin + len;
        let off = begin % 4096;
        t.mem.write_u64(0x14000 + off, id);
        t.mem.write(0x14000 + off + 8, text);
        let d = 0x11000 + slot * 24;
        t.mem.write_u64(d, (state << 62) | id);
        t.mem.write_u64(d + 8, lpos);
        t.mem.write_u64(d + 16, next);
        let inf = 0x12000 + slot * 88;
        t.mem.write_u64(inf, i as u64);
        t.mem.write_u64(inf + 8, *ts);
        t.mem.write(inf + 16, &(text.len() as u16).to_le_bytes());
        t.mem.write(
            inf + 20,
            &(0x8000_0001u32 - (i as u32 % 2) * 0x8000_0000 + 41).to_le_bytes(),
        );
        lpos = next;
    }
    t.mem
        .write_u64(0x10018, first_id + records.len() as u64 - 1); // head_id
    t.mem.write_u64(0x10020, first_id); // tail_id
    format!(
        "SYMBOL(prb)={:x}\n\
OFFSET(printk_ringbuffer.desc_ring)=0\nOFFSET(printk_ringbuffer.text_data_ring)=48\n\
OFFSET(prb_desc_ring.count_bits)=0\nOFFSET(prb_desc_ring.descs)=8\nOFFSET(prb_desc_ring.infos)=16\n\
OFFSET(prb_desc_ring.head_id)=24\nOFFSET(prb_desc_ring.tail_id)=32\n\
SIZE(prb_desc)=24\nOFFSET(prb_desc.state_var)=0\nOFFSET(prb_desc.text_blk_lpos)=8\n\
OFFSET(prb_data_blk_lpos.begin)=0\nOFFSET(prb_data_blk_lpos.next)=8\n\
SIZE(printk_info)=88\nOFFSET(printk_info.seq)=0\nOFFSET(printk_info.ts_nsec)=8\n\
OFFSET(printk_info.text_len)=16\nOFFSET(printk_info.caller_id)=20\n\
OFFSET(prb_data_ring.size_bits)=0\nOFFSET(prb_data_ring.data)=8\nOFFSET(atomic_long_t.counter)=0\n",
        va(0xf000)
    )
}
