//! Classify the page frames of a crash dump by makedumpfile's dump levels.
//!
//! ```
//! assert_eq!(page_filter::DUMP_LEVEL_ALL, 31);
//! ```
#![deny(missing_docs)]

/// Dump level with every exclusion bit set (zero, cache, private cache, user, free).
pub const DUMP_LEVEL_ALL: u8 = 31;
