//! /etc/sysconfig/kdump (kdump-utils) and /etc/default/kdump-tools (Debian), read as shell
//! assignments into the plan types.

use crate::config::{CollectorKind, FailureAction, FinalAction};
use crate::diag::Diagnostic;
use crate::plan::{
    collector_plan, squeeze_slashes, Hooks, HostTag, KernelPlan, Plan, TargetPlan, DEFAULT_SSHKEY,
    KDUMP_TOOLS_DATE_FORMAT,
};
use crate::shell::{parse_assignments, Assignment};

/// The variables kdump-utils' /etc/sysconfig/kdump sets.
pub const SYSCONFIG_VARS: &[&str] = &[
    "KDUMP_KERNELVER",
    "KDUMP_COMMANDLINE",
    "KDUMP_COMMANDLINE_REMOVE",
    "KDUMP_COMMANDLINE_APPEND",
    "FADUMP_COMMANDLINE_APPEND",
    "KEXEC_ARGS",
    "KDUMP_IMG",
    "KDUMP_IMG_EXT",
    "VMCORE_CREATION_NOTIFICATION",
    "KDUMP_BOOTDIR",
    "MKDUMPRD_ARGS",
    "DEFAULT_DUMP_MODE",
];

/// The variables Debian's /etc/default/kdump-tools sets.
pub const KDUMP_TOOLS_VARS: &[&str] = &[
    "USE_KDUMP",
    "KDUMP_KERNEL",
    "KDUMP_INITRD",
    "KDUMP_COREDIR",
    "KDUMP_FAIL_CMD",
    "KDUMP_DUMP_DMESG",
    "KDUMP_NUM_DUMPS",
    "KDUMP_COMPRESSION",
    "MAKEDUMP_ARGS",
    "KDUMP_KEXEC_ARGS",
    "KDUMP_CMDLINE",
    "KDUMP_CMDLINE_APPEND",
    "HOSTTAG",
    "NFS",
    "NFS_TIMEO",
    "NFS_RETRANS",
    "NFS_MOUNT_RETRY",
    "FTP",
    "FTP_USER",
    "FTP_PASSWORD",
    "FTP_PORT",
    "SSH",
    "SSH_KEY",
    "SSH_KDUMP_RETRY",
    "KDUMP_SYSCTL",
];

/// Debian's capture command line when KDUMP_CMDLINE_APPEND is not set.
pub const KDUMP_TOOLS_DEFAULT_APPEND: &str =
    "reset_devices systemd.unit=kdump-tools-dump.service nr_cpus=1 irqpoll usbcore.nousb";
/// Debian's makedumpfile options when MAKEDUMP_ARGS is not set.
pub const KDUMP_TOOLS_DEFAULT_ARGS: &str = "-F -c -d 31";

/// Reads assignments, warning about unknown and repeated names; returns name -> last value.
fn read(text: &str, known: &[&str], file: &str) -> (Vec<Assignment>, Vec<Diagnostic>) {
    let (vars, mut diags) = parse_assignments(text);
    let mut out: Vec<Assignment> = Vec::new();
    for a in vars {
        if !known.contains(&a.name.as_str()) {
            diags.push(Diagnostic::warning(
                a.span,
                format!("unknown variable `{}` for {file}", a.name),
            ));
        }
        if let Some(prev) = out.iter_mut().find(|p| p.name == a.name) {
            diags.push(Diagnostic::warning(
                a.span,
                format!(
                    "`{}` set again (first on line {}): the last value is used",
                    a.name, prev.span.line
                ),
            ));
            *prev = a;
        } else {
            out.push(a);
        }
    }
    diags.sort_by_key(|d| d.span);
    (out, diags)
}

fn get<'a>(vars: &'a [Assignment], name: &str) -> Option<&'a str> {
    vars.iter()
        .find(|a| a.name == name)
        .map(|a| a.value.as_str())
}

fn words(s: Option<&str>) -> Vec<String> {
    s.map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(String::from)
}

