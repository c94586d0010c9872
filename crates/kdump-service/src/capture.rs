//! The capture kernel's side of our own initramfs: what `kdump init` does as PID 1 before it
//! saves the dump with [`crate::save`].
//!
//! Each step is a function that acts through a [`System`] and returns what happened; the
//! binary prints and decides. The image that `kdump build-initrd` writes holds, besides the
//! binary as `/init`:
//!
//! - `/etc/kdump.conf` (and the sysconfig file) as they were when the image was built;
//! - the kernel modules the target needs and their load order ([`capture_initramfs`]'s
//!   manifest);
//! - [`CAPTURE_INFO_PATH`]: what `kdump build-initrd` found on the running system and the
//!   capture kernel cannot find out for itself ([`CaptureInfo`]): which file system holds
//!   `path` when kdump.conf names no target.
//!
//! ```
//! use kdump_service::capture::CaptureInfo;
//!
//! let info = CaptureInfo::parse("# kdump build-initrd\nroot_device=UUID=0b5e-11\nroot_fstype=ext4\nroot_mount_point=/\n").unwrap();
//! assert_eq!(info.root.as_ref().unwrap().fstype, "ext4");
//! assert_eq!(CaptureInfo::parse(&info.to_text()).unwrap(), info);
//! assert!(CaptureInfo::parse("root_device\n").unwrap_err().contains("line 1"));
//! ```

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kdump_conf::Device;

use crate::system::{MountRequest, System};
use crate::target;

/// Where the image keeps [`CaptureInfo`].
pub const CAPTURE_INFO_PATH: &str = "etc/kdump/capture.conf";

/// How long the init waits for the dump target's device to appear by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(90);

/// The file system that holds the dump directory when kdump.conf names no target (the
/// "default" target: the running system's file system of `path`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootTarget {
    /// `UUID=...` (or a /dev path when the file system has no UUID).
    pub device: Device,
    /// Its file-system type.
    pub fstype: String,
    /// Where the running system mounts it (`/`, `/var`, ...).
    pub mount_point: String,
}

/// What `kdump build-initrd` recorded for the capture kernel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureInfo {
    /// The default target's file system, when kdump.conf names no target.
    pub root: Option<RootTarget>,
    /// The kernel release the image was built for.
    pub kernel_release: Option<String>,
    /// The network of an nfs or ssh target.
    pub net: Option<crate::net::NetConfig>,
    /// The nfs or ssh server's address, resolved when the image was built (the capture
    /// kernel has no name service).
    pub server_address: Option<std::net::Ipv4Addr>,
}

impl CaptureInfo {
    /// Parses `KEY=VALUE` lines (`#` comments, blank lines); an unknown key or a line without
    /// `=` is an error naming the line.
    pub fn parse(text: &str) -> Result<CaptureInfo, String> {
        let mut info = CaptureInfo::default();
        let (mut dev, mut fstype, mut mp) = (None, None, None);
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                return Err(format!(
                    "line {}: expected KEY=VALUE, found `{line}`",
                    n + 1
                ));
            };
            let v = v.to_string();
            match k {
                "root_device" => {
                    dev = Some(
                        Device::parse(&v)
                            .ok_or_else(|| format!("line {}: `{v}` is not a device", n + 1))?,
                    )
                }
                "root_fstype" => fstype = Some(v),
                "root_mount_point" => mp = Some(v),
                "kernel_release" => info.kernel_release = Some(v),
                "server_address" => {
                    info.server_address = Some(
                        v.parse()
                            .map_err(|_| format!("line {}: `{v}` is not an IPv4 address", n + 1))?,
                    )
                }
                k if k.starts_with("net_") => {}
                _ => return Err(format!("line {}: unknown key `{k}`", n + 1)),
            }
        }
        info.net = crate::net::NetConfig::parse_lines(text.lines())?;
        match (dev, fstype, mp) {
            (Some(device), Some(fstype), Some(mount_point)) => {
                info.root = Some(RootTarget {
                    device,
                    fstype,
                    mount_point,
                })
            }
            (None, None, None) => {}
            _ => {
                return Err(
                    "root_device, root_fstype and root_mount_point go together: one is missing"
                        .into(),
                )
            }
        }
        Ok(info)
    }

    /// The text [`parse`](CaptureInfo::parse) reads.
    pub fn to_text(&self) -> String {
        let mut s = String::from("# written by kdump build-initrd; read by kdump init\n");
        if let Some(k) = &self.kernel_release {
            s.push_str(&format!("kernel_release={k}\n"));
        }
        if let Some(r) = &self.root {
            s.push_str(&format!(
                "root_device={}\nroot_fstype={}\nroot_mount_point={}\n",
                r.device, r.fstype, r.mount_point
            ));
        }
        if let Some(a) = self.server_address {
            s.push_str(&format!("server_address={a}\n"));
        }
        for l in self.net.iter().flat_map(|n| n.to_lines()) {
            s.push_str(&l);
            s.push('\n');
        }
        s
    }
}

