//! A real Debian 12 installation on a disk image, built once and cached, for tests on an
//! installed system (`cargo xtask debian-image [--sysv] [--force]`).
//!
//! The recipe (a port of ../shared/lab/debian-image.sh, see ../shared/TESTING.md):
//! 1. `mmdebstrap` builds the root file system as a tarball from this host's apt sources
//!    (systemd variant: `--variant=important` + systemd-sysv; SysV variant: `--variant=required`
//!    + sysvinit-core, because the important set pulls systemd-sysv, which conflicts);
//! 2. the tree is extracted and adjusted: fstab by UUID, serial-getty@ttyS0 masked (its hang-up
//!    would swallow the boot hook's output), `LOAD_KEXEC=false` (Debian's kexec-tools would turn
//!    every reboot into a kexec reboot), DHCP on ens3, GRUB on the serial console, and the boot
//!    hook `lab-boot` (xtask/guest/debian/) enabled;
//! 3. `mkfs.ext4 -E offset=1048576 -d ROOT` writes it into the partition of a raw image whose
//!    MBR we write ourselves (no loop device, nothing mounted, no host block device touched);
//! 4. a first boot with `-kernel`/`-initrd` (the image's own) runs `grub-install /dev/vda` and
//!    `update-grub` inside the guest and powers off; from then on the image boots through SeaBIOS
//!    and its own GRUB.
//!
//! The result lives in `~/.cache/kdump-rs/debian-12/<systemd|sysv>/` (`disk.img`, `image.json`,
//! the kernel and initrd of the first boot, the logs). It is rebuilt when `image.json` is
//! missing or names another recipe key (the recipe version plus a hash of the package list and
//! of every file the recipe writes), or a file it needs is gone. Tests never write to it: they
//! boot a qcow2 overlay ([`crate::qemu::Disk::Overlay`]).

use crate::kernel::{Kernel, Series};
use crate::qemu::{Boot, Disk, Guest, GuestSpec};
use crate::util::{cache_dir, run, secs, sparse_file};
use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Bump when the recipe changes in a way the key below does not see (its code, not its files).
pub const RECIPE_VERSION: u32 = 1;

/// Size of the image (sparse).
pub const DISK_MIB: u64 = 4096;
/// Where the root partition starts (bytes): 1 MiB, leaving room for GRUB's core.img.
const PART_OFFSET: u64 = 1 << 20;
/// Upper bound for the first boot (GRUB install) under TCG on a busy host.
const FIRSTBOOT_TIMEOUT: Duration = Duration::from_secs(1200);

const LAB_BOOT: &str = include_str!("../guest/debian/lab-boot");
const LAB_BOOT_UNIT: &str = include_str!("../guest/debian/lab-boot.service");
const LAB_BOOT_INIT: &str = include_str!("../guest/debian/lab-boot.init");

/// Packages in both variants (besides the init system).
const PACKAGES: &[&str] = &[
    "linux-image-amd64",
    "grub-pc",
    "openssh-server",
    "xfsprogs",
    "kmod",
    "udev",
    "ifupdown",
    "isc-dhcp-client",
    "iproute2",
    "procps",
    "e2fsprogs",
    "makedumpfile",
    "kexec-tools",
    "ca-certificates",
];

/// The init system of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// systemd-sysv (Debian's default).
    Systemd,
    /// sysvinit-core (`service kdump start`, /etc/init.d scripts at boot).
    SysV,
}

impl Init {
    /// "systemd" or "sysv" (the cache subdirectory).
    pub fn name(self) -> &'static str {
        match self {
            Init::Systemd => "systemd",
            Init::SysV => "sysv",
        }
    }

    fn variant(self) -> &'static str {
        match self {
            Init::Systemd => "important",
            Init::SysV => "required",
        }
    }

    fn init_package(self) -> &'static str {
        match self {
            Init::Systemd => "systemd-sysv",
            Init::SysV => "sysvinit-core",
        }
    }
}

/// A built image.
#[derive(Debug, Clone)]
pub struct Image {
    /// Which init system.
    #[allow(dead_code)] // for scenarios that branch on it
    pub init: Init,
    /// The cache directory.
    pub dir: PathBuf,
    /// The raw disk image (MBR, one ext4 partition at 1 MiB, GRUB installed).
    pub disk: PathBuf,
    /// What was recorded when it was built.
    pub info: ImageInfo,
}

