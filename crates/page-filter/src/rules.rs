//! How each page property is recognised on each kernel: one table, compiled against VMCOREINFO.
//!
//! Every way the kernel has encoded "this page is slab / free / hugetlb / ..." is a row of
//! [`RULE_TABLE`]. A row applies when the VMCOREINFO keys it names are present (and the kernel
//! version is in its range); for most features the first applicable row wins, for
//! [`Feature::Slab`] every applicable row is tried (a page is slab if any says so), as
//! makedumpfile does.

use crate::error::Error;
use crate::info::VmcoreInfo;

/// A property of a struct page whose encoding is kernel-specific.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Feature {
    /// `PG_lru`: the page is on an LRU list (page cache or anonymous).
    Lru,
    /// `PG_private`: the page has private data (buffer heads).
    Private,
    /// `PG_swapcache`.
    SwapCache,
    /// `PG_swapbacked` (4.10+; when absent, swap cache alone means cache).
    SwapBacked,
    /// `PG_hwpoison`.
    Hwpoison,
    /// The head page of a compound page (`PG_head_mask`).
    CompoundHead,
    /// Slab pages (kept; veto the anonymous, buddy and offline tests).
    Slab,
    /// Free pages owned by the buddy allocator (order in `private`).
    Buddy,
    /// Unaccepted memory (treated as free, MAX_ORDER blocks).
    Unaccepted,
    /// Logically offline pages (balloon, memory hot-unplug).
    Offline,
    /// The head of a hugetlbfs page.
    Hugetlb,
    /// Where a compound page's order is stored.
    CompoundOrder,
}

/// How one feature is recognised; key names are VMCOREINFO keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// The page's own flags have bit `NUMBER(key)` set.
    Flag(&'static str),
    /// The page's own flags intersect the mask `NUMBER(key)`.
    FlagMask(&'static str),
    /// The page's `_mapcount` / `page_type` word equals `NUMBER(key)`. Values of the 6.12+ form
    /// (type in the top byte, low 24 bits zero, top byte ≥ 0xf0) are compared on the top byte,
    /// as the kernel's own `PageType()` does; older values (e.g. -129) are compared exactly.
    PageType(&'static str),
    /// The next struct page's flags (`folio._flags_1`) have bit `NUMBER(key)` set.
    NextPageFlag(&'static str),
    /// The low byte of the next struct page's flags (`folio._flags_1 & 0xff`).
    NextPageFlagsLowByte,
    /// An unsigned field of `width` bytes in the next struct page at `OFFSET(key)`, minus
    /// `SIZE(page)` when `folio` (the key is then an offset inside `struct folio`).
    NextPageField {
        /// The OFFSET(..) key.
        key: &'static str,
        /// The offset is relative to the folio (head page) rather than the next page.
        folio: bool,
        /// Field width in bytes (1, 2, 4 or 8).
        width: u8,
    },
    /// The compound destructor in the next struct page (same addressing as `NextPageField`)
    /// equals one of the values named by `matches` (NUMBER(..) or SYMBOL(..) keys).
    NextPageDtor {
        /// The OFFSET(..) key.
        key: &'static str,
        /// The offset is relative to the folio (head page).
        folio: bool,
        /// Field width in bytes.
        width: u8,
        /// Keys whose values identify the hugetlb destructor.
        matches: &'static [&'static str],
    },
}

/// A kernel-version bound: (major, minor).
pub type Version = (u32, u32);

/// One way a feature has been encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// The feature this row recognises.
    pub feature: Feature,
    /// How.
    pub mechanism: Mechanism,
    /// Extra VMCOREINFO keys that must be present for this row to apply.
    pub requires: &'static [&'static str],
    /// Kernel versions the row applies to: `since <= version < until` (None = unbounded).
    /// Only consulted when OSRELEASE is present; otherwise every row is a candidate.
    pub since: Option<Version>,
    /// See `since`.
    pub until: Option<Version>,
    /// Where the encoding comes from (kernel change), for humans.
    pub note: &'static str,
}

const fn row(feature: Feature, mechanism: Mechanism, note: &'static str) -> Row {
    Row {
        feature,
        mechanism,
        requires: &[],
        since: None,
        until: None,
        note,
    }
}

const HUGETLB_DTOR_KEYS: &[&str] = &["NUMBER(HUGETLB_PAGE_DTOR)"];
const HUGETLB_DTOR_KEYS_OLD: &[&str] = &["NUMBER(HUGETLB_PAGE_DTOR)", "SYMBOL(free_huge_page)"];

