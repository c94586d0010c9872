//! `kdump load`, `unload`, `start`, `stop`, `restart`, `save`, `propagate` and `test`: calls
//! into `kdump_service::{load, save, ssh}`.

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

use kdump_cli::kdump::{Cli, LoadArgs, SaveArgs, SshArgs, Syscall, TestArgs};
use kdump_conf::TargetPlan;
use kdump_service::load::{self, LoadOptions, Loaded};
use kdump_service::save::{self, SaveOptions};
use kdump_service::sysinfo::SysRoot;
use kexec_image::guard::{self, Danger};

use crate::conf_cmds;
use crate::fail;

/// Reads the configuration and loads the capture kernel; the error is the message to print.
fn do_load(cli: &Cli, a: &LoadArgs) -> Result<(), String> {
    let conf = conf_cmds::read_valid(cli)?;
    if conf.kernel.as_ref().and_then(|k| k.enabled) == Some(false) {
        return Err("USE_KDUMP is not 1 in the kdump-tools settings".into());
    }
    let opts = LoadOptions {
        kernel: a.images.kernel.clone(),
        initrd: a.images.initrd.clone(),
        no_initrd: a.no_initrd,
        dry_run: a.dry_run,
        syscall: match a.syscall() {
            Syscall::Auto => None,
            Syscall::FileLoad => Some('s'),
            Syscall::KexecLoad => Some('c'),
        },
    };
    let mut opts = opts;
    // Our capture image for the configured kernel; a kernel named on the command line keeps
    // the initrd lookup of before (its release is not known here).
    if opts.kernel.is_none() && opts.initrd.is_none() && !opts.no_initrd {
        opts.initrd = crate::initrd_cmds::image_for_load(&conf)?;
    }
    let spec =
        load::resolve(&SysRoot::host(), conf.kernel.as_ref(), &opts).map_err(|e| e.to_string())?;
    println!("kernel:  {}", spec.kernel.display());
    println!(
        "initrd:  {}",
        spec.initrd
            .as_ref()
            .map_or("(none)".into(), |p| p.display().to_string())
    );
    println!("cmdline: {}", spec.cmdline);
    match load::load(&spec, &opts).map_err(|e| e.to_string())? {
        Loaded::FileLoad => println!("kdump: panic kernel loaded with kexec_file_load"),
        Loaded::KexecLoad(why) => println!(
            "kdump: panic kernel loaded with kexec_load{}",
            why.map_or(String::new(), |w| format!(" (kexec_file_load: {w})"))
        ),
        Loaded::DryRun(t) => print!("{t}"),
    }
    Ok(())
}

/// `kdump load`.
pub fn load(cli: &Cli, a: &LoadArgs) -> ExitCode {
    match do_load(cli, a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail("load", e),
    }
}

/// `kdump unload`.
pub fn unload() -> ExitCode {
    match load::unload() {
        Ok(()) => {
            println!("kdump: panic kernel unloaded");
            ExitCode::SUCCESS
        }
        Err(e) => fail("unload", e),
    }
}

/// `kdump start` (kdumpctl start): check the configuration; when a capture kernel is loaded
/// already, say so and succeed; else load it.
pub fn start(cli: &Cli, a: &LoadArgs) -> ExitCode {
    // The Debian way: the capture kernel booted the whole installed system (a distribution
    // initrd); the service finds the crashed kernel's memory and saves it, as kdump-tools does.
    if !a.dry_run && Path::new("/proc/vmcore").exists() {
        let plan = match conf_cmds::read_valid(cli) {
            Ok(c) => c.plan,
            Err(e) => return fail("start", e),
        };
        println!("kdump: /proc/vmcore exists: this is a capture kernel, saving the dump");
        let o = SaveOptions {
            // The installed system's root is mounted already.
            rootfs: "/".into(),
            ..SaveOptions::default()
        };
        let level = save::collector_message_level(&plan);
        return ExitCode::from(run_save(&plan, &o, level));
    }
    if !a.dry_run && load::is_loaded(&SysRoot::host()) {
        // The configuration is still checked: a broken file should not pass silently.
        if let Err(e) = conf_cmds::read_valid(cli) {
            return fail("start", e);
        }
        println!("kdump: Kdump already running (a capture kernel is loaded)");
        return ExitCode::SUCCESS;
    }
    match do_load(cli, a) {
        Ok(()) => {
            println!("kdump: Starting kdump: [OK]");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kdump start: {e}");
            eprintln!("kdump: Starting kdump: [FAILED]");
            ExitCode::from(1)
        }
    }
}

