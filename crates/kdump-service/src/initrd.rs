//! `kdump build-initrd`: our own capture initramfs for a kdump.conf plan, built with
//! [`capture_initramfs`]: the `kdump` binary as `/init` (with its libraries), kdump.conf and
//! the sysconfig file, the kernel modules the dump target needs (found from sysfs), the hooks
//! with their interpreters, the ssh client for ssh targets, and [`CaptureInfo`] for what the
//! capture kernel cannot find out for itself. No shell, udev or systemd.
//!
//! [`inputs`] are the files whose change makes the image stale ([`crate::image::staleness`]).

use std::net::{Ipv4Addr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use capture_initramfs::{fs_needs, Compression, ImageBuilder, ListEntry, ModuleIndex, Need, Sysfs};
use kdump_conf::{FailureAction, Plan, TargetPlan};

use crate::capture::{CaptureInfo, CAPTURE_INFO_PATH};
use crate::image::{self, Stamp};
use crate::net::NetConfig;
use crate::sysinfo::SysRoot;
use crate::target;

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildRequest<'a> {
    /// The running system (its /sys, /proc, /lib/modules, /boot, executables).
    pub root: &'a SysRoot,
    /// The capture kernel's release (`uname -r` of the kernel that will boot the image).
    pub release: String,
    /// The plan from kdump.conf.
    pub plan: &'a Plan,
    /// kdump.conf, copied into the image.
    pub config: PathBuf,
    /// The sysconfig / kdump-tools file, copied into the image when it exists.
    pub sysconfig: Option<PathBuf>,
    /// The `kdump` binary that becomes `/init` (a system path).
    pub init_binary: PathBuf,
    /// Where the image goes (a system path).
    pub output: PathBuf,
}

/// What was built.
#[derive(Debug, Clone)]
pub struct Built {
    /// The image (a system path).
    pub image: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its compression.
    pub compression: Compression,
    /// What went in and why.
    pub list: Vec<ListEntry>,
    /// Modules in load order (names).
    pub modules: Vec<String>,
    /// Problems that did not stop the build (missing firmware, ...).
    pub warnings: Vec<String>,
}

/// The files whose change makes an image for `release` stale: kdump.conf, the sysconfig
/// file, the kernel image, the `kdump` binary and the kernel's modules.dep.
pub fn inputs(
    release: &str,
    config: &Path,
    sysconfig: Option<&Path>,
    kernel: &Path,
    init_binary: &Path,
) -> Vec<PathBuf> {
    let mut v = vec![config.to_path_buf()];
    v.extend(sysconfig.map(Path::to_path_buf));
    v.push(kernel.to_path_buf());
    v.push(init_binary.to_path_buf());
    v.push(PathBuf::from(format!("/lib/modules/{release}/modules.dep")));
    v
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The block device name (`vdb1`) behind a device node or /dev/disk link.
fn device_name(root: &SysRoot, node: &Path) -> Result<String, String> {
    let real =
        std::fs::canonicalize(root.path(node)).map_err(|e| format!("{}: {e}", node.display()))?;
    real.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("{} is not a device node", node.display()))
}

fn ipv4_of(host: &str) -> Result<Ipv4Addr, String> {
    if let Ok(a) = host.parse() {
        return Ok(a);
    }
    (host, 0)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .find_map(|a| match a.ip() {
            std::net::IpAddr::V4(v4) => Some(v4),
            _ => None,
        })
        .ok_or_else(|| format!("{host} has no IPv4 address"))
}