/// The table: every encoding of every feature, newest first within a feature.
pub const RULE_TABLE: &[Row] = &[
    row(
        Feature::Lru,
        Mechanism::Flag("NUMBER(PG_lru)"),
        "all kernels",
    ),
    row(
        Feature::Private,
        Mechanism::Flag("NUMBER(PG_private)"),
        "all kernels",
    ),
    row(
        Feature::SwapCache,
        Mechanism::Flag("NUMBER(PG_swapcache)"),
        "all kernels",
    ),
    row(
        Feature::SwapBacked,
        Mechanism::Flag("NUMBER(PG_swapbacked)"),
        "4.10+",
    ),
    row(
        Feature::Hwpoison,
        Mechanism::Flag("NUMBER(PG_hwpoison)"),
        "CONFIG_MEMORY_FAILURE",
    ),
    row(
        Feature::CompoundHead,
        Mechanism::FlagMask("NUMBER(PG_head_mask)"),
        "4.x+",
    ),
    // Slab: every applicable row is tried.
    row(
        Feature::Slab,
        Mechanism::PageType("NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)"),
        "6.10+: slab marked in page_type",
    ),
    row(
        Feature::Slab,
        Mechanism::Flag("NUMBER(PG_slab)"),
        "before 6.10: PG_slab",
    ),
    Row {
        requires: &["OFFSET(page._mapcount)", "OFFSET(page.private)"],
        ..row(
            Feature::Buddy,
            Mechanism::PageType("NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)"),
            "2.6.38+: PageBuddy in _mapcount/page_type",
        )
    },
    Row {
        requires: &["OFFSET(page.private)"],
        ..row(
            Feature::Buddy,
            Mechanism::Flag("NUMBER(PG_buddy)"),
            "2.6.17-2.6.37: PG_buddy",
        )
    },
    row(
        Feature::Unaccepted,
        Mechanism::PageType("NUMBER(PAGE_UNACCEPTED_MAPCOUNT_VALUE)"),
        "6.5+: unaccepted memory",
    ),
    row(
        Feature::Offline,
        Mechanism::PageType("NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)"),
        "5.0+: PageOffline",
    ),
    row(
        Feature::Hugetlb,
        Mechanism::PageType("NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)"),
        "6.9+: hugetlb in the head's page_type",
    ),
    row(
        Feature::Hugetlb,
        Mechanism::NextPageFlag("NUMBER(PG_hugetlb)"),
        "6.6-6.8: PG_hugetlb in folio._flags_1",
    ),
    row(
        Feature::Hugetlb,
        Mechanism::NextPageDtor {
            key: "OFFSET(folio._folio_dtor)",
            folio: true,
            width: 1,
            matches: HUGETLB_DTOR_KEYS,
        },
        "6.3-6.5: folio._folio_dtor",
    ),
    Row {
        since: Some((4, 16)),
        ..row(
            Feature::Hugetlb,
            Mechanism::NextPageDtor {
                key: "OFFSET(page.compound_dtor)",
                folio: false,
                width: 1,
                matches: HUGETLB_DTOR_KEYS,
            },
            "4.16-6.2: u8 compound_dtor in the first tail page",
        )
    },
    Row {
        since: Some((4, 4)),
        until: Some((4, 16)),
        ..row(
            Feature::Hugetlb,
            Mechanism::NextPageDtor {
                key: "OFFSET(page.compound_dtor)",
                folio: false,
                width: 2,
                matches: HUGETLB_DTOR_KEYS,
            },
            "4.4-4.15: u16 compound_dtor",
        )
    },
    Row {
        until: Some((4, 4)),
        ..row(
            Feature::Hugetlb,
            Mechanism::NextPageDtor {
                key: "OFFSET(page.compound_dtor)",
                folio: false,
                width: 8,
                matches: HUGETLB_DTOR_KEYS_OLD,
            },
            "before 4.4: destructor function address",
        )
    },
    Row {
        requires: &["NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)"],
        ..row(
            Feature::CompoundOrder,
            Mechanism::NextPageFlagsLowByte,
            "6.9+: order in the low byte of folio._flags_1",
        )
    },
    Row {
        requires: &["NUMBER(PG_hugetlb)"],
        ..row(
            Feature::CompoundOrder,
            Mechanism::NextPageFlagsLowByte,
            "6.6-6.8: order in the low byte of folio._flags_1",
        )
    },
    row(
        Feature::CompoundOrder,
        Mechanism::NextPageField {
            key: "OFFSET(folio._folio_order)",
            folio: true,
            width: 1,
        },
        "6.3-6.5: folio._folio_order",
    ),
    Row {
        since: Some((4, 16)),
        ..row(
            Feature::CompoundOrder,
            Mechanism::NextPageField {
                key: "OFFSET(page.compound_order)",
                folio: false,
                width: 1,
            },
            "4.16-6.2: u8 compound_order",
        )
    },
    Row {
        until: Some((4, 16)),
        ..row(
            Feature::CompoundOrder,
            Mechanism::NextPageField {
                key: "OFFSET(page.compound_order)",
                folio: false,
                width: 2,
            },
            "before 4.16: u16 compound_order",
        )
    },
];

