//! Parse bzImage and ELF kernels, build kexec segments, and load them.
//!
//! * [`bzimage`] and [`elf_kernel`] parse kernel images; [`plan::IMAGE_TYPES`] is the table of
//!   formats (`{probe, load, usage}`, like kexec-tools').
//! * [`plan::build`] turns a [`LoadRequest`] (kernel bytes, initrd, command line, memory map,
//!   panic-kernel inputs) into a [`LoadPlan`]: at most 16 segments (kernel, initrd,
//!   boot_params + command line, purgatory, and for a panic kernel the ELF core header and
//!   backup area) and the entry point. It is pure: everything it needs is passed in.
//! * [`memmap`], [`crash`] and [`state`] read /proc and /sys through a [`SystemView`], so
//!   tests feed synthetic trees.
//! * [`sys`] holds the system calls. Every operation that could take down the machine it runs
//!   on (kexec_load, kexec_file_load, reboot) first asks [`guard::check`], which refuses
//!   inside a test harness unless the process runs in our QEMU lab guest.
//!
//! ```
//! use kexec_image::{memmap::{MemRange, RangeKind}, plan, LoadRequest};
//! # let kernel = kexec_image::doc_kernel();
//! let mut req = LoadRequest::new(&kernel, "console=ttyS0");
//! req.memory = vec![MemRange { start: 0x10_0000, end: 0x3fff_ffff, kind: RangeKind::Ram }];
//! let t = plan::probe(&kernel, None).unwrap();
//! assert_eq!(t.name, "bzImage64");
//! let p = (t.load)(&req).unwrap();
//! assert!(p.segments.len() <= 16);
//! assert_eq!(p.params.entry_rip, 0x100_0200); // pref_address + 0x200
//!
//! use kexec_image::guard::{self, Danger};
//! // Doc tests run under cargo, so on the host this is refused:
//! if !guard::in_lab_guest() {
//!     assert!(guard::check(Danger::Reboot).is_err());
//! }
//! ```
#![deny(missing_docs)]

pub mod bootparams;
pub mod bzimage;
pub mod crash;
pub mod elf_kernel;
pub mod guard;
pub mod layout;
pub mod machine;
pub mod memmap;
pub mod plan;
pub mod state;
pub mod sys;
pub mod sysview;

pub use plan::{LoadPlan, LoadRequest, PanicInputs, Segment, SegmentKind};
pub use sysview::{HostSystem, MemSystem, RootedSystem, SystemView};