/// `kdump stop` (kdumpctl stop).
pub fn stop() -> ExitCode {
    match load::unload() {
        Ok(()) => {
            println!("kdump: Stopping kdump: [OK]");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kdump stop: {e}");
            eprintln!("kdump: Stopping kdump: [FAILED]");
            ExitCode::from(1)
        }
    }
}

/// `kdump restart` (kdumpctl restart): stop, then start.
pub fn restart(cli: &Cli, a: &LoadArgs) -> ExitCode {
    if a.dry_run {
        return start(cli, a);
    }
    match stop() {
        ExitCode::SUCCESS => start(cli, a),
        failed => failed,
    }
}

/// `kdump save`.
pub fn save(cli: &Cli, a: &SaveArgs) -> ExitCode {
    let plan = match conf_cmds::read_valid(cli) {
        Ok(c) => c.plan,
        Err(e) => return fail("save", e),
    };
    let mut o = SaveOptions {
        vmcore: a.vmcore.clone(),
        target_root: a.target_root.clone(),
        host: a.host.clone(),
        ssh_options: a.ssh.ssh_options.clone(),
        ..SaveOptions::default()
    };
    if let Some(v) = &a.mount_dir {
        o.mount_dir = v.clone();
    }
    if let Some(v) = &a.rootfs {
        o.rootfs = v.clone();
    }
    if !a.devices.is_empty() {
        o.devices = Some(a.devices.clone());
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
    ExitCode::from(run_save(&plan, &o, level))
}

/// Saves with `o` and prints the progress, the per-class table (message level bit 16) and
/// the outcome before the final or failure action runs (it may power off); returns the exit
/// status. Shared by `kdump save` and `kdump init`.
pub fn run_save(plan: &kdump_conf::Plan, o: &SaveOptions, level: u8) -> u8 {
    let no_action = o.no_action;
    // Everything is printed before the final/failure action runs: it may power off.
    let r = save::save_with(plan, o, |r| {
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
            if out.write.read_errors > 0 {
                eprintln!(
                    "kdump: {} page(s) of {} could not be read: excluded from the dump (not \
                     zero pages), listed in {} beside it",
                    out.write.read_errors,
                    o.vmcore.display(),
                    kdump_service::collector::UNREADABLE_LIST
                );
            }
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
    r.exit_code()
}

/// `kdump propagate`.
pub fn propagate(cli: &Cli, a: &SshArgs) -> ExitCode {
    let plan = match conf_cmds::read_valid(cli) {
        Ok(c) => c.plan,
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

/// `kdump test` (kdumpctl test): crash the machine with sysrq-c so that the capture kernel
/// saves a dump. Refused unless a capture kernel is loaded; asks first unless `--yes`; the
/// write to /proc/sysrq-trigger goes through the host guard.
pub fn test(a: &TestArgs) -> ExitCode {
    if !load::is_loaded(&SysRoot::host()) {
        return fail(
            "test",
            "Kdump is not operational: no capture kernel is loaded (/sys/kernel/kexec_crash_loaded is not 1); run `kdump start` first",
        );
    }
    if !a.yes {
        eprint!("DANGER: this crashes the system now to test kdump; the capture kernel saves a dump and runs final_action. Proceed? (y/N): ");
        let mut answer = String::new();
        // A closed or unreadable stdin is a "no".
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            println!("kdump test: cancelled, nothing was done");
            return ExitCode::SUCCESS;
        }
    }
    match crash_now() {
        Ok(()) => fail(
            "test",
            "wrote `c` to /proc/sysrq-trigger but the system did not crash",
        ),
        Err(e) => fail("test", e),
    }
}

/// Writes `c` to /proc/sysrq-trigger, only when the host guard allows it.
fn crash_now() -> Result<(), String> {
    guard::check(Danger::SysrqTrigger).map_err(|e| e.to_string())?;
    println!("kdump test: crashing the system with sysrq-c");
    std::fs::write("/proc/sysrq-trigger", b"c")
        .map_err(|e| format!("cannot write /proc/sysrq-trigger: {e}"))
}