/// `image.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageInfo {
    /// [`recipe_key`] at build time.
    pub recipe: String,
    /// "systemd" or "sysv".
    pub init: String,
    /// The installed kernel (`uname -r` in the guest).
    pub kernel_version: String,
    /// UUID of the root file system.
    pub root_uuid: String,
    /// When it was built (UTC).
    pub built: String,
    /// Seconds spent in mmdebstrap (0 when its tarball was reused).
    pub mmdebstrap_seconds: f64,
    /// Seconds from QEMU start to the first boot's power-off (GRUB installed).
    pub firstboot_seconds: f64,
    /// Seconds for the whole build.
    pub build_seconds: f64,
}

impl Image {
    /// The image's kernel as a [`Kernel`] (its `vmlinuz` is a copy kept in the cache).
    pub fn kernel(&self) -> Kernel {
        Kernel {
            series: Series::V6_1,
            abi: self.info.kernel_version.clone(),
            dir: self.dir.clone(),
        }
    }
}

/// `~/.cache/kdump-rs/debian-12/<init>`.
pub fn image_dir(init: Init) -> PathBuf {
    cache_dir().join("debian-12").join(init.name())
}

fn sources() -> Vec<PathBuf> {
    [
        "/etc/apt/sources.list.d/debian.sources",
        "/etc/apt/sources.list",
    ]
    .iter()
    .map(PathBuf::from)
    .filter(|p| p.metadata().map(|m| m.len() > 0).unwrap_or(false))
    .collect()
}

fn includes(init: Init) -> String {
    let mut v = vec![init.init_package()];
    v.extend_from_slice(PACKAGES);
    v.join(",")
}

/// The mmdebstrap command that makes `out` (a tarball).
fn mmdebstrap(init: Init, out: &Path) -> Command {
    let mut cmd = Command::new("mmdebstrap");
    cmd.arg(format!("--variant={}", init.variant()))
        .arg("--components=main")
        .arg("--format=tar")
        .arg(format!("--include={}", includes(init)))
        .arg("--customize-hook=chroot \"$1\" sh -c \"echo root:root | chpasswd\"")
        .arg("bookworm")
        .arg(out)
        .args(sources());
    cmd
}

