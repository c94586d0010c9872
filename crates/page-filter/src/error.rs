//! Errors of the page filter.

use crate::source::SourceError;

/// What went wrong while setting up or running the filter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A VMCOREINFO key the filter cannot do without is absent.
    #[error("VMCOREINFO lacks {key}, which the page filter needs")]
    MissingVmcoreinfo {
        /// The key, e.g. `SIZE(page)`.
        key: &'static str,
    },
    /// A VMCOREINFO value is present but unusable.
    #[error("VMCOREINFO {key}: {why}")]
    BadVmcoreinfo {
        /// The key.
        key: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// A dump level above 31.
    #[error("dump level {0} is outside 0..=31")]
    BadDumpLevel(u8),
    /// Neither SPARSEMEM (SYMBOL(mem_section), SIZE(mem_section),
    /// OFFSET(mem_section.section_mem_map)) nor FLATMEM (SYMBOL(mem_map)) is described.
    #[error("VMCOREINFO describes no supported memory model (SPARSEMEM or FLATMEM)")]
    NoMemoryModel,
    /// The mem_section table does not decode.
    #[error("mem_section table at {addr:#x}: {why}")]
    BadMemSection {
        /// The table's address.
        addr: u64,
        /// What is wrong.
        why: String,
    },
    /// Reading kernel memory failed.
    #[error("cannot read {what} at {addr:#x}: {source}")]
    Read {
        /// What was being read.
        what: &'static str,
        /// The (virtual or physical) address.
        addr: u64,
        /// The source's error.
        #[source]
        source: SourceError,
    },
    /// The dump has no physical memory ranges, or they are absurd.
    #[error("memory ranges: {0}")]
    BadRanges(String),
}
