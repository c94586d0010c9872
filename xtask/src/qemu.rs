//! The QEMU runner: boot a Debian kernel with our initramfs under TCG, watch the serial log,
//! talk QMP, and collect results. Every wait has a timeout; every failure shows the serial tail.
//!
//! ```ignore
//! let k = Kernel::get(Series::V6_1)?;
//! let mut g = Guest::boot(GuestSpec::new("hello-6.1", &k, "hello"))?;
//! g.wait_for(r"KDUMPRS-DONE scenario=hello rc=0", Duration::from_secs(120))?;
//! let results = g.results();            // KDUMPRS-RESULT key=value lines
//! g.wait_exit(Duration::from_secs(30))?;
//! ```

use crate::initramfs;
use crate::kernel::Kernel;
use crate::qmp::Qmp;
use crate::util::{lab_dir, sparse_file, tail};
use anyhow::{anyhow, bail, Context, Result};
use regex::Regex;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Token on every guest kernel command line (see crates/kexec-image/src/guard.rs).
pub const GUARD_TOKEN: &str = "kdumprs.lab=guest";

/// A virtio disk attached to the guest (`/dev/vda`, `/dev/vdb`, ... in order).
#[derive(Debug, Clone)]
#[allow(dead_code)] // API for VM tests; not every variant is used yet
pub enum Disk {
    /// A new sparse raw image of this many MiB, created in the run directory as `<name>.img`.
    Blank { name: String, mib: u64 },
    /// A new ext4 image of this many MiB whose contents are a host directory (`mkfs.ext4 -d`).
    Ext4From {
        name: String,
        mib: u64,
        dir: PathBuf,
    },
    /// An existing raw image.
    Existing(PathBuf),
    /// A new ext4 image with a file-system label (`mkfs.ext4 -L LABEL -d DIR`).
    Ext4Labeled {
        name: String,
        mib: u64,
        dir: PathBuf,
        label: String,
    },
    /// A new qcow2 copy-on-write overlay `<name>.qcow2` over a raw base image that is never
    /// written (`qemu-img create -f qcow2 -b BASE -F raw`).
    Overlay { name: String, base: PathBuf },
    /// An existing raw image behind QEMU's `blkdebug` driver, which fails the requests its
    /// rule file `config` names (QEMU's docs/devel/testing/blkdebug.rst). Attached with
    /// `cache=writeback`, not `unsafe`: with `unsafe` QEMU drops the guest's flushes before
    /// blkdebug sees them, so a `flush_to_disk` rule would never fire.
    Blkdebug { image: PathBuf, config: PathBuf },
}

/// How QEMU starts the guest.
#[derive(Debug, Clone, Default)]
#[allow(dead_code)] // API for VM tests; not every variant is used by every caller
pub enum Boot {
    /// `-kernel` with our busybox initramfs (built from [`GuestSpec::initramfs`]) and
    /// [`GuestSpec::cmdline`].
    #[default]
    Lab,
    /// `-kernel` with the given initrd and exactly this command line (e.g. an installed
    /// system's own initrd on its first boot).
    Direct { initrd: PathBuf, cmdline: String },
    /// No `-kernel`: SeaBIOS boots the first disk (an installed system's own GRUB).
    Firmware,
}

/// Everything that defines a guest run.
#[derive(Debug, Clone)]
pub struct GuestSpec {
    /// Run name: the run directory is `target/xtask/vm/<name>` unless [`GuestSpec::dir`] is set.
    pub name: String,
    /// The kernel to boot.
    pub kernel: Kernel,
    /// Memory in MiB.
    pub mem_mb: u32,
    /// vCPUs.
    pub smp: u32,
    /// Extra kernel command line (e.g. `crashkernel=192M hugepages=8 no5lvl`).
    pub append: String,
    /// The scenario `/scenarios/<scenario>.sh` that /init runs.
    pub scenario: String,
    /// Virtio disks in order.
    pub disks: Vec<Disk>,
    /// What goes in the initramfs beyond the base (ours, kexec payload, extra files).
    pub initramfs: initramfs::Spec,
    /// Where the run's files go (serial.log, qmp.sock, disks, initrd.img).
    pub dir: Option<PathBuf>,
    /// How the guest starts (default: our initramfs).
    pub boot: Boot,
    /// Let the guest reboot inside the same QEMU run (no `-no-reboot`); a reboot then does
    /// not end the run, only a power-off does.
    pub reboot: bool,
    /// Extra QEMU arguments (e.g. `-netdev user,id=n0 -device virtio-net-pci,netdev=n0`).
    pub qemu_args: Vec<String>,
}

