//! `kdump load`, `kdump unload`, `kdump save` and `kdump propagate`: argument parsing over
//! `kdump_service::{load, save, ssh}`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kdump_conf::{KernelPlan, Plan, TargetPlan};
use kdump_service::load::{self, LoadOptions, Loaded};
use kdump_service::save::{self, SaveOptions};
use kdump_service::sysinfo::SysRoot;

const USAGE: &str = "usage:
  kdump load   [--config FILE] [--sysconfig FILE | --kdump-tools FILE] [--kernel FILE]
               [--initrd FILE | --no-initrd] [-s | -c] [--dry-run]
  kdump unload
  kdump save   [--config FILE | --kdump-tools FILE] [--vmcore FILE] [--target-root DIR]
               [--mount-dir DIR] [--rootfs DIR] [--host NAME] [--device DEV]...
               [--ssh-option OPT]... [--nfs-options OPTS] [--no-dmesg] [--no-action]
  kdump propagate [--config FILE | --kdump-tools FILE] [--ssh-option OPT]...";

#[derive(Default)]
struct Args {
    config: Option<String>,
    sysconfig: Option<String>,
    kdump_tools: Option<String>,
    kernel: Option<String>,
    initrd: Option<String>,
    no_initrd: bool,
    dry_run: bool,
    syscall: Option<char>,
    vmcore: Option<String>,
    target_root: Option<String>,
    mount_dir: Option<String>,
    rootfs: Option<String>,
    host: Option<String>,
    devices: Vec<String>,
    ssh_options: Vec<String>,
    nfs_options: Option<String>,
    no_dmesg: bool,
    no_action: bool,
}

fn parse(args: &[String]) -> Result<Option<Args>, String> {
    let mut a = Args::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        i += 1;
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg, None),
        };
        let mut value = || -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            let v = args
                .get(i)
                .cloned()
                .ok_or(format!("{name} needs a value"))?;
            i += 1;
            Ok(v)
        };
        match name {
            "-h" | "--help" => return Ok(None),
            "--config" => a.config = Some(value()?),
            "--sysconfig" => a.sysconfig = Some(value()?),
            "--kdump-tools" => a.kdump_tools = Some(value()?),
            "--kernel" => a.kernel = Some(value()?),
            "--initrd" => a.initrd = Some(value()?),
            "--no-initrd" => a.no_initrd = true,
            "--dry-run" => a.dry_run = true,
            "-s" => a.syscall = Some('s'),
            "-c" => a.syscall = Some('c'),
            "--vmcore" => a.vmcore = Some(value()?),
            "--target-root" => a.target_root = Some(value()?),
            "--mount-dir" => a.mount_dir = Some(value()?),
            "--rootfs" => a.rootfs = Some(value()?),
            "--host" => a.host = Some(value()?),
            "--device" => a.devices.push(value()?),
            "--ssh-option" => a.ssh_options.push(value()?),
            "--nfs-options" => a.nfs_options = Some(value()?),
            "--no-dmesg" => a.no_dmesg = true,
            "--no-action" => a.no_action = true,
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    Ok(Some(a))
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| format!("cannot read {path}: {e}"))
}

/// The plan and the capture-kernel settings: Debian's kdump-tools file when asked for (or when
/// there is no kdump.conf but there is one), else kdump.conf + /etc/sysconfig/kdump.
fn load_plan(a: &Args) -> Result<(Plan, Option<KernelPlan>), String> {
    let conf = a.config.as_deref().unwrap_or(kdump_conf::DEFAULT_PATH);
    let debian = a.kdump_tools.clone().or_else(|| {
        (a.config.is_none()
            && !Path::new(conf).exists()
            && Path::new(kdump_conf::DEFAULT_KDUMP_TOOLS_PATH).exists())
        .then(|| kdump_conf::DEFAULT_KDUMP_TOOLS_PATH.to_string())
    });
    let report = |file: &str, d: &[kdump_conf::Diagnostic]| {
        for d in d {
            eprintln!("{}", d.display(file));
        }
    };
    if let Some(path) = debian {
        let (plan, d) = kdump_conf::parse_kdump_tools(&read(&path)?);
        report(&path, &d);
        if kdump_conf::has_errors(&d) {
            return Err(format!("{path} has errors"));
        }
        let k = plan.kernel.clone();
        return Ok((plan, k));
    }
    let checked = kdump_conf::check(&read(conf)?);
    report(conf, &checked.diagnostics);
    if !checked.is_valid() {
        return Err(format!("{conf} has errors (see `kdump check`)"));
    }
    let plan = kdump_conf::plan(&checked.config);
    let sc = a.sysconfig.clone().or_else(|| {
        Path::new(kdump_conf::DEFAULT_SYSCONFIG_PATH)
            .exists()
            .then(|| kdump_conf::DEFAULT_SYSCONFIG_PATH.to_string())
    });
    let kplan = match sc {
        Some(path) => {
            let (k, d) = kdump_conf::parse_sysconfig(&read(&path)?);
            report(&path, &d);
            if kdump_conf::has_errors(&d) {
                return Err(format!("{path} has errors"));
            }
            Some(k)
        }
        None => None,
    };
    Ok((plan, kplan))
}

fn fail(cmd: &str, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("kdump {cmd}: {msg}");
    ExitCode::from(1)
}