/// 64-bit FNV-1a, for the recipe key.
fn fnv(data: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in data {
        for b in part.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// The recipe version and a hash of the package list and every file the recipe writes.
pub fn recipe_key(init: Init) -> String {
    let inc = includes(init);
    let h = fnv(&[
        init.variant(),
        &inc,
        LAB_BOOT,
        LAB_BOOT_UNIT,
        LAB_BOOT_INIT,
        &grub_defaults("GRUB_DEFAULT=0\n"),
        NETWORK,
    ]);
    format!("{RECIPE_VERSION}-{init}-{h:016x}", init = init.name())
}

/// The cached image of `init`, built first when missing or stale (or when `force`).
pub fn get(init: Init, force: bool) -> Result<Image> {
    let dir = image_dir(init);
    if !force {
        if let Some(img) = cached(init, &dir) {
            return Ok(img);
        }
    }
    build(init, &dir)
}

fn cached(init: Init, dir: &Path) -> Option<Image> {
    let info: ImageInfo =
        serde_json::from_str(&std::fs::read_to_string(dir.join("image.json")).ok()?).ok()?;
    if info.recipe != recipe_key(init) {
        eprintln!(
            "debian-image: {} was built by recipe {}, now {}: rebuilding",
            dir.display(),
            info.recipe,
            recipe_key(init)
        );
        return None;
    }
    let img = Image {
        init,
        dir: dir.to_path_buf(),
        disk: dir.join("disk.img"),
        info,
    };
    (img.disk.exists() && img.kernel().vmlinuz().exists()).then_some(img)
}

fn build(init: Init, dir: &Path) -> Result<Image> {
    let t0 = Instant::now();
    std::fs::create_dir_all(dir).with_context(|| format!("mkdir {}", dir.display()))?;
    for tool in ["mmdebstrap", "mkfs.ext4", "qemu-system-x86_64", "tar"] {
        ensure!(
            crate::util::have_exe(tool),
            "debian-image needs {tool} (cargo xtask setup installs it)"
        );
    }
    ensure!(
        !sources().is_empty(),
        "no apt sources on this host (/etc/apt/sources.list.d/debian.sources, /etc/apt/sources.list)"
    );
    // 1. the root tarball, reused while the command that made it is the same
    let tar = dir.join("root.tar");
    let tar_key = dir.join("root.tar.key");
    let want_key = crate::util::show(&mmdebstrap(init, &tar));
    let mut mmdebstrap_seconds = 0.0;
    if std::fs::read_to_string(&tar_key).ok().as_deref() != Some(want_key.as_str()) || !tar.exists()
    {
        let _ = std::fs::remove_file(&tar_key);
        let tmp = dir.join("root.tar.tmp");
        let _ = std::fs::remove_file(&tmp);
        let log = dir.join("mmdebstrap.log");
        eprintln!(
            "debian-image: mmdebstrap {} (log {}; ~2-5 min)",
            init.name(),
            log.display()
        );
        let t = Instant::now();
        let out = std::fs::File::create(&log)?;
        let status = mmdebstrap(init, &tmp)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .status()
            .context("start mmdebstrap")?;
        if !status.success() {
            bail!(
                "mmdebstrap failed ({status}); last lines of {}:\n{}",
                log.display(),
                crate::util::tail(&log, 20)
            );
        }
        std::fs::rename(&tmp, &tar)?;
        std::fs::write(&tar_key, &want_key)?;
        mmdebstrap_seconds = t.elapsed().as_secs_f64();
        eprintln!("debian-image: mmdebstrap done in {}", secs(t.elapsed()));
    }
    // 2. the tree
    let root = dir.join("root");
    remove_tree(&root)?;
    std::fs::create_dir_all(&root)?;
    run(Command::new("tar")
        .arg("-C")
        .arg(&root)
        .args(["--numeric-owner", "-xf"])
        .arg(&tar))?;
    let kver = only_kernel(&root)?;
    let uuid = std::fs::read_to_string("/proc/sys/kernel/random/uuid")?
        .trim()
        .to_string();
    customize(&root, init, &uuid)?;
    let boot = dir.join("boot");
    std::fs::create_dir_all(&boot)?;
    for f in [format!("vmlinuz-{kver}"), format!("initrd.img-{kver}")] {
        std::fs::copy(root.join("boot").join(&f), boot.join(&f))
            .with_context(|| format!("copy boot/{f} out of the tree"))?;
    }
    // 3. the disk
    let tmp_disk = dir.join("disk.img.tmp");
    sparse_file(&tmp_disk, DISK_MIB << 20)?;
    write_mbr(&tmp_disk, DISK_MIB << 20, &uuid)?;
    run(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-U", &uuid, "-L", "debroot"])
        .arg("-E")
        .arg(format!("offset={PART_OFFSET}"))
        .arg("-d")
        .arg(&root)
        .arg(&tmp_disk)
        .arg(format!("{}k", ((DISK_MIB << 20) - PART_OFFSET) / 1024)))?;
    remove_tree(&root)?;
    // 4. first boot: the guest installs GRUB on its disk
    let kernel = Kernel {
        series: Series::V6_1,
        abi: kver.clone(),
        dir: dir.to_path_buf(),
    };
    let mut spec = GuestSpec::new(&format!("debian-12-{}-firstboot", init.name()), &kernel, "");
    spec.mem_mb = 1536;
    spec.smp = 2;
    spec.dir = Some(dir.join("firstboot"));
    spec.boot = Boot::Direct {
        initrd: boot.join(format!("initrd.img-{kver}")),
        cmdline: format!("root=UUID={uuid} console=ttyS0 panic=-1"),
    };
    spec.disks = vec![Disk::Existing(tmp_disk.clone())];
    let t = Instant::now();
    let mut g = Guest::boot(spec)?;
    g.wait_for("LAB-FIRSTBOOT-OK", FIRSTBOOT_TIMEOUT)?;
    g.wait_exit(Duration::from_secs(180))?;
    let firstboot_seconds = t.elapsed().as_secs_f64();
    drop(g);
    std::fs::rename(&tmp_disk, dir.join("disk.img"))?;
    let info = ImageInfo {
        recipe: recipe_key(init),
        init: init.name().into(),
        kernel_version: kver,
        root_uuid: uuid,
        built: crate::util::utc_now(),
        mmdebstrap_seconds,
        firstboot_seconds,
        build_seconds: t0.elapsed().as_secs_f64(),
    };
    std::fs::write(dir.join("image.json"), serde_json::to_string_pretty(&info)?)?;
    eprintln!(
        "debian-image: {} ready in {} (mmdebstrap {:.0} s, first boot {:.0} s), kernel {}",
        dir.join("disk.img").display(),
        secs(t0.elapsed()),
        info.mmdebstrap_seconds,
        info.firstboot_seconds,
        info.kernel_version
    );
    Ok(Image {
        init,
        dir: dir.to_path_buf(),
        disk: dir.join("disk.img"),
        info,
    })
}

/// `rm -rf` of a tree we extracted (never follows symlinks out of it).
fn remove_tree(p: &Path) -> Result<()> {
    match std::fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("remove {}", p.display())),
    }
}