/// A compiled test on a 32-bit `_mapcount`/`page_type` word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeMatch {
    /// The value to compare with (after masking).
    pub value: u32,
    /// The bits compared.
    pub mask: u32,
}

impl TypeMatch {
    fn from_number(n: i64) -> Self {
        let value = n as u32;
        if value & 0x00ff_ffff == 0 && value >> 24 >= 0xf0 {
            TypeMatch {
                value,
                mask: 0xff00_0000,
            }
        } else {
            TypeMatch {
                value,
                mask: u32::MAX,
            }
        }
    }

    /// Whether `word` carries this type.
    #[inline]
    pub fn matches(&self, word: u32) -> bool {
        word & self.mask == self.value
    }
}

/// A compiled field reader in the next struct page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextField {
    /// Byte offset inside the next struct page.
    pub offset: usize,
    /// Width in bytes (1, 2, 4 or 8).
    pub width: u8,
}

impl NextField {
    #[inline]
    pub(crate) fn read(&self, page: &[u8]) -> Option<u64> {
        let b = page.get(self.offset..self.offset + usize::from(self.width))?;
        let mut w = [0u8; 8];
        w[..b.len()].copy_from_slice(b);
        Some(u64::from_le_bytes(w))
    }
}

/// How a compound page's order is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderSource {
    /// Not available: compound pages are treated page by page.
    None,
    /// Low byte of the next page's flags.
    NextFlagsLowByte,
    /// A field in the next page.
    Field(NextField),
}

/// How a hugetlb head is recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HugetlbTest {
    /// Not recognisable on this kernel.
    None,
    /// The head's page_type.
    PageType(TypeMatch),
    /// A flag bit in the next page's flags.
    NextFlag(u64),
    /// The compound destructor in the next page equals one of `values`.
    Dtor {
        /// Where the destructor is.
        field: NextField,
        /// Values meaning "hugetlb".
        values: Vec<u64>,
    },
}

/// Byte offsets of the struct page fields the classifier reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageOffsets {
    /// `SIZE(page)`.
    pub size: usize,
    /// `OFFSET(page.flags)` (8 bytes).
    pub flags: usize,
    /// `OFFSET(page._refcount)` (4 bytes), read for completeness.
    pub refcount: usize,
    /// `OFFSET(page.mapping)` (8 bytes).
    pub mapping: usize,
    /// `OFFSET(page._mapcount)` (4 bytes), the page_type word.
    pub mapcount: Option<usize>,
    /// `OFFSET(page.private)` (8 bytes).
    pub private: Option<usize>,
    /// `OFFSET(page.compound_head)` (8 bytes).
    pub compound_head: Option<usize>,
}

/// The compiled rules for one kernel: what the classifier tests, as numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelRules {
    /// Page size in bytes.
    pub page_size: u64,
    /// Struct page field offsets.
    pub offsets: PageOffsets,
    /// Bit mask of PG_lru (0 = absent).
    pub lru: u64,
    /// Bit mask of PG_private.
    pub private: u64,
    /// Bit mask of PG_swapcache.
    pub swapcache: u64,
    /// Bit mask of PG_swapbacked; None when the kernel predates it.
    pub swapbacked: Option<u64>,
    /// Bit mask of PG_hwpoison.
    pub hwpoison: u64,
    /// PG_head_mask.
    pub head_mask: u64,
    /// Slab by page_type (6.10+).
    pub slab_type: Option<TypeMatch>,
    /// Slab by PG_slab.
    pub slab_flag: u64,
    /// Buddy by page_type.
    pub buddy_type: Option<TypeMatch>,
    /// Buddy by PG_buddy (old kernels).
    pub buddy_flag: u64,
    /// Unaccepted memory page_type.
    pub unaccepted: Option<TypeMatch>,
    /// Offline page_type.
    pub offline: Option<TypeMatch>,
    /// hugetlb recognition.
    pub hugetlb: HugetlbTest,
    /// Compound order source.
    pub order: OrderSource,
    /// `LENGTH(zone.free_area)` (MAX_ORDER + 1), bounds buddy orders; unaccepted blocks are
    /// `1 << (this - 1)` pages.
    pub free_area_len: Option<u32>,
    /// Rows of [`RULE_TABLE`] that were selected, by index.
    pub selected_rows: Vec<usize>,
}

