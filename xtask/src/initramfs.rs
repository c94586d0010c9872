//! Guest initramfs images, built with capture-initramfs' cpio writer and gzip.
//!
//! Contents: busybox-static (applet links made by /init), our /init and /scenarios/*.sh
//! (from xtask/guest/), the kernel modules the lab needs (decompressed, with a load order),
//! Debian's kexec and makedumpfile with their shared libraries, the lab helper `lab-memhog`,
//! optionally our own static binaries in /usr/local/bin, extra files from the caller, and for
//! in-guest kexec the kernel as /vmlinuz and a capture image as /initrd.img.

use crate::kernel::Kernel;
use crate::util::{output, run, workspace_root};
use anyhow::{bail, Context, Result};
use capture_initramfs::{Archive, Compression, Node};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Modules in insmod order, relative to `kernel/`; `optional` ones may be missing or fail.
const MODULES: &[(&str, bool)] = &[
    ("drivers/virtio/virtio_ring", false),
    ("drivers/virtio/virtio", false),
    ("drivers/virtio/virtio_pci_modern_dev", false),
    ("drivers/virtio/virtio_pci_legacy_dev", false),
    ("drivers/virtio/virtio_pci", false),
    ("drivers/block/virtio_blk", false),
    ("drivers/firmware/qemu_fw_cfg", false),
    // ext4 for file-system scratch disks (best effort)
    ("lib/crc16", true),
    ("crypto/crc32c_generic", true),
    ("fs/mbcache", true),
    ("fs/jbd2/jbd2", true),
    ("fs/ext4/ext4", true),
];

/// Our binaries that go to /usr/local/bin when [`Spec::ours`] is set.
pub const OUR_BINS: &[&str] = &["kexec-load", "dumpfilter", "kdump"];

/// What goes into an image.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    /// Include our static binaries (kexec-load, dumpfilter, kdump) in /usr/local/bin.
    pub ours: bool,
    /// Include /vmlinuz and /initrd.img (the same image minus these two) for in-guest kexec.
    pub kexec_payload: bool,
    /// Extra files: (guest path, host path). Directories are created as needed.
    pub extra: Vec<(String, PathBuf)>,
}

/// The xtask/guest directory (init and scenario scripts).
pub fn guest_assets() -> PathBuf {
    workspace_root().join("xtask/guest")
}

/// The image's members, sorted by path (capture-initramfs' deterministic cpio writer). A path
/// added again replaces the earlier member (extra files may override ours).
struct Tree(Archive);

impl Tree {
    fn dir(&mut self, path: &str) -> Result<()> {
        self.0.insert(path, 0o755, Node::Dir)?;
        Ok(())
    }
    fn file(&mut self, path: &str, mode: u32, data: Vec<u8>) -> Result<()> {
        self.0.remove(path);
        self.0.insert(path, mode, Node::File(data))?;
        Ok(())
    }
    fn host_file(&mut self, path: &str, mode: u32, host: &Path) -> Result<()> {
        let data = std::fs::read(host).with_context(|| format!("read {}", host.display()))?;
        self.file(path, mode, data)
    }
    fn symlink(&mut self, path: &str, target: &str) -> Result<()> {
        self.0.remove(path);
        self.0.insert(path, 0o777, Node::Symlink(target.into()))?;
        Ok(())
    }
    fn gzip(&self) -> Result<Vec<u8>> {
        let cpio = self.0.to_bytes(0)?;
        Ok(Compression::Gzip.compress_to(&cpio, Vec::new())?)
    }
}

