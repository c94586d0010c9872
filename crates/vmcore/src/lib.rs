//! Read Linux crash dumps: ELF vmcores (and kdump-compressed files through that crate's
//! reader), the VMCOREINFO note, per-CPU registers, x86_64 virtual-to-physical
//! translation and the kernel log.
//!
//! The layers, bottom up:
//! - [`ReadAt`]: bytes of a file ([`PreadFile`], [`MmapFile`], [`Bytes`]).
//! - [`PhysMemory`]: physical memory by address or page frame; holes and excluded pages
//!   are errors ([`Error::Hole`], [`Error::Excluded`]), never zeros. [`ElfDump`] implements it.
//! - [`Vmcore`]: a dump with its [`VmcoreInfo`], notes and [`X86_64`] translation, for
//!   kernel virtual reads ([`Vmcore::read_virt`], cached through [`KernelReader`]).
//! - [`printk`]: the kernel log as `makedumpfile --dump-dmesg` writes it.
//!
//! ```
//! // A tiny ELF64 core: one PT_LOAD of two pages at physical 0x1000.
//! let image = vmcore::testutil::ElfBuilder::new()
//!     .load(0x1000, 0xffff_8880_0000_1000, &[7u8; 8192], 8192)
//!     .vmcoreinfo(b"OSRELEASE=6.1.0\nPAGESIZE=4096\n")
//!     .build();
//! let dump = vmcore::Vmcore::from_bytes(image)?;
//! use vmcore::PhysMemory;
//! assert_eq!(dump.max_pfn(), 3);
//! assert!(dump.is_present(1));
//! assert!(matches!(dump.read_phys(0, &mut [0u8; 8]), Err(vmcore::Error::Hole(0))));
//! assert_eq!(dump.vmcoreinfo().unwrap().osrelease.as_deref(), Some("6.1.0"));
//! # Ok::<(), vmcore::Error>(())
//! ```
#![deny(missing_docs)]

mod elf;
mod error;
pub mod info;
mod io;
mod kdump;
mod mmap;
mod notes;
mod phys;
pub mod printk;
pub mod testutil;
mod vmcore;
mod vmcoreinfo;
pub mod x86_64;

pub use elf::{
    parse_header, Class, ElfDump, ElfHeader, Endian, LoadSegment, PhysRange, EM_386, EM_X86_64,
    MAX_NOTE_BYTES, MAX_PHDRS, PN_XNUM, PT_LOAD, PT_NOTE,
};
pub use error::{Error, Result};
pub use io::{Access, Bytes, FileData, PreadFile, ReadAt};
pub use kdump::{is_kdump_compressed, KdumpDump};
pub use mmap::MmapFile;
pub use notes::{parse_notes, Note, PrStatus, X86_64Regs, NT_PRSTATUS, X86_64_REG_NAMES};
pub use phys::{read_phys_u64, PageState, PhysMemory};
pub use vmcore::{Dump, KernelReader, Vmcore};
pub use vmcoreinfo::{parse_number, VmcoreInfo, MAX_VMCOREINFO_LEN};
pub use x86_64::{Translation, WalkStep, X86_64};

/// The four bytes every ELF file (and so every ELF vmcore) starts with.
pub const ELF_MAGIC: [u8; 4] = *b"\x7fELF";