fn version_ok(row: &Row, v: Option<(u32, u32, u32)>) -> bool {
    let Some((ma, mi, _)) = v else { return true };
    let cur = (ma, mi);
    row.since.is_none_or(|s| cur >= s) && row.until.is_none_or(|u| cur < u)
}

fn flag_bit(info: &VmcoreInfo, key: &str) -> Option<u64> {
    let n = info.number(key)?;
    // makedumpfile tests flag bits through a 32-bit mask; bits above 31 never occur for the
    // flags it tests. Refuse nonsense instead of shifting by it.
    if (0..64).contains(&n) {
        Some(1u64 << n)
    } else {
        None
    }
}

impl KernelRules {
    /// Compile [`RULE_TABLE`] against a kernel's VMCOREINFO.
    ///
    /// Fails when the struct page layout itself is missing (SIZE(page), OFFSET(page.flags),
    /// OFFSET(page._refcount), OFFSET(page.mapping)) or inconsistent (a field outside the struct).
    pub fn from_vmcoreinfo(info: &VmcoreInfo) -> Result<Self, Error> {
        let page_size = info.unsigned("PAGESIZE").unwrap_or(4096);
        if !page_size.is_power_of_two() || !(512..=(1 << 20)).contains(&page_size) {
            return Err(Error::BadVmcoreinfo {
                key: "PAGESIZE",
                why: format!("{page_size} is not a supported page size"),
            });
        }
        let need = |key: &'static str| -> Result<usize, Error> {
            let v = info.unsigned(key).ok_or(Error::MissingVmcoreinfo { key })?;
            usize::try_from(v).map_err(|_| Error::BadVmcoreinfo {
                key,
                why: format!("{v} too large"),
            })
        };
        let opt = |key: &'static str| info.unsigned(key).and_then(|v| usize::try_from(v).ok());
        let size = need("SIZE(page)")?;
        if !(16..=4096).contains(&size) {
            return Err(Error::BadVmcoreinfo {
                key: "SIZE(page)",
                why: format!("{size} is not a plausible struct page size"),
            });
        }
        let offsets = PageOffsets {
            size,
            flags: need("OFFSET(page.flags)")?,
            refcount: need("OFFSET(page._refcount)")?,
            mapping: need("OFFSET(page.mapping)")?,
            mapcount: opt("OFFSET(page._mapcount)"),
            private: opt("OFFSET(page.private)"),
            compound_head: opt("OFFSET(page.compound_head)"),
        };
        let check = |key: &'static str, off: Option<usize>, width: usize| -> Result<(), Error> {
            match off {
                Some(o) if o.checked_add(width).is_none_or(|e| e > size) => {
                    Err(Error::BadVmcoreinfo {
                        key,
                        why: format!("field at {o}+{width} lies outside SIZE(page)={size}"),
                    })
                }
                _ => Ok(()),
            }
        };
        check("OFFSET(page.flags)", Some(offsets.flags), 8)?;
        check("OFFSET(page._refcount)", Some(offsets.refcount), 4)?;
        check("OFFSET(page.mapping)", Some(offsets.mapping), 8)?;
        check("OFFSET(page._mapcount)", offsets.mapcount, 4)?;
        check("OFFSET(page.private)", offsets.private, 8)?;
        check("OFFSET(page.compound_head)", offsets.compound_head, 8)?;

        let version = info.kernel_version();
        let mut rules = KernelRules {
            page_size,
            offsets,
            lru: 0,
            private: 0,
            swapcache: 0,
            swapbacked: None,
            hwpoison: 0,
            head_mask: 0,
            slab_type: None,
            slab_flag: 0,
            buddy_type: None,
            buddy_flag: 0,
            unaccepted: None,
            offline: None,
            hugetlb: HugetlbTest::None,
            order: OrderSource::None,
            free_area_len: info
                .unsigned("LENGTH(zone.free_area)")
                .and_then(|v| u32::try_from(v).ok())
                .filter(|v| (1..=64).contains(v)),
            selected_rows: Vec::new(),
        };
        let mut done: Vec<Feature> = Vec::new();
        let next_field = |key: &str, folio: bool, width: u8| -> Option<NextField> {
            let off = usize::try_from(info.unsigned(key)?).ok()?;
            let off = if folio { off.checked_sub(size)? } else { off };
            (off.checked_add(usize::from(width))? <= size && off != 0)
                .then_some(NextField { offset: off, width })
        };
        for (idx, row) in RULE_TABLE.iter().enumerate() {
            let cumulative = row.feature == Feature::Slab;
            if !cumulative && done.contains(&row.feature) {
                continue;
            }
            if !version_ok(row, version) || !row.requires.iter().all(|k| info.contains(k)) {
                continue;
            }
            let applied = match (row.feature, row.mechanism) {
                (f, Mechanism::Flag(key)) => match flag_bit(info, key) {
                    Some(bit) => {
                        match f {
                            Feature::Lru => rules.lru = bit,
                            Feature::Private => rules.private = bit,
                            Feature::SwapCache => rules.swapcache = bit,
                            Feature::SwapBacked => rules.swapbacked = Some(bit),
                            Feature::Hwpoison => rules.hwpoison = bit,
                            Feature::Slab => rules.slab_flag = bit,
                            Feature::Buddy => rules.buddy_flag = bit,
                            _ => {}
                        }
                        true
                    }
                    None => false,
                },
                (_, Mechanism::FlagMask(key)) => match info.number(key) {
                    Some(m) if m > 0 => {
                        rules.head_mask = m as u64;
                        true
                    }
                    _ => false,
                },
                (f, Mechanism::PageType(key)) => match info.number(key) {
                    Some(n) if rules.offsets.mapcount.is_some() => {
                        let tm = TypeMatch::from_number(n);
                        let t = Some(tm);
                        match f {
                            Feature::Slab => rules.slab_type = t,
                            Feature::Buddy => rules.buddy_type = t,
                            Feature::Unaccepted => rules.unaccepted = t,
                            Feature::Offline => rules.offline = t,
                            Feature::Hugetlb => rules.hugetlb = HugetlbTest::PageType(tm),
                            _ => {}
                        }
                        true
                    }
                    _ => false,
                },
                (_, Mechanism::NextPageFlag(key)) => match flag_bit(info, key) {
                    Some(bit) => {
                        rules.hugetlb = HugetlbTest::NextFlag(bit);
                        true
                    }
                    None => false,
                },
                (_, Mechanism::NextPageFlagsLowByte) => {
                    rules.order = OrderSource::NextFlagsLowByte;
                    true
                }
                (_, Mechanism::NextPageField { key, folio, width }) => {
                    match next_field(key, folio, width) {
                        Some(f) => {
                            rules.order = OrderSource::Field(f);
                            true
                        }
                        None => false,
                    }
                }
                (
                    _,
                    Mechanism::NextPageDtor {
                        key,
                        folio,
                        width,
                        matches,
                    },
                ) => match next_field(key, folio, width) {
                    Some(field) => {
                        let values: Vec<u64> = matches
                            .iter()
                            .filter_map(|k| {
                                if let Some(sym) =
                                    k.strip_prefix("SYMBOL(").and_then(|s| s.strip_suffix(')'))
                                {
                                    info.symbol(sym)
                                } else {
                                    info.number(k).map(|n| n as u64)
                                }
                            })
                            .collect();
                        if values.is_empty() {
                            false
                        } else {
                            rules.hugetlb = HugetlbTest::Dtor { field, values };
                            true
                        }
                    }
                    None => false,
                },
            };
            if applied {
                done.push(row.feature);
                rules.selected_rows.push(idx);
            }
        }
        Ok(rules)
    }

    /// The rows of [`RULE_TABLE`] in force for this kernel.
    pub fn selected(&self) -> impl Iterator<Item = &'static Row> + '_ {
        self.selected_rows.iter().filter_map(|&i| RULE_TABLE.get(i))
    }
}
