//! Our capture image on the running system: where it lives, which file system the default
//! target is, and when the image is stale.
//!
//! - [`image_path`]: `/var/lib/kdump/initramfs-<release>kdump.img`, the second of
//!   [`crate::sysinfo::INITRD_CANDIDATES`] (kdump-utils' place when /boot is not to be
//!   written), so `kdump load` and `kdump status` find it without a setting.
//! - [`MountInfo`] and [`root_target`]: kdump.conf without a target line dumps to the file
//!   system that holds `path` on the running system; the image records it (see
//!   [`crate::capture::CaptureInfo`]).
//! - [`Stamp`]: kdumpctl rebuilds its image when kdump.conf, the sysconfig file, the kernel
//!   or the tools changed since it was built; the stamp beside the image records each input's
//!   size and modification time, so `kdump load` rebuilds and `kdump status` says "stale".
//!
//! ```
//! use kdump_service::image::{MountInfo, Stamp};
//!
//! let mi = MountInfo::parse("22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n\
//!                            30 22 254:2 / /var rw shared:2 - xfs /dev/vda2 rw\n").unwrap();
//! assert_eq!(mi.holding("/var/crash").unwrap().mount_point, "/var");
//! assert_eq!(mi.holding("/home").unwrap().fstype, "ext4");
//!
//! let s = Stamp { inputs: vec![("/etc/kdump.conf".into(), Some((120, 1_700_000_000_000_000_000)))] };
//! assert_eq!(Stamp::parse(&s.to_text()).unwrap(), s);
//! ```

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use kdump_conf::Device;

use crate::capture::RootTarget;
use crate::sysinfo::SysRoot;
use crate::target;

/// Where `kdump build-initrd` writes the image for kernel `release`.
pub fn image_path(release: &str) -> PathBuf {
    PathBuf::from(format!("/var/lib/kdump/initramfs-{release}kdump.img"))
}

/// The stamp file beside an image.
pub fn stamp_path(image: &Path) -> PathBuf {
    let mut s = image.as_os_str().to_owned();
    s.push(".stamp");
    PathBuf::from(s)
}

/// One line of /proc/self/mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// `major:minor` of the device.
    pub dev: (u32, u32),
    /// The directory of the file system mounted here (`/` unless a bind or subvolume mount).
    pub root: String,
    /// Where it is mounted.
    pub mount_point: String,
    /// The file-system type.
    pub fstype: String,
    /// The mount source (`/dev/vda1`, `server:/export`, ...).
    pub source: String,
}

/// /proc/self/mountinfo, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountInfo {
    /// The mounts, in the file's order (later ones hide earlier ones at the same place).
    pub mounts: Vec<Mount>,
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        if let (b'\\', Some(d)) = (b[i], oct) {
            let v = d.iter().fold(0u32, |a, c| a * 8 + u32::from(c - b'0'));
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl MountInfo {
    /// Parses mountinfo text; a malformed line is an error naming it.
    pub fn parse(text: &str) -> Result<MountInfo, String> {
        let mut mounts = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |what: &str| format!("mountinfo line {}: {what}: `{line}`", n + 1);
            let w: Vec<&str> = line.split(' ').collect();
            let sep = w
                .iter()
                .position(|x| *x == "-")
                .ok_or_else(|| bad("no ` - ` separator"))?;
            if sep < 6 || w.len() < sep + 3 {
                return Err(bad("too few fields"));
            }
            let (maj, min) = w[2]
                .split_once(':')
                .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                .ok_or_else(|| bad("field 3 is not major:minor"))?;
            mounts.push(Mount {
                dev: (maj, min),
                root: unescape(w[3]),
                mount_point: unescape(w[4]),
                fstype: w[sep + 1].to_string(),
                source: unescape(w[sep + 2]),
            });
        }
        Ok(MountInfo { mounts })
    }

    /// The mount that holds `path` (the longest mount point that is a whole-component prefix
    /// of it; the last such mount when several share the point).
    pub fn holding(&self, path: &str) -> Option<&Mount> {
        let p = Path::new(path);
        self.mounts
            .iter()
            .enumerate()
            .filter(|(_, m)| p.starts_with(&m.mount_point))
            .max_by_key(|(i, m)| (m.mount_point.len(), *i))
            .map(|(_, m)| m)
    }
}

