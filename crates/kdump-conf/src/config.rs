//! The typed configuration and the checks kdumpctl and mkdumprd make.

use dumpfilter_options::{Options, OptionsError};

use crate::diag::{has_errors, Diagnostic};
use crate::syntax::{Directive, Document, Span};

/// A value with the place it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where the directive's value (or name, for flags) starts.
    pub span: Span,
}

/// File systems kdump.conf names as dump targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FsType {
    /// ext2.
    Ext2,
    /// ext3.
    Ext3,
    /// ext4.
    Ext4,
    /// XFS.
    Xfs,
    /// Btrfs.
    Btrfs,
    /// Minix.
    Minix,
}

impl FsType {
    /// The directive / mount type name.
    pub fn name(self) -> &'static str {
        match self {
            FsType::Ext2 => "ext2",
            FsType::Ext3 => "ext3",
            FsType::Ext4 => "ext4",
            FsType::Xfs => "xfs",
            FsType::Btrfs => "btrfs",
            FsType::Minix => "minix",
        }
    }

    fn from_name(s: &str) -> Option<FsType> {
        Some(match s {
            "ext2" => FsType::Ext2,
            "ext3" => FsType::Ext3,
            "ext4" => FsType::Ext4,
            "xfs" => FsType::Xfs,
            "btrfs" => FsType::Btrfs,
            "minix" => FsType::Minix,
            _ => return None,
        })
    }
}

/// How a file-system target names its device.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(tag = "by", content = "value", rename_all = "lowercase")]
pub enum Device {
    /// A device node such as `/dev/sda1` or `/dev/vg/lv_kdump`.
    Path(String),
    /// `LABEL=...`.
    Label(String),
    /// `UUID=...`.
    Uuid(String),
    /// `PARTUUID=...`.
    PartUuid(String),
    /// `PARTLABEL=...`.
    PartLabel(String),
}

impl Device {
    /// Reads `/dev/...`, `LABEL=`, `UUID=`, `PARTUUID=` or `PARTLABEL=`.
    pub fn parse(s: &str) -> Option<Device> {
        let (kind, rest) = s.split_once('=').unwrap_or(("", s));
        let d = match kind {
            "LABEL" => Device::Label(rest.to_string()),
            "UUID" => Device::Uuid(rest.to_string()),
            "PARTUUID" => Device::PartUuid(rest.to_string()),
            "PARTLABEL" => Device::PartLabel(rest.to_string()),
            _ if s.starts_with('/') => Device::Path(s.to_string()),
            _ => return None,
        };
        match &d {
            Device::Label(v) | Device::Uuid(v) | Device::PartUuid(v) | Device::PartLabel(v)
                if v.is_empty() =>
            {
                None
            }
            _ => Some(d),
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Path(p) => f.write_str(p),
            Device::Label(v) => write!(f, "LABEL={v}"),
            Device::Uuid(v) => write!(f, "UUID={v}"),
            Device::PartUuid(v) => write!(f, "PARTUUID={v}"),
            Device::PartLabel(v) => write!(f, "PARTLABEL={v}"),
        }
    }
}

/// Where the dump goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `raw DEVICE`: the dump is written onto the device with dd.
    Raw {
        /// The block device.
        device: String,
    },
    /// `ext4 DEVICE` and the other file systems.
    Fs {
        /// The file-system type.
        fstype: FsType,
        /// The device.
        device: Device,
    },
    /// `virtiofs TAG`: a host directory shared with a virtual machine.
    Virtiofs {
        /// The virtiofs tag.
        tag: String,
    },
    /// `nfs HOST:/EXPORT` (or the old `net HOST:/EXPORT`).
    Nfs {
        /// The server (an IPv6 address keeps its brackets).
        server: String,
        /// The exported directory.
        export: String,
    },
    /// `ssh USER@HOST` (or the old `net USER@HOST`).
    Ssh {
        /// The remote user.
        user: String,
        /// The remote host.
        host: String,
    },
    /// `dracut_args --mount "DEVICE MOUNTPOINT FSTYPE [OPTIONS]"`.
    DracutMount {
        /// The device (any form mount takes).
        device: String,
        /// Where dracut mounts it in the capture environment.
        mount_point: String,
        /// The file-system type.
        fstype: String,
    },
}

