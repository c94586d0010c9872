//! makedumpfile's command-line options, as `dumpfilter` takes them, as a library.
//!
//! One parser serves both the `dumpfilter` binary and `kdump-conf`'s check of a
//! `core_collector makedumpfile ...` line, so the two can never disagree.
//!
//! ```
//! // The parser lands with the dumpfilter issue; the crate already builds.
//! assert_eq!(dumpfilter_options::MAX_DUMP_LEVEL, 31);
//! ```
#![deny(missing_docs)]

/// The highest dump level makedumpfile accepts (all five exclusion bits set).
pub const MAX_DUMP_LEVEL: u8 = 31;
