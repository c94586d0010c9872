//! makedumpfile's kdump-compressed format: the on-disk structs, a reader and a writer.
//!
//! ```
//! assert_eq!(&kdump_compressed::SIGNATURE, b"KDUMP   ");
//! ```
#![deny(missing_docs)]

/// The signature makedumpfile writes at offset 0 of a kdump-compressed file.
pub const SIGNATURE: [u8; 8] = *b"KDUMP   ";
