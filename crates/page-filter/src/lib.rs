//! makedumpfile's page filter (dump levels `-d 0..=31`) as a library.
//!
//! Every page frame of a Linux crash dump is classified from its `struct page` as
//! makedumpfile 1.7.x does — free (buddy and unaccepted), page cache, private cache, user data
//! (anonymous and hugetlbfs, whole compound pages), hwpoison and offline (always excluded),
//! slab as a veto — with the kernel-specific encodings kept as data in one table
//! ([`RULE_TABLE`]) compiled against the dump's VMCOREINFO. The result is the two bitmaps of the
//! kdump-compressed format (bitmap 1: frame exists; bitmap 2: frame is dumped), produced one
//! window of frames at a time so memory is bounded by the window, plus makedumpfile's
//! per-class statistics. Zero pages are decided from content with [`is_zero_page`].
//!
//! Reading goes through the [`MemorySource`] trait; [`VmcoreSource`] wraps a `vmcore` dump,
//! and [`synthetic`] builds images for tests.
//!
//! ```
//! use page_filter::synthetic::{place, Flavor, Object, PageKind, SyntheticDump};
//! use page_filter::{DumpLevel, FilterConfig, PageFilter};
//!
//! let objects = [
//!     Object { kind: PageKind::Kernel, zero: false },
//!     Object { kind: PageKind::Free { order: 3 }, zero: false },
//!     Object { kind: PageKind::AnonThp { order: 4 }, zero: false },
//!     Object { kind: PageKind::Cache { private: false }, zero: false },
//! ];
//! let dump = SyntheticDump::from_placed(Flavor::Linux6_1, &place(&objects));
//! let info = dump.vmcoreinfo();
//! let ranges = dump.ranges().to_vec();
//! let config = FilterConfig::new(DumpLevel::new(31)?);
//! let mut filter = PageFilter::new(dump, &info, &ranges, config)?;
//! let mut kept = Vec::new();
//! while let Some(w) = filter.next_window()? {
//!     kept.extend(w.dumped_pfns());
//! }
//! // Objects are aligned to their size: kernel pages 0..8, free 8..16, THP 16..32, cache 32.
//! assert_eq!(kept, (0..8).collect::<Vec<u64>>());
//! let s = filter.stats();
//! assert_eq!((s.free, s.user, s.cache), (8, 16, 1));
//! # Ok::<(), page_filter::Error>(())
//! ```
#![deny(missing_docs)]

mod error;
mod filter;
mod info;
mod memmap;
mod page;
mod rules;
mod source;
pub mod synthetic;
mod vmcore_source;
mod zero;

pub use error::Error;
pub use filter::{FilterConfig, PageFilter, Stats, Window};
pub use info::{VmcoreInfo, MAX_VMCOREINFO_LEN};
pub use memmap::{MemMap, MemMapRun, MemoryModel};
pub use page::{DumpLevel, PageClass, StructPage, Verdict};
pub use rules::{
    Feature, HugetlbTest, KernelRules, Mechanism, NextField, OrderSource, PageOffsets, Row,
    TypeMatch, Version, RULE_TABLE,
};
pub use source::{MemorySource, PhysRange, SourceError};
pub use vmcore_source::{vmcore_inputs, VmcoreSource};
pub use zero::is_zero_page;

/// Dump level with every exclusion bit set (zero, cache, private cache, user, free).
pub const DUMP_LEVEL_ALL: u8 = 31;
