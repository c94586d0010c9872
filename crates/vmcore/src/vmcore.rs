//! [`Vmcore`]: an opened dump with its notes, VMCOREINFO and address translation.

use crate::elf::{ElfDump, LoadSegment, EM_X86_64};
use crate::error::{Error, Result};
use crate::io::{Access, Bytes, FileData, ReadAt};
use crate::notes::{Note, PrStatus, NT_PRSTATUS};
use crate::phys::{PageState, PhysMemory};
use crate::vmcoreinfo::VmcoreInfo;
use crate::x86_64::{Origin, Translation, START_KERNEL_MAP, X86_64};
use std::path::{Path, PathBuf};

/// The dump formats this crate reads, each a [`PhysMemory`].
#[non_exhaustive]
pub enum Dump {
    /// An ELF core (/proc/vmcore, QEMU `dump-guest-memory`, `makedumpfile -E`).
    Elf(ElfDump<FileData>),
    /// A kdump-compressed file or split set (`makedumpfile -c/-l/-p/-z`, flattened `-F`).
    Kdump(Box<crate::kdump::KdumpDump>),
    /// Any other page source (a kdump-compressed reader adapter, a synthetic image).
    Other(Box<dyn PhysMemory>),
}

impl std::fmt::Debug for Dump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Elf(e) => f.debug_tuple("Elf").field(e.header()).finish(),
            Self::Kdump(k) => k.fmt(f),
            Self::Other(_) => f.write_str("Other(..)"),
        }
    }
}

impl PhysMemory for Dump {
    fn page_size(&self) -> u64 {
        match self {
            Self::Elf(e) => e.page_size(),
            Self::Kdump(k) => k.page_size(),
            Self::Other(o) => o.page_size(),
        }
    }
    fn max_pfn(&self) -> u64 {
        match self {
            Self::Elf(e) => e.max_pfn(),
            Self::Kdump(k) => k.max_pfn(),
            Self::Other(o) => o.max_pfn(),
        }
    }
    fn page_state(&self, pfn: u64) -> PageState {
        match self {
            Self::Elf(e) => e.page_state(pfn),
            Self::Kdump(k) => k.page_state(pfn),
            Self::Other(o) => o.page_state(pfn),
        }
    }
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        match self {
            Self::Elf(e) => e.read_phys(paddr, buf),
            Self::Kdump(k) => k.read_phys(paddr, buf),
            Self::Other(o) => o.read_phys(paddr, buf),
        }
    }
}

/// An opened dump: physical memory, notes, VMCOREINFO and (for x86_64) kernel virtual
/// address translation. `Vmcore` is `Sync`; share it between threads and give each thread
/// its own [`KernelReader`] for cached virtual reads.
#[derive(Debug)]
pub struct Vmcore {
    dump: Dump,
    path: Option<PathBuf>,
    notes: Vec<Note>,
    info: Option<VmcoreInfo>,
    x86_64: Option<X86_64>,
    x86_64_error: Option<String>,
}

