//! `kdump build-initrd` (alias `rebuild`), the image step of `kdump load`, and `kdump init`, the
//! capture kernel's PID 1 in that image: calls into `kdump_service::{initrd, image, capture,
//! save, net}`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use kdump_cli::kdump::{BuildInitrdArgs, Cli};
use kdump_conf::{KernelPlan, TargetPlan};
use kdump_service::capture::{self, CaptureInfo, CAPTURE_INFO_PATH};
use kdump_service::image;
use kdump_service::initrd::{self, BuildRequest, Ensured};
use kdump_service::save::{self, SaveOptions};
use kdump_service::sysinfo::{self, SysRoot};
use kdump_service::system::SystemRef;

use crate::conf_cmds::{self, Conf};
use crate::fail;

/// The capture kernel's release: the settings' KDUMP_KERNELVER, else the running kernel's.
fn release(
    root: &SysRoot,
    kplan: Option<&KernelPlan>,
    given: Option<&str>,
) -> Result<String, String> {
    match given
        .map(String::from)
        .or_else(|| kplan.and_then(|k| k.kernel_version.clone()))
    {
        Some(v) => Ok(v),
        None => root.osrelease().map_err(|e| e.to_string()),
    }
}

/// The files an image depends on, and the request that builds it.
struct ImageJob {
    release: String,
    inputs: Vec<PathBuf>,
    config: PathBuf,
    sysconfig: Option<PathBuf>,
    init: PathBuf,
    output: PathBuf,
}

fn image_job(
    root: &SysRoot,
    conf: &Conf,
    version: Option<&str>,
    output: Option<&Path>,
) -> Result<ImageJob, String> {
    let release = release(root, conf.kernel.as_ref(), version)?;
    let images = sysinfo::images_for(root, conf.kernel.as_ref(), "").map_err(|e| e.to_string())?;
    let kernel = if version.is_some() {
        PathBuf::from(format!("/boot/vmlinuz-{release}"))
    } else {
        images.kernel
    };
    let init = std::env::current_exe().map_err(|e| format!("where is this kdump binary: {e}"))?;
    let config = PathBuf::from(&conf.main_file);
    let inputs = initrd::inputs(
        &release,
        &config,
        conf.sysconfig_file.as_deref(),
        &kernel,
        &init,
    );
    Ok(ImageJob {
        output: output
            .map(Path::to_path_buf)
            .unwrap_or_else(|| image::image_path(&release)),
        release,
        inputs,
        config,
        sysconfig: conf.sysconfig_file.clone(),
        init,
    })
}

fn request<'a>(root: &'a SysRoot, conf: &'a Conf, job: &ImageJob) -> BuildRequest<'a> {
    BuildRequest {
        root,
        release: job.release.clone(),
        plan: &conf.plan,
        config: job.config.clone(),
        sysconfig: job.sysconfig.clone(),
        init_binary: job.init.clone(),
        output: job.output.clone(),
    }
}

fn print_built(b: &initrd::Built, why: &str, list: bool) {
    println!(
        "kdump: built {} ({} bytes, {}; {} modules: {}){}",
        b.image.display(),
        b.size,
        b.compression.name(),
        b.modules.len(),
        b.modules.join(" "),
        if why.is_empty() {
            String::new()
        } else {
            format!(": {why}")
        }
    );
    for w in &b.warnings {
        eprintln!("kdump: warning: {w}");
    }
    if list {
        for e in &b.list {
            println!(
                "{:>10} {:o} {}{}  # {}",
                e.size,
                e.mode,
                e.path,
                e.detail
                    .as_ref()
                    .map_or(String::new(), |d| format!(" -> {d}")),
                e.reason
            );
        }
    }
}