/// Adds a hook script and its `#!` interpreter (with its libraries).
fn add_script(b: &mut ImageBuilder, root: &SysRoot, script: &str, why: &str) -> Result<(), String> {
    let host = root.path(script);
    let head = std::fs::read(&host).map_err(|e| format!("{why} {script}: {e}"))?;
    if head.starts_with(b"\x7fELF") {
        return b.add_executable(script, why).map_err(err);
    }
    b.add_file(script, 0o755, &host, why).map_err(err)?;
    if let Some(line) = head.strip_prefix(b"#!") {
        let line = line.split(|&c| c == b'\n').next().unwrap_or(&[]);
        let line = String::from_utf8_lossy(line);
        if let Some(interp) = line.split_whitespace().next() {
            b.add_executable(interp, &format!("interpreter of {script}"))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// The scripts in a hook directory of the running system, sorted.
fn dir_scripts(root: &SysRoot, dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root.path(dir))
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().is_file())
                .map(|e| format!("{dir}/{}", e.file_name().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Builds the image and writes it to [`BuildRequest::output`] (a temporary file beside it,
/// synced, then renamed) with its [`Stamp`] of `stamp_inputs`.
pub fn build(req: &BuildRequest<'_>, stamp_inputs: &[PathBuf]) -> Result<Built, String> {
    let root = req.root;
    let index = ModuleIndex::load(root.root(), &req.release).map_err(|e| {
        format!(
            "the module index of kernel {}: {e} (is that kernel installed, and has depmod run?)",
            req.release
        )
    })?;
    let compression = match root.read_optional(format!("/boot/config-{}", req.release), 4 << 20) {
        Ok(Some(text)) => Compression::for_kernel_config(&text).map_err(err)?,
        _ => Compression::Gzip,
    };
    let mut b = ImageBuilder::with_root(root.root()).with_modules(index);
    b.add_base().map_err(err)?;
    let init = req.init_binary.display().to_string();
    b.add_executable(&init, "kdump, the capture kernel's init")
        .map_err(err)?;
    b.add_symlink("/init", &init, "PID 1 of the capture kernel: kdump init")
        .map_err(err)?;
    let conf = std::fs::read(root.path(&req.config))
        .map_err(|e| format!("{}: {e}", req.config.display()))?;
    // Debian's kdump-tools file keeps its own place; kdump.conf (whatever --config named) is
    // /etc/kdump.conf in the image, where `kdump init` reads it.
    let conf_in_image = if req.config.file_name().is_some_and(|n| n == "kdump-tools") {
        kdump_conf::DEFAULT_KDUMP_TOOLS_PATH
    } else {
        kdump_conf::DEFAULT_PATH
    };
    b.add_bytes(conf_in_image, 0o644, conf, "the dump plan")
        .map_err(err)?;
    if let Some(sc) = &req.sysconfig {
        if let Ok(text) = std::fs::read(root.path(sc)) {
            b.add_bytes(
                &sc.display().to_string(),
                0o644,
                text,
                "capture kernel settings",
            )
            .map_err(err)?;
        }
    }

    let sysfs = Sysfs::new(root.path("/sys"));
    let mut info = CaptureInfo {
        kernel_release: Some(req.release.clone()),
        ..CaptureInfo::default()
    };
    let mut needs: Vec<Need> = Vec::new();
    match &req.plan.target {
        TargetPlan::Default => {
            let path = req.plan.path.as_deref().unwrap_or(crate::DEFAULT_DUMP_DIR);
            let (t, name) = image::root_target(root, path)?;
            needs.extend(sysfs.block_needs(&name).map_err(err)?);
            needs.extend(fs_needs(&t.fstype));
            info.root = Some(t);
        }
        TargetPlan::Fs { fstype, device } => {
            let node = target::resolve_device(device, &target::block_devices())
                .map_err(|e| format!("{e} (on the running system, where the image is built)"))?;
            needs.extend(sysfs.block_needs(&device_name(root, &node)?).map_err(err)?);
            needs.extend(fs_needs(fstype));
        }
        TargetPlan::Raw { device } => {
            let name = device_name(root, Path::new(device))?;
            needs.extend(sysfs.block_needs(&name).map_err(err)?);
        }
        TargetPlan::Nfs { server, .. } | TargetPlan::Ssh { host: server, .. } => {
            let ip = ipv4_of(server)?;
            let (net, iface) = NetConfig::record(root.root(), ip)?;
            needs.extend(sysfs.net_needs(&iface).map_err(err)?);
            if matches!(req.plan.target, TargetPlan::Nfs { .. }) {
                needs.extend(fs_needs("nfs"));
            }
            info.server_address = Some(ip);
            info.net = Some(net);
        }
        TargetPlan::Virtiofs { .. } => needs.extend(fs_needs("virtiofs")),
        other => {
            return Err(format!(
                "the dump target {other:?} is not supported by our capture image"
            ))
        }
    }
    b.add_needs(&needs).map_err(err)?;
    if let TargetPlan::Ssh { sshkey, .. } = &req.plan.target {
        b.add_executable("/usr/bin/ssh", "the ssh client for the ssh target")
            .map_err(err)?;
        b.add_file(sshkey, 0o600, &root.path(sshkey), "the ssh target's key")
            .map_err(err)?;
        let known = crate::ssh::known_hosts_path(Path::new(sshkey));
        if root.path(&known).is_file() {
            b.add_file(
                &known.display().to_string(),
                0o644,
                &root.path(&known),
                "the ssh target's pinned host key",
            )
            .map_err(err)?;
        }
        b.add_bytes(
            "/etc/passwd",
            0o644,
            "root:x:0:0:root:/root:/bin/sh\n",
            "ssh needs a user entry",
        )
        .map_err(err)?;
    }
    for m in &req.plan.extra_modules {
        b.add_module(m, "extra_modules in kdump.conf")
            .map_err(err)?;
    }
    for e in &req.plan.extra_bins {
        add_script(&mut b, root, e, "extra_bins in kdump.conf")?;
    }
    let h = &req.plan.hooks;
    for (script, why) in [
        (h.pre.as_deref(), "kdump_pre"),
        (h.post.as_deref(), "kdump_post"),
        (h.emergency.as_deref(), "kdump_emergency"),
    ] {
        if let Some(s) = script {
            add_script(&mut b, root, s, why)?;
        }
    }
    for d in [h.pre_dir, h.post_dir, h.emergency_dir]
        .into_iter()
        .flatten()
    {
        for s in dir_scripts(root, d) {
            add_script(&mut b, root, &s, &format!("a script in {d}"))?;
        }
    }
    if matches!(
        req.plan.failure_action,
        FailureAction::Shell | FailureAction::Command(_)
    ) && root.path("/bin/sh").exists()
    {
        b.add_executable("/bin/sh", "failure_action needs a shell")
            .map_err(err)?;
    }
    b.add_bytes(
        CAPTURE_INFO_PATH,
        0o644,
        info.to_text(),
        "what kdump build-initrd found",
    )
    .map_err(err)?;

    let bytes = b.to_bytes(compression).map_err(err)?;
    write_atomic(&root.path(&req.output), &bytes)?;
    let stamp = Stamp::of(root, stamp_inputs);
    write_atomic(
        &root.path(image::stamp_path(&req.output)),
        stamp.to_text().as_bytes(),
    )?;
    Ok(Built {
        image: req.output.clone(),
        size: bytes.len() as u64,
        compression,
        list: b.list(),
        modules: b.module_order().iter().map(|m| m.name.clone()).collect(),
        warnings: b.warnings().to_vec(),
    })
}

/// Writes `data` over `path` with [`kdump_conf::write_atomic`] (a temporary file beside it,
/// synced, renamed, the directory synced): the old image stays whole until the new one is.
fn write_atomic(path: &Path, data: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    kdump_conf::write_atomic(path, data).map_err(err)
}

/// What [`ensure`] did.
#[derive(Debug, Clone)]
pub enum Ensured {
    /// The image was current.
    Current(PathBuf),
    /// It was (re)built: why, and what was built.
    Built(String, Box<Built>),
}

impl Ensured {
    /// The image's path.
    pub fn image(&self) -> &Path {
        match self {
            Ensured::Current(p) => p,
            Ensured::Built(_, b) => &b.image,
        }
    }
}

/// kdumpctl's rule: builds the image of `req` when it is missing or one of `stamp_inputs`
/// changed since it was built; otherwise leaves it.
pub fn ensure(req: &BuildRequest<'_>, stamp_inputs: &[PathBuf]) -> Result<Ensured, String> {
    match image::staleness(req.root, &req.output, stamp_inputs)? {
        None => Ok(Ensured::Current(req.output.clone())),
        Some(why) => Ok(Ensured::Built(why, Box::new(build(req, stamp_inputs)?))),
    }
}
