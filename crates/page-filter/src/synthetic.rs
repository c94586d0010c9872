//! Synthetic crash dumps: a VMCOREINFO, a SPARSEMEM_EXTREME + VMEMMAP mem_section table and
//! struct pages built from a list of page objects (free blocks, cache, anonymous THPs, hugetlb,
//! slab, ...), with the layout of Linux 6.1 or of 6.12. For tests, fuzzing, benchmarks and
//! bounded-memory checks; struct pages may also be generated on the fly, so an image can claim
//! terabytes without storing them.

use crate::info::VmcoreInfo;
use crate::page::{DumpLevel, PageClass};
use crate::source::{MemorySource, PhysRange, SourceError};

/// Which kernel's struct page encoding to imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Linux 6.1: PG_slab, compound_dtor/compound_order in the first tail page,
    /// PAGE_BUDDY_MAPCOUNT_VALUE = -129.
    Linux6_1,
    /// Linux 6.12: page types in the top byte of page_type (buddy 0xf0, offline 0xf1,
    /// hugetlb 0xf4, slab 0xf5, unaccepted 0xf7), order in the low byte of folio._flags_1.
    Linux6_12,
}

/// What a run of page frames is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    /// Frames absent from the dump (not in any memory range).
    Hole {
        /// How many frames.
        pages: u64,
    },
    /// An ordinary kernel page (kept).
    Kernel,
    /// A free buddy block of `1 << order` frames.
    Free {
        /// Buddy order.
        order: u8,
    },
    /// A page cache page on the LRU.
    Cache {
        /// PG_private set (buffer heads).
        private: bool,
    },
    /// A large page cache folio.
    CacheFolio {
        /// Folio order (≥ 1).
        order: u8,
    },
    /// A swap cache page (PG_swapcache + PG_swapbacked, not anonymous).
    SwapCache,
    /// An anonymous page.
    Anon,
    /// An anonymous transparent huge page.
    AnonThp {
        /// Order (≥ 1).
        order: u8,
    },
    /// A hugetlbfs page.
    Hugetlb {
        /// Order (≥ 1).
        order: u8,
    },
    /// A slab page whose mapping word has bit 0 set (must still be kept).
    Slab,
    /// A slab page that also looks like a free buddy page (6.1 only: the slab veto wins).
    SlabBuddyLookalike,
    /// A hardware-poisoned page.
    Hwpoison,
    /// A logically offline page.
    Offline,
    /// A MAX_ORDER block of unaccepted memory (recognised on 6.12 only).
    Unaccepted,
}

impl PageKind {
    /// Frames the object spans.
    pub fn pages(&self) -> u64 {
        match *self {
            PageKind::Hole { pages } => pages,
            PageKind::Free { order }
            | PageKind::CacheFolio { order }
            | PageKind::AnonThp { order }
            | PageKind::Hugetlb { order } => 1 << order,
            PageKind::Unaccepted => 1 << 10,
            _ => 1,
        }
    }

    /// The class makedumpfile (upstream, which is right on 6.12) gives the object's frames at
    /// `level`, or None when they are kept. Independent of the classifier: this is the spec.
    pub fn expected(&self, flavor: Flavor, level: DumpLevel) -> Option<PageClass> {
        let l = level.bits();
        match self {
            PageKind::Hole { .. } | PageKind::Kernel => None,
            PageKind::Slab | PageKind::SlabBuddyLookalike => None,
            PageKind::Free { .. } => (l & DumpLevel::FREE != 0).then_some(PageClass::Free),
            PageKind::Unaccepted => {
                (flavor == Flavor::Linux6_12 && l & DumpLevel::FREE != 0).then_some(PageClass::Free)
            }
            PageKind::Cache { private: false }
            | PageKind::CacheFolio { .. }
            | PageKind::SwapCache => {
                (l & (DumpLevel::CACHE | DumpLevel::CACHE_PRIVATE) != 0).then_some(PageClass::Cache)
            }
            PageKind::Cache { private: true } => {
                (l & DumpLevel::CACHE_PRIVATE != 0).then_some(PageClass::CachePrivate)
            }
            PageKind::Anon | PageKind::AnonThp { .. } | PageKind::Hugetlb { .. } => {
                (l & DumpLevel::USER != 0).then_some(PageClass::User)
            }
            PageKind::Hwpoison => Some(PageClass::Hwpoison),
            PageKind::Offline => Some(PageClass::Offline),
        }
    }
}

