//! `kdump check` and `kdump show`.

use std::process::ExitCode;

use kdump_conf::{Diagnostic, Plan, TargetPlan};

const USAGE: &str = "usage: kdump check [--config FILE] [--sysconfig FILE | --kdump-tools FILE]
       kdump show  [--config FILE] [--sysconfig FILE | --kdump-tools FILE] [--json]
  --config FILE        kdump.conf to read (default /etc/kdump.conf)
  --sysconfig FILE     also read kdump-utils' /etc/sysconfig/kdump
  --kdump-tools FILE   read Debian's /etc/default/kdump-tools instead of kdump.conf
  --json               print the plan as JSON
exit status: 0 valid (warnings allowed), 1 invalid or unreadable, 2 bad usage";

struct Args {
    config: Option<String>,
    sysconfig: Option<String>,
    kdump_tools: Option<String>,
    json: bool,
}

fn parse_args(args: &[String], allow_json: bool) -> Result<Option<Args>, String> {
    let mut a = Args {
        config: None,
        sysconfig: None,
        kdump_tools: None,
        json: false,
    };
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        i += 1;
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg, None),
        };
        let mut value = |n: &str| -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            let v = args
                .get(i)
                .cloned()
                .ok_or(format!("{n} needs a file name"))?;
            i += 1;
            Ok(v)
        };
        match name {
            "-h" | "--help" => return Ok(None),
            "--config" | "-c" => a.config = Some(value(name)?),
            "--sysconfig" => a.sysconfig = Some(value(name)?),
            "--kdump-tools" => a.kdump_tools = Some(value(name)?),
            "--json" if allow_json => a.json = true,
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    if a.kdump_tools.is_some() && (a.config.is_some() || a.sysconfig.is_some()) {
        return Err("--kdump-tools replaces --config and --sysconfig".to_string());
    }
    Ok(Some(a))
}

/// Reads the configuration and returns (plan, diagnostics with their file names).
fn load(a: &Args) -> Result<(Plan, Vec<(String, Diagnostic)>), String> {
    let read = |path: &str| {
        std::fs::read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| format!("cannot read {path}: {e}"))
    };
    let mut diags = Vec::new();
    if let Some(path) = &a.kdump_tools {
        let (plan, d) = kdump_conf::parse_kdump_tools(&read(path)?);
        diags.extend(d.into_iter().map(|d| (path.clone(), d)));
        return Ok((plan, diags));
    }
    let path = a.config.as_deref().unwrap_or(kdump_conf::DEFAULT_PATH);
    let checked = kdump_conf::check(&read(path)?);
    let mut plan = kdump_conf::plan(&checked.config);
    diags.extend(
        checked
            .diagnostics
            .into_iter()
            .map(|d| (path.to_string(), d)),
    );
    if let Some(sys) = &a.sysconfig {
        let (kernel, d) = kdump_conf::parse_sysconfig(&read(sys)?);
        plan.kernel = Some(kernel);
        diags.extend(d.into_iter().map(|d| (sys.clone(), d)));
    }
    Ok((plan, diags))
}

fn report(diags: &[(String, Diagnostic)]) -> bool {
    for (file, d) in diags {
        eprintln!("{}", d.display(file));
    }
    !diags
        .iter()
        .any(|(_, d)| d.severity == kdump_conf::Severity::Error)
}