fn args_or_usage(cmd: &str, rest: &[String]) -> Result<Args, ExitCode> {
    match parse(rest) {
        Ok(Some(a)) => Ok(a),
        Ok(None) => {
            println!("{USAGE}");
            Err(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("kdump {cmd}: {e}\n{USAGE}");
            Err(ExitCode::from(2))
        }
    }
}

/// `kdump load`.
pub fn load(rest: &[String]) -> ExitCode {
    let a = match args_or_usage("load", rest) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let (_plan, kplan) = match load_plan(&a) {
        Ok(v) => v,
        Err(e) => return fail("load", e),
    };
    if kplan.as_ref().and_then(|k| k.enabled) == Some(false) {
        return fail("load", "USE_KDUMP is not 1 in the kdump-tools settings");
    }
    let opts = LoadOptions {
        kernel: a.kernel.map(PathBuf::from),
        initrd: a.initrd.map(PathBuf::from),
        no_initrd: a.no_initrd,
        dry_run: a.dry_run,
        syscall: a.syscall,
    };
    let spec = match load::resolve(&SysRoot::host(), kplan.as_ref(), &opts) {
        Ok(s) => s,
        Err(e) => return fail("load", e),
    };
    println!("kernel:  {}", spec.kernel.display());
    println!(
        "initrd:  {}",
        spec.initrd
            .as_ref()
            .map_or("(none)".into(), |p| p.display().to_string())
    );
    println!("cmdline: {}", spec.cmdline);
    match load::load(&spec, &opts) {
        Ok(Loaded::FileLoad) => println!("kdump: panic kernel loaded with kexec_file_load"),
        Ok(Loaded::KexecLoad(why)) => println!(
            "kdump: panic kernel loaded with kexec_load{}",
            why.map_or(String::new(), |w| format!(" (kexec_file_load: {w})"))
        ),
        Ok(Loaded::DryRun(t)) => print!("{t}"),
        Err(e) => return fail("load", e),
    }
    ExitCode::SUCCESS
}

/// `kdump unload`.
pub fn unload(rest: &[String]) -> ExitCode {
    if let Err(c) = args_or_usage("unload", rest) {
        return c;
    }
    match load::unload() {
        Ok(()) => {
            println!("kdump: panic kernel unloaded");
            ExitCode::SUCCESS
        }
        Err(e) => fail("unload", e),
    }
}

/// `kdump save`.
pub fn save(rest: &[String]) -> ExitCode {
    let a = match args_or_usage("save", rest) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let (plan, _) = match load_plan(&a) {
        Ok(v) => v,
        Err(e) => return fail("save", e),
    };
    let mut o = SaveOptions::default();
    if let Some(v) = &a.vmcore {
        o.vmcore = v.into();
    }
    o.target_root = a.target_root.as_ref().map(PathBuf::from);
    if let Some(v) = &a.mount_dir {
        o.mount_dir = v.into();
    }
    if let Some(v) = &a.rootfs {
        o.rootfs = v.into();
    }
    o.host = a.host.clone();
    o.ssh_options = a.ssh_options.clone();
    if !a.devices.is_empty() {
        o.devices = Some(a.devices.iter().map(PathBuf::from).collect());
    }
    o.no_action = a.no_action;
    o.nfs_options = a.nfs_options.clone();
    o.dmesg = !a.no_dmesg;
    eprintln!(
        "kdump: saving {} with `{}`",
        o.vmcore.display(),
        plan.collector.argv.join(" ")
    );
    let level = save::collector_message_level(&plan);
    let no_action = o.no_action;
    // Everything is printed before the final/failure action runs: it may power off.
    let r = save::save_with(&plan, &o, |r| {
        for w in &r.warnings {
            eprintln!("kdump save: warning: {w}");
        }
        if let Some(out) = &r.outcome {
            if level & 16 != 0 {
                eprint!("\n{}\n", out.stats);
            }
            eprintln!(
                "kdump: {} pages written, {} bytes, dump level {}",
                out.write.pages, out.write.file_size, out.level
            );
        }
        match (&r.error, &r.vmcore) {
            (None, Some(v)) => println!(
                "kdump: saving vmcore complete: {v} ({:.2} s{})",
                r.seconds,
                if r.dmesg_saved {
                    ", vmcore-dmesg.txt saved"
                } else {
                    ""
                }
            ),
            (Some(e), _) if r.location.is_empty() => {
                eprintln!("kdump save: saving vmcore failed: {e}")
            }
            (Some(e), _) => eprintln!(
                "kdump save: saving vmcore failed: {e} (location {})",
                r.location
            ),
            _ => {}
        }
        if !no_action {
            println!("kdump: running action: {}", r.action);
        }
    });
    println!("kdump: action: {}", r.action);
    ExitCode::from(r.exit_code())
}

/// `kdump propagate`.
pub fn propagate(rest: &[String]) -> ExitCode {
    let a = match args_or_usage("propagate", rest) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let (plan, _) = match load_plan(&a) {
        Ok(v) => v,
        Err(e) => return fail("propagate", e),
    };
    let TargetPlan::Ssh { user, host, sshkey } = &plan.target else {
        return fail(
            "propagate",
            "the dump target is not ssh: nothing to propagate",
        );
    };
    match kdump_service::ssh::propagate(
        &format!("{user}@{host}"),
        Path::new(sshkey),
        &a.ssh_options,
    ) {
        Ok(p) => {
            if p.generated {
                println!("kdump: generated a new ssh key {sshkey}");
            }
            if p.verified {
                println!("kdump: {sshkey} has been added to {user}@{host} and works");
                ExitCode::SUCCESS
            } else {
                fail("propagate", format!("the key was installed but a BatchMode login to {user}@{host} with {sshkey} fails"))
            }
        }
        Err(e) => fail("propagate", e),
    }
}