/// What happens when saving the dump fails.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureAction {
    /// Reboot (the default).
    Reboot,
    /// Halt, losing the dump.
    Halt,
    /// Power off.
    Poweroff,
    /// A shell in the capture environment.
    Shell,
    /// Save the dump to the root file system instead, then do the final action.
    DumpToRootfs,
    /// A shell command (Debian's KDUMP_FAIL_CMD), kept as text, never run here.
    Command(String),
}

impl FailureAction {
    fn parse(s: &str) -> Option<FailureAction> {
        Some(match s {
            "reboot" => FailureAction::Reboot,
            "halt" => FailureAction::Halt,
            "poweroff" => FailureAction::Poweroff,
            "shell" => FailureAction::Shell,
            "dump_to_rootfs" => FailureAction::DumpToRootfs,
            _ => return None,
        })
    }
}

impl std::fmt::Display for FailureAction {
    /// The kdump.conf word (`dump_to_rootfs`), or `command: ...` for a shell command.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailureAction::Reboot => f.write_str("reboot"),
            FailureAction::Halt => f.write_str("halt"),
            FailureAction::Poweroff => f.write_str("poweroff"),
            FailureAction::Shell => f.write_str("shell"),
            FailureAction::DumpToRootfs => f.write_str("dump_to_rootfs"),
            FailureAction::Command(c) => write!(f, "command: {c}"),
        }
    }
}

/// What happens after the dump was saved (or after the shell / dump_to_rootfs failure action).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalAction {
    /// Reboot (the default).
    Reboot,
    /// Halt.
    Halt,
    /// Power off.
    Poweroff,
}

impl FinalAction {
    fn parse(s: &str) -> Option<FinalAction> {
        Some(match s {
            "reboot" => FinalAction::Reboot,
            "halt" => FinalAction::Halt,
            "poweroff" => FinalAction::Poweroff,
            _ => return None,
        })
    }
}

impl std::fmt::Display for FinalAction {
    /// The kdump.conf word.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FinalAction::Reboot => "reboot",
            FinalAction::Halt => "halt",
            FinalAction::Poweroff => "poweroff",
        })
    }
}

/// Which program a core_collector runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CollectorKind {
    /// makedumpfile (the C tool).
    Makedumpfile,
    /// dumpfilter (ours; makedumpfile's options).
    Dumpfilter,
    /// Anything else (cp, cat, scp, ...), run as written.
    Other,
}

/// A core_collector line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collector {
    /// The words, as kdump's scripts split them (first: the program).
    pub argv: Vec<String>,
    /// The program.
    pub kind: CollectorKind,
    /// The options, for makedumpfile and dumpfilter, when they parsed.
    pub options: Option<Options>,
}

impl Collector {
    /// Classifies and, for makedumpfile/dumpfilter, parses the words.
    pub fn new(argv: Vec<String>) -> Result<Collector, OptionsError> {
        let program = argv.first().map(String::as_str).unwrap_or("");
        let base = program.rsplit('/').next().unwrap_or(program);
        let kind = match base {
            "makedumpfile" => CollectorKind::Makedumpfile,
            "dumpfilter" => CollectorKind::Dumpfilter,
            _ => CollectorKind::Other,
        };
        let options = match kind {
            CollectorKind::Other => None,
            _ => Some(dumpfilter_options::parse_collector(&argv[1..])?),
        };
        Ok(Collector {
            argv,
            kind,
            options,
        })
    }
}

/// Everything a kdump.conf says, typed. Fields are `None`/empty when not given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// The dump target (none: the file system holding `path` on the running system).
    pub target: Option<Spanned<Target>>,
    /// `path`.
    pub path: Option<Spanned<String>>,
    /// `sshkey`.
    pub sshkey: Option<Spanned<String>>,
    /// `core_collector`.
    pub core_collector: Option<Spanned<Collector>>,
    /// `kdump_pre`.
    pub kdump_pre: Option<Spanned<String>>,
    /// `kdump_post`.
    pub kdump_post: Option<Spanned<String>>,
    /// `kdump_emergency`.
    pub kdump_emergency: Option<Spanned<String>>,
    /// `extra_bins`, split into words.
    pub extra_bins: Vec<String>,
    /// `extra_modules`, split into words.
    pub extra_modules: Vec<String>,
    /// `failure_action` (or its old name `default`).
    pub failure_action: Option<Spanned<FailureAction>>,
    /// `final_action`.
    pub final_action: Option<Spanned<FinalAction>>,
    /// `force_rebuild 1`.
    pub force_rebuild: bool,
    /// `force_no_rebuild 1`.
    pub force_no_rebuild: bool,
    /// `dracut_args`, as written.
    pub dracut_args: Option<Spanned<String>>,
    /// `fence_kdump_args`, as written.
    pub fence_kdump_args: Option<String>,
    /// `fence_kdump_nodes`, split into words.
    pub fence_kdump_nodes: Vec<String>,
    /// `auto_reset_crashkernel` (kdumpctl treats anything but `no` as yes).
    pub auto_reset_crashkernel: Option<bool>,
}

