//! Parse, validate and explain `kdump.conf` (kdump-utils and the older `net` syntax),
//! `/etc/sysconfig/kdump` and Debian's `/etc/default/kdump-tools`.
//!
//! ```
//! assert_eq!(kdump_conf::DEFAULT_PATH, "/etc/kdump.conf");
//! ```
#![deny(missing_docs)]

/// Where kdumpctl and `kdump` look for the configuration by default.
pub const DEFAULT_PATH: &str = "/etc/kdump.conf";
