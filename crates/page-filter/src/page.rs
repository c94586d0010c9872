//! One struct page → one verdict, in makedumpfile's order of tests.

use crate::error::Error;
use crate::rules::{HugetlbTest, KernelRules, OrderSource};

/// makedumpfile's dump level: a mask of the page classes to leave out of the dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DumpLevel(u8);

impl DumpLevel {
    /// Bit 1: pages filled with zeros.
    pub const ZERO: u8 = 1;
    /// Bit 2: page cache pages without private data.
    pub const CACHE: u8 = 2;
    /// Bit 4: page cache pages, with or without private data.
    pub const CACHE_PRIVATE: u8 = 4;
    /// Bit 8: user process data (anonymous and hugetlbfs pages).
    pub const USER: u8 = 8;
    /// Bit 16: free pages.
    pub const FREE: u8 = 16;

    /// A level in 0..=31.
    pub fn new(level: u8) -> Result<Self, Error> {
        if level > 31 {
            Err(Error::BadDumpLevel(level))
        } else {
            Ok(DumpLevel(level))
        }
    }

    /// The level's bits.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Whether every bit of `mask` is set.
    pub fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
}

/// Why a page is left out of the dump: makedumpfile's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum PageClass {
    /// Filled with zeros (decided from the page's content).
    Zero,
    /// Page cache without private data.
    Cache,
    /// Page cache with private data.
    CachePrivate,
    /// Anonymous or hugetlbfs page.
    User,
    /// Free page (buddy allocator or unaccepted memory).
    Free,
    /// Hardware-poisoned page (always excluded).
    Hwpoison,
    /// Logically offline page (always excluded).
    Offline,
}

impl PageClass {
    /// All classes, in makedumpfile's report order.
    pub const ALL: [PageClass; 7] = [
        PageClass::Zero,
        PageClass::Cache,
        PageClass::CachePrivate,
        PageClass::User,
        PageClass::Free,
        PageClass::Hwpoison,
        PageClass::Offline,
    ];
}

/// The fields of one struct page the classifier looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StructPage {
    /// `flags`.
    pub flags: u64,
    /// `_refcount`.
    pub refcount: u32,
    /// `mapping` (bit 0 set: anonymous).
    pub mapping: u64,
    /// `_mapcount`, which is also `page_type`.
    pub mapcount: u32,
    /// `private` (the buddy order for free pages).
    pub private: u64,
    /// `compound_head` (bit 0 set: tail page).
    pub compound_head: u64,
}

#[inline]
fn rd64(b: &[u8], off: usize) -> u64 {
    b.get(off..off + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

#[inline]
fn rd32(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_le_bytes)
        .unwrap_or(0)
}

impl StructPage {
    /// Decode from raw struct page bytes (little-endian). Fields outside `bytes` read as 0.
    #[inline]
    pub fn decode(rules: &KernelRules, bytes: &[u8]) -> Self {
        let o = &rules.offsets;
        StructPage {
            flags: rd64(bytes, o.flags),
            refcount: rd32(bytes, o.refcount),
            mapping: rd64(bytes, o.mapping),
            mapcount: o.mapcount.map_or(0, |off| rd32(bytes, off)),
            private: o.private.map_or(0, |off| rd64(bytes, off)),
            compound_head: o.compound_head.map_or(0, |off| rd64(bytes, off)),
        }
    }
}

/// The classifier's decision for one page frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Kept in the dump.
    Keep,
    /// A compound tail page: decided with its head, kept if the head was kept.
    Tail,
    /// Excluded, together with the `nr_pages - 1` frames that follow (a compound page or a
    /// free buddy block).
    Exclude {
        /// Why.
        class: PageClass,
        /// How many frames, starting at this one.
        nr_pages: u64,
    },
}

impl KernelRules {
    #[inline]
    fn is_slab(&self, p: &StructPage) -> bool {
        self.slab_type.is_some_and(|t| t.matches(p.mapcount)) || p.flags & self.slab_flag != 0
    }

    #[inline]
    fn is_anon(&self, p: &StructPage) -> bool {
        p.mapping & 1 != 0 && !self.is_slab(p)
    }

