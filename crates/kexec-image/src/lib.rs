//! Parse bzImage and ELF kernels, build kexec segments, and load them.
//!
//! Every operation that could take down the machine it runs on (kexec_load,
//! kexec_file_load, reboot, writing /proc/sysrq-trigger) first asks [`guard::check`],
//! which refuses inside a test harness unless the process runs in our QEMU lab guest.
//!
//! ```
//! use kexec_image::guard::{self, Danger};
//! // Doc tests run under cargo, so on the host this is refused:
//! if !guard::in_lab_guest() {
//!     assert!(guard::check(Danger::Reboot).is_err());
//! }
//! ```
#![deny(missing_docs)]

pub mod guard;
