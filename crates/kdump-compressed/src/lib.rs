//! makedumpfile's kdump-compressed format as a library: the on-disk structures (defined once,
//! in [`format`]), a reader ([`read`]) over any byte source ([`source`]: a slice for fuzzing,
//! `pread` for terabyte dumps), a parallel writer in makedumpfile's exact layout ([`write`]),
//! flattened streams ([`flattened`], `-F`/`-R`) and the page codecs ([`codec`]: zlib, our own
//! LZO1X ([`lzo`]), snappy, zstd and an lz4 extension).
//!
//! Write a small dump with LZO pages and read it back:
//!
//! ```
//! use kdump_compressed::codec::Codec;
//! use kdump_compressed::read::{KdumpFile, PageState};
//! use kdump_compressed::write::{write_kdump, DumpInfo, MemBitmaps, WriteOptions};
//!
//! let mut bitmaps = MemBitmaps::new(64, 4096);
//! for pfn in 0..8 {
//!     bitmaps.set_valid(pfn);
//!     if pfn != 3 {
//!         bitmaps.set_dumped(pfn); // pfn 3 is filtered out
//!     }
//! }
//! let info = DumpInfo { max_mapnr: 64, dump_level: 31, ..DumpInfo::default() };
//! let opts = WriteOptions { codec: Codec::Lzo, threads: 2, ..WriteOptions::default() };
//! let mut file = Vec::new(); // or a std::fs::File, or a flattened::FlatWriter
//! write_kdump(&mut file, &info, &bitmaps, |pfn, page| {
//!     page.fill(if pfn == 2 { 0 } else { pfn as u8 });
//!     Ok(())
//! }, &opts)?;
//!
//! let dump = KdumpFile::from_source(file)?;
//! assert_eq!(&dump.header().signature, b"KDUMP   ");
//! let mut page = vec![0u8; dump.page_size()];
//! assert_eq!(dump.read_page(5, &mut page)?, PageState::Data);
//! assert!(page.iter().all(|&b| b == 5));
//! assert_eq!(dump.read_page(3, &mut page)?, PageState::Excluded);
//! assert_eq!(dump.read_page(9, &mut page)?, PageState::NotInDump);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod codec;
pub mod elf;
pub mod flattened;
pub mod format;
pub mod lzo;
// The clean-room LZO1X compressor: not yet the one `lzo` exports (it is about half as fast
// as the current one on the fixtures' pages), so unused outside its own tests.
#[allow(dead_code)]
mod lzo_compress;
pub mod read;
pub mod source;
pub mod write;

/// The signature makedumpfile writes at offset 0 of a kdump-compressed file.
pub const SIGNATURE: [u8; 8] = *b"KDUMP   ";