/// Build the image for `kernel` and write it to `out`.
pub fn build(kernel: &Kernel, spec: &Spec, out: &Path) -> Result<()> {
    let mut t = Tree(Archive::new());
    for d in [
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "usr/local/bin",
        "proc",
        "sys",
        "dev",
        "tmp",
        "mnt",
        "etc",
        "root",
        "lib/modules",
        "scenarios",
        "out",
    ] {
        t.dir(d)?;
    }
    t.host_file("bin/busybox", 0o755, Path::new("/bin/busybox"))?;
    t.symlink("bin/sh", "busybox")?;
    let assets = guest_assets();
    t.host_file("init", 0o755, &assets.join("init.sh"))?;
    for e in std::fs::read_dir(assets.join("scenarios"))
        .with_context(|| format!("read {}", assets.join("scenarios").display()))?
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".sh") {
            t.host_file(&format!("scenarios/{name}"), 0o755, &e.path())?;
        }
    }
    add_modules(&mut t, kernel)?;
    for bin in ["/usr/sbin/kexec", "/usr/bin/makedumpfile"] {
        add_dynamic(&mut t, Path::new(bin))?;
    }
    let helper = build_lab_helper()?;
    t.host_file("usr/local/bin/lab-memhog", 0o755, &helper)?;
    if spec.ours {
        for p in build_ours()? {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            t.host_file(&format!("usr/local/bin/{name}"), 0o755, &p)?;
        }
    }
    for (guest, host) in &spec.extra {
        t.host_file(guest, 0o755, host)?;
    }
    let mut image = t.gzip()?;
    if spec.kexec_payload {
        t.file("initrd.img", 0o644, image)?;
        t.host_file("vmlinuz", 0o644, &kernel.vmlinuz())?;
        image = t.gzip()?;
    }
    if let Some(d) = out.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(out, image).with_context(|| format!("write {}", out.display()))?;
    Ok(())
}

fn add_modules(t: &mut Tree, kernel: &Kernel) -> Result<()> {
    let base = kernel.modules().join("kernel");
    let mut order = String::new();
    for (m, optional) in MODULES {
        let name = m.rsplit('/').next().unwrap_or(m);
        let plain = base.join(format!("{m}.ko"));
        let xz = base.join(format!("{m}.ko.xz"));
        let zst = base.join(format!("{m}.ko.zst"));
        let data = if plain.exists() {
            std::fs::read(&plain)?
        } else if xz.exists() {
            decompress("xz", &xz)?
        } else if zst.exists() {
            decompress("zstd", &zst)?
        } else if is_builtin(kernel, m) || *optional {
            continue; // built into the kernel (6.12: virtio core), or a nice-to-have
        } else {
            bail!("module {m} is neither a file nor built in ({})", kernel.abi);
        };
        t.file(&format!("lib/modules/{name}.ko"), 0o644, data)?;
        order.push_str(name);
        order.push('\n');
    }
    t.file("lib/modules/load-order", 0o644, order.into_bytes())?;
    Ok(())
}

fn is_builtin(kernel: &Kernel, m: &str) -> bool {
    std::fs::read_to_string(kernel.modules().join("modules.builtin"))
        .map(|s| s.lines().any(|l| l == format!("kernel/{m}.ko")))
        .unwrap_or(false)
}

fn decompress(tool: &str, path: &Path) -> Result<Vec<u8>> {
    let out = Command::new(tool)
        .arg("-dc")
        .arg(path)
        .output()
        .with_context(|| format!("run {tool}"))?;
    if !out.status.success() {
        bail!("{tool} -dc {} failed", path.display());
    }
    Ok(out.stdout)
}

/// A dynamically linked host binary plus every library `ldd` names.
fn add_dynamic(t: &mut Tree, bin: &Path) -> Result<()> {
    t.host_file(&bin.to_string_lossy(), 0o755, bin)?;
    let ldd = output(Command::new("ldd").arg(bin))?;
    for lib in ldd
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .map(Path::new)
    {
        t.host_file(&lib.to_string_lossy(), 0o755, lib)?;
    }
    Ok(())
}

fn guest_cargo(target_dir: &str, packages: &[&str], bins: &[&str]) -> Result<PathBuf> {
    let target_dir = workspace_root().join(target_dir);
    let mut cmd = Command::new("cargo");
    cmd.current_dir(workspace_root())
        .env(
            "RUSTFLAGS",
            "-C target-feature=+crt-static -C strip=debuginfo",
        )
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "x86_64-unknown-linux-gnu",
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    for p in packages {
        cmd.args(["-p", p]);
    }
    for b in bins {
        cmd.args(["--bin", b]);
    }
    run(&mut cmd)?;
    Ok(target_dir.join("x86_64-unknown-linux-gnu/release"))
}

/// The static `lab-memhog` helper (part of this package).
pub fn build_lab_helper() -> Result<PathBuf> {
    // Its own target dir: never waits for a build of our (changing) binaries.
    let dir = guest_cargo("target/guest-lab", &["xtask"], &["lab-memhog"])?;
    Ok(dir.join("lab-memhog"))
}

/// Our static binaries, built into target/guest so host builds stay valid.
pub fn build_ours() -> Result<Vec<PathBuf>> {
    let dir = guest_cargo("target/guest", OUR_BINS, &[])?;
    Ok(OUR_BINS.iter().map(|b| dir.join(b)).collect())
}
