//! Build the capture kernel's initramfs: a small, reproducible image with exactly what the
//! dump target needs.
//!
//! - [`Archive`], [`CpioWriter`], [`read_archive`]: cpio "newc" written deterministically
//!   (sorted, inode numbers in order, one mtime, uid/gid 0) and read back without panics.
//! - [`Compression`]: none, gzip or zstd, chosen from the kernel's config
//!   ([`Compression::for_kernel_config`]); the same input gives the same bytes.
//! - [`ModuleIndex`]: modules.dep, modules.alias, modules.softdep, modules.builtin(.modinfo);
//!   a name or modalias resolved to the modules to load, dependencies first.
//! - [`Sysfs`] and [`fs_needs`]: what a block device, a network interface or a file system
//!   needs, as [`Need`]s with the reason (device, driver, sysfs path).
//! - [`LibResolver`]: an executable's interpreter and shared libraries, found as ld.so does.
//! - [`ImageBuilder`]: files, modules (decompressed to plain `.ko`, with their firmware),
//!   executables; [`ImageBuilder::list`] says what went in and why; the module load order
//!   goes to [`MODULES_ORDER`] for the image's init ([`parse_modules_order`]).
//!
//! Nothing here runs a program, loads a module or prints: problems that do not stop the
//! build are returned as [`ImageBuilder::warnings`].
//!
//! ```
//! use capture_initramfs::{Compression, ImageBuilder, list_image, parse_modules_order, MODULES_ORDER};
//!
//! let mut b = ImageBuilder::new();
//! b.add_base()?;
//! b.add_bytes("/etc/kdump.conf", 0o644, "path /var/crash\n", "the configuration")?;
//! b.add_symlink("/init", "/usr/sbin/kdump", "PID 1")?;
//! let image = b.to_bytes(Compression::Gzip)?;
//! assert_eq!(image, b.to_bytes(Compression::Gzip)?); // reproducible
//!
//! let listed = list_image(&image, 1 << 20)?;
//! assert!(listed.iter().any(|e| e.path == "/dev/console" && e.detail.as_deref() == Some("5:1")));
//! let why = b.list().into_iter().find(|e| e.path == "/etc/kdump.conf").unwrap().reason;
//! assert_eq!(why, "the configuration");
//! // no module was added: the manifest is absent and the init loads nothing
//! assert!(b.list().iter().all(|e| e.path != format!("/{MODULES_ORDER}")));
//! assert!(parse_modules_order("")?.is_empty());
//! # Ok::<(), capture_initramfs::Error>(())
//! ```
#![deny(missing_docs)]

mod builder;
mod compress;
mod cpio;
mod elf;
mod error;
mod exec;
mod glob;
mod manifest;
mod modules;
mod sysfs;

pub use builder::{list_image, ImageBuilder, ListEntry, ModuleInImage, MAX_FILE};
pub use compress::{decompress_file, Compression};
pub use cpio::{
    normalize_path, read_archive, Archive, CpioWriter, Node, ReadLimits, Record, MAX_PATH,
};
pub use elf::{modinfo, parse_elf, section, ElfInfo};
pub use error::{Error, Result};
pub use exec::{ExecFile, ExecFileKind, LibResolver, DEFAULT_LIB_DIRS};
pub use glob::{glob_match, Glob};
pub use manifest::{format_modules_order, parse_modules_order, LoadEntry, MODULES_ORDER};
pub use modules::{
    normalize_name, IndexTexts, Lookup, ModuleEntry, ModuleIndex, Resolution, SoftDep,
};
pub use sysfs::{fs_needs, Need, Sysfs};
