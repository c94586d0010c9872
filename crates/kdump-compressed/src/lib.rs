//! makedumpfile's kdump-compressed format: the on-disk structs, a reader and a writer.
//!
//! ```
//! assert_eq!(&kdump_compressed::SIGNATURE, b"KDUMP   ");
//! ```
#![deny(missing_docs)]

pub mod codec;
pub mod elf;
pub mod flattened;
pub mod format;
pub mod lzo;
pub mod read;
pub mod source;
pub mod write;

/// The signature makedumpfile writes at offset 0 of a kdump-compressed file.
pub const SIGNATURE: [u8; 8] = *b"KDUMP   ";