impl Vmcore {
    /// Open a dump file, memory-mapped (falling back to `pread`).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, Access::Mmap)
    }

    /// Open a dump file with the given access method.
    pub fn open_with(path: impl AsRef<Path>, access: Access) -> Result<Self> {
        let path = path.as_ref();
        let data = FileData::open(path, access)?;
        let mut v = Self::from_file_data(data)?;
        v.path = Some(path.to_path_buf());
        Ok(v)
    }

    /// Parse a dump held in memory (tests, fuzzing).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        Self::from_file_data(FileData::Memory(Bytes(bytes)))
    }

    fn from_file_data(data: FileData) -> Result<Self> {
        let mut head = [0u8; 64];
        let n = data.len().min(64) as usize;
        data.read_exact_at(0, &mut head[..n])?;
        let mut sig = [0u8; 8];
        sig.copy_from_slice(&head[..8]);
        if sig[..4] == crate::ELF_MAGIC {
            let elf = ElfDump::parse(data)?;
            let notes = elf.notes().to_vec();
            let machine = elf.header().machine;
            let loads = elf.loads().to_vec();
            return Ok(Self::assemble(
                Dump::Elf(elf),
                notes,
                machine == EM_X86_64,
                &loads,
                None,
            ));
        }
        if crate::kdump::is_kdump_compressed(&head[..n]) {
            return Self::from_kdump(Box::new(crate::kdump::KdumpDump::new(data)?));
        }
        Err(Error::UnknownFormat(sig))
    }

    /// Open the files of a `makedumpfile --split` set as one dump.
    pub fn open_split(paths: &[impl AsRef<Path>], access: Access) -> Result<Self> {
        let parts = paths
            .iter()
            .map(|p| FileData::open(p.as_ref(), access))
            .collect::<Result<Vec<_>>>()?;
        let mut v = Self::from_kdump(Box::new(crate::kdump::KdumpDump::split(parts)?))?;
        v.path = paths.first().map(|p| p.as_ref().to_path_buf());
        Ok(v)
    }

    fn from_kdump(k: Box<crate::kdump::KdumpDump>) -> Result<Self> {
        let mut notes = Vec::new();
        if let Some(blob) = k.notes()? {
            crate::notes::parse_notes(&blob, crate::elf::Endian::Little, 0, &mut notes);
        }
        if !notes.iter().any(|n| n.is_vmcoreinfo()) {
            if let Some(text) = k.vmcoreinfo()? {
                notes.push(Note {
                    name: b"VMCOREINFO".to_vec(),
                    n_type: 0,
                    desc: text,
                    offset: 0,
                });
            }
        }
        let f = k.file();
        // QEMU's kdump-compressed output says "Unknown" for the machine; then the x86_64
        // page-table symbol in VMCOREINFO decides.
        let machine = f.header().utsname.field(4);
        let x86 = machine == "x86_64"
            || ((machine.is_empty() || machine == "Unknown")
                && notes.iter().any(|n| {
                    n.is_vmcoreinfo() && n.desc.windows(20).any(|w| w == b"SYMBOL(init_top_pgt)")
                }));
        let phys_base = f.sub_header().map(|s| s.phys_base);
        Ok(Self::assemble(Dump::Kdump(k), notes, x86, &[], phys_base))
    }

    /// Wrap any page source (for example a kdump-compressed reader or a synthetic memory
    /// image) with its notes; VMCOREINFO is taken from the notes.
    pub fn from_source(mem: Box<dyn PhysMemory>, notes: Vec<Note>, x86_64: bool) -> Self {
        Self::assemble(Dump::Other(mem), notes, x86_64, &[], None)
    }

    /// Wrap a page source with VMCOREINFO given as text (no notes).
    pub fn from_source_with_info(mem: Box<dyn PhysMemory>, vmcoreinfo: &[u8]) -> Self {
        let note = Note {
            name: b"VMCOREINFO".to_vec(),
            n_type: 0,
            desc: vmcoreinfo.to_vec(),
            offset: 0,
        };
        Self::assemble(Dump::Other(mem), vec![note], true, &[], None)
    }

    fn assemble(
        mut dump: Dump,
        notes: Vec<Note>,
        x86: bool,
        loads: &[LoadSegment],
        phys_base_hint: Option<u64>,
    ) -> Self {
        let info = notes
            .iter()
            .find(|n| n.is_vmcoreinfo())
            .map(|n| VmcoreInfo::parse(&n.desc));
        if let (Dump::Elf(e), Some(ps)) = (&mut dump, info.as_ref().and_then(|i| i.page_size)) {
            e.set_page_size(ps);
        }
        let mut v = Self {
            dump,
            path: None,
            notes,
            info,
            x86_64: None,
            x86_64_error: None,
        };
        match (&v.info, x86) {
            (None, _) => v.x86_64_error = Some("the dump has no VMCOREINFO note".into()),
            (Some(_), false) => {
                v.x86_64_error = Some("the dump is not an x86_64 dump".into());
            }
            (Some(info), true) => match X86_64::new(info, loads) {
                Ok(mut x) => {
                    if let (Origin::Default, Some(pb)) = (x.phys_base_origin, phys_base_hint) {
                        x.root = x.root.wrapping_sub(x.phys_base).wrapping_add(pb);
                        x.phys_base = pb;
                        x.phys_base_origin = Origin::Header;
                    }
                    if x.page_offset.is_none() {
                        if let Some(po) = discover_page_offset(&v.dump, &x, info) {
                            x.page_offset = Some(po);
                            x.page_offset_origin = Origin::PageTables;
                        }
                    }
                    v.x86_64 = Some(x);
                }
                Err(e) => v.x86_64_error = Some(e.to_string()),
            },
        }
        v
    }

    /// The file the dump was opened from.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
    /// The underlying format.
    pub fn dump(&self) -> &Dump {
        &self.dump
    }
    /// The ELF view, if the dump is an ELF core.
    pub fn elf(&self) -> Option<&ElfDump<FileData>> {
        match &self.dump {
            Dump::Elf(e) => Some(e),
            _ => None,
        }
    }
    /// The kdump-compressed view, if the dump is one.
    pub fn kdump(&self) -> Option<&crate::kdump::KdumpDump> {
        match &self.dump {
            Dump::Kdump(k) => Some(k),
            _ => None,
        }
    }
    /// All notes, raw.
    pub fn notes(&self) -> &[Note] {
        &self.notes
    }
    /// VMCOREINFO, if the dump has it (ELF note, QEMU's vmcoreinfo device note, or the
    /// kdump-compressed header's copy).
    pub fn vmcoreinfo(&self) -> Option<&VmcoreInfo> {
        self.info.as_ref()
    }
    /// VMCOREINFO or an error saying it is missing.
    pub fn require_vmcoreinfo(&self) -> Result<&VmcoreInfo> {
        self.info.as_ref().ok_or(Error::NoVmcoreinfo)
    }
    /// The registers of each CPU (`NT_PRSTATUS` notes, x86_64 layout), in note order.
    pub fn prstatus(&self) -> Vec<PrStatus> {
        let endian = match &self.dump {
            Dump::Elf(e) => e.header().endian,
            _ => crate::elf::Endian::Little,
        };
        self.notes
            .iter()
            .filter(|n| n.name == b"CORE" && n.n_type == NT_PRSTATUS)
            .enumerate()
            .filter_map(|(i, n)| PrStatus::parse_x86_64(i, &n.desc, endian))
            .collect()
    }

    /// The x86_64 translation parameters, or why there are none.
    pub fn x86_64(&self) -> Result<&X86_64> {
        self.x86_64.as_ref().ok_or_else(|| {
            Error::Unsupported(format!(
                "no x86_64 address translation: {}",
                self.x86_64_error.as_deref().unwrap_or("unknown reason")
            ))
        })
    }

    /// Translate a kernel virtual address by walking the page tables.
    pub fn vtop(&self, vaddr: u64) -> Result<u64> {
        self.x86_64()?.vtop(&self.dump, vaddr)
    }

    /// Translate and keep the page-table entries read (for `--vtop` style output).
    pub fn walk(&self, vaddr: u64) -> Result<Translation> {
        self.x86_64()?.walk(&self.dump, vaddr)
    }

    /// Read kernel virtual memory (uncached; see [`KernelReader`] for repeated reads).
    pub fn read_virt(&self, vaddr: u64, buf: &mut [u8]) -> Result<()> {
        let x = self.x86_64()?;
        read_virt_with(
            buf,
            vaddr,
            |page_vaddr| x.vtop(&self.dump, page_vaddr),
            &self.dump,
        )
    }

    /// Read a little-endian `u64` at a kernel virtual address.
    pub fn read_virt_u64(&self, vaddr: u64) -> Result<u64> {
        let mut b = [0u8; 8];
        self.read_virt(vaddr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Read a little-endian `u32` at a kernel virtual address.
    pub fn read_virt_u32(&self, vaddr: u64) -> Result<u32> {
        let mut b = [0u8; 4];
        self.read_virt(vaddr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// The base of the virtual memory map (`vmemmap_base`): where `struct page` of pfn 0
    /// lives, so `struct page` of pfn N is at `base + N * SIZE(page)`. Found through
    /// `mem_section` (SPARSEMEM, with or without EXTREME): the memory map of section 0 is
    /// stored relative to the section's first pfn, which is 0.
    pub fn vmemmap_base(&self) -> Result<u64> {
        let info = self.require_vmcoreinfo()?;
        let ms = info
            .symbol("mem_section")
            .ok_or_else(|| Error::Vmcoreinfo("no SYMBOL(mem_section)".into()))?;
        let off = info
            .offset("mem_section.section_mem_map")
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| Error::Vmcoreinfo("no OFFSET(mem_section.section_mem_map)".into()))?;
        let size = info
            .size("mem_section")
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| Error::Vmcoreinfo("no SIZE(mem_section)".into()))?;
        // SPARSEMEM_EXTREME: LENGTH(mem_section) is the number of root pointers, each root
        // a page of sections; otherwise mem_section is the array of sections itself.
        let page = self.page_size();
        // Non-EXTREME only when LENGTH(mem_section) equals the number of sections
        // (1 << (MAX_PHYSMEM_BITS - SECTION_SIZE_BITS)); x86_64 kernels use EXTREME.
        let nr_sections = match (
            info.number("MAX_PHYSMEM_BITS"),
            info.number("SECTION_SIZE_BITS"),
        ) {
            (Some(m), Some(s)) => m
                .checked_sub(s)
                .filter(|d| (0..64).contains(d))
                .map(|d| 1u64 << d),
            _ => None,
        };
        let length = info
            .length("mem_section")
            .and_then(|l| u64::try_from(l).ok());
        let extreme = !(size > 0 && size <= page && nr_sections.is_some() && length == nr_sections);
        let mut r = self.reader();
        let first_section = if extreme { r.read_u64(ms)? } else { ms };
        if first_section == 0 {
            return Err(Error::Vmcoreinfo("mem_section root 0 is NULL".into()));
        }
        let map = r.read_u64(first_section.wrapping_add(off))?;
        let base = map & !0x1f;
        if base == 0 {
            return Err(Error::Vmcoreinfo("section 0 has no memory map".into()));
        }
        Ok(base)
    }

    /// The bytes of page frame `pfn` without copying, when the dump is an ELF core read
    /// through a memory map (or from memory) and the whole page is in the file; `None`
    /// otherwise (use [`PhysMemory::read_page`] then).
    pub fn page_slice(&self, pfn: u64) -> Option<&[u8]> {
        let ps = self.page_size();
        match &self.dump {
            Dump::Elf(e) => e.phys_slice(pfn.checked_mul(ps)?, ps as usize),
            _ => None,
        }
    }

    /// A reader with a small translation cache, for many small virtual reads.
    pub fn reader(&self) -> KernelReader<'_> {
        KernelReader::new(self)
    }

    /// The kernel release from VMCOREINFO `OSRELEASE`.
    pub fn osrelease(&self) -> Option<&str> {
        self.info.as_ref()?.osrelease.as_deref()
    }

    /// Read the `init_uts_ns` release string through address translation (checks that
    /// translation works: it should equal [`osrelease`](Self::osrelease)).
    pub fn uts_release(&self) -> Result<String> {
        let info = self.require_vmcoreinfo()?;
        let uts = info
            .symbol("init_uts_ns")
            .ok_or_else(|| Error::Vmcoreinfo("no SYMBOL(init_uts_ns)".into()))?;
        let name_off = info.offset("uts_namespace.name").unwrap_or(0).max(0) as u64;
        // struct new_utsname: sysname, nodename, release, ... each 65 bytes.
        let mut release = [0u8; 65];
        self.read_virt(
            uts.wrapping_add(name_off).wrapping_add(2 * 65),
            &mut release,
        )?;
        let end = release.iter().position(|&b| b == 0).unwrap_or(65);
        Ok(String::from_utf8_lossy(&release[..end]).into_owned())
    }
}

