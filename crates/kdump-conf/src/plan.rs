//! The dump plan: what kdump will do, with every default applied.

use dumpfilter_options::{Compression, Options};
use serde::Serialize;

use crate::config::{
    Collector, CollectorKind, Config, Device, FailureAction, FinalAction, FsType, Target,
};

/// Where kdump saves dumps when `path` is not given.
pub const DEFAULT_DUMP_PATH: &str = "/var/crash";
/// The ssh key kdump uses when `sshkey` is not given.
pub const DEFAULT_SSHKEY: &str = "/root/.ssh/kdump_id_rsa";
/// kdump-utils' collector for file-system and NFS targets (raw and ssh add `-F`).
pub const DEFAULT_COLLECTOR: &str = "makedumpfile -l --message-level 7 -d 31";
/// kdump-utils' per-dump directory name: `<host>-<date>`, the date as `date +%Y-%m-%d-%T`.
pub const KDUMP_DIR_DATE_FORMAT: &str = "%Y-%m-%d-%H:%M:%S";
/// Debian kdump-tools' per-dump directory stamp, `date +%Y%m%d%H%M`.
pub const KDUMP_TOOLS_DATE_FORMAT: &str = "%Y%m%d%H%M";

/// The dump target, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetPlan {
    /// No target given: the file system that holds `path` on the running system (kdump finds
    /// it when it builds the capture initramfs).
    Default,
    /// A block device written with dd.
    Raw {
        /// The device.
        device: String,
    },
    /// A local file system.
    Fs {
        /// Its type.
        fstype: String,
        /// Its device.
        device: Device,
    },
    /// A virtiofs share.
    Virtiofs {
        /// The tag.
        tag: String,
    },
    /// An NFS export.
    Nfs {
        /// The server.
        server: String,
        /// The export.
        export: String,
    },
    /// A host reached with ssh.
    Ssh {
        /// The user.
        user: String,
        /// The host.
        host: String,
        /// The private key.
        sshkey: String,
    },
    /// A mount given to dracut (`dracut_args --mount`).
    DracutMount {
        /// The device.
        device: String,
        /// The mount point in the capture environment.
        mount_point: String,
        /// The file-system type.
        fstype: String,
    },
    /// An FTP server (Debian kdump-tools only).
    Ftp {
        /// `HOST[:PATH]`.
        server: String,
        /// The user, anonymous when absent.
        user: Option<String>,
    },
}

/// What names the per-dump directory (the `<host>` part).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostTag {
    /// `127.0.0.1`: kdump-utils on a local target.
    Loopback,
    /// kdump-utils on nfs/ssh: the address of the interface that routes to the server, known
    /// only in the capture environment.
    RouteAddress,
    /// Debian on a network target with HOSTTAG=ip: the capture system's IP address.
    Address,
    /// Debian with HOSTTAG=hostname: the host name.
    Hostname,
    /// Debian on a local target: no host part, only the date.
    None,
}

/// The collector command with kdump's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollectorPlan {
    /// The program and its options, before the files kdump adds.
    pub argv: Vec<String>,
    /// makedumpfile, dumpfilter or another program.
    pub kind: CollectorKind,
    /// True when core_collector was not given.
    pub is_default: bool,
    /// The first dump level (makedumpfile/dumpfilter).
    pub dump_level: Option<u8>,
    /// The compression (makedumpfile/dumpfilter).
    pub compression: Option<&'static str>,
    /// Whether the output is a flattened stream on stdout (-F).
    pub flattened: bool,
    /// kdump-utils adds `--num-threads=$(nproc)` to makedumpfile at dump time when the capture
    /// system has more than one CPU (not with -F or -E; it overrides a --num-threads given).
    pub adds_num_threads: bool,
    /// How kdump runs it, with the files it adds (`{dump_dir}` is the per-dump directory).
    pub invocation: String,
}

/// Scripts kdump runs around the dump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hooks {
    /// `kdump_pre`, run first (a non-zero exit skips the dump).
    pub pre: Option<String>,
    /// Directory of further pre scripts, run in lexical order after `pre`.
    pub pre_dir: Option<&'static str>,
    /// `kdump_post`, run after the dump with its exit status as $1.
    pub post: Option<String>,
    /// Directory of post scripts, run in lexical order before `post`.
    pub post_dir: Option<&'static str>,
    /// `kdump_emergency`, run when the capture environment fails.
    pub emergency: Option<String>,
    /// Directory of emergency scripts, run before `emergency`.
    pub emergency_dir: Option<&'static str>,
}

/// fence_kdump notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fence {
    /// Nodes to notify.
    pub nodes: Vec<String>,
    /// Extra fence_kdump_send arguments.
    pub args: Option<String>,
}

