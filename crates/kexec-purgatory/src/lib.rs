//! The kexec purgatory: code that runs between the old and the new kernel.
//!
//! ```
//! assert_eq!(kexec_purgatory::MAX_SEGMENTS, 16);
//! ```
#![deny(missing_docs)]

/// The kernel accepts at most this many kexec segments (KEXEC_SEGMENT_MAX).
pub const MAX_SEGMENTS: usize = 16;
