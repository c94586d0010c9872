//! What the kernel needs to reach a dump target, read from sysfs: the driver chain of a block
//! device or a network interface, and the modules of a file system.
//!
//! Everything is read below a sysfs root given by the caller (`/sys` on a real system, a
//! directory of files and symlinks in tests). Nothing is resolved against a module index here:
//! each [`Need`] lists candidate names (module, driver, modalias) that
//! [`ImageBuilder::add_need`](crate::ImageBuilder::add_need) resolves for the target kernel.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Most stacked block devices (dm over md over partitions ...) followed.
const MAX_STACK: usize = 16;
/// Most levels walked up from a device.
const MAX_LEVELS: usize = 64;
/// Largest sysfs attribute read.
const MAX_ATTR: u64 = 4096;

/// One thing the capture kernel must have (loaded or built in) to reach the target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Need {
    /// The device or file system that needs it (`vda1`, `eth0`, `ext4`).
    pub device: String,
    /// The driver as sysfs names it (`virtio_blk`, `sd`, `device-mapper`), or the fs type.
    pub driver: String,
    /// What to look up, best first: the module name sysfs gives, the driver name, the
    /// device's modalias. The first that resolves (a loadable or built-in module) is used.
    pub candidates: Vec<String>,
    /// Why: `vda1: disk vda: driver virtio_blk (from /sys/devices/pci0000:00/...)`.
    pub reason: String,
}

/// A sysfs tree.
#[derive(Debug, Clone)]
pub struct Sysfs {
    root: PathBuf,
}