/// The capture kernel settings from /etc/sysconfig/kdump or /etc/default/kdump-tools.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct KernelPlan {
    /// Debian's USE_KDUMP (None where the file has no such switch).
    pub enabled: Option<bool>,
    /// KDUMP_KERNELVER: the kernel version to load (empty: the running one).
    pub kernel_version: Option<String>,
    /// The kernel image: KDUMP_KERNEL (Debian, a path) or KDUMP_IMG (kdump-utils, a name:
    /// the image is `/boot/${KDUMP_IMG}-${KDUMP_KERNELVER}${KDUMP_IMG_EXT}`).
    pub kernel: Option<String>,
    /// KDUMP_IMG_EXT (kdump-utils): the suffix after the version in the image name.
    pub kernel_ext: Option<String>,
    /// KDUMP_INITRD (Debian).
    pub initrd: Option<String>,
    /// KDUMP_COMMANDLINE / KDUMP_CMDLINE: replaces /proc/cmdline when set.
    pub commandline: Option<String>,
    /// Parameters appended to the capture kernel's command line.
    pub commandline_append: Vec<String>,
    /// Parameters removed from it.
    pub commandline_remove: Vec<String>,
    /// Extra kexec arguments (KEXEC_ARGS / KDUMP_KEXEC_ARGS).
    pub kexec_args: Vec<String>,
}

/// What kdump will do, with every default applied. Serialize it to print it as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Which file it came from: `kdump.conf` or `kdump-tools`.
    pub source: &'static str,
    /// Where the dump goes.
    pub target: TargetPlan,
    /// The dump directory on the target (`path`, default /var/crash); `None` for raw.
    pub path: Option<String>,
    /// The per-dump directory as a pattern: `{host}` and strftime fields
    /// (`/var/crash/{host}-%Y-%m-%d-%H:%M:%S`); `None` for raw. See [`Plan::dump_dir`].
    pub dump_dir: Option<String>,
    /// What `{host}` stands for.
    pub host: HostTag,
    /// The dump file in that directory (or the device, for raw).
    pub dump_file: String,
    /// The collector.
    pub collector: CollectorPlan,
    /// When saving fails.
    pub failure_action: FailureAction,
    /// After saving.
    pub final_action: FinalAction,
    /// Scripts.
    pub hooks: Hooks,
    /// Binaries added to the capture initramfs.
    pub extra_bins: Vec<String>,
    /// Kernel modules added to it.
    pub extra_modules: Vec<String>,
    /// Arguments passed to dracut.
    pub dracut_args: Option<String>,
    /// fence_kdump, when nodes are given.
    pub fence_kdump: Option<Fence>,
    /// Whether kdump manages crashkernel= on kernel updates.
    pub auto_reset_crashkernel: bool,
    /// `auto`, `always` (force_rebuild) or `never` (force_no_rebuild).
    pub initramfs_rebuild: &'static str,
    /// Capture kernel settings, when a sysconfig file was read.
    pub kernel: Option<KernelPlan>,
}

/// A calendar time (UTC or local, as the caller decides) for naming dump directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Year.
    pub year: i32,
    /// Month, 1-12.
    pub month: u32,
    /// Day, 1-31.
    pub day: u32,
    /// Hour, 0-23.
    pub hour: u32,
    /// Minute.
    pub minute: u32,
    /// Second.
    pub second: u32,
}

impl Timestamp {
    /// The UTC calendar time of a Unix time (seconds since 1970-01-01).
    pub fn from_unix(secs: i64) -> Timestamp {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        // days since 1970-01-01 to a civil date (Howard Hinnant's algorithm)
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Timestamp {
            year: year.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
        }
    }

    /// Formats with `%Y %m %d %H %M %S %T %%` (the fields kdump's `date` calls use).
    pub fn format(&self, fmt: &str) -> String {
        let mut out = String::with_capacity(fmt.len() + 8);
        let mut chars = fmt.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('Y') => out.push_str(&format!("{:04}", self.year)),
                Some('m') => out.push_str(&format!("{:02}", self.month)),
                Some('d') => out.push_str(&format!("{:02}", self.day)),
                Some('H') => out.push_str(&format!("{:02}", self.hour)),
                Some('M') => out.push_str(&format!("{:02}", self.minute)),
                Some('S') => out.push_str(&format!("{:02}", self.second)),
                Some('T') => out.push_str(&format!(
                    "{:02}:{:02}:{:02}",
                    self.hour, self.minute, self.second
                )),
                Some('%') => out.push('%'),
                Some(o) => {
                    out.push('%');
                    out.push(o);
                }
                None => out.push('%'),
            }
        }
        out
    }
}