    #[inline]
    fn is_cache(&self, p: &StructPage) -> bool {
        if p.flags & self.lru != 0 {
            return true;
        }
        let swapbacked_ok = self.swapbacked.is_none_or(|b| p.flags & b != 0);
        swapbacked_ok && p.flags & self.swapcache != 0
    }

    #[inline]
    fn is_buddy(&self, p: &StructPage) -> bool {
        if self.is_slab(p) {
            return false;
        }
        self.buddy_type.is_some_and(|t| t.matches(p.mapcount))
            || (self.buddy_flag != 0 && p.flags & self.buddy_flag != 0)
    }

    /// Compound order and hugetlb-ness of a head page, from the next struct page.
    #[inline]
    fn compound(&self, pfn: u64, head: &StructPage, next: &[u8]) -> (u32, bool) {
        let next_flags = rd64(next, self.offsets.flags);
        let mut order: u64 = match self.order {
            OrderSource::None => 0,
            OrderSource::NextFlagsLowByte => next_flags & 0xff,
            OrderSource::Field(f) => f.read(next).unwrap_or(0),
        };
        let hugetlb = match &self.hugetlb {
            HugetlbTest::None => false,
            HugetlbTest::PageType(t) => t.matches(head.mapcount),
            HugetlbTest::NextFlag(bit) => next_flags & bit != 0,
            HugetlbTest::Dtor { field, values } => {
                field.read(next).is_some_and(|d| values.contains(&d))
            }
        };
        if order >= 64 || pfn & ((1u64 << order) - 1) != 0 {
            order = 0;
        }
        (order as u32, hugetlb)
    }

    /// Classify the page frame `pfn` from its struct page bytes and, when the next frame's
    /// struct page is at hand (same 512-frame block of mem_map, as makedumpfile reads them),
    /// that one too (compound order and hugetlb marks live there).
    ///
    /// The order of tests is makedumpfile's: tail, free (buddy, then unaccepted), cache,
    /// private cache, user, hwpoison, offline; each excluding test only applies when `level`
    /// asks for it, except hwpoison and offline.
    pub fn classify(
        &self,
        level: DumpLevel,
        pfn: u64,
        page: &[u8],
        next: Option<&[u8]>,
    ) -> Verdict {
        let p = StructPage::decode(self, page);
        let mut order = 0u32;
        let mut hugetlb = false;
        if let Some(next) = next {
            if p.flags & self.head_mask != 0 {
                (order, hugetlb) = self.compound(pfn, &p, next);
            }
        }
        if p.compound_head & 1 != 0 {
            return Verdict::Tail;
        }
        let mut nr_pages = 1u64 << order;
        let class;
        if level.has(DumpLevel::FREE) && self.is_buddy(&p) {
            let max = self.free_area_len.map_or(64, u64::from);
            if p.private >= max {
                // Not a valid free block order: leave the page in (makedumpfile warns).
                return Verdict::Keep;
            }
            nr_pages = 1u64 << p.private;
            class = PageClass::Free;
        } else if level.has(DumpLevel::FREE)
            && self.unaccepted.is_some_and(|t| t.matches(p.mapcount))
        {
            nr_pages = self
                .free_area_len
                .map_or(1, |n| 1u64 << n.saturating_sub(1));
            class = PageClass::Free;
        } else if level.has(DumpLevel::CACHE)
            && self.is_cache(&p)
            && p.flags & self.private == 0
            && !self.is_anon(&p)
        {
            class = PageClass::Cache;
        } else if level.has(DumpLevel::CACHE_PRIVATE) && self.is_cache(&p) && !self.is_anon(&p) {
            class = if p.flags & self.private != 0 {
                PageClass::CachePrivate
            } else {
                PageClass::Cache
            };
        } else if level.has(DumpLevel::USER) && (self.is_anon(&p) || hugetlb) {
            class = PageClass::User;
        } else if p.flags & self.hwpoison != 0 {
            class = PageClass::Hwpoison;
        } else if !self.is_slab(&p) && self.offline.is_some_and(|t| t.matches(p.mapcount)) {
            class = PageClass::Offline;
        } else {
            return Verdict::Keep;
        }
        Verdict::Exclude { class, nr_pages }
    }
}