/// One object of a synthetic image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Object {
    /// What it is.
    pub kind: PageKind,
    /// Its frames' contents are all zero.
    pub zero: bool,
}

/// Where an object landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// First frame.
    pub first_pfn: u64,
    /// The object.
    pub object: Object,
}

const PAGE_SIZE: u64 = 4096;
const SP: usize = 64;
const PAGES_PER_SECTION: u64 = 1 << 15;
const SECTIONS_PER_ROOT: u64 = PAGE_SIZE / 32;
/// Kernel virtual address of the struct page of pfn 0.
pub const VMEMMAP: u64 = 0xffd4_0000_0000_0000;
/// SYMBOL(mem_section): the array of root pointers.
pub const MEM_SECTION: u64 = 0xff11_0000_1000_0000;
const ROOTS: u64 = 0xff11_0000_2000_0000;
const ANON_VMA: u64 = 0xff11_0000_3000_0000;
const FILE_MAPPING: u64 = 0xff11_0000_4000_0000;

struct Consts {
    lru: u64,
    private: u64,
    swapcache: u64,
    swapbacked: u64,
    hwpoison: u64,
    head: u64,
    slab_flag: u64,
    buddy: u32,
    offline: u32,
    slab_type: u32,
    hugetlb_type: u32,
    unaccepted: u32,
}

const C61: Consts = Consts {
    lru: 1 << 4,
    private: 1 << 13,
    swapcache: 1 << 10,
    swapbacked: 1 << 19,
    hwpoison: 1 << 23,
    head: 1 << 16,
    slab_flag: 1 << 9,
    buddy: -129i32 as u32,
    offline: -257i32 as u32,
    slab_type: 0,
    hugetlb_type: 0,
    unaccepted: 0,
};

const C612: Consts = Consts {
    lru: 1 << 5,
    private: 1 << 11,
    swapcache: 1 << 9,
    swapbacked: 1 << 18,
    hwpoison: 1 << 21,
    head: 1 << 6,
    slab_flag: 0,
    buddy: 0xf000_0000,
    offline: 0xf100_0000,
    slab_type: 0xf500_0000,
    hugetlb_type: 0xf400_0000,
    unaccepted: 0xf700_0000,
};