fn read_attr(p: &Path) -> Option<String> {
    let m = std::fs::metadata(p).ok()?;
    if !m.is_file() {
        return None;
    }
    use std::io::Read;
    let mut s = String::new();
    std::fs::File::open(p)
        .ok()?
        .take(MAX_ATTR)
        .read_to_string(&mut s)
        .ok()?;
    let s = s.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn link_name(p: &Path) -> Option<String> {
    let t = std::fs::read_link(p).ok()?;
    Some(t.file_name()?.to_string_lossy().into_owned())
}

impl Sysfs {
    /// A tree rooted at `root` (`/sys` for the running system).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Sysfs { root: root.into() }
    }

    /// The running system's `/sys`.
    pub fn host() -> Self {
        Self::new("/sys")
    }

    /// Shown in reasons: the path as it would be under /sys.
    fn show(&self, p: &Path) -> String {
        let root = self
            .root
            .canonicalize()
            .unwrap_or_else(|_| self.root.clone());
        match p.strip_prefix(&root) {
            Ok(rel) => format!("/sys/{}", rel.display()),
            Err(_) => p.display().to_string(),
        }
    }

    /// Drivers from `start` (a device directory, canonical) up to /sys/devices.
    fn walk_up(&self, start: &Path, who: &str, out: &mut Vec<Need>) {
        let devices = self
            .root
            .canonicalize()
            .unwrap_or_else(|_| self.root.clone())
            .join("devices");
        let mut cur = start.to_path_buf();
        for _ in 0..MAX_LEVELS {
            if !cur.starts_with(&devices) || cur == devices {
                break;
            }
            if let Some(driver) = link_name(&cur.join("driver")) {
                let mut candidates = Vec::new();
                if let Some(m) = link_name(&cur.join("driver/module")) {
                    candidates.push(m);
                }
                if !candidates.contains(&driver) {
                    candidates.push(driver.clone());
                }
                if let Some(a) = read_attr(&cur.join("modalias")) {
                    candidates.push(a);
                }
                let reason = format!("{who}: driver {driver} (from {})", self.show(&cur));
                let need = Need {
                    device: who.to_string(),
                    driver,
                    candidates,
                    reason,
                };
                if !out.iter().any(|n| n.candidates == need.candidates) {
                    out.push(need);
                }
            }
            if !cur.pop() {
                break;
            }
        }
    }

    /// The block device directory for `name` (`vda1`, `/dev/sda2`, `dm-0`).
    fn block_dir(&self, name: &str) -> Result<PathBuf> {
        let name = name.strip_prefix("/dev/").unwrap_or(name);
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(Error::Sysfs {
                path: self.root.join("class/block"),
                what: format!("{name:?} is not a block device name"),
            });
        }
        let p = self.root.join("class/block").join(name);
        p.canonicalize().map_err(|e| Error::Sysfs {
            path: p.clone(),
            what: format!("no such block device ({e})"),
        })
    }

    /// Everything the kernel needs to see block device `name` (a disk, a partition, a
    /// device-mapper or md device): for a partition its disk; for dm/md the stacking
    /// module and, through `slaves/`, every underlying device; for each real disk the
    /// drivers of every level from the device up to the bus.
    pub fn block_needs(&self, name: &str) -> Result<Vec<Need>> {
        let mut out = Vec::new();
        self.block_into(name, name, 0, &mut out)?;
        Ok(out)
    }

    fn block_into(&self, name: &str, who: &str, depth: usize, out: &mut Vec<Need>) -> Result<()> {
        if depth > MAX_STACK {
            return Err(Error::Sysfs {
                path: self.root.join("class/block").join(name),
                what: format!("block devices stacked deeper than {MAX_STACK}"),
            });
        }
        let mut dir = self.block_dir(name)?;
        let mut who = who.to_string();
        if dir.join("partition").exists() {
            let disk = dir
                .parent()
                .map(Path::to_path_buf)
                .ok_or_else(|| Error::Sysfs {
                    path: dir.clone(),
                    what: "partition without a parent disk".into(),
                })?;
            let disk_name = disk
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            who = format!("{who}: disk {disk_name}");
            dir = disk;
        }
        let push = |out: &mut Vec<Need>, driver: &str, module: &str, why: String| {
            let need = Need {
                device: name.to_string(),
                driver: driver.to_string(),
                candidates: vec![module.to_string()],
                reason: format!("{who}: {why}"),
            };
            if !out.iter().any(|n| n.candidates == need.candidates) {
                out.push(need);
            }
        };
        if dir.join("dm").is_dir() {
            push(
                out,
                "device-mapper",
                "dm_mod",
                format!("device-mapper (from {})", self.show(&dir.join("dm"))),
            );
            let uuid = read_attr(&dir.join("dm/uuid")).unwrap_or_default();
            for (prefix, module, what) in [
                ("CRYPT-", "dm_crypt", "dm-crypt target"),
                ("mpath-", "dm_multipath", "multipath target"),
            ] {
                if uuid.starts_with(prefix) {
                    push(
                        out,
                        "device-mapper",
                        module,
                        format!("{what} (dm/uuid {uuid})"),
                    );
                }
            }
        }
        if dir.join("md").is_dir() {
            push(
                out,
                "md",
                "md_mod",
                format!("md RAID (from {})", self.show(&dir.join("md"))),
            );
            if let Some(level) = read_attr(&dir.join("md/level")) {
                let module = match level.as_str() {
                    "raid4" | "raid5" | "raid6" => Some("raid456"),
                    "raid0" | "raid1" | "raid10" | "linear" | "multipath" => Some(level.as_str()),
                    _ => None,
                };
                if let Some(m) = module {
                    push(out, "md", m, format!("md level {level}"));
                }
            }
        }
        let mut slaves: Vec<String> = match std::fs::read_dir(dir.join("slaves")) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        };
        slaves.sort();
        for s in slaves.iter().take(256) {
            self.block_into(s, &format!("{who}: slave {s}"), depth + 1, out)?;
        }
        if let Ok(dev) = dir.join("device").canonicalize() {
            self.walk_up(&dev, &who, out);
        } else if slaves.is_empty() && !dir.join("dm").is_dir() && !dir.join("md").is_dir() {
            // loop, zram, ram: virtual, a module of its own name when it is one
            let base = dir
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let module = base.trim_end_matches(|c: char| c.is_ascii_digit());
            if !module.is_empty() {
                push(out, module, module, "virtual block device".into());
            }
        }
        Ok(())
    }

    /// Everything the kernel needs for network interface `iface`: the drivers from its
    /// device up to the bus; for a bridge, bond or VLAN (no `device`), the module of that
    /// kind and the needs of every lower interface.
    pub fn net_needs(&self, iface: &str) -> Result<Vec<Need>> {
        let mut out = Vec::new();
        self.net_into(iface, iface, 0, &mut out)?;
        Ok(out)
    }

    fn net_into(&self, iface: &str, who: &str, depth: usize, out: &mut Vec<Need>) -> Result<()> {
        let p = self.root.join("class/net").join(iface);
        if iface.is_empty()
            || iface.contains('/')
            || iface == "."
            || iface == ".."
            || depth > MAX_STACK
        {
            return Err(Error::Sysfs {
                path: p,
                what: "not a network interface name (or stacked too deep)".into(),
            });
        }
        let dir = p.canonicalize().map_err(|e| Error::Sysfs {
            path: p.clone(),
            what: format!("no such network interface ({e})"),
        })?;
        if let Ok(dev) = dir.join("device").canonicalize() {
            self.walk_up(&dev, who, out);
            return Ok(());
        }
        let kind = if dir.join("bridge").is_dir() {
            Some("bridge")
        } else if dir.join("bonding").is_dir() {
            Some("bonding")
        } else if read_attr(&dir.join("uevent"))
            .is_some_and(|u| u.lines().any(|l| l == "DEVTYPE=vlan"))
        {
            Some("8021q")
        } else {
            None
        };
        if let Some(k) = kind {
            let need = Need {
                device: iface.to_string(),
                driver: k.to_string(),
                candidates: vec![k.to_string()],
                reason: format!("{who}: {k} interface"),
            };
            if !out.contains(&need) {
                out.push(need);
            }
        }
        let mut lower: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .strip_prefix("lower_")
                        .map(String::from)
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        lower.sort();
        for l in lower.iter().take(256) {
            self.net_into(l, &format!("{who}: lower {l}"), depth + 1, out)?;
        }
        Ok(())
    }
}

/// The modules a file system type needs in the capture kernel, beyond what sysfs shows.
///
/// Each fs type maps to its module(s) (ext2/ext3 are served by ext4; nfs needs the protocol
/// version module too, which the kernel would otherwise ask modprobe for). Soft dependencies
/// the module declares (crc32c for ext4 and xfs) come from the index on resolution. Unknown
/// types are looked up as `fs-TYPE` (the alias every file system module declares), then as
/// `TYPE`.
pub fn fs_needs(fstype: &str) -> Vec<Need> {
    let mods: &[&str] = match fstype {
        "ext2" | "ext3" | "ext4" => &["ext4"],
        "xfs" => &["xfs"],
        "btrfs" => &["btrfs"],
        "nfs" => &["nfs", "nfsv3"],
        "nfs4" => &["nfs", "nfsv4"],
        "vfat" | "fat" => &["vfat", "nls_cp437", "nls_iso8859_1"],
        _ => &[],
    };
    if mods.is_empty() {
        return vec![Need {
            device: fstype.to_string(),
            driver: fstype.to_string(),
            candidates: vec![format!("fs-{fstype}"), fstype.to_string()],
            reason: format!("file system {fstype}"),
        }];
    }
    mods.iter()
        .map(|m| Need {
            device: fstype.to_string(),
            driver: fstype.to_string(),
            candidates: vec![m.to_string()],
            reason: format!("file system {fstype}: module {m}"),
        })
        .collect()
}