impl PhysMemory for Vmcore {
    fn page_size(&self) -> u64 {
        self.dump.page_size()
    }
    fn max_pfn(&self) -> u64 {
        self.dump.max_pfn()
    }
    fn page_state(&self, pfn: u64) -> PageState {
        self.dump.page_state(pfn)
    }
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        self.dump.read_phys(paddr, buf)
    }
}

/// Split a virtual read at 4 KiB boundaries, translate each piece and read it.
fn read_virt_with(
    buf: &mut [u8],
    vaddr: u64,
    mut translate: impl FnMut(u64) -> Result<u64>,
    mem: &(impl PhysMemory + ?Sized),
) -> Result<()> {
    let mut done = 0usize;
    while done < buf.len() {
        let va = vaddr.wrapping_add(done as u64);
        let in_page = (4096 - (va & 4095)) as usize;
        let chunk = in_page.min(buf.len() - done);
        let pa = translate(va)?;
        mem.read_phys(pa, &mut buf[done..done + chunk])?;
        done += chunk;
    }
    Ok(())
}

/// Find the direct-map base when no PT_LOAD gives it (QEMU and kdump-compressed dumps):
/// translate `SYMBOL(mem_section)`, which lives in the direct map, and check that the
/// difference is 1 GiB aligned as KASLR places it.
fn discover_page_offset(mem: &Dump, x: &X86_64, info: &VmcoreInfo) -> Option<u64> {
    let v = info.symbol("mem_section")?;
    if v >= START_KERNEL_MAP {
        return None;
    }
    let p = x.vtop(mem, v).ok()?;
    let base = v.wrapping_sub(p);
    (base & ((1 << 30) - 1) == 0).then_some(base)
}