/// The result of reading a kdump.conf: the lines, the typed configuration, and every problem.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The lossless document.
    pub document: Document,
    /// What it configures (best effort when there are errors).
    pub config: Config,
    /// Every problem found, in line order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    /// True when there is no error (warnings allowed).
    pub fn is_valid(&self) -> bool {
        !has_errors(&self.diagnostics)
    }
}

/// Directives that kdump-utils removed, with what replaced them.
pub const REMOVED_DIRECTIVES: &[(&str, &str)] = &[
    (
        "options",
        "pass module options as kernel parameters with KDUMP_COMMANDLINE_APPEND in /etc/sysconfig/kdump (e.g. loop.max_loop=1)",
    ),
    (
        "link_delay",
        "dracut's network module waits for the link by itself; remove the line",
    ),
    (
        "disk_timeout",
        "dracut waits for the disks by itself; remove the line",
    ),
    (
        "debug_mem_level",
        "append rd.memdebug=0-3 to KDUMP_COMMANDLINE_APPEND in /etc/sysconfig/kdump",
    ),
    (
        "blacklist",
        "append rd.driver.blacklist=MODULE to KDUMP_COMMANDLINE_APPEND in /etc/sysconfig/kdump",
    ),
];

/// The directives kdump-utils knows today.
pub const DIRECTIVES: &[&str] = &[
    "raw",
    "nfs",
    "ssh",
    "sshkey",
    "ext2",
    "ext3",
    "ext4",
    "xfs",
    "btrfs",
    "minix",
    "virtiofs",
    "path",
    "core_collector",
    "kdump_pre",
    "kdump_post",
    "kdump_emergency",
    "extra_bins",
    "extra_modules",
    "failure_action",
    "default",
    "final_action",
    "force_rebuild",
    "force_no_rebuild",
    "dracut_args",
    "fence_kdump_args",
    "fence_kdump_nodes",
    "auto_reset_crashkernel",
];

/// kdump.conf(5) in one line per directive, in the order of [`DIRECTIVES`] (a unit test keeps
/// the two lists equal): the name, its arguments and what it does. The man page is made from it.
pub const DIRECTIVE_DOCS: &[(&str, &str, &str)] = &[
    ("raw", "DEVICE", "write the dump to this partition as a flattened stream (the collector needs -F); use a persistent name such as /dev/disk/by-id/..."),
    ("nfs", "HOST:/EXPORT", "mount the NFS export and save the dump under PATH/HOST-DATE/ on it ([v6addr]:/export for IPv6)"),
    ("ssh", "USER@HOST", "send the dump over ssh to HOST:PATH/HOST-DATE/ (a flattened stream when the collector has -F); see `kdump propagate`"),
    ("sshkey", "FILE", "the private key for the ssh target (default /root/.ssh/kdump_id_rsa)"),
    ("ext2", "DEVICE", "mount DEVICE (a /dev path, LABEL= or UUID=) as ext2 and save the dump under PATH on it"),
    ("ext3", "DEVICE", "the same with ext3"),
    ("ext4", "DEVICE", "the same with ext4"),
    ("xfs", "DEVICE", "the same with xfs"),
    ("btrfs", "DEVICE", "the same with btrfs"),
    ("minix", "DEVICE", "the same with minix"),
    ("virtiofs", "TAG", "mount the virtiofs share TAG and save the dump under PATH on it"),
    ("path", "PATH", "the directory for dumps, on the target when one is set, else on the root file system (default /var/crash)"),
    ("core_collector", "COMMAND [OPTIONS]", "the program that writes the dump: makedumpfile (checked with its options; default makedumpfile -l --message-level 7 -d 31), dumpfilter, cp or scp"),
    ("kdump_pre", "PROGRAM", "run before the dump is saved (after the files of /etc/kdump/pre.d); a non-zero exit skips the dump and runs final_action"),
    ("kdump_post", "PROGRAM", "run after the dump (after the files of /etc/kdump/post.d), with the dump's exit status as its first argument"),
    ("kdump_emergency", "PROGRAM", "run when the dump fails (after the files of /etc/kdump/emergency.d), before failure_action"),
    ("extra_bins", "PROGRAM...", "more programs (e.g. what kdump_post needs) to put into the capture initramfs"),
    ("extra_modules", "MODULE...", "more kernel modules to load in the capture kernel, e.g. for a target off the boot path"),
    ("failure_action", "ACTION", "what to do when the dump fails: reboot (default), halt, poweroff, shell or dump_to_rootfs"),
    ("default", "ACTION", "the old name of failure_action"),
    ("final_action", "ACTION", "what to do after the dump is saved (and after shell or dump_to_rootfs): reboot (default), halt or poweroff"),
    ("force_rebuild", "0|1", "1: rebuild the capture initramfs every time the service starts"),
    ("force_no_rebuild", "0|1", "1: never rebuild the capture initramfs (not together with force_rebuild 1)"),
    ("dracut_args", "ARGS", "arguments for dracut when it builds the capture initramfs (--mount \"DEV DIR FSTYPE OPTIONS\" names a target dracut mounts)"),
    ("fence_kdump_args", "ARGS", "arguments for fence_kdump_send (-p PORT, -f FAMILY, -c COUNT, -i INTERVAL), without the nodes"),
    ("fence_kdump_nodes", "NODE...", "cluster nodes to notify with fence_kdump_send while the dump runs (this enables fence_kdump)"),
    ("auto_reset_crashkernel", "yes|no", "whether kdump-utils resets crashkernel= to its default when it is updated or a kernel is installed"),
];

