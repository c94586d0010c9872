//! Carry out a kdump.conf plan: reservation, loading the capture kernel, saving the dump.
//!
//! ```
//! assert_eq!(kdump_service::DEFAULT_DUMP_DIR, "/var/crash");
//! ```
#![deny(missing_docs)]

/// Where dumps go when kdump.conf has no `path` directive.
pub const DEFAULT_DUMP_DIR: &str = "/var/crash";
