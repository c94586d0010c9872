//! Read Linux crash dumps: ELF vmcores and kdump-compressed files, the VMCOREINFO note,
//! x86_64 virtual-to-physical translation and the kernel log.
//!
//! ```
//! assert_eq!(vmcore::ELF_MAGIC, *b"\x7fELF");
//! ```
#![deny(missing_docs)]

/// The four bytes every ELF file (and so every ELF vmcore) starts with.
pub const ELF_MAGIC: [u8; 4] = *b"\x7fELF";