fn is_target(name: &str) -> bool {
    matches!(
        name,
        "raw"
            | "nfs"
            | "ssh"
            | "virtiofs"
            | "net"
            | "ext2"
            | "ext3"
            | "ext4"
            | "xfs"
            | "btrfs"
            | "minix"
    )
}

/// `HOST:/EXPORT`, with `[v6]:/EXPORT` for IPv6.
fn parse_nfs(v: &str) -> Option<(String, String)> {
    let (server, export) = if v.starts_with('[') {
        let close = v.find("]:")?;
        (&v[..=close], &v[close + 2..])
    } else {
        v.split_once(':')?
    };
    if server.is_empty() || server == "[]" || export.is_empty() {
        return None;
    }
    Some((server.to_string(), export.to_string()))
}

/// `USER@HOST`.
fn parse_ssh(v: &str) -> Option<(String, String)> {
    let (user, host) = v.split_once('@')?;
    if user.is_empty() || host.is_empty() || host.contains('@') {
        return None;
    }
    Some((user.to_string(), host.to_string()))
}

/// `--mount "DEVICE MOUNTPOINT FSTYPE [OPTIONS]"` inside dracut_args.
fn parse_dracut_mount(v: &str) -> Result<Option<(String, String, String)>, &'static str> {
    let count = v.matches("--mount").count();
    if count == 0 {
        return Ok(None);
    }
    if count > 1 {
        return Err("more than one --mount in dracut_args: kdump saves to one target");
    }
    let after = v.split_once("--mount").map(|(_, a)| a).unwrap_or("");
    let after = after.trim_start_matches(['=', ' ', '\t']);
    let inner = match after.chars().next() {
        Some(q @ ('"' | '\'')) => after[1..].split(q).next().unwrap_or(""),
        _ => after.split([' ', '\t']).next().unwrap_or(""),
    };
    let mut w = inner.split_whitespace();
    match (w.next(), w.next(), w.next()) {
        (Some(d), Some(m), Some(t)) => Ok(Some((d.to_string(), m.to_string(), t.to_string()))),
        _ => Err("dracut_args --mount expects \"DEVICE MOUNTPOINT FSTYPE [OPTIONS]\""),
    }
}