fn run(cmd: &str, args: &[String], show: bool) -> ExitCode {
    let a = match parse_args(args, show) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("kdump {cmd}: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let (plan, diags) = match load(&a) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("kdump {cmd}: {e}");
            return ExitCode::from(1);
        }
    };
    let valid = report(&diags);
    if !show {
        let file = a
            .kdump_tools
            .as_deref()
            .or(a.config.as_deref())
            .unwrap_or(kdump_conf::DEFAULT_PATH);
        let (e, w) = diags
            .iter()
            .fold((0, 0), |(e, w), (_, d)| match d.severity {
                kdump_conf::Severity::Error => (e + 1, w),
                kdump_conf::Severity::Warning => (e, w + 1),
            });
        if valid {
            println!("{file}: valid ({w} warning(s))");
        } else {
            println!("{file}: invalid ({e} error(s), {w} warning(s))");
        }
    } else if valid {
        if a.json {
            println!("{}", plan.to_json());
        } else {
            print!("{}", human(&plan));
        }
    }
    if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn human(p: &Plan) -> String {
    let mut s = String::new();
    let mut line = |k: &str, v: &str| s.push_str(&format!("{k:<17}{v}\n"));
    let target = match &p.target {
        TargetPlan::Default => "the file system holding the dump path (no target set)".to_string(),
        TargetPlan::Raw { device } => format!("raw device {device}"),
        TargetPlan::Fs { fstype, device } => format!("{fstype} on {device}"),
        TargetPlan::Virtiofs { tag } => format!("virtiofs {tag}"),
        TargetPlan::Nfs { server, export } => format!("NFS {server}:{export}"),
        TargetPlan::Ssh { user, host, sshkey } => format!("ssh {user}@{host} (key {sshkey})"),
        TargetPlan::DracutMount {
            device,
            mount_point,
            fstype,
        } => format!("{fstype} on {device}, mounted by dracut at {mount_point}"),
        TargetPlan::Ftp { server, user } => {
            format!("FTP {server} as {}", user.as_deref().unwrap_or("anonymous"))
        }
    };
    line("source:", p.source);
    line("target:", &target);
    if let Some(dir) = &p.dump_dir {
        let dir = if p.host == kdump_conf::HostTag::None {
            dir.clone()
        } else {
            format!("{dir}  ({{host}} = {})", p.host.describe())
        };
        line("dump directory:", &dir);
    }
    line("dump file:", &p.dump_file);
    let c = &p.collector;
    line(
        "collector:",
        &format!(
            "{}{}",
            c.argv.join(" "),
            if c.is_default { "  (default)" } else { "" }
        ),
    );
    line("  runs as:", &c.invocation);
    if c.adds_num_threads {
        line(
            "  threads:",
            "--num-threads=$(nproc) added when the capture system has more than one CPU",
        );
    }
    line("failure action:", &p.failure_action.to_string());
    line("final action:", &p.final_action.to_string());
    for (k, v) in [
        ("kdump_pre:", &p.hooks.pre),
        ("kdump_post:", &p.hooks.post),
        ("kdump_emergency:", &p.hooks.emergency),
    ] {
        if let Some(v) = v {
            line(k, v);
        }
    }
    if !p.extra_bins.is_empty() {
        line("extra_bins:", &p.extra_bins.join(" "));
    }
    if !p.extra_modules.is_empty() {
        line("extra_modules:", &p.extra_modules.join(" "));
    }
    if let Some(d) = &p.dracut_args {
        line("dracut_args:", d);
    }
    if let Some(f) = &p.fence_kdump {
        line("fence_kdump:", &f.nodes.join(" "));
    }
    line("initramfs:", &format!("rebuild {}", p.initramfs_rebuild));
    if let Some(k) = &p.kernel {
        if let Some(e) = k.enabled {
            line("enabled:", if e { "yes" } else { "no (USE_KDUMP)" });
        }
        if let Some(v) = &k.kernel {
            line("kernel:", v);
        }
        if let Some(v) = &k.initrd {
            line("initrd:", v);
        }
        if let Some(v) = &k.commandline {
            line("cmdline:", v);
        }
        if !k.commandline_append.is_empty() {
            line("cmdline append:", &k.commandline_append.join(" "));
        }
        if !k.commandline_remove.is_empty() {
            line("cmdline remove:", &k.commandline_remove.join(" "));
        }
        if !k.kexec_args.is_empty() {
            line("kexec args:", &k.kexec_args.join(" "));
        }
    }
    s
}

/// `kdump check [--config FILE]`.
pub fn check(args: &[String]) -> ExitCode {
    run("check", args, false)
}

/// `kdump show [--config FILE] [--json]`.
pub fn show(args: &[String]) -> ExitCode {
    run("show", args, true)
}