const TLB_ENTRIES: usize = 256;

/// Cached kernel virtual reads: remembers the last translations (4 KiB granularity) and the
/// whole mapping of the last walk (2 MiB or 1 GiB for the direct map and the memory map), so
/// walking linked structures does not walk the page tables for every field, and a long read
/// is one physical read per mapping instead of one per 4 KiB page.
#[derive(Debug)]
pub struct KernelReader<'a> {
    vmcore: &'a Vmcore,
    tlb: Box<[(u64, u64); TLB_ENTRIES]>,
    /// The last walk's mapping: virtual base, physical base, size.
    mapping: Option<(u64, u64, u64)>,
    hits: u64,
    misses: u64,
}

impl<'a> KernelReader<'a> {
    fn new(vmcore: &'a Vmcore) -> Self {
        Self {
            vmcore,
            tlb: Box::new([(u64::MAX, 0); TLB_ENTRIES]),
            mapping: None,
            hits: 0,
            misses: 0,
        }
    }

    /// The dump this reader reads.
    pub fn vmcore(&self) -> &'a Vmcore {
        self.vmcore
    }

    /// Translate with the cache.
    pub fn vtop(&mut self, vaddr: u64) -> Result<u64> {
        self.translate(vaddr).map(|(pa, _)| pa)
    }

    /// The physical address of `vaddr` and how many bytes from it on are physically
    /// contiguous in the same mapping.
    fn translate(&mut self, vaddr: u64) -> Result<(u64, u64)> {
        if let Some((vbase, pbase, size)) = self.mapping {
            let off = vaddr.wrapping_sub(vbase);
            if off < size {
                self.hits += 1;
                return Ok((pbase + off, size - off));
            }
        }
        let vpage = vaddr >> 12;
        let slot = (vpage as usize) % TLB_ENTRIES;
        if self.tlb[slot].0 == vpage {
            self.hits += 1;
            return Ok((self.tlb[slot].1 | (vaddr & 4095), 4096 - (vaddr & 4095)));
        }
        self.misses += 1;
        let t = self.vmcore.walk(vaddr)?;
        let size = t.page_size.max(4096);
        let off = vaddr & (size - 1);
        self.mapping = Some((vaddr - off, t.paddr - off, size));
        self.tlb[slot] = (vpage, t.paddr & !4095);
        Ok((t.paddr, size - off))
    }

    /// Read kernel virtual memory: one physical read per run that is contiguous in a
    /// mapping.
    pub fn read_virt(&mut self, vaddr: u64, buf: &mut [u8]) -> Result<()> {
        let vm = self.vmcore;
        let mut done = 0usize;
        while done < buf.len() {
            let va = vaddr.wrapping_add(done as u64);
            let (pa, avail) = self.translate(va)?;
            let n = usize::try_from(avail)
                .unwrap_or(usize::MAX)
                .min(buf.len() - done);
            vm.dump.read_phys(pa, &mut buf[done..done + n])?;
            done += n;
        }
        Ok(())
    }

    /// Read a little-endian `u64`.
    pub fn read_u64(&mut self, vaddr: u64) -> Result<u64> {
        let mut b = [0u8; 8];
        self.read_virt(vaddr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Read a little-endian `u32`.
    pub fn read_u32(&mut self, vaddr: u64) -> Result<u32> {
        let mut b = [0u8; 4];
        self.read_virt(vaddr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Read a little-endian `u16`.
    pub fn read_u16(&mut self, vaddr: u64) -> Result<u16> {
        let mut b = [0u8; 2];
        self.read_virt(vaddr, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    /// (hits, misses) of the translation cache so far.
    pub fn cache_stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }
}