/// `kdump build-initrd`.
pub fn build_initrd(cli: &Cli, a: &BuildInitrdArgs) -> ExitCode {
    let conf = match conf_cmds::read_valid(cli) {
        Ok(c) => c,
        Err(e) => return fail("build-initrd", e),
    };
    let root = SysRoot::host();
    let job = match image_job(
        &root,
        &conf,
        a.kernel_version.as_deref(),
        a.output.as_deref(),
    ) {
        Ok(j) => j,
        Err(e) => return fail("build-initrd", e),
    };
    if a.check {
        return match image::staleness(&root, &job.output, &job.inputs) {
            Ok(None) => {
                println!("kdump: {} is current", job.output.display());
                ExitCode::SUCCESS
            }
            Ok(Some(why)) => {
                println!("kdump: {} is stale: {why}", job.output.display());
                ExitCode::from(1)
            }
            Err(e) => fail("build-initrd", e),
        };
    }
    match initrd::build(&request(&root, &conf, &job), &job.inputs) {
        Ok(b) => {
            print_built(&b, "", a.list);
            ExitCode::SUCCESS
        }
        Err(e) => fail("build-initrd", e),
    }
}

/// The image step of `kdump load`/`start`: our image, rebuilt when stale, unless the settings
/// or the command line name an initrd (the distribution's, the Debian way). Returns the
/// initrd to load, None to leave the choice to `load::resolve`.
pub fn image_for_load(conf: &Conf) -> Result<Option<PathBuf>, String> {
    if conf
        .kernel
        .as_ref()
        .and_then(|k| k.initrd.as_ref())
        .is_some()
    {
        return Ok(None);
    }
    let root = SysRoot::host();
    let job = image_job(&root, conf, None, None)?;
    match initrd::ensure(&request(&root, conf, &job), &job.inputs)? {
        Ensured::Current(p) => {
            println!("kdump: {} is current", p.display());
            Ok(Some(p))
        }
        Ensured::Built(why, b) => {
            print_built(&b, &why, false);
            Ok(Some(b.image.clone()))
        }
    }
}

/// For `kdump status`: whether our capture image is current, or why it is stale (kdump.conf
/// edited after the load, ...). None when the configuration names another initrd or cannot be
/// read.
pub fn image_status(cli: &Cli) -> Option<String> {
    let conf = conf_cmds::read(cli).ok()?;
    if conf
        .kernel
        .as_ref()
        .and_then(|k| k.initrd.as_ref())
        .is_some()
    {
        return None;
    }
    let root = SysRoot::host();
    let job = image_job(&root, &conf, None, None).ok()?;
    Some(match image::staleness(&root, &job.output, &job.inputs) {
        Ok(None) => format!("capture image: {} (current)", job.output.display()),
        Ok(Some(why)) => format!(
            "capture image: {} is stale: {why}; `kdump restart` rebuilds and reloads it",
            job.output.display()
        ),
        Err(e) => format!("capture image: {e}"),
    })
}

/// Writes a line to the console (stdout is /dev/console for the kernel's init).
fn say(msg: impl std::fmt::Display) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "kdump: {msg}");
    let _ = o.flush();
}