impl Flavor {
    fn consts(self) -> &'static Consts {
        match self {
            Flavor::Linux6_1 => &C61,
            Flavor::Linux6_12 => &C612,
        }
    }

    /// The VMCOREINFO text such a kernel writes (the keys the filter reads).
    pub fn vmcoreinfo(self) -> VmcoreInfo {
        let c = self.consts();
        let bit = |m: u64| m.trailing_zeros().to_string();
        let mut t = String::new();
        let mut kv = |k: &str, v: String| {
            t.push_str(k);
            t.push('=');
            t.push_str(&v);
            t.push('\n');
        };
        kv(
            "OSRELEASE",
            match self {
                Flavor::Linux6_1 => "6.1.0-56-amd64".into(),
                Flavor::Linux6_12 => "6.12.57+deb12-amd64".into(),
            },
        );
        kv("PAGESIZE", PAGE_SIZE.to_string());
        kv("SYMBOL(mem_section)", format!("{MEM_SECTION:x}"));
        kv(
            "LENGTH(mem_section)",
            (1u64 << 25).div_ceil(SECTIONS_PER_ROOT).to_string(),
        );
        kv("SIZE(mem_section)", "32".into());
        kv("OFFSET(mem_section.section_mem_map)", "0".into());
        kv("NUMBER(SECTION_SIZE_BITS)", "27".into());
        kv("NUMBER(MAX_PHYSMEM_BITS)", "52".into());
        kv("SIZE(page)", SP.to_string());
        kv("OFFSET(page.flags)", "0".into());
        kv("OFFSET(page._refcount)", "52".into());
        kv("OFFSET(page.mapping)", "24".into());
        kv("OFFSET(page.lru)", "8".into());
        kv("OFFSET(page._mapcount)", "48".into());
        kv("OFFSET(page.private)", "40".into());
        kv("OFFSET(page.compound_head)", "8".into());
        kv("LENGTH(zone.free_area)", "11".into());
        kv("NUMBER(PG_lru)", bit(c.lru));
        kv("NUMBER(PG_private)", bit(c.private));
        kv("NUMBER(PG_swapcache)", bit(c.swapcache));
        kv("NUMBER(PG_swapbacked)", bit(c.swapbacked));
        kv("NUMBER(PG_hwpoison)", bit(c.hwpoison));
        kv("NUMBER(PG_head_mask)", c.head.to_string());
        kv(
            "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)",
            (c.buddy as i32).to_string(),
        );
        kv(
            "NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)",
            (c.offline as i32).to_string(),
        );
        match self {
            Flavor::Linux6_1 => {
                kv("OFFSET(page.compound_dtor)", "16".into());
                kv("OFFSET(page.compound_order)", "17".into());
                kv("NUMBER(PG_slab)", bit(c.slab_flag));
                kv("NUMBER(HUGETLB_PAGE_DTOR)", "2".into());
            }
            Flavor::Linux6_12 => {
                kv(
                    "NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)",
                    (c.hugetlb_type as i32).to_string(),
                );
                kv(
                    "NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)",
                    (c.slab_type as i32).to_string(),
                );
                kv(
                    "NUMBER(PAGE_UNACCEPTED_MAPCOUNT_VALUE)",
                    (c.unaccepted as i32).to_string(),
                );
            }
        }
        VmcoreInfo::parse(&t)
    }

    /// Write the struct page of frame `pfn`, part of an object of `kind` starting at `head`.
    pub fn struct_page(self, kind: PageKind, head: u64, pfn: u64, out: &mut [u8]) {
        let c = self.consts();
        let mut flags = 0u64;
        let mut compound_head = 0u64;
        let mut mapping = 0u64;
        let mut mapcount = u32::MAX;
        let mut private = 0u64;
        let mut refcount = 1u32;
        let mut dtor = 0u8;
        let mut order_byte = 0u8;
        let is_head = pfn == head;
        let head_addr = VMEMMAP + head * SP as u64;
        let compound = |order: u8,
                        head_flags: u64,
                        flags: &mut u64,
                        compound_head: &mut u64,
                        order_byte: &mut u8|
         -> bool {
            if is_head {
                *flags = c.head | head_flags;
                true
            } else {
                *compound_head = head_addr | 1;
                if pfn == head + 1 {
                    *order_byte = order;
                }
                false
            }
        };
        match kind {
            PageKind::Hole { .. } | PageKind::Kernel => {}
            PageKind::Free { order } => {
                refcount = 0;
                if is_head {
                    mapcount = c.buddy;
                    private = u64::from(order);
                }
            }
            PageKind::Cache { private: p } => {
                flags = c.lru | if p { c.private } else { 0 };
                mapping = FILE_MAPPING;
            }
            PageKind::CacheFolio { order } => {
                if compound(
                    order,
                    c.lru,
                    &mut flags,
                    &mut compound_head,
                    &mut order_byte,
                ) {
                    mapping = FILE_MAPPING;
                }
                dtor = 1;
            }
            PageKind::SwapCache => {
                flags = c.swapcache | c.swapbacked;
                mapping = FILE_MAPPING;
            }
            PageKind::Anon => {
                flags = c.lru | c.swapbacked;
                mapping = ANON_VMA | 1;
                mapcount = 0;
            }
            PageKind::AnonThp { order } => {
                if compound(
                    order,
                    c.lru | c.swapbacked,
                    &mut flags,
                    &mut compound_head,
                    &mut order_byte,
                ) {
                    mapping = ANON_VMA | 1;
                    mapcount = 0;
                }
                dtor = 3;
            }
            PageKind::Hugetlb { order } => {
                if compound(order, 0, &mut flags, &mut compound_head, &mut order_byte) {
                    mapping = FILE_MAPPING + 0x100;
                    if self == Flavor::Linux6_12 {
                        mapcount = c.hugetlb_type;
                    }
                }
                dtor = 2;
            }
            PageKind::Slab => {
                flags = c.slab_flag;
                if self == Flavor::Linux6_12 {
                    mapcount = c.slab_type;
                }
                mapping = ANON_VMA | 1;
            }
            PageKind::SlabBuddyLookalike => {
                flags = c.slab_flag;
                mapcount = if self == Flavor::Linux6_12 {
                    c.slab_type
                } else {
                    c.buddy
                };
                mapping = ANON_VMA | 1;
            }
            PageKind::Hwpoison => flags = c.hwpoison,
            PageKind::Offline => mapcount = c.offline,
            PageKind::Unaccepted => {
                refcount = 0;
                if is_head && self == Flavor::Linux6_12 {
                    mapcount = c.unaccepted;
                }
            }
        }
        if pfn == head + 1 && order_byte != 0 {
            match self {
                Flavor::Linux6_1 => {
                    // compound_dtor @16, compound_order @17 of the first tail page.
                    if let Some(b) = out.get_mut(16..18) {
                        b[0] = dtor;
                        b[1] = order_byte;
                    }
                }
                Flavor::Linux6_12 => flags |= u64::from(order_byte),
            }
        }
        let mut put = |off: usize, bytes: &[u8]| {
            if let Some(d) = out.get_mut(off..off + bytes.len()) {
                d.copy_from_slice(bytes);
            }
        };
        put(0, &flags.to_le_bytes());
        if compound_head != 0 {
            put(8, &compound_head.to_le_bytes());
        }
        put(24, &mapping.to_le_bytes());
        put(40, &private.to_le_bytes());
        put(48, &mapcount.to_le_bytes());
        put(52, &refcount.to_le_bytes());
    }
}