/// Squeezes repeated `/` as `tr -s /` does.
pub(crate) fn squeeze_slashes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    out
}

impl HostTag {
    /// What `{host}` stands for, in words.
    pub fn describe(self) -> &'static str {
        match self {
            HostTag::Loopback => "127.0.0.1",
            HostTag::RouteAddress => "the capture system's address on the route to the server",
            HostTag::Address => "the capture system's IP address",
            HostTag::Hostname => "the host name",
            HostTag::None => "no host part",
        }
    }
}

impl Plan {
    /// The per-dump directory for a host and a time, e.g.
    /// `/var/crash/127.0.0.1-2024-01-31-12:34:56` (kdump-utils) or `/var/crash/202401311234`
    /// (Debian, local). `None` for raw targets.
    pub fn dump_dir(&self, host: &str, time: &Timestamp) -> Option<String> {
        let pattern = self.dump_dir.as_ref()?;
        Some(time.format(&pattern.replace("{host}", host)))
    }

    /// The host part kdump would use when it can be known now (`127.0.0.1` for local
    /// kdump-utils targets).
    pub fn known_host(&self) -> Option<&'static str> {
        match self.host {
            HostTag::Loopback => Some("127.0.0.1"),
            HostTag::None => Some(""),
            _ => None,
        }
    }
}

/// Applies the -F rule to a makedumpfile/dumpfilter command line, keeping the user's words:
/// kdump-utils removes every `-F` word and appends one for raw and ssh targets (Debian only
/// appends one when missing, which gives the same options).
fn flatten_words(
    argv: Vec<String>,
    o: Options,
    flatten: bool,
    strip: bool,
) -> (Vec<String>, Option<Options>) {
    if o.flatten == flatten && (!strip || !argv.iter().skip(1).any(|w| w == "-F")) {
        return (argv, Some(o));
    }
    let mut words: Vec<String> = argv
        .iter()
        .skip(1)
        .filter(|w| *w != "-F")
        .cloned()
        .collect();
    if flatten {
        words.push("-F".to_string());
    }
    match dumpfilter_options::parse_collector(&words) {
        Ok(again) if again.flatten == flatten => {
            let mut a = argv[..1].to_vec();
            a.extend(words);
            (a, Some(again))
        }
        // -F inside a cluster such as -cF: fall back to canonical words
        _ => {
            let mut o = o;
            o.flatten = flatten;
            let mut a = argv[..1].to_vec();
            a.extend(o.to_args());
            (a, Some(o))
        }
    }
}

pub(crate) fn collector_plan(
    c: Option<&Collector>,
    flatten: bool,
    strip_flatten: bool,
    default_words: &str,
    invocation_tail: &str,
) -> CollectorPlan {
    let (argv, kind, opts, is_default) = match c {
        None => {
            let words: Vec<String> = default_words.split_whitespace().map(String::from).collect();
            let opts = dumpfilter_options::parse_collector(&words[1..]).ok();
            (words, CollectorKind::Makedumpfile, opts, true)
        }
        Some(c) => (c.argv.clone(), c.kind, c.options.clone(), false),
    };
    let (argv, opts) = match (kind, opts) {
        (CollectorKind::Other, _) => (argv, None),
        (_, Some(o)) => flatten_words(argv, o, flatten, strip_flatten),
        // options that did not parse: shown as written (the config has an error)
        (_, None) => (argv, None),
    };
    let flattened = opts.as_ref().is_some_and(|o| o.flatten);
    // kdump.sh does this for makedumpfile only (dumpfilter uses every CPU by default)
    let adds_num_threads = kind == CollectorKind::Makedumpfile
        && opts
            .as_ref()
            .is_some_and(|o: &Options| !o.flatten && !o.elf);
    let invocation = format!("{} /proc/vmcore{}", argv.join(" "), invocation_tail);
    CollectorPlan {
        kind,
        is_default,
        dump_level: opts.as_ref().map(Options::dump_level),
        compression: opts.as_ref().map(|o| o.compression).and_then(|c| match c {
            Compression::None => None,
            c => Some(c.name()),
        }),
        flattened,
        adds_num_threads,
        invocation,
        argv,
    }
}