impl GuestSpec {
    /// Defaults: 512 MiB, 1 vCPU, no disks, base initramfs.
    pub fn new(name: &str, kernel: &Kernel, scenario: &str) -> GuestSpec {
        GuestSpec {
            name: name.into(),
            kernel: kernel.clone(),
            mem_mb: 512,
            smp: 1,
            append: String::new(),
            scenario: scenario.into(),
            disks: Vec::new(),
            initramfs: initramfs::Spec::default(),
            dir: None,
            boot: Boot::Lab,
            reboot: false,
            qemu_args: Vec::new(),
        }
    }

    /// The full kernel command line.
    pub fn cmdline(&self) -> String {
        format!(
            "console=ttyS0 panic=-1 {GUARD_TOKEN} kdumprs.scenario={} {}",
            self.scenario, self.append
        )
        .trim()
        .to_string()
    }
}

/// A running guest. QEMU is killed when this is dropped.
pub struct Guest {
    /// The spec it was booted with.
    pub spec: GuestSpec,
    /// The run directory.
    pub dir: PathBuf,
    /// Serial console log.
    pub serial: PathBuf,
    /// QMP socket path.
    pub qmp_sock: PathBuf,
    /// Disk image paths, in order (vda, vdb, ...).
    pub disks: Vec<PathBuf>,
    /// When QEMU started.
    pub started: Instant,
    child: Option<Child>,
    qmp: Option<Qmp>,
    status: Option<ExitStatus>,
}

impl Guest {
    /// Build the initramfs, create the disks and start QEMU.
    pub fn boot(spec: GuestSpec) -> Result<Guest> {
        let dir = spec
            .dir
            .clone()
            .unwrap_or_else(|| lab_dir().join("vm").join(&spec.name));
        std::fs::create_dir_all(&dir).with_context(|| format!("mkdir {}", dir.display()))?;
        let mut disks = Vec::new();
        let mut drives = Vec::new();
        for d in &spec.disks {
            let (path, format) = make_disk(&dir, d)?;
            drives.push(match d {
                Disk::Blkdebug { config, .. } => format!(
                    "driver=raw,file.driver=blkdebug,file.config={},file.image.driver=file,file.image.filename={},if=virtio,cache=writeback",
                    config.display(),
                    path.display()
                ),
                _ => format!(
                    "file={},if=virtio,format={format},cache=unsafe",
                    path.display()
                ),
            });
            disks.push(path);
        }
        let serial = dir.join("serial.log");
        let qmp_sock = dir.join("qmp.sock");
        let _ = std::fs::remove_file(&serial);
        let _ = std::fs::remove_file(&qmp_sock);
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-accel", "tcg", "-cpu", "max", "-nographic"])
            .args(["-monitor", "none", "-display", "none"])
            .args([
                "-m",
                &spec.mem_mb.to_string(),
                "-smp",
                &spec.smp.to_string(),
            ]);
        if !spec.reboot {
            cmd.arg("-no-reboot");
        }
        match &spec.boot {
            Boot::Lab => {
                let initrd = dir.join("initrd.img");
                initramfs::build(&spec.kernel, &spec.initramfs, &initrd)?;
                cmd.arg("-kernel")
                    .arg(spec.kernel.vmlinuz())
                    .arg("-initrd")
                    .arg(&initrd)
                    .args(["-append", &spec.cmdline()]);
            }
            Boot::Direct { initrd, cmdline } => {
                cmd.arg("-kernel")
                    .arg(spec.kernel.vmlinuz())
                    .arg("-initrd")
                    .arg(initrd)
                    .args(["-append", cmdline]);
            }
            Boot::Firmware => {}
        }
        cmd.args(["-device", "vmcoreinfo"])
            .arg("-serial")
            .arg(format!("file:{}", serial.display()))
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", qmp_sock.display()))
            .args(&spec.qemu_args);
        for drive in &drives {
            cmd.arg("-drive").arg(drive);
        }
        let out = std::fs::File::create(dir.join("qemu.out"))?;
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        std::fs::write(dir.join("qemu.cmd"), crate::util::show(&cmd))?;
        let child = cmd.spawn().context("start qemu-system-x86_64")?;
        eprintln!(
            "[vm {}] {} booting {} (scenario {}), serial log {}",
            spec.name,
            spec.kernel.series.name(),
            spec.kernel.abi,
            spec.scenario,
            serial.display()
        );
        Ok(Guest {
            spec,
            dir,
            serial,
            qmp_sock,
            disks,
            started: Instant::now(),
            child: Some(child),
            qmp: None,
            status: None,
        })
    }