/// Lay objects out from frame 0, each aligned to its size (gaps become kernel pages).
pub fn place(objects: &[Object]) -> Vec<Placed> {
    let mut out = Vec::with_capacity(objects.len());
    let mut pfn = 0u64;
    for &o in objects {
        let n = o.kind.pages();
        let align = if matches!(o.kind, PageKind::Hole { .. }) {
            1
        } else {
            n
        };
        let aligned = pfn.div_ceil(align) * align;
        // Gaps become kernel pages, one object per frame.
        for p in pfn..aligned {
            out.push(Placed {
                first_pfn: p,
                object: Object {
                    kind: PageKind::Kernel,
                    zero: false,
                },
            });
        }
        out.push(Placed {
            first_pfn: aligned,
            object: o,
        });
        pfn = aligned + n;
    }
    out
}

type Generator = Box<dyn Fn(u64, &mut [u8]) + Send + Sync>;
type ZeroFn = Box<dyn Fn(u64) -> bool + Send + Sync>;

enum Pages {
    Stored(Vec<u8>),
    Generated(Generator),
}

/// A synthetic dump: implements [`MemorySource`]; see the module docs.
pub struct SyntheticDump {
    flavor: Flavor,
    max_pfn: u64,
    ranges: Vec<PhysRange>,
    present_sections: Vec<(u64, u64)>,
    pages: Pages,
    zero: ZeroFn,
}