/// Reads kdump-utils' /etc/sysconfig/kdump into the capture kernel settings.
pub fn parse_sysconfig(text: &str) -> (KernelPlan, Vec<Diagnostic>) {
    let (vars, diags) = read(text, SYSCONFIG_VARS, "/etc/sysconfig/kdump");
    let img = get(&vars, "KDUMP_IMG")
        .filter(|s| !s.is_empty())
        .unwrap_or("vmlinuz");
    let plan = KernelPlan {
        enabled: None,
        kernel_version: non_empty(get(&vars, "KDUMP_KERNELVER")),
        kernel: Some(img.to_string()),
        kernel_ext: non_empty(get(&vars, "KDUMP_IMG_EXT")),
        initrd: None,
        commandline: non_empty(get(&vars, "KDUMP_COMMANDLINE")),
        commandline_append: words(get(&vars, "KDUMP_COMMANDLINE_APPEND")),
        commandline_remove: words(get(&vars, "KDUMP_COMMANDLINE_REMOVE")),
        kexec_args: words(get(&vars, "KEXEC_ARGS")),
    };
    (plan, diags)
}

/// Reads Debian's /etc/default/kdump-tools into a whole plan (Debian keeps target, collector
/// and kernel settings in this one file).
pub fn parse_kdump_tools(text: &str) -> (Plan, Vec<Diagnostic>) {
    let (vars, mut diags) = read(text, KDUMP_TOOLS_VARS, "/etc/default/kdump-tools");
    let span_of = |name: &str| vars.iter().find(|a| a.name == name).map(|a| a.span);
    let coredir = squeeze_slashes(
        get(&vars, "KDUMP_COREDIR")
            .filter(|s| !s.is_empty())
            .unwrap_or("/var/crash"),
    );
    let ssh = non_empty(get(&vars, "SSH"));
    let nfs = non_empty(get(&vars, "NFS"));
    let ftp = non_empty(get(&vars, "FTP"));
    let remote = [&ssh, &nfs, &ftp].iter().filter(|v| v.is_some()).count();
    if remote > 1 {
        if let Some(span) = span_of("NFS").or(span_of("FTP")) {
            diags.push(Diagnostic::warning(
                span,
                "more than one of SSH, NFS and FTP is set: kdump-tools uses SSH first, then NFS, then FTP",
            ));
        }
    }
    let target = if let Some(s) = &ssh {
        match s.split_once('@') {
            Some((u, h)) if !u.is_empty() && !h.is_empty() => TargetPlan::Ssh {
                user: u.to_string(),
                host: h.to_string(),
                sshkey: non_empty(get(&vars, "SSH_KEY"))
                    .unwrap_or_else(|| DEFAULT_SSHKEY.to_string()),
            },
            _ => {
                if let Some(span) = span_of("SSH") {
                    diags.push(Diagnostic::error(
                        span,
                        format!("SSH=\"{s}\": expected USER@HOST"),
                    ));
                }
                TargetPlan::Default
            }
        }
    } else if let Some(n) = &nfs {
        match n.split_once(':') {
            Some((server, export)) if !server.is_empty() && !export.is_empty() => TargetPlan::Nfs {
                server: server.to_string(),
                export: export.to_string(),
            },
            _ => {
                if let Some(span) = span_of("NFS") {
                    diags.push(Diagnostic::error(
                        span,
                        format!("NFS=\"{n}\": expected HOST:/PATH"),
                    ));
                }
                TargetPlan::Default
            }
        }
    } else if let Some(f) = &ftp {
        TargetPlan::Ftp {
            server: f.clone(),
            user: non_empty(get(&vars, "FTP_USER")),
        }
    } else {
        TargetPlan::Default
    };
    let network = remote > 0;
    let host = match (network, get(&vars, "HOSTTAG")) {
        (false, _) => HostTag::None,
        (true, Some("hostname")) => HostTag::Hostname,
        (true, _) => HostTag::Address,
    };
    if let Some(t) = get(&vars, "HOSTTAG") {
        if t != "ip" && t != "hostname" {
            if let Some(span) = span_of("HOSTTAG") {
                diags.push(Diagnostic::warning(
                    span,
                    format!("HOSTTAG=\"{t}\": expected ip or hostname (ip is used)"),
                ));
            }
        }
    }
    let dump_dir = match host {
        HostTag::None => format!("{coredir}/{KDUMP_TOOLS_DATE_FORMAT}"),
        _ => format!("{coredir}/{{host}}-{KDUMP_TOOLS_DATE_FORMAT}"),
    };
    // the collector: makedumpfile with MAKEDUMP_ARGS, always flattened (piped to a file)
    let args = get(&vars, "MAKEDUMP_ARGS")
        .filter(|s| !s.is_empty())
        .unwrap_or(KDUMP_TOOLS_DEFAULT_ARGS);
    let argv: Vec<String> = std::iter::once("makedumpfile".to_string())
        .chain(args.split_whitespace().map(String::from))
        .collect();
    let collector = match crate::config::Collector::new(argv.clone()) {
        Ok(c) => Some(c),
        Err(e) => {
            if let Some(span) = span_of("MAKEDUMP_ARGS") {
                diags.push(Diagnostic::error(span, format!("MAKEDUMP_ARGS: {e}")));
            }
            Some(crate::config::Collector {
                argv,
                kind: CollectorKind::Makedumpfile,
                options: None,
            })
        }
    };
    let compression = get(&vars, "KDUMP_COMPRESSION").unwrap_or("");
    let ext = match compression {
        "" => "",
        "bzip2" => ".bz2",
        "gzip" => ".gz",
        "lz4" => ".lz4",
        "xz" => ".xz",
        other => {
            if let Some(span) = span_of("KDUMP_COMPRESSION") {
                diags.push(Diagnostic::warning(span, format!("KDUMP_COMPRESSION=\"{other}\": expected bzip2, gzip, lz4 or xz (no compression is used)")));
            }
            ""
        }
    };
    let pipe = if ext.is_empty() {
        String::new()
    } else {
        format!(" | {compression}")
    };
    let tail = match &target {
        TargetPlan::Ssh { user, host, sshkey } => format!(
            "{pipe} | ssh -i {sshkey} {user}@{host} dd of={{dump_dir}}/dump-incomplete{ext}"
        ),
        TargetPlan::Ftp { server, .. } => {
            let host = server.split(':').next().unwrap_or(server);
            format!(
                "{pipe} | busybox ftpput {host} {{dump_dir}}/dump.{KDUMP_TOOLS_DATE_FORMAT}{ext} -"
            )
        }
        _ => format!("{pipe} > {{dump_dir}}/dump-incomplete{ext}"),
    };
    let collector = collector_plan(collector.as_ref(), true, false, "", &tail);
    let enabled = match get(&vars, "USE_KDUMP") {
        None | Some("0") | Some("") => false,
        Some(_) => true,
    };
    let failure_action = match non_empty(get(&vars, "KDUMP_FAIL_CMD")) {
        Some(cmd) => FailureAction::Command(cmd),
        None => FailureAction::Reboot,
    };
    let kernel = KernelPlan {
        enabled: Some(enabled),
        kernel_version: None,
        kernel: non_empty(get(&vars, "KDUMP_KERNEL")),
        kernel_ext: None,
        initrd: non_empty(get(&vars, "KDUMP_INITRD")),
        commandline: non_empty(get(&vars, "KDUMP_CMDLINE")),
        commandline_append: words(Some(
            get(&vars, "KDUMP_CMDLINE_APPEND")
                .filter(|s| !s.is_empty())
                .unwrap_or(KDUMP_TOOLS_DEFAULT_APPEND),
        )),
        commandline_remove: Vec::new(),
        kexec_args: words(get(&vars, "KDUMP_KEXEC_ARGS")),
    };
    let plan = Plan {
        source: "kdump-tools",
        path: Some(match &target {
            TargetPlan::Nfs { .. } => "/".to_string(),
            _ => coredir.clone(),
        }),
        dump_dir: Some(squeeze_slashes(&match &target {
            TargetPlan::Nfs { .. } => dump_dir.replacen(&coredir, "/", 1),
            _ => dump_dir,
        })),
        target,
        host,
        dump_file: format!("dump.{KDUMP_TOOLS_DATE_FORMAT}{ext}"),
        collector,
        failure_action,
        final_action: FinalAction::Reboot,
        hooks: Hooks {
            pre: None,
            pre_dir: None,
            post: None,
            post_dir: None,
            emergency: None,
            emergency_dir: None,
        },
        extra_bins: Vec::new(),
        extra_modules: Vec::new(),
        dracut_args: None,
        fence_kdump: None,
        auto_reset_crashkernel: false,
        initramfs_rebuild: "auto",
        kernel: Some(kernel),
    };
    diags.sort_by_key(|d| d.span);
    (plan, diags)
}