/// Everything that can go wrong while parsing, planning or loading.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A text input (/proc/iomem, a sysfs file) did not parse.
    #[error("{source_name}: line {line}: {msg}")]
    Parse {
        /// File name.
        source_name: String,
        /// Line number (1-based; 0 = whole file).
        line: usize,
        /// What was expected.
        msg: String,
    },
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// File name.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Neither /sys/firmware/memmap nor /proc/iomem gave any RAM.
    #[error("no memory map: /sys/firmware/memmap and /proc/iomem list no System RAM")]
    NoMemoryMap,
    /// No "Crash kernel" range in /proc/iomem.
    #[error("no crash kernel memory reserved: /proc/iomem has no \"Crash kernel\" range (boot with crashkernel=SIZE)")]
    NoCrashKernel,
    /// A structure ends past the end of the input.
    #[error("truncated image: {what} at offset {offset:#x} is past the end of the file")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Where.
        offset: u64,
    },
    /// Not a bzImage.
    #[error("not a bzImage: {0}")]
    NotBzImage(String),
    /// Not an ELF kernel.
    #[error("not an x86_64 ELF kernel: {0}")]
    NotElf(String),
    /// A kernel we recognise but cannot load.
    #[error("unsupported kernel: {0}")]
    Unsupported(String),
    /// No image type accepted the kernel.
    #[error("cannot determine the kernel image type: {0}")]
    ImageTypeUnknown(String),
    /// `-t` named a type we do not have.
    #[error("unknown image type {0:?} (known: bzImage64, elf-x86_64)")]
    UnknownType(String),
    /// An address computation overflowed.
    #[error("address arithmetic overflow")]
    Overflow,
    /// No free memory for a segment.
    #[error("no room for the {what} ({size:#x} bytes) in {where_}")]
    NoRoom {
        /// Segment.
        what: &'static str,
        /// Bytes needed.
        size: u64,
        /// Where we looked.
        where_: &'static str,
    },
    /// More memory ranges than boot_params can carry.
    #[error("{0} e820 entries; boot_params holds at most 128")]
    TooManyE820(usize),
    /// The command line is longer than the kernel accepts.
    #[error("command line is {len} bytes; the kernel accepts at most {max}")]
    CommandLineTooLong {
        /// Length.
        len: usize,
        /// The kernel's cmdline_size.
        max: u64,
    },
    /// More than 16 segments.
    #[error("{0} segments; the kernel accepts at most 16")]
    TooManySegments(usize),
    /// The embedded purgatory could not be linked.
    #[error(transparent)]
    Purgatory(#[from] kexec_purgatory::LinkError),
    /// The host guard refused a dangerous call.
    #[error(transparent)]
    Refused(#[from] guard::Refused),
    /// A system call failed.
    #[error("{call} failed: {detail}{}", if hint.is_empty() { String::new() } else { format!(" ({hint})") })]
    Syscall {
        /// Which call.
        call: &'static str,
        /// errno.
        errno: i32,
        /// strerror text.
        detail: String,
        /// What it most likely means.
        hint: String,
    },
}

/// A small synthetic bzImage for documentation examples (1 setup sector, 64 KiB init_size).
#[doc(hidden)]
pub fn doc_kernel() -> Vec<u8> {
    synthetic_bzimage(4096, 0x1_0000)
}

/// A crafted ELF64 x86_64 kernel for examples, tests and fuzz seeds: entry at 16 MiB, two
/// PT_LOADs at 16 MiB (one page in the file and in memory) and 18 MiB (one page in the file,
/// five in memory), page data a repeating pattern.
#[doc(hidden)]
pub fn synthetic_elf_kernel() -> Vec<u8> {
    let mut v = vec![0u8; 0x3000];
    v[..4].copy_from_slice(b"\x7fELF");
    v[4] = 2;
    v[5] = 1;
    v[6] = 1;
    v[16..18].copy_from_slice(&2u16.to_le_bytes());
    v[18..20].copy_from_slice(&62u16.to_le_bytes());
    v[24..32].copy_from_slice(&0x100_0000u64.to_le_bytes());
    v[32..40].copy_from_slice(&64u64.to_le_bytes());
    v[52..54].copy_from_slice(&64u16.to_le_bytes());
    v[54..56].copy_from_slice(&56u16.to_le_bytes());
    v[56..58].copy_from_slice(&2u16.to_le_bytes());
    for (i, (off, paddr, filesz, memsz)) in [
        (0x1000u64, 0x100_0000u64, 0x1000u64, 0x1000u64),
        (0x2000, 0x120_0000, 0x1000, 0x5000),
    ]
    .into_iter()
    .enumerate()
    {
        let o = 64 + i * 56;
        v[o..o + 4].copy_from_slice(&1u32.to_le_bytes());
        v[o + 8..o + 16].copy_from_slice(&off.to_le_bytes());
        v[o + 16..o + 24].copy_from_slice(&(0xffff_ffff_8000_0000 + paddr).to_le_bytes());
        v[o + 24..o + 32].copy_from_slice(&paddr.to_le_bytes());
        v[o + 32..o + 40].copy_from_slice(&filesz.to_le_bytes());
        v[o + 40..o + 48].copy_from_slice(&memsz.to_le_bytes());
        v[o + 48..o + 56].copy_from_slice(&0x20_0000u64.to_le_bytes());
    }
    for (i, b) in v[0x1000..].iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    v
}

/// A crafted bzImage for examples and tests: 1 setup sector, boot protocol 2.15, 64-bit entry,
/// relocatable, 2 MiB alignment, preferred address 16 MiB, then `payload_len` zero bytes of
/// payload; `init_size` as given.
#[doc(hidden)]
pub fn synthetic_bzimage(payload_len: usize, init_size: u32) -> Vec<u8> {
    let mut v = vec![0u8; 1024 + payload_len];
    v[0x1f1] = 1;
    v[0x1fe] = 0x55;
    v[0x1ff] = 0xaa;
    v[0x201] = 0x6a;
    v[0x202..0x206].copy_from_slice(b"HdrS");
    v[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    v[0x22c..0x230].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    v[0x230..0x234].copy_from_slice(&0x20_0000u32.to_le_bytes());
    v[0x234] = 1;
    v[0x236] = 3;
    v[0x238..0x23c].copy_from_slice(&2047u32.to_le_bytes());
    v[0x258..0x260].copy_from_slice(&0x100_0000u64.to_le_bytes());
    v[0x260..0x264].copy_from_slice(&init_size.to_le_bytes());
    v
}