/// The default target for dump directory `path` on the system under `root`: the file system
/// holding it (from /proc/self/mountinfo), named by UUID when its superblock has one (read
/// from /dev/NAME, NAME from /sys/dev/block/MAJ:MIN), else by its /dev path. Also returns
/// the block device's name (`vda1`) for the driver lookup.
pub fn root_target(root: &SysRoot, path: &str) -> Result<(RootTarget, String), String> {
    let text = root
        .read_text("/proc/self/mountinfo", 4 << 20)
        .map_err(|e| e.to_string())?;
    let mi = MountInfo::parse(&text)?;
    let m = mi
        .holding(path)
        .ok_or_else(|| format!("no mounted file system holds {path}"))?;
    if m.root != "/" {
        return Err(format!(
            "{path} is on {} mounted from its directory {} (a bind or subvolume mount): name the \
             dump target in kdump.conf",
            m.mount_point, m.root
        ));
    }
    let link = root.path(format!("/sys/dev/block/{}:{}", m.dev.0, m.dev.1));
    let name = std::fs::read_link(&link)
        .ok()
        .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
        .ok_or_else(|| {
            format!(
                "{path} is on {} ({} {}), which is not a block device ({} is missing): name a \
                 dump target in kdump.conf",
                m.mount_point,
                m.fstype,
                m.source,
                link.display()
            )
        })?;
    let node = root.path(format!("/dev/{name}"));
    let device = match target::probe_path(&node) {
        Some(id) if !id.uuid.is_empty() && id.uuid != "00000000-0000-0000-0000-000000000000" => {
            Device::Uuid(id.uuid)
        }
        _ => Device::Path(format!("/dev/{name}")),
    };
    Ok((
        RootTarget {
            device,
            fstype: m.fstype.clone(),
            mount_point: m.mount_point.clone(),
        },
        name,
    ))
}

/// The inputs of an image as they were when it was built: each path with its size and
/// modification time (nanoseconds since the epoch), or None when it did not exist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stamp {
    /// (path, (size, mtime_ns)).
    pub inputs: Vec<(PathBuf, Option<(u64, i128)>)>,
}

impl Stamp {
    /// The stamp of `paths` as they are now (on the system under `root`).
    pub fn of(root: &SysRoot, paths: &[PathBuf]) -> Stamp {
        let inputs = paths
            .iter()
            .map(|p| {
                let meta = std::fs::metadata(root.path(p)).ok().map(|m| {
                    let ns = m
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_nanos() as i128);
                    (m.len(), ns)
                });
                (p.clone(), meta)
            })
            .collect();
        Stamp { inputs }
    }

    /// `PATH SIZE MTIME_NS` lines (`PATH - -` for a missing input).
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for (p, m) in &self.inputs {
            match m {
                Some((size, ns)) => s.push_str(&format!("{} {size} {ns}\n", p.display())),
                None => s.push_str(&format!("{} - -\n", p.display())),
            }
        }
        s
    }

    /// Parses [`to_text`](Stamp::to_text)'s lines.
    pub fn parse(text: &str) -> Result<Stamp, String> {
        let mut inputs = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let mut w = line.rsplitn(3, ' ');
            let (ns, size, path) = match (w.next(), w.next(), w.next()) {
                (Some(a), Some(b), Some(c)) => (a, b, c),
                _ => return Err(format!("stamp line {}: expected PATH SIZE MTIME", n + 1)),
            };
            let meta = match (size, ns) {
                ("-", "-") => None,
                (s, t) => Some((
                    s.parse()
                        .map_err(|_| format!("stamp line {}: bad size `{s}`", n + 1))?,
                    t.parse()
                        .map_err(|_| format!("stamp line {}: bad time `{t}`", n + 1))?,
                )),
            };
            inputs.push((PathBuf::from(path), meta));
        }
        Ok(Stamp { inputs })
    }

    /// The inputs of `self` (as built) that differ from `now`, by path.
    pub fn changed(&self, now: &Stamp) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self
            .inputs
            .iter()
            .filter(|(p, m)| now.inputs.iter().find(|(q, _)| q == p).map(|(_, n)| n) != Some(m))
            .map(|(p, _)| p.clone())
            .collect();
        out.extend(
            now.inputs
                .iter()
                .filter(|(p, _)| !self.inputs.iter().any(|(q, _)| q == p))
                .map(|(p, _)| p.clone()),
        );
        out
    }
}