/// One of the early mounts of the init.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EarlyMount {
    /// The pseudo file system.
    pub fstype: &'static str,
    /// Its mount point, relative to the root.
    pub dir: &'static str,
}

/// proc, sysfs, devtmpfs and a tmpfs on /run and /tmp: what the init needs before anything.
pub const EARLY_MOUNTS: &[EarlyMount] = &[
    EarlyMount {
        fstype: "proc",
        dir: "proc",
    },
    EarlyMount {
        fstype: "sysfs",
        dir: "sys",
    },
    EarlyMount {
        fstype: "devtmpfs",
        dir: "dev",
    },
    EarlyMount {
        fstype: "tmpfs",
        dir: "run",
    },
    EarlyMount {
        fstype: "tmpfs",
        dir: "tmp",
    },
];

/// Mounts [`EARLY_MOUNTS`] under `root` (creating the directories). A file system already
/// mounted there (EBUSY) counts as done. Returns the failures, as `dir: error`.
pub fn early_mounts(sys: &dyn System, root: &Path) -> Vec<String> {
    let mut failed = Vec::new();
    for m in EARLY_MOUNTS {
        let dir = root.join(m.dir);
        let r = std::fs::create_dir_all(&dir).and_then(|()| {
            sys.mount(&MountRequest {
                source: m.fstype,
                target: &dir,
                fstype: m.fstype,
                data: (m.fstype == "tmpfs").then_some("mode=0755"),
                read_only: false,
            })
        });
        match r {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(16) => {} // EBUSY: mounted already
            Err(e) => failed.push(format!("/{}: {e}", m.dir)),
        }
    }
    failed
}

/// A module the init loaded, or tried to.
#[derive(Debug)]
pub struct ModuleLoad {
    /// The module's file in the image.
    pub path: PathBuf,
    /// Ok, or why it failed.
    pub result: io::Result<()>,
    /// The module was already loaded (EEXIST).
    pub already: bool,
}

/// Loads `modules` (image paths relative to `root`, in load order, with their parameters)
/// with finit_module through `sys`; EEXIST counts as loaded. Every module is tried.
pub fn load_modules<'a>(
    sys: &dyn System,
    root: &Path,
    modules: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<ModuleLoad> {
    modules
        .into_iter()
        .map(|(path, params)| {
            let full = root.join(path.trim_start_matches('/'));
            let r = File::open(&full).and_then(|f| sys.load_module(&f, params));
            let already = matches!(&r, Err(e) if e.raw_os_error() == Some(17));
            ModuleLoad {
                path: full,
                result: if already { Ok(()) } else { r },
                already,
            }
        })
        .collect()
}

/// Make `name` resolve to `address` in the capture system under `root`, which has no name
/// service: a line `ADDRESS NAME` added to etc/hosts and, when there is no
/// etc/nsswitch.conf, one saying `hosts: files` (glibc reads /etc/hosts itself, no NSS
/// module needed). For an ssh target given by name: ssh then connects to the address found
/// when the image was built, and checks the host key pinned under that name.
pub fn pin_host_name(root: &Path, name: &str, address: std::net::IpAddr) -> Result<(), String> {
    if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '#') {
        return Err(format!("{name:?} is not a host name"));
    }
    let etc = root.join("etc");
    std::fs::create_dir_all(&etc).map_err(|e| format!("{}: {e}", etc.display()))?;
    let hosts = etc.join("hosts");
    let mut text = std::fs::read_to_string(&hosts).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("{address} {name}\n"));
    std::fs::write(&hosts, text).map_err(|e| format!("{}: {e}", hosts.display()))?;
    let nss = etc.join("nsswitch.conf");
    if !nss.exists() {
        std::fs::write(&nss, "hosts: files\n").map_err(|e| format!("{}: {e}", nss.display()))?;
    }
    Ok(())
}

/// Waits, polling every `step`, until `device` can be resolved among the block devices under
/// `root` (LABEL=/UUID= by probing superblocks, since no udev runs), or `wait` has passed.
/// The error names the device, the time waited and what was probed.
pub fn wait_for_device(
    device: &Device,
    root: &Path,
    wait: Duration,
    step: Duration,
) -> Result<PathBuf, String> {
    let start = Instant::now();
    loop {
        let dev = match device {
            Device::Path(p) => {
                let p = root.join(p.trim_start_matches('/'));
                if p.exists() {
                    return Ok(p);
                }
                Err(target::TargetError::NotFound(
                    device.to_string(),
                    "the node".into(),
                ))
            }
            _ => target::resolve_device(device, &target::block_devices_under(root)),
        };
        match dev {
            Ok(p) => return Ok(p),
            Err(e) if start.elapsed() >= wait => {
                return Err(format!(
                    "{e}; gave up after waiting {} s for it to appear",
                    start.elapsed().as_secs()
                ))
            }
            Err(_) => std::thread::sleep(step),
        }
    }
}

