//! Carry out a kdump.conf plan: reservation, loading the capture kernel, saving the dump.
//!
//! The reservation side lives in [`crashkernel`] (the `crashkernel=` parameter: parse,
//! print, the size the kernel selects), [`status`], [`estimate`], [`bootloader`] (setting
//! `crashkernel=` in GRUB legacy, /etc/default/grub and BLS entries) and [`service`] (the
//! systemd unit and SysV init script). System state is read through [`sysinfo::SysRoot`], so
//! everything can be pointed at a fake root.
//!
//! ```
//! use kdump_service::crashkernel::{Crashkernel, GIB, MIB};
//!
//! let ck: Crashkernel = "1G-4G:192M,4G-64G:256M,64G-:512M".parse().unwrap();
//! assert_eq!(ck.select(2 * GIB).unwrap().size, 192 * MIB);
//! assert_eq!(ck.to_string(), "1G-4G:192M,4G-64G:256M,64G-:512M");
//!
//! let err = Crashkernel::parse("128M@").unwrap_err();
//! assert_eq!(err.column, 6);
//! assert_eq!(kdump_service::DEFAULT_DUMP_DIR, "/var/crash");
//! ```
#![deny(missing_docs)]

pub mod bootloader;
pub mod capture;
pub mod collector;
pub mod crashkernel;
pub mod diff;
mod dumpdir;
pub mod estimate;
pub mod image;
pub mod initrd;
pub mod load;
pub mod net;
pub mod save;
pub mod service;
pub mod ssh;
pub mod status;
pub mod sysinfo;
pub mod system;
pub mod target;

/// Where dumps go when kdump.conf has no `path` directive.
pub const DEFAULT_DUMP_DIR: &str = "/var/crash";

/// The README's examples, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