fn only_kernel(root: &Path) -> Result<String> {
    let mods = root.join("lib/modules");
    let mut v: Vec<String> = std::fs::read_dir(&mods)
        .with_context(|| format!("read {}", mods.display()))?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    v.sort();
    match v.as_slice() {
        [one] => Ok(one.clone()),
        _ => bail!("expected one kernel in {}, found {v:?}", mods.display()),
    }
}

const NETWORK: &str = "auto lo
iface lo inet loopback

auto ens3
iface ens3 inet dhcp
";

/// /etc/default/grub with a serial console, a 1 s menu and our command line.
fn grub_defaults(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let l = line.trim_start_matches('#');
        let replaced = if l.starts_with("GRUB_CMDLINE_LINUX_DEFAULT=") {
            Some("GRUB_CMDLINE_LINUX_DEFAULT=\"\"".to_string())
        } else if l.starts_with("GRUB_CMDLINE_LINUX=") {
            Some(format!(
                "GRUB_CMDLINE_LINUX=\"console=ttyS0,115200 {}\"",
                crate::qemu::GUARD_TOKEN
            ))
        } else if l.starts_with("GRUB_TERMINAL=")
            || l.starts_with("GRUB_SERIAL_COMMAND=")
            || l.starts_with("GRUB_TIMEOUT=")
        {
            Some(String::new())
        } else {
            None
        };
        match replaced {
            Some(r) if !r.is_empty() => out.push_str(&r),
            Some(_) => continue,
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out.push_str(
        "# lab image: GRUB and the kernel on the serial console\n\
         GRUB_TIMEOUT=1\nGRUB_TERMINAL=serial\n\
         GRUB_SERIAL_COMMAND=\"serial --unit=0 --speed=115200\"\n",
    );
    out
}

fn write_file(root: &Path, path: &str, text: &str, mode: u32) -> Result<()> {
    let p = root.join(path.trim_start_matches('/'));
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(&p, text).with_context(|| format!("write {}", p.display()))?;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn link(root: &Path, path: &str, target: &str) -> Result<()> {
    let p = root.join(path.trim_start_matches('/'));
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d)?;
    }
    let _ = std::fs::remove_file(&p);
    symlink(target, &p).with_context(|| format!("symlink {} -> {target}", p.display()))
}