/// `kdump init`: PID 1 of the capture kernel in our image. Never returns while it is PID 1
/// (the kernel would panic again): after the final action it waits, reaping orphans.
pub fn init() -> ExitCode {
    if std::process::id() != 1 {
        return fail(
            "init",
            "kdump init runs as PID 1 of the capture kernel (the /init of `kdump build-initrd`'s image)",
        );
    }
    let sys = SystemRef::host();
    let root = Path::new("/");
    for f in capture::early_mounts(&*sys, root) {
        say(format!("warning: mounting {f}"));
    }
    say(format!(
        "capture kernel init (kdump {}), /proc/vmcore {}",
        env!("CARGO_PKG_VERSION"),
        if Path::new("/proc/vmcore").exists() {
            "present"
        } else {
            "MISSING"
        }
    ));
    let order = std::fs::read_to_string(root.join(capture_initramfs::MODULES_ORDER))
        .map_err(|e| e.to_string())
        .and_then(|t| capture_initramfs::parse_modules_order(&t).map_err(|e| e.to_string()));
    match order {
        Ok(entries) => {
            let loads = capture::load_modules(
                &*sys,
                root,
                entries.iter().map(|e| (e.path.as_str(), e.params.as_str())),
            );
            let ok = loads.iter().filter(|l| l.result.is_ok()).count();
            say(format!("{ok} of {} kernel modules loaded", loads.len()));
            for l in loads.iter().filter(|l| l.result.is_err()) {
                if let Err(e) = &l.result {
                    say(format!("warning: module {}: {e}", l.path.display()));
                }
            }
        }
        Err(e) => say(format!("no module list ({e}): loading none")),
    }
    let r = run_capture(&sys, root);
    if let Err(e) = r {
        say(format!("capture failed before saving: {e}"));
        // Nothing saved: the kernel's own reboot path (panic=) is not reached from PID 1, so
        // end the machine the way failure_action's default does.
        let _ = sys.power(kdump_service::system::PowerAction::Reboot);
    }
    loop {
        capture::reap_zombies();
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Reads the configuration of the image, brings up what the target needs and saves.
fn run_capture(sys: &SystemRef, root: &Path) -> Result<(), String> {
    let conf_path = [
        kdump_conf::DEFAULT_PATH,
        kdump_conf::DEFAULT_KDUMP_TOOLS_PATH,
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .ok_or("the image has no /etc/kdump.conf")?;
    let text = std::fs::read_to_string(conf_path).map_err(|e| format!("{conf_path}: {e}"))?;
    let plan = if conf_path == kdump_conf::DEFAULT_PATH {
        let c = kdump_conf::check(&text);
        for d in &c.diagnostics {
            say(d.display(conf_path));
        }
        kdump_conf::plan(&c.config)
    } else {
        kdump_conf::parse_kdump_tools(&text).0
    };
    let info = match std::fs::read_to_string(root.join(CAPTURE_INFO_PATH)) {
        Ok(t) => CaptureInfo::parse(&t).map_err(|e| format!("/{CAPTURE_INFO_PATH}: {e}"))?,
        Err(_) => CaptureInfo::default(),
    };
    let wait = capture::DEFAULT_WAIT;
    let opts = SaveOptions {
        system: sys.clone(),
        ..SaveOptions::default()
    };
    if let Some(net) = &info.net {
        match net.apply(root, wait) {
            Ok(name) => say(format!(
                "network: {name} {}/{}{}",
                net.address,
                net.prefix,
                net.gateway.map_or(String::new(), |g| format!(" via {g}"))
            )),
            Err(e) => say(format!("network: {e}")),
        }
    }
    let mut plan = plan;
    match &mut plan.target {
        TargetPlan::Default => {
            if let Some(t) = &info.root {
                say(format!(
                    "waiting for {} ({}) to mount at {}",
                    t.device,
                    t.fstype,
                    opts.rootfs
                        .join(t.mount_point.trim_start_matches('/'))
                        .display()
                ));
                // A failure here is the dump's failure: save reports it and runs
                // failure_action.
                if let Err(e) = capture::mount_root_target(&**sys, root, &opts.rootfs, t, wait) {
                    say(e);
                }
            }
        }
        TargetPlan::Fs { device, .. } => {
            say(format!("waiting for {device}"));
            match capture::wait_for_device(device, root, wait, Duration::from_millis(200)) {
                Ok(p) => say(format!("{device} is {}", p.display())),
                Err(e) => say(e),
            }
        }
        TargetPlan::Nfs { server, .. } => {
            // The capture kernel has no name service: the address found at build time.
            if let Some(a) = info.server_address {
                *server = a.to_string();
            }
        }
        TargetPlan::Ssh { host, .. } => {
            // Given by name: the name resolves to the address found at build time, so that
            // ssh checks the host key pinned under that name.
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            if let (Some(a), Err(_)) = (info.server_address, bare.parse::<std::net::IpAddr>()) {
                match capture::pin_host_name(root, bare, a.into()) {
                    Ok(()) => say(format!("{bare} is {a} (found when the image was built)")),
                    Err(e) => say(format!("cannot pin {bare} to {a}: {e}")),
                }
            }
        }
        _ => {}
    }
    say(format!(
        "saving {} with `{}`",
        opts.vmcore.display(),
        plan.collector.argv.join(" ")
    ));
    let level = save::collector_message_level(&plan);
    crate::dump_cmds::run_save(&plan, &opts, level);
    Ok(())
}