/// The plan for a checked kdump.conf (kdump-utils' defaults applied). Call it on a config with
/// errors and you get a best-effort plan.
pub fn plan(config: &Config) -> Plan {
    let target = config.target.as_ref().map(|t| &t.value);
    let sshkey = config
        .sshkey
        .as_ref()
        .map(|s| s.value.clone())
        .unwrap_or_else(|| DEFAULT_SSHKEY.to_string());
    let target_plan = match target {
        None => TargetPlan::Default,
        Some(Target::Raw { device }) => TargetPlan::Raw {
            device: device.clone(),
        },
        Some(Target::Fs { fstype, device }) => TargetPlan::Fs {
            fstype: FsType::name(*fstype).to_string(),
            device: device.clone(),
        },
        Some(Target::Virtiofs { tag }) => TargetPlan::Virtiofs { tag: tag.clone() },
        Some(Target::Nfs { server, export }) => TargetPlan::Nfs {
            server: server.clone(),
            export: export.clone(),
        },
        Some(Target::Ssh { user, host }) => TargetPlan::Ssh {
            user: user.clone(),
            host: host.clone(),
            sshkey: sshkey.clone(),
        },
        Some(Target::DracutMount {
            device,
            mount_point,
            fstype,
        }) => TargetPlan::DracutMount {
            device: device.clone(),
            mount_point: mount_point.clone(),
            fstype: fstype.clone(),
        },
    };
    let remote = match target {
        Some(Target::Ssh { user, host }) => format!("{user}@{host}"),
        _ => String::new(),
    };
    let raw = matches!(target, Some(Target::Raw { .. }));
    let ssh = matches!(target, Some(Target::Ssh { .. }));
    let network = ssh || matches!(target, Some(Target::Nfs { .. }));
    let path = squeeze_slashes(
        config
            .path
            .as_ref()
            .map(|p| p.value.as_str())
            .unwrap_or(DEFAULT_DUMP_PATH),
    );
    let dump_dir =
        (!raw).then(|| squeeze_slashes(&format!("{path}/{{host}}-{KDUMP_DIR_DATE_FORMAT}")));
    let collector = config.core_collector.as_ref().map(|c| &c.value);
    let is_scp = collector.is_some_and(|c| c.argv.first().is_some_and(|p| p == "scp"));
    let (dump_file, tail) = if raw {
        let dev = match target {
            Some(Target::Raw { device }) => device.clone(),
            _ => String::new(),
        };
        let tail = format!(" | dd of={dev} bs=512");
        (dev, tail)
    } else if ssh && is_scp {
        (
            "vmcore".to_string(),
            format!(" {remote}:{{dump_dir}}/vmcore-incomplete (renamed vmcore when complete)"),
        )
    } else if ssh {
        (
            "vmcore.flat".to_string(),
            format!(" | ssh -i {sshkey} {remote} \"dd bs=512 of={{dump_dir}}/vmcore-incomplete\" (renamed vmcore.flat when complete)"),
        )
    } else {
        (
            "vmcore".to_string(),
            " {dump_dir}/vmcore-incomplete (renamed vmcore when complete)".to_string(),
        )
    };
    let collector_plan = if is_scp {
        collector_plan(collector, false, true, DEFAULT_COLLECTOR, &tail)
    } else {
        collector_plan(collector, raw || ssh, true, DEFAULT_COLLECTOR, &tail)
    };
    let s = |o: &Option<crate::config::Spanned<String>>| o.as_ref().map(|s| s.value.clone());
    Plan {
        source: "kdump.conf",
        target: target_plan,
        path: (!raw).then_some(path),
        dump_dir,
        host: if network {
            HostTag::RouteAddress
        } else {
            HostTag::Loopback
        },
        dump_file,
        collector: collector_plan,
        failure_action: config
            .failure_action
            .as_ref()
            .map(|a| a.value.clone())
            .unwrap_or(FailureAction::Reboot),
        final_action: config
            .final_action
            .as_ref()
            .map(|a| a.value)
            .unwrap_or(FinalAction::Reboot),
        hooks: Hooks {
            pre: s(&config.kdump_pre),
            pre_dir: Some("/etc/kdump/pre.d"),
            post: s(&config.kdump_post),
            post_dir: Some("/etc/kdump/post.d"),
            emergency: s(&config.kdump_emergency),
            emergency_dir: Some("/etc/kdump/emergency.d"),
        },
        extra_bins: config.extra_bins.clone(),
        extra_modules: config.extra_modules.clone(),
        dracut_args: s(&config.dracut_args),
        fence_kdump: (!config.fence_kdump_nodes.is_empty()).then(|| Fence {
            nodes: config.fence_kdump_nodes.clone(),
            args: config.fence_kdump_args.clone(),
        }),
        auto_reset_crashkernel: config.auto_reset_crashkernel.unwrap_or(true),
        initramfs_rebuild: if config.force_no_rebuild {
            "never"
        } else if config.force_rebuild {
            "always"
        } else {
            "auto"
        },
        kernel: None,
    }
}