/// Mounts the default target's file system at `rootfs` + its mount point (so that
/// `rootfs` + `path` is the dump directory), waiting up to `wait` for its device.
pub fn mount_root_target(
    sys: &dyn System,
    root: &Path,
    rootfs: &Path,
    t: &RootTarget,
    wait: Duration,
) -> Result<PathBuf, String> {
    let dev = wait_for_device(&t.device, root, wait, Duration::from_millis(200))?;
    let dir = rootfs.join(t.mount_point.trim_start_matches('/'));
    crate::system::mount_target(sys, &t.fstype, &dev.display().to_string(), &dir, None).map_err(
        |e| {
            format!(
                "mounting {} ({}, {}) on {}: {e}",
                t.device,
                dev.display(),
                t.fstype,
                dir.display()
            )
        },
    )?;
    Ok(dir)
}

/// Reaps every child that has exited (the init is every orphan's parent). Returns how many.
pub fn reap_zombies() -> usize {
    use rustix::process::{waitpid, WaitOptions};
    let mut n = 0;
    while let Ok(Some(_)) = waitpid(None, WaitOptions::NOHANG) {
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, ExitStatus};
    use std::sync::Mutex;

    #[test]
    fn a_host_name_is_pinned_to_its_build_time_address() {
        let d = std::env::temp_dir().join(format!("kdump-pin-host-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let a: std::net::IpAddr = "192.0.2.7".parse().unwrap();
        pin_host_name(d.as_path(), "backup.example", a).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.as_path().join("etc/hosts")).unwrap(),
            "192.0.2.7 backup.example\n"
        );
        assert_eq!(
            std::fs::read_to_string(d.as_path().join("etc/nsswitch.conf")).unwrap(),
            "hosts: files\n"
        );
        // An existing hosts file is kept, an existing nsswitch.conf is not replaced.
        std::fs::write(d.as_path().join("etc/hosts"), "127.0.0.1 localhost").unwrap();
        std::fs::write(d.as_path().join("etc/nsswitch.conf"), "hosts: files dns\n").unwrap();
        pin_host_name(d.as_path(), "b2", a).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.as_path().join("etc/hosts")).unwrap(),
            "127.0.0.1 localhost\n192.0.2.7 b2\n"
        );
        assert_eq!(
            std::fs::read_to_string(d.as_path().join("etc/nsswitch.conf")).unwrap(),
            "hosts: files dns\n"
        );
        for bad in ["", "a b", "x#y", "a\nb"] {
            assert!(pin_host_name(d.as_path(), bad, a).is_err(), "{bad:?}");
        }
        let _ = std::fs::remove_dir_all(d.as_path());
    }

    /// Records every act; mounts and module loads succeed (EEXIST for names containing
    /// "dup"), nothing else is allowed.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl System for Recorder {
        fn mount(&self, r: &MountRequest<'_>) -> io::Result<()> {
            self.0.lock().unwrap().push(format!(
                "mount {} {} {} {:?}",
                r.fstype,
                r.source,
                r.target.display(),
                r.data
            ));
            Ok(())
        }
        fn unmount(&self, t: &Path) -> io::Result<()> {
            self.0
                .lock()
                .unwrap()
                .push(format!("umount {}", t.display()));
            Ok(())
        }
        fn open_block_device(&self, _: &Path) -> io::Result<File> {
            Err(io::ErrorKind::Unsupported.into())
        }
        fn load_module(&self, f: &File, params: &str) -> io::Result<()> {
            let len = f.metadata()?.len();
            self.0
                .lock()
                .unwrap()
                .push(format!("module {len} bytes [{params}]"));
            if len == 3 {
                return Err(io::Error::from_raw_os_error(17));
            }
            Ok(())
        }
        fn power(&self, _: crate::system::PowerAction) -> io::Result<()> {
            Err(io::ErrorKind::Unsupported.into())
        }
        fn sysrq(&self, _: char) -> io::Result<()> {
            Err(io::ErrorKind::Unsupported.into())
        }
        fn run_action(&self, _: &mut Command) -> io::Result<ExitStatus> {
            Err(io::ErrorKind::Unsupported.into())
        }
    }

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kdump-capture-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn early_mounts_in_order_with_their_directories() {
        let root = scratch("early");
        let sys = Recorder::default();
        assert!(early_mounts(&sys, &root).is_empty());
        let acts = sys.0.lock().unwrap().clone();
        assert_eq!(acts.len(), 5);
        assert!(acts[0].starts_with("mount proc proc "), "{acts:?}");
        assert!(acts[2].starts_with("mount devtmpfs devtmpfs "), "{acts:?}");
        assert!(acts[3].ends_with("Some(\"mode=0755\")"), "{acts:?}");
        for d in ["proc", "sys", "dev", "run", "tmp"] {
            assert!(root.join(d).is_dir(), "{d}");
        }
    }

    #[test]
    fn modules_load_in_order_and_eexist_counts_as_loaded() {
        let root = scratch("mods");
        std::fs::create_dir_all(root.join("lib/modules")).unwrap();
        std::fs::write(root.join("lib/modules/a.ko"), b"a").unwrap();
        std::fs::write(root.join("lib/modules/dup.ko"), b"dup").unwrap();
        let sys = Recorder::default();
        let r = load_modules(
            &sys,
            &root,
            [
                ("/lib/modules/a.ko", "x=1"),
                ("lib/modules/dup.ko", ""),
                ("/lib/modules/missing.ko", ""),
            ],
        );
        assert!(r[0].result.is_ok() && !r[0].already);
        assert!(r[1].result.is_ok() && r[1].already);
        assert_eq!(
            r[2].result.as_ref().unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        let acts = sys.0.lock().unwrap().clone();
        assert_eq!(acts, ["module 1 bytes [x=1]", "module 3 bytes []"]);
    }

    #[test]
    fn waiting_for_a_label_finds_it_by_its_superblock_or_gives_up_naming_it() {
        let root = scratch("wait");
        std::fs::create_dir_all(root.join("sys/class/block/vdb")).unwrap();
        std::fs::create_dir_all(root.join("dev")).unwrap();
        // an ext4 superblock labelled kdumpfs on "vdb"
        let mut sb = vec![0u8; 4096];
        sb[1024 + 56..1024 + 58].copy_from_slice(&0xEF53u16.to_le_bytes());
        sb[1024 + 96] = 0x40;
        sb[1024 + 120..1024 + 127].copy_from_slice(b"kdumpfs");
        let label = Device::parse("LABEL=kdumpfs").unwrap();
        let tick = Duration::from_millis(10);
        let e = wait_for_device(&label, &root, Duration::from_millis(50), tick).unwrap_err();
        assert!(e.contains("LABEL=kdumpfs") && e.contains("gave up"), "{e}");
        std::fs::write(root.join("dev/vdb"), &sb).unwrap();
        assert_eq!(
            wait_for_device(&label, &root, Duration::from_secs(5), tick).unwrap(),
            root.join("dev/vdb")
        );
        let node = Device::parse("/dev/vdb").unwrap();
        assert_eq!(
            wait_for_device(&node, &root, Duration::ZERO, tick).unwrap(),
            root.join("dev/vdb")
        );
    }

    #[test]
    fn the_root_target_is_mounted_under_rootfs_at_its_mount_point() {
        let root = scratch("rootfs");
        std::fs::create_dir_all(root.join("dev")).unwrap();
        std::fs::write(root.join("dev/vda2"), b"").unwrap();
        let sys = Recorder::default();
        let t = RootTarget {
            device: Device::parse("/dev/vda2").unwrap(),
            fstype: "xfs".into(),
            mount_point: "/var".into(),
        };
        let rootfs = root.join("sysroot");
        let dir = mount_root_target(&sys, &root, &rootfs, &t, Duration::ZERO).unwrap();
        assert_eq!(dir, rootfs.join("var"));
        assert!(dir.is_dir());
        let acts = sys.0.lock().unwrap().clone();
        assert_eq!(
            acts,
            [format!(
                "mount xfs {} {} None",
                root.join("dev/vda2").display(),
                dir.display()
            )]
        );
    }

    #[test]
    fn capture_info_round_trips_and_rejects_half_a_root() {
        let info = CaptureInfo {
            root: Some(RootTarget {
                device: Device::parse("UUID=1234-abcd").unwrap(),
                fstype: "ext4".into(),
                mount_point: "/".into(),
            }),
            kernel_release: Some("6.1.0-56-amd64".into()),
            net: Some(crate::net::NetConfig {
                mac: "52:54:00:12:34:56".into(),
                address: "10.0.2.15".parse().unwrap(),
                prefix: 24,
                gateway: Some("10.0.2.2".parse().unwrap()),
                leased: true,
            }),
            server_address: Some("10.0.2.2".parse().unwrap()),
        };
        assert_eq!(CaptureInfo::parse(&info.to_text()).unwrap(), info);
        assert_eq!(CaptureInfo::parse("").unwrap(), CaptureInfo::default());
        let e = CaptureInfo::parse("root_fstype=ext4\n").unwrap_err();
        assert!(e.contains("go together"), "{e}");
        let e = CaptureInfo::parse("\nfoo=bar\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("foo"), "{e}");
    }
}