/// Finds the word an option error is about, for its column.
fn locate(words: &[(Span, &str)], err: &OptionsError) -> Option<Span> {
    let needle: &str = match err {
        OptionsError::UnknownOption { option }
        | OptionsError::AmbiguousOption { option, .. }
        | OptionsError::MissingValue { option, .. }
        | OptionsError::UnexpectedValue { option }
        | OptionsError::InvalidValue { option, .. }
        | OptionsError::NotForCollector { option, .. } => option,
        OptionsError::Conflict { second, .. } => second,
        OptionsError::Requires { option, .. } => option,
        OptionsError::CollectorOperand { operand } => operand,
        _ => return None,
    };
    if let OptionsError::InvalidValue { value, .. } = err {
        // point at the bad value when it is its own word
        if let Some((s, _)) = words.iter().skip(1).find(|(_, w)| w == value) {
            return Some(*s);
        }
    }
    let short = needle
        .strip_prefix('-')
        .filter(|r| !r.starts_with('-'))
        .and_then(|r| r.chars().next());
    words
        .iter()
        .skip(1)
        .find(|(_, w)| *w == needle || w.starts_with(needle))
        .or_else(|| {
            words.iter().skip(1).find(|(_, w)| {
                short.is_some_and(|c| w.starts_with('-') && !w.starts_with("--") && w.contains(c))
            })
        })
        .map(|(s, _)| *s)
}