/// Whether the image at `image` must be rebuilt for `inputs`: `Ok(None)` when it is current,
/// `Ok(Some(reason))` when it is missing, has no stamp, or an input changed.
pub fn staleness(
    root: &SysRoot,
    image: &Path,
    inputs: &[PathBuf],
) -> Result<Option<String>, String> {
    if !root.path(image).is_file() {
        return Ok(Some(format!("{} does not exist", image.display())));
    }
    let stamp = match std::fs::read_to_string(root.path(stamp_path(image))) {
        Ok(t) => Stamp::parse(&t)?,
        Err(_) => return Ok(Some(format!("{} has no stamp", image.display()))),
    };
    let changed = stamp.changed(&Stamp::of(root, inputs));
    Ok((!changed.is_empty()).then(|| {
        let names: Vec<String> = changed.iter().map(|p| p.display().to_string()).collect();
        format!("changed since the image was built: {}", names.join(", "))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kdump-image-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn mountinfo_holding_picks_the_longest_whole_component_prefix() {
        let mi = MountInfo::parse(
            "22 1 254:1 / / rw - ext4 /dev/vda1 rw\n\
             30 22 254:2 / /var rw - xfs /dev/vda2 rw\n\
             31 22 0:5 / /var2 rw - tmpfs tmpfs rw\n\
             32 22 254:3 / /mnt/with\\040space rw - ext4 /dev/vdb rw\n",
        )
        .unwrap();
        assert_eq!(mi.holding("/var/crash").unwrap().dev, (254, 2));
        assert_eq!(mi.holding("/var2/x").unwrap().fstype, "tmpfs");
        assert_eq!(mi.holding("/variable").unwrap().dev, (254, 1));
        assert_eq!(mi.holding("/mnt/with space/d").unwrap().source, "/dev/vdb");
        assert!(MountInfo::parse("1 2 3\n").unwrap_err().contains("line 1"));
        assert!(MountInfo::parse("1 2 x / / rw - ext4 a b\n")
            .unwrap_err()
            .contains("major:minor"));
    }

    #[test]
    fn root_target_names_the_file_system_by_uuid() {
        let root = scratch("root");
        std::fs::create_dir_all(root.join("proc/self")).unwrap();
        std::fs::create_dir_all(root.join("sys/dev/block")).unwrap();
        std::fs::create_dir_all(root.join("dev")).unwrap();
        std::fs::write(
            root.join("proc/self/mountinfo"),
            "22 1 254:1 / / rw - ext4 /dev/vda1 rw\n40 22 0:40 /sub /srv rw - btrfs /dev/vdc rw\n",
        )
        .unwrap();
        std::os::unix::fs::symlink(
            "../../devices/pci0000:00/0000:00:04.0/virtio2/block/vda/vda1",
            root.join("sys/dev/block/254:1"),
        )
        .unwrap();
        let mut sb = vec![0u8; 4096];
        sb[1024 + 56..1024 + 58].copy_from_slice(&0xEF53u16.to_le_bytes());
        sb[1024 + 96] = 0x40;
        sb[1024 + 104..1024 + 120].copy_from_slice(&[0x11; 16]);
        std::fs::write(root.join("dev/vda1"), &sb).unwrap();
        let sys = SysRoot::new(&root);
        let (t, name) = root_target(&sys, "/var/crash").unwrap();
        assert_eq!(name, "vda1");
        assert_eq!(t.fstype, "ext4");
        assert_eq!(t.mount_point, "/");
        assert_eq!(
            t.device.to_string(),
            "UUID=11111111-1111-1111-1111-111111111111"
        );
        let e = root_target(&sys, "/srv/crash").unwrap_err();
        assert!(e.contains("subvolume"), "{e}");
    }

    #[test]
    fn a_changed_input_makes_the_image_stale() {
        let root = scratch("stale");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("var/lib/kdump")).unwrap();
        std::fs::write(root.join("etc/kdump.conf"), "path /var/crash\n").unwrap();
        let sys = SysRoot::new(&root);
        let inputs = vec![
            PathBuf::from("/etc/kdump.conf"),
            PathBuf::from("/etc/sysconfig/kdump"),
        ];
        let img = image_path("6.1.0-1-amd64");
        assert!(staleness(&sys, &img, &inputs)
            .unwrap()
            .unwrap()
            .contains("does not exist"));
        std::fs::write(sys.path(&img), b"image").unwrap();
        assert!(staleness(&sys, &img, &inputs)
            .unwrap()
            .unwrap()
            .contains("no stamp"));
        std::fs::write(
            sys.path(stamp_path(&img)),
            Stamp::of(&sys, &inputs).to_text(),
        )
        .unwrap();
        assert_eq!(staleness(&sys, &img, &inputs).unwrap(), None);
        std::fs::write(root.join("etc/kdump.conf"), "path /var/crash2\n").unwrap();
        let why = staleness(&sys, &img, &inputs).unwrap().unwrap();
        assert!(
            why.contains("/etc/kdump.conf") && !why.contains("sysconfig"),
            "{why}"
        );
        std::fs::create_dir_all(root.join("etc/sysconfig")).unwrap();
        std::fs::write(root.join("etc/sysconfig/kdump"), "X=1\n").unwrap();
        let why = staleness(&sys, &img, &inputs).unwrap().unwrap();
        assert!(why.contains("sysconfig"), "{why}");
    }
}