    /// The serial log so far (lossy UTF-8, `\r` removed).
    pub fn log(&self) -> String {
        let data = std::fs::read(&self.serial).unwrap_or_default();
        String::from_utf8_lossy(&data).replace('\r', "")
    }

    /// An error carrying `msg`, the serial log's tail (60 lines) and its path.
    pub fn fail(&self, msg: impl std::fmt::Display) -> anyhow::Error {
        anyhow!(
            "[vm {}] {msg}\n----- last 60 lines of {} -----\n{}\n----- end of serial log ({}) -----\nqemu output: {}",
            self.spec.name,
            self.serial.display(),
            tail(&self.serial, 60),
            self.serial.display(),
            tail(&self.dir.join("qemu.out"), 5)
        )
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(s)) = c.try_wait() {
                    self.status = Some(s);
                }
            }
        }
        self.status
    }

    /// Is QEMU still running?
    pub fn running(&mut self) -> bool {
        self.exited().is_none()
    }

    /// Wait until a line of the serial log matches `pattern`; return that line.
    /// Fails (with the serial tail) on timeout or when QEMU exits first.
    pub fn wait_for(&mut self, pattern: &str, timeout: Duration) -> Result<String> {
        let re = Regex::new(pattern).with_context(|| format!("bad regex {pattern}"))?;
        let start = Instant::now();
        loop {
            let gone = self.exited();
            if let Some(line) = self.log().lines().find(|l| re.is_match(l)) {
                return Ok(line.to_string());
            }
            if let Some(s) = gone {
                return Err(self.fail(format!("QEMU exited ({s}) before /{pattern}/ appeared")));
            }
            if start.elapsed() > timeout {
                return Err(self.fail(format!("timeout: /{pattern}/ not seen within {timeout:?}")));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Wait for QEMU to exit (the guest powers off or panics with panic=-1 and -no-reboot).
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(s) = self.exited() {
                return Ok(s);
            }
            if start.elapsed() > timeout {
                return Err(self.fail(format!("timeout: QEMU still running after {timeout:?}")));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The QMP connection (connected and negotiated on first use).
    pub fn qmp(&mut self) -> Result<&mut Qmp> {
        if self.qmp.is_none() {
            let q = Qmp::connect(&self.qmp_sock, Duration::from_secs(30))
                .map_err(|e| self.fail(format!("QMP: {e:#}")))?;
            self.qmp = Some(q);
        }
        self.qmp.as_mut().context("QMP connection")
    }

    /// Every `KDUMPRS-RESULT key=value` line of the serial log (later keys win).
    pub fn results(&self) -> BTreeMap<String, String> {
        parse_results(&self.log())
    }

    /// One result, or an error with the serial tail.
    pub fn result(&self, key: &str) -> Result<String> {
        self.results()
            .get(key)
            .cloned()
            .ok_or_else(|| self.fail(format!("no KDUMPRS-RESULT {key}=... in the serial log")))
    }

    /// Lines between `KDUMPRS-<tag>-BEGIN` and `KDUMPRS-<tag>-END` (e.g. tag `MEMINFO`).
    pub fn block(&self, tag: &str) -> Option<String> {
        extract_block(&self.log(), tag)
    }

    /// Kill QEMU now.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `KDUMPRS-RESULT key=value` lines of a log.
pub fn parse_results(log: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for l in log.lines() {
        if let Some(pos) = l.find("KDUMPRS-RESULT ") {
            let kv = &l[pos + "KDUMPRS-RESULT ".len()..];
            if let Some((k, v)) = kv.split_once('=') {
                m.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
    }
    m
}

/// Text between `KDUMPRS-<tag>-BEGIN` and `KDUMPRS-<tag>-END` lines (last block wins).
pub fn extract_block(log: &str, tag: &str) -> Option<String> {
    let begin = format!("KDUMPRS-{tag}-BEGIN");
    let end = format!("KDUMPRS-{tag}-END");
    let mut cur: Option<Vec<&str>> = None;
    let mut last = None;
    for l in log.lines() {
        if l.contains(&begin) {
            cur = Some(Vec::new());
        } else if l.contains(&end) {
            if let Some(b) = cur.take() {
                last = Some(b.join("\n") + "\n");
            }
        } else if let Some(b) = cur.as_mut() {
            b.push(l);
        }
    }
    last
}

/// Create (or check) one disk; returns its path and QEMU format.
fn make_disk(dir: &Path, d: &Disk) -> Result<(PathBuf, &'static str)> {
    match d {
        Disk::Blkdebug { image, config } => {
            for p in [image, config] {
                if !p.exists() {
                    bail!("{} does not exist", p.display());
                }
            }
            Ok((image.clone(), "raw"))
        }
        Disk::Existing(p) => {
            if !p.exists() {
                bail!("disk {} does not exist", p.display());
            }
            Ok((p.clone(), "raw"))
        }
        Disk::Blank { name, mib } => {
            let p = dir.join(format!("{name}.img"));
            sparse_file(&p, mib << 20)?;
            Ok((p, "raw"))
        }
        Disk::Ext4From {
            name,
            mib,
            dir: src,
        } => Ok((
            mkfs_ext4(&dir.join(format!("{name}.img")), *mib, src, None)?,
            "raw",
        )),
        Disk::Ext4Labeled {
            name,
            mib,
            dir: src,
            label,
        } => Ok((
            mkfs_ext4(&dir.join(format!("{name}.img")), *mib, src, Some(label))?,
            "raw",
        )),
        Disk::Overlay { name, base } => {
            if !base.exists() {
                bail!("base image {} does not exist", base.display());
            }
            let p = dir.join(format!("{name}.qcow2"));
            let _ = std::fs::remove_file(&p);
            crate::util::run(
                Command::new("qemu-img")
                    .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
                    .arg(base)
                    .arg(&p)
                    .stdin(Stdio::null()),
            )?;
            Ok((p, "qcow2"))
        }
    }
}

/// A new sparse ext4 image of `mib` MiB at `p` holding the tree `src` (owned by root).
fn mkfs_ext4(p: &Path, mib: u64, src: &Path, label: Option<&String>) -> Result<PathBuf> {
    sparse_file(p, mib << 20)?;
    let mut cmd = Command::new("mkfs.ext4");
    cmd.args(["-q", "-F", "-E", "root_owner=0:0"]);
    if let Some(l) = label {
        cmd.arg("-L").arg(l);
    }
    crate::util::run(cmd.arg("-d").arg(src).arg(p))?;
    Ok(p.to_path_buf())
}

/// Copy a file out of an ext4 image with `debugfs` (never mounted on the host).
pub fn debugfs_read(image: &Path, guest_path: &str, out: &Path) -> Result<()> {
    crate::util::run(
        Command::new("debugfs")
            .arg("-R")
            .arg(format!("dump {guest_path} {}", out.display()))
            .arg(image)
            .stderr(Stdio::null()),
    )?;
    if !out.exists() {
        bail!("debugfs: {guest_path} not found in {}", image.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_and_blocks() {
        let log = "boot\nKDUMPRS-RESULT a=1\r\nx KDUMPRS-RESULT b = two words\nKDUMPRS-MEMINFO-BEGIN\nMemTotal: 1 kB\nKDUMPRS-MEMINFO-END\n";
        let r = parse_results(&log.replace('\r', ""));
        assert_eq!(r["a"], "1");
        assert_eq!(r["b"], "two words");
        assert_eq!(extract_block(log, "MEMINFO").unwrap(), "MemTotal: 1 kB\n");
        assert!(extract_block(log, "OTHER").is_none());
    }
}