struct Checker {
    config: Config,
    diags: Vec<Diagnostic>,
    /// key -> (place, directive name) of the first occurrence
    seen: Vec<(&'static str, Span, String)>,
    target_directive: Option<(Span, String)>,
    force_rebuild_span: Option<Span>,
}

impl Checker {
    fn err(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, msg));
    }

    fn warn(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::warning(span, msg));
    }

    /// Records a key; false (with an error) when it was already given.
    fn once(&mut self, key: &'static str, d: &Directive) -> bool {
        if let Some((_, first, name)) = self.seen.iter().find(|(k, _, _)| *k == key) {
            let line = first.line;
            let msg = if key == "_target" {
                format!(
                    "more than one dump target: `{name}` on line {line} already sets one (kdump saves to one target)"
                )
            } else if name != &d.name {
                format!(
                    "`{}` given twice: `{name}` on line {line} already sets it",
                    d.name
                )
            } else {
                format!("`{}` given twice (first on line {line})", d.name)
            };
            self.diags.push(Diagnostic::error(d.name_span, msg));
            return false;
        }
        self.seen.push((key, d.name_span, d.name.clone()));
        true
    }

    fn one_word(&mut self, d: &Directive, what: &str) -> Option<String> {
        let words = d.words();
        if words.len() > 1 {
            self.err(
                words[1].0,
                format!("`{}` takes one {what}, got more than one word", d.name),
            );
            return None;
        }
        Some(d.value.clone())
    }

    fn set_target(&mut self, d: &Directive, t: Target) {
        self.target_directive = Some((d.name_span, d.name.clone()));
        self.config.target = Some(Spanned {
            value: t,
            span: d.value_span,
        });
    }

    fn directive(&mut self, d: &Directive) {
        let name = d.name.as_str();
        if let Some((_, instead)) = REMOVED_DIRECTIVES.iter().find(|(n, _)| *n == name) {
            self.err(
                d.name_span,
                format!("`{name}` was removed from kdump.conf: {instead}"),
            );
            return;
        }
        if name != "net" && !DIRECTIVES.contains(&name) {
            self.err(d.name_span, format!("unknown directive `{name}`"));
            return;
        }
        if d.value.is_empty() {
            self.err(d.name_span, format!("`{name}` needs a value"));
            return;
        }
        if d.value.ends_with('\r') {
            self.warn(
                d.value_span,
                "the line ends with a carriage return (DOS line ending): kdump keeps it as part of the value",
            );
        }
        if is_target(name) {
            if !self.once("_target", d) {
                return;
            }
        } else if name == "default" {
            self.warn(
                d.name_span,
                "`default` is the old name of `failure_action`: write `failure_action` instead",
            );
            if !self.once("failure_action", d) {
                return;
            }
        } else {
            let key = DIRECTIVES
                .iter()
                .find(|n| **n == name)
                .copied()
                .unwrap_or("?");
            if !self.once(key, d) {
                return;
            }
        }
        let v = d.value.as_str();
        match name {
            "raw" => {
                let Some(dev) = self.one_word(d, "block device") else {
                    return;
                };
                if !dev.starts_with('/') && Device::parse(&dev).is_none() {
                    self.warn(
                        d.value_span,
                        format!("`raw {dev}`: expected a block device such as /dev/sdb1"),
                    );
                }
                self.set_target(d, Target::Raw { device: dev });
            }
            "ext2" | "ext3" | "ext4" | "xfs" | "btrfs" | "minix" => {
                let Some(dev) = self.one_word(d, "device") else {
                    return;
                };
                match Device::parse(&dev) {
                    Some(device) => {
                        let fstype = FsType::from_name(name).unwrap_or(FsType::Ext4);
                        self.set_target(d, Target::Fs { fstype, device });
                    }
                    None => self.err(
                        d.value_span,
                        format!("`{name} {dev}`: expected a device node (/dev/...), LABEL=..., UUID=..., PARTUUID=... or PARTLABEL=..."),
                    ),
                }
            }
            "virtiofs" => {
                if let Some(tag) = self.one_word(d, "virtiofs tag") {
                    self.set_target(d, Target::Virtiofs { tag });
                }
            }
            "nfs" => {
                let Some(w) = self.one_word(d, "NFS export") else {
                    return;
                };
                match parse_nfs(&w) {
                    Some((server, export)) => self.set_target(d, Target::Nfs { server, export }),
                    None => self.err(
                        d.value_span,
                        format!("`nfs {w}`: expected HOST:/EXPORT (e.g. nfs.example.com:/export/vmcores)"),
                    ),
                }
            }
            "ssh" => {
                let Some(w) = self.one_word(d, "USER@HOST") else {
                    return;
                };
                match parse_ssh(&w) {
                    Some((user, host)) => self.set_target(d, Target::Ssh { user, host }),
                    None => self.err(
                        d.value_span,
                        format!("`ssh {w}`: expected USER@HOST (e.g. kdump@crash.example.com)"),
                    ),
                }
            }
            "net" => {
                let Some(w) = self.one_word(d, "target") else {
                    return;
                };
                let looks_ssh = w.contains('@') && !w.contains(":/");
                if looks_ssh {
                    if let Some((user, host)) = parse_ssh(&w) {
                        self.warn(
                            d.name_span,
                            format!("`net` is the old syntax for an SSH target: write `ssh {w}`"),
                        );
                        self.set_target(d, Target::Ssh { user, host });
                        return;
                    }
                } else if let Some((server, export)) = parse_nfs(&w) {
                    self.warn(
                        d.name_span,
                        format!("`net` is the old syntax for an NFS target: write `nfs {w}`"),
                    );
                    self.set_target(d, Target::Nfs { server, export });
                    return;
                }
                self.err(
                    d.value_span,
                    format!("`net {w}`: expected HOST:/EXPORT (NFS) or USER@HOST (SSH); write it as `nfs ...` or `ssh ...`"),
                );
            }
            "path" => {
                if v.split('/').any(|c| c == "..") {
                    self.err(
                        d.value_span,
                        format!("path {v} has a `..` component: the dump would be saved outside the dump target (give the directory without `..`)"),
                    );
                }
                self.config.path = Some(Spanned {
                    value: v.to_string(),
                    span: d.value_span,
                })
            }
            "sshkey" => {
                if !v.starts_with('/') {
                    self.warn(
                        d.value_span,
                        "sshkey should be an absolute path (kdumpctl resolves it from its own working directory)",
                    );
                }
                self.config.sshkey = Some(Spanned {
                    value: v.to_string(),
                    span: d.value_span,
                })
            }
            "core_collector" => self.collector(d),
            "kdump_pre" | "kdump_post" | "kdump_emergency" => {
                if !v.starts_with('/') {
                    self.warn(
                        d.value_span,
                        format!("`{name}` should name an executable by its absolute path"),
                    );
                }
                let s = Some(Spanned {
                    value: v.to_string(),
                    span: d.value_span,
                });
                match name {
                    "kdump_pre" => self.config.kdump_pre = s,
                    "kdump_post" => self.config.kdump_post = s,
                    _ => self.config.kdump_emergency = s,
                }
            }
            "extra_bins" => self.config.extra_bins = v.split_whitespace().map(String::from).collect(),
            "extra_modules" => {
                self.config.extra_modules = v.split_whitespace().map(String::from).collect()
            }
            "failure_action" | "default" => match FailureAction::parse(v) {
                Some(a) => {
                    self.config.failure_action = Some(Spanned {
                        value: a,
                        span: d.value_span,
                    })
                }
                None => self.err(
                    d.value_span,
                    format!("`{name} {v}`: expected one of reboot, halt, poweroff, shell, dump_to_rootfs"),
                ),
            },
            "final_action" => match FinalAction::parse(v) {
                Some(a) => {
                    self.config.final_action = Some(Spanned {
                        value: a,
                        span: d.value_span,
                    })
                }
                None => self.err(
                    d.value_span,
                    format!("`final_action {v}`: expected one of reboot, halt, poweroff"),
                ),
            },
            "force_rebuild" | "force_no_rebuild" => {
                let on = match v {
                    "1" => true,
                    "0" => false,
                    _ => {
                        self.err(d.value_span, format!("`{name} {v}`: expected 0 or 1"));
                        return;
                    }
                };
                if name == "force_rebuild" {
                    self.config.force_rebuild = on;
                } else {
                    self.config.force_no_rebuild = on;
                }
                if on {
                    if let Some(first) = self.force_rebuild_span {
                        self.err(
                            d.name_span,
                            format!("force_rebuild and force_no_rebuild cannot both be 1 (the other is on line {})", first.line),
                        );
                    }
                    self.force_rebuild_span = Some(d.name_span);
                }
            }
            "dracut_args" => {
                self.config.dracut_args = Some(Spanned {
                    value: v.to_string(),
                    span: d.value_span,
                });
                match parse_dracut_mount(v) {
                    Ok(None) => {}
                    Ok(Some((device, mount_point, fstype))) => {
                        if self.once("_target", d) {
                            self.set_target(
                                d,
                                Target::DracutMount {
                                    device,
                                    mount_point,
                                    fstype,
                                },
                            );
                        }
                    }
                    Err(msg) => self.err(d.value_span, msg),
                }
            }
            "fence_kdump_args" => self.config.fence_kdump_args = Some(v.to_string()),
            "fence_kdump_nodes" => {
                self.config.fence_kdump_nodes = v.split_whitespace().map(String::from).collect()
            }
            "auto_reset_crashkernel" => {
                let on = match v {
                    "yes" => true,
                    "no" => false,
                    _ => {
                        self.warn(
                            d.value_span,
                            format!("`auto_reset_crashkernel {v}`: expected yes or no (anything but `no` means yes)"),
                        );
                        true
                    }
                };
                self.config.auto_reset_crashkernel = Some(on);
            }
            _ => {}
        }
    }

    fn collector(&mut self, d: &Directive) {
        let words = d.words();
        let argv: Vec<String> = words.iter().map(|(_, w)| (*w).to_string()).collect();
        if let Some((span, _)) = words
            .iter()
            .find(|(_, w)| w.contains(['|', ';', '&', '>', '<', '`', '$', '"', '\'']))
        {
            self.warn(
                *span,
                "kdump runs the core_collector without a shell: quotes, pipes, redirections and variables are passed as plain words",
            );
        }
        match Collector::new(argv.clone()) {
            Ok(c) => {
                if let Some(o) = &c.options {
                    self.collector_options(d, &words, c.kind, o);
                }
                self.config.core_collector = Some(Spanned {
                    value: c,
                    span: d.value_span,
                });
            }
            Err(e) => {
                let span = locate(&words, &e).unwrap_or(d.value_span);
                let program = argv.first().map(String::as_str).unwrap_or("");
                self.err(span, format!("core_collector {program}: {e}"));
                // keep the collector (unparsed) so the plan still shows it
                let base = program.rsplit('/').next().unwrap_or(program);
                let kind = match base {
                    "dumpfilter" => CollectorKind::Dumpfilter,
                    _ => CollectorKind::Makedumpfile,
                };
                self.config.core_collector = Some(Spanned {
                    value: Collector {
                        argv,
                        kind,
                        options: None,
                    },
                    span: d.value_span,
                });
            }
        }
    }

    fn collector_options(
        &mut self,
        d: &Directive,
        words: &[(Span, &str)],
        kind: CollectorKind,
        o: &Options,
    ) {
        let program = words.first().map(|(_, w)| *w).unwrap_or("");
        if let Ok((_, warnings)) = dumpfilter_options::parse_collector_with_warnings(
            &words[1..].iter().map(|(_, w)| *w).collect::<Vec<_>>(),
        ) {
            for w in warnings {
                self.warn(d.value_span, format!("core_collector {program}: {w}"));
            }
        }
        for u in &o.unsupported {
            let span = words
                .iter()
                .skip(1)
                .find(|(_, w)| w.starts_with(u.option.as_str()))
                .map(|(s, _)| *s)
                .unwrap_or(d.value_span);
            match kind {
                CollectorKind::Dumpfilter => self.err(
                    span,
                    format!("core_collector dumpfilter: {} is not supported ({})", u.option, u.reason()),
                ),
                _ => self.warn(
                    span,
                    format!("core_collector makedumpfile: {} works with makedumpfile but dumpfilter does not support it ({})", u.option, u.reason()),
                ),
            }
        }
        if kind == CollectorKind::Dumpfilter
            && o.compression == dumpfilter_options::Compression::Lz4
        {
            let span = words
                .iter()
                .find(|(_, w)| *w == "--lz4")
                .map(|(s, _)| *s)
                .unwrap_or(d.value_span);
            self.warn(
                span,
                "--lz4 dumps can be read by kdump-rs tools only: crash and makedumpfile cannot open them",
            );
        }
        if kind == CollectorKind::Makedumpfile {
            for ext in o.extensions() {
                let span = words
                    .iter()
                    .skip(1)
                    .find(|(_, w)| ext.starts_with(*w) || w.starts_with(ext))
                    .map(|(s, _)| *s)
                    .unwrap_or(d.value_span);
                self.err(
                    span,
                    format!("core_collector makedumpfile: {ext} is a dumpfilter extension that makedumpfile does not have; use `core_collector dumpfilter ...`"),
                );
            }
        }
    }

    /// Checks that need the whole file.
    fn finish(&mut self) {
        let target = self.config.target.as_ref().map(|t| t.value.clone());
        let needs_flat = matches!(target, Some(Target::Raw { .. } | Target::Ssh { .. }));
        if let Some(c) = &self.config.core_collector {
            let span = c.span;
            let kind = c.value.kind;
            let flat = c.value.options.as_ref().map(|o| o.flatten);
            let tname = self
                .target_directive
                .as_ref()
                .map(|(_, n)| n.clone())
                .unwrap_or_default();
            match (kind, flat) {
                (CollectorKind::Other, _) => {
                    if matches!(target, Some(Target::Raw { .. })) {
                        self.warn(span, "with a raw target and a collector other than makedumpfile/dumpfilter, the dump has to be recovered from the device by hand");
                    }
                }
                (_, Some(false)) if needs_flat => self.err(
                    span,
                    format!("the `{tname}` target needs the collector's -F option (a flattened stream on stdout); add -F"),
                ),
                // mkdumprd checks the options with `makedumpfile --check-params OPTIONS vmcore
                // dumpfile`, which refuses -F with a dump file
                (_, Some(true)) if !needs_flat => self.err(
                    span,
                    "-F writes a flattened stream to stdout, but this target saves a dump file: remove -F (it is only for raw and ssh targets)",
                ),
                _ => {}
            }
        }
        if let Some(p) = &self.config.path {
            if matches!(target, Some(Target::Raw { .. })) {
                let span = p.span;
                self.warn(span, "`path` is ignored for a raw target");
            }
        }
        if let Some(k) = &self.config.sshkey {
            if !matches!(target, Some(Target::Ssh { .. })) {
                let span = k.span;
                self.warn(span, "`sshkey` is only used with an ssh target");
            }
        }
        if let Some(a) = &self.config.failure_action {
            if a.value == FailureAction::DumpToRootfs && target.is_none() {
                let span = a.span;
                self.warn(span, "dump_to_rootfs only helps when the dump target is not the root file system; no target is set");
            }
        }
        if self.config.fence_kdump_args.is_some() && self.config.fence_kdump_nodes.is_empty() {
            if let Some((_, span, _)) = self.seen.iter().find(|(k, _, _)| *k == "fence_kdump_args")
            {
                let span = *span;
                self.warn(
                    span,
                    "fence_kdump_args has no effect without fence_kdump_nodes",
                );
            }
        }
        self.diags.sort_by_key(|d| d.span);
    }
}

/// Reads and checks a kdump.conf text: every problem is reported, not only the first.
pub fn check(text: &str) -> Checked {
    let document = Document::parse(text);
    let mut c = Checker {
        config: Config::default(),
        diags: Vec::new(),
        seen: Vec::new(),
        target_directive: None,
        force_rebuild_span: None,
    };
    for d in document.directives() {
        c.directive(d);
    }
    c.finish();
    Checked {
        document,
        config: c.config,
        diagnostics: c.diags,
    }
}

#[cfg(test)]
mod directive_docs {
    #[test]
    fn one_line_per_directive_in_the_same_order() {
        let documented: Vec<&str> = super::DIRECTIVE_DOCS.iter().map(|d| d.0).collect();
        assert_eq!(documented, super::DIRECTIVES);
        for (name, args, what) in super::DIRECTIVE_DOCS {
            assert!(!args.is_empty() && !what.is_empty(), "{name}");
            assert!(!what.contains('\n'), "{name}: one line");
        }
    }
}