impl std::fmt::Debug for SyntheticDump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyntheticDump")
            .field("flavor", &self.flavor)
            .field("max_pfn", &self.max_pfn)
            .field("ranges", &self.ranges.len())
            .finish_non_exhaustive()
    }
}

fn pfn_ranges_to_phys(r: &[(u64, u64)]) -> Vec<PhysRange> {
    r.iter()
        .map(|&(a, b)| PhysRange::new(a * PAGE_SIZE, b * PAGE_SIZE))
        .collect()
}

fn sections_of(r: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut s: Vec<(u64, u64)> = Vec::new();
    for &(a, b) in r {
        if a >= b {
            continue;
        }
        let (sa, sb) = (a / PAGES_PER_SECTION, (b - 1) / PAGES_PER_SECTION + 1);
        match s.last_mut() {
            Some(l) if sa <= l.1 => l.1 = l.1.max(sb),
            _ => s.push((sa, sb)),
        }
    }
    s
}

impl SyntheticDump {
    /// An image holding the placed objects' struct pages (small images: 64 bytes a frame).
    pub fn from_placed(flavor: Flavor, placed: &[Placed]) -> Self {
        let max_pfn = placed
            .last()
            .map_or(0, |p| p.first_pfn + p.object.kind.pages());
        let mut bytes = vec![0u8; max_pfn as usize * SP];
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        let mut zero_runs: Vec<(u64, u64)> = Vec::new();
        for p in placed {
            let n = p.object.kind.pages();
            if let PageKind::Hole { .. } = p.object.kind {
                continue;
            }
            match ranges.last_mut() {
                Some(l) if l.1 == p.first_pfn => l.1 += n,
                _ => ranges.push((p.first_pfn, p.first_pfn + n)),
            }
            if p.object.zero {
                zero_runs.push((p.first_pfn, p.first_pfn + n));
            }
            for pfn in p.first_pfn..p.first_pfn + n {
                let o = pfn as usize * SP;
                flavor.struct_page(p.object.kind, p.first_pfn, pfn, &mut bytes[o..o + SP]);
            }
        }
        SyntheticDump {
            flavor,
            max_pfn,
            present_sections: sections_of(&ranges),
            ranges: pfn_ranges_to_phys(&ranges),
            pages: Pages::Stored(bytes),
            zero: Box::new(move |pfn| {
                let i = zero_runs.partition_point(|&(_, e)| e <= pfn);
                zero_runs.get(i).is_some_and(|&(a, _)| a <= pfn)
            }),
        }
    }

    /// An image whose struct pages are computed on demand by `gen(pfn, out)`, with memory
    /// ranges `pfn_ranges` (start, end frame) and content zero where `zero(pfn)`.
    pub fn generated(
        flavor: Flavor,
        pfn_ranges: &[(u64, u64)],
        gen: impl Fn(u64, &mut [u8]) + Send + Sync + 'static,
        zero: impl Fn(u64) -> bool + Send + Sync + 'static,
    ) -> Self {
        let max_pfn = pfn_ranges.iter().map(|r| r.1).max().unwrap_or(0);
        SyntheticDump {
            flavor,
            max_pfn,
            present_sections: sections_of(pfn_ranges),
            ranges: pfn_ranges_to_phys(pfn_ranges),
            pages: Pages::Generated(Box::new(gen)),
            zero: Box::new(zero),
        }
    }

    /// The flavor.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// The VMCOREINFO of the image.
    pub fn vmcoreinfo(&self) -> VmcoreInfo {
        self.flavor.vmcoreinfo()
    }

    /// The memory ranges (PT_LOADs) of the image.
    pub fn ranges(&self) -> &[PhysRange] {
        &self.ranges
    }

    /// One past the highest frame.
    pub fn max_pfn(&self) -> u64 {
        self.max_pfn
    }

    fn section_present(&self, nr: u64) -> bool {
        let i = self.present_sections.partition_point(|&(_, e)| e <= nr);
        self.present_sections.get(i).is_some_and(|&(a, _)| a <= nr)
    }