fn customize(root: &Path, init: Init, uuid: &str) -> Result<()> {
    write_file(
        root,
        "/etc/fstab",
        &format!("UUID={uuid} / ext4 errors=remount-ro 0 1\n"),
        0o644,
    )?;
    write_file(root, "/etc/hostname", "deb12\n", 0o644)?;
    write_file(
        root,
        "/etc/hosts",
        "127.0.0.1 localhost\n127.0.1.1 deb12\n::1 localhost ip6-localhost ip6-loopback\n",
        0o644,
    )?;
    write_file(root, "/etc/network/interfaces", NETWORK, 0o644)?;
    let kexec = root.join("etc/default/kexec");
    if let Ok(t) = std::fs::read_to_string(&kexec) {
        let t: String = t
            .lines()
            .map(|l| {
                if l.starts_with("LOAD_KEXEC=") {
                    "LOAD_KEXEC=false\n".to_string()
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(&kexec, t)?;
    }
    let grub = root.join("etc/default/grub");
    let text =
        std::fs::read_to_string(&grub).with_context(|| format!("read {}", grub.display()))?;
    std::fs::write(&grub, grub_defaults(&text))?;
    write_file(root, "/usr/local/sbin/lab-boot", LAB_BOOT, 0o755)?;
    match init {
        Init::Systemd => {
            // no login prompt on the serial console: its getty hangs up ttyS0
            link(
                root,
                "/etc/systemd/system/serial-getty@ttyS0.service",
                "/dev/null",
            )?;
            write_file(
                root,
                "/etc/systemd/system/lab-boot.service",
                LAB_BOOT_UNIT,
                0o644,
            )?;
            link(
                root,
                "/etc/systemd/system/multi-user.target.wants/lab-boot.service",
                "/etc/systemd/system/lab-boot.service",
            )?;
        }
        Init::SysV => {
            write_file(root, "/etc/init.d/lab-boot", LAB_BOOT_INIT, 0o755)?;
            // insserv orders it by its LSB header (last: Required-Start $all); chroot only
            // changes the root of this one process, nothing is mounted
            run(Command::new("chroot")
                .arg(root)
                .args(["update-rc.d", "lab-boot", "defaults"]))?;
        }
    }
    Ok(())
}

/// One bootable MBR partition (type 0x83) from [`PART_OFFSET`] to the end of the image.
fn write_mbr(path: &Path, size: u64, uuid: &str) -> Result<()> {
    let first = PART_OFFSET / 512;
    let count = size / 512 - first;
    let (Ok(first32), Ok(count32)) = (u32::try_from(first), u32::try_from(count)) else {
        bail!("image of {size} bytes is too large for an MBR");
    };
    let mut mbr = [0u8; 512];
    // disk signature from the file-system UUID's first 8 hex digits
    let sig = u32::from_str_radix(uuid.get(..8).unwrap_or("4b44554d"), 16).unwrap_or(0x4b44_554d);
    mbr[440..444].copy_from_slice(&sig.to_le_bytes());
    let e = &mut mbr[446..462];
    e[0] = 0x80;
    e[1..4].copy_from_slice(&chs(first));
    e[4] = 0x83;
    e[5..8].copy_from_slice(&chs(first + count - 1));
    e[8..12].copy_from_slice(&first32.to_le_bytes());
    e[12..16].copy_from_slice(&count32.to_le_bytes());
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("open {}", path.display()))?;
    f.seek(SeekFrom::Start(0))?;
    f.write_all(&mbr)?;
    Ok(())
}

/// CHS bytes of an LBA with 255 heads and 63 sectors per track (0xfe 0xff 0xff past 1023
/// cylinders, as fdisk writes them).
fn chs(lba: u64) -> [u8; 3] {
    let c = lba / (255 * 63);
    if c > 1023 {
        return [0xfe, 0xff, 0xff];
    }
    let h = (lba / 63) % 255;
    let s = lba % 63 + 1;
    [h as u8, (s as u8) | (((c >> 8) as u8 & 3) << 6), c as u8]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chs_like_fdisk() {
        // sfdisk writes 20 21 00 for LBA 2048 and fe ff ff past cylinder 1023 (~8 GiB)
        assert_eq!(chs(2048), [0x20, 0x21, 0x00]);
        assert_eq!(chs((16384u64 << 11) - 1), [0xfe, 0xff, 0xff]);
        // last sector of cylinder 1023: head 254, sector 63, cylinder bits 0x3ff
        assert_eq!(chs(1024 * 255 * 63 - 1), [254, 63 | 0xc0, 0xff]);
        assert_eq!(chs(0), [0, 1, 0]);
    }

    #[test]
    fn grub_defaults_replace_and_append() {
        let t = "GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n#GRUB_TERMINAL=console\n";
        let g = grub_defaults(t);
        assert!(g.contains("GRUB_DEFAULT=0\n"));
        assert!(g.contains("GRUB_CMDLINE_LINUX_DEFAULT=\"\"\n"));
        assert!(g.contains("GRUB_CMDLINE_LINUX=\"console=ttyS0,115200 kdumprs.lab=guest\"\n"));
        assert_eq!(g.matches("GRUB_TIMEOUT=").count(), 1);
        assert_eq!(g.matches("GRUB_TERMINAL=").count(), 1);
        assert!(!g.contains("quiet"));
    }

    #[test]
    fn mbr_layout() {
        let dir = std::env::temp_dir().join(format!("xtask-mbr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("d.img");
        sparse_file(&p, 64 << 20).unwrap();
        write_mbr(&p, 64 << 20, "0123abcd-0000-0000-0000-000000000000").unwrap();
        let b = std::fs::read(&p).unwrap();
        assert_eq!(&b[510..512], &[0x55, 0xaa]);
        assert_eq!(b[446], 0x80);
        assert_eq!(b[450], 0x83);
        assert_eq!(u32::from_le_bytes(b[454..458].try_into().unwrap()), 2048);
        assert_eq!(
            u32::from_le_bytes(b[458..462].try_into().unwrap()),
            (64 << 11) - 2048
        );
        assert_eq!(&b[440..444], &0x0123abcdu32.to_le_bytes());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
