//! Parse, validate and explain `kdump.conf` (kdump-utils and the older `net` syntax),
//! `/etc/sysconfig/kdump` and Debian's `/etc/default/kdump-tools`.
//!
//! - [`Document`]: the file line by line, lossless (`Document::parse(t).to_string() == t`), with
//!   an edit API ([`Document::set`], [`Document::remove`]).
//! - [`check`]: every directive of kdump.conf(5) typed into a [`Config`], with the checks
//!   kdumpctl and mkdumprd make; every problem is a [`Diagnostic`] at a line and column,
//!   printed as `FILE:LINE:COL: error: MESSAGE`. core_collector options are checked with
//!   [`dumpfilter_options`], the same parser `dumpfilter` uses.
//! - [`plan()`]: what kdump will do, with kdump-utils' defaults applied (serde `Serialize`).
//! - [`parse_sysconfig`] and [`parse_kdump_tools`]: shell assignments read without a shell.
//!
//! - [`write_atomic`] and [`Document::save`]: an edit is saved atomically (temporary file in
//!   the same directory, fsync, rename), never half-written.
//!
//! Apart from saving, nothing here touches the system: no file is read, nothing is run.
//!
//! ```
//! use kdump_conf::{check, plan, TargetPlan};
//!
//! let text = "raw /dev/sda1\ncore_collector makedumpfile -d 31 -c\n";
//! let checked = check(text);
//! // a raw target needs -F: an error at line 2, column 16
//! let e = &checked.diagnostics[0];
//! assert_eq!(e.display("/etc/kdump.conf").to_string(),
//!     "/etc/kdump.conf:2:16: error: the `raw` target needs the collector's -F option (a flattened stream on stdout); add -F");
//!
//! let checked = check("ext4 LABEL=/boot\npath /usr/local/cores\n");
//! assert!(checked.is_valid());
//! let p = plan(&checked.config);
//! assert!(matches!(p.target, TargetPlan::Fs { .. }));
//! assert_eq!(p.collector.argv.join(" "), "makedumpfile -l --message-level 7 -d 31");
//! assert_eq!(p.dump_dir.as_deref(), Some("/usr/local/cores/{host}-%Y-%m-%d-%H:%M:%S"));
//! ```
#![deny(missing_docs)]

mod config;
mod diag;
mod file;
mod plan;
mod shell;
mod syntax;
mod sysconfig;

pub use config::{
    check, Checked, Collector, CollectorKind, Config, Device, FailureAction, FinalAction, FsType,
    Spanned, Target, DIRECTIVES, DIRECTIVE_DOCS, REMOVED_DIRECTIVES,
};
pub use diag::{has_errors, Diagnostic, Severity};
pub use file::{write_atomic, SaveError};
pub use plan::{
    plan, CollectorPlan, Fence, Hooks, HostTag, KernelPlan, Plan, TargetPlan, Timestamp,
    DEFAULT_COLLECTOR, DEFAULT_DUMP_PATH, DEFAULT_SSHKEY, KDUMP_DIR_DATE_FORMAT,
    KDUMP_TOOLS_DATE_FORMAT,
};
pub use shell::{parse_assignments, Assignment};
pub use syntax::{Directive, Document, EditError, Line, LineKind, Span};
pub use sysconfig::{
    parse_kdump_tools, parse_sysconfig, KDUMP_TOOLS_DEFAULT_APPEND, KDUMP_TOOLS_DEFAULT_ARGS,
    KDUMP_TOOLS_VARS, SYSCONFIG_VARS,
};

/// Where kdumpctl and `kdump` look for the configuration by default.
pub const DEFAULT_PATH: &str = "/etc/kdump.conf";
/// kdump-utils' capture kernel settings.
pub const DEFAULT_SYSCONFIG_PATH: &str = "/etc/sysconfig/kdump";
/// Where the Debian package keeps the same settings (read when [`DEFAULT_SYSCONFIG_PATH`] is
/// absent).
pub const DEBIAN_SYSCONFIG_PATH: &str = "/etc/default/kdump";
/// Debian kdump-tools' settings.
pub const DEFAULT_KDUMP_TOOLS_PATH: &str = "/etc/default/kdump-tools";

impl Plan {
    /// The plan as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Serializing these plain types cannot fail (no maps with non-string keys).
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}