    fn word(&self, vaddr: u64) -> Result<u64, SourceError> {
        let nroots = self
            .max_pfn
            .div_ceil(PAGES_PER_SECTION)
            .div_ceil(SECTIONS_PER_ROOT);
        if (MEM_SECTION..MEM_SECTION + nroots * 8).contains(&vaddr) {
            let r = (vaddr - MEM_SECTION) / 8;
            let any = (r * SECTIONS_PER_ROOT..(r + 1) * SECTIONS_PER_ROOT)
                .any(|s| self.section_present(s));
            return Ok(if any { ROOTS + r * PAGE_SIZE } else { 0 });
        }
        if (ROOTS..ROOTS + nroots * PAGE_SIZE).contains(&vaddr) {
            let off = vaddr - ROOTS;
            let nr = (off / PAGE_SIZE) * SECTIONS_PER_ROOT + (off % PAGE_SIZE) / 32;
            if off % 32 == 0 && self.section_present(nr) {
                // Encoded map: mem_map of the section minus its first pfn's struct pages.
                return Ok(VMEMMAP | 0x3);
            }
            return Ok(0);
        }
        Err(format!("synthetic dump: no memory at {vaddr:#x}").into())
    }
}

impl MemorySource for SyntheticDump {
    fn read_virtual(&mut self, vaddr: u64, buf: &mut [u8]) -> Result<(), SourceError> {
        let len = buf.len() as u64;
        let end = vaddr
            .checked_add(len)
            .ok_or_else(|| SourceError::from("address overflow"))?;
        if vaddr >= VMEMMAP && end <= VMEMMAP + self.max_pfn * SP as u64 {
            let mut tmp = [0u8; SP];
            let mut pos = 0usize;
            let mut checked_section = u64::MAX;
            while pos < buf.len() {
                let a = vaddr + pos as u64 - VMEMMAP;
                let pfn = a / SP as u64;
                let section = pfn / PAGES_PER_SECTION;
                if section != checked_section {
                    if !self.section_present(section) {
                        return Err(format!("vmemmap of pfn {pfn:#x} is not populated").into());
                    }
                    checked_section = section;
                }
                let inner = (a % SP as u64) as usize;
                let take = (SP - inner).min(buf.len() - pos);
                match &self.pages {
                    Pages::Stored(v) => {
                        let o = pfn as usize * SP + inner;
                        buf[pos..pos + take].copy_from_slice(&v[o..o + take]);
                    }
                    Pages::Generated(g) => {
                        if inner == 0 && take == SP {
                            let out = &mut buf[pos..pos + SP];
                            out.fill(0);
                            g(pfn, out);
                        } else {
                            tmp.fill(0);
                            g(pfn, &mut tmp);
                            buf[pos..pos + take].copy_from_slice(&tmp[inner..inner + take]);
                        }
                    }
                }
                pos += take;
            }
            return Ok(());
        }
        // Table words, 8 bytes at a time.
        let mut pos = 0usize;
        while pos < buf.len() {
            let a = vaddr + pos as u64;
            let w = self.word(a & !7)?.to_le_bytes();
            let inner = (a & 7) as usize;
            let take = (8 - inner).min(buf.len() - pos);
            buf[pos..pos + take].copy_from_slice(&w[inner..inner + take]);
            pos += take;
        }
        Ok(())
    }

    fn read_physical(&mut self, paddr: u64, buf: &mut [u8]) -> Result<(), SourceError> {
        let pfn = paddr / PAGE_SIZE;
        let inside = self
            .ranges
            .iter()
            .any(|r| r.start <= paddr && paddr + buf.len() as u64 <= r.file_end);
        if !inside {
            return Err(format!("synthetic dump: no memory at physical {paddr:#x}").into());
        }
        if (self.zero)(pfn) {
            buf.fill(0);
        } else {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = ((pfn as u8) ^ (i as u8)) | 1;
            }
        }
        Ok(())
    }
}
