//! Dump targets on block devices: find the device a kdump.conf names (`/dev/...`, `LABEL=`,
//! `UUID=`); mounting it goes through [`crate::system`].
//!
//! `LABEL=`/`UUID=` go through /dev/disk/by-label and /dev/disk/by-uuid when udev made them;
//! otherwise (a capture initramfs without udev) every block device in /sys/class/block is
//! probed by reading its superblock (ext2/3/4, XFS, btrfs).

use std::io::Read;
use std::path::{Path, PathBuf};

use kdump_conf::Device;

/// What went wrong with a target.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// No device carries the label or UUID, or the node does not exist.
    #[error("dump target {0}: no such device (probed: {1})")]
    NotFound(String, String),
    /// PARTUUID=/PARTLABEL= without /dev/disk links.
    #[error("dump target {0}: cannot be resolved without /dev/disk/by-partuuid or by-partlabel")]
    Unsupported(String),
}

/// A file system found on a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsId {
    /// `ext2`, `ext3`, `ext4`, `xfs` or `btrfs`.
    pub fstype: &'static str,
    /// The UUID, lower-case with dashes.
    pub uuid: String,
    /// The label (may be empty).
    pub label: String,
}

/// Bytes a probe reads from the start of a device.
pub const PROBE_LEN: usize = 0x10000 + 0x1000;

fn uuid_str(b: &[u8]) -> String {
    let mut s = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{x:02x}"));
    }
    s
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn le16(b: &[u8], o: usize) -> u16 {
    b.get(o..o + 2)
        .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}
fn le32(b: &[u8], o: usize) -> u32 {
    b.get(o..o + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Recognises the file system whose first bytes are `head` (at least [`PROBE_LEN`] bytes for
/// btrfs, 2048 for ext, 512 for XFS).
pub fn probe(head: &[u8]) -> Option<FsId> {
    // ext2/3/4: superblock at 1024, magic 0xEF53 at +56.
    if head.len() >= 2048 && le16(head, 1024 + 56) == 0xEF53 {
        let sb = &head[1024..2048];
        let compat = le32(sb, 92);
        let incompat = le32(sb, 96);
        let ro_compat = le32(sb, 100);
        // extents, 64bit, flex_bg, huge_file, dir_nlink, extra_isize: ext4 only
        let fstype =
            if incompat & (0x40 | 0x80 | 0x200) != 0 || ro_compat & (0x8 | 0x20 | 0x40) != 0 {
                "ext4"
            } else if compat & 0x4 != 0 {
                "ext3"
            } else {
                "ext2"
            };
        return Some(FsId {
            fstype,
            uuid: uuid_str(&sb[104..120]),
            label: cstr(&sb[120..136]),
        });
    }
    if head.len() >= 512 && &head[0..4] == b"XFSB" {
        return Some(FsId {
            fstype: "xfs",
            uuid: uuid_str(&head[32..48]),
            label: cstr(&head[108..120]),
        });
    }
    let b = 0x10000;
    if head.len() >= b + 0x12b + 256 && &head[b + 64..b + 72] == b"_BHRfS_M" {
        return Some(FsId {
            fstype: "btrfs",
            uuid: uuid_str(&head[b + 32..b + 48]),
            label: cstr(&head[b + 0x12b..b + 0x12b + 256]),
        });
    }
    None
}

/// Reads and probes the start of a device or image file.
pub fn probe_path(path: &Path) -> Option<FsId> {
    let f = std::fs::File::open(path).ok()?;
    let mut head = Vec::with_capacity(PROBE_LEN);
    f.take(PROBE_LEN as u64).read_to_end(&mut head).ok()?;
    probe(&head)
}

/// The block devices of the running system: /dev/NAME for every /sys/class/block/NAME.
pub fn block_devices() -> Vec<PathBuf> {
    block_devices_under(Path::new("/"))
}

/// The block devices under `root`'s /sys/class/block, as `root`/dev/NAME paths, sorted.
pub fn block_devices_under(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root.join("sys/class/block"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| root.join("dev").join(e.file_name()))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Finds the device `dev` names, probing `candidates` (usually [`block_devices`]) when the
/// /dev/disk links are missing.
pub fn resolve_device(dev: &Device, candidates: &[PathBuf]) -> Result<PathBuf, TargetError> {
    let (link_dir, want): (&str, &str) = match dev {
        Device::Path(p) => {
            let p = PathBuf::from(p);
            return if p.exists() {
                Ok(p)
            } else {
                Err(TargetError::NotFound(dev.to_string(), "the node".into()))
            };
        }
        Device::Label(l) => ("/dev/disk/by-label", l),
        Device::Uuid(u) => ("/dev/disk/by-uuid", u),
        Device::PartUuid(u) => ("/dev/disk/by-partuuid", u),
        Device::PartLabel(l) => ("/dev/disk/by-partlabel", l),
    };
    let link = Path::new(link_dir).join(want);
    if link.exists() {
        return Ok(link);
    }
    if matches!(dev, Device::PartUuid(_) | Device::PartLabel(_)) {
        return Err(TargetError::Unsupported(dev.to_string()));
    }
    for c in candidates {
        if let Some(id) = probe_path(c) {
            let hit = match dev {
                Device::Label(l) => id.label == *l,
                Device::Uuid(u) => id.uuid.eq_ignore_ascii_case(u),
                _ => false,
            };
            if hit {
                return Ok(c.clone());
            }
        }
    }
    let probed: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
    Err(TargetError::NotFound(dev.to_string(), probed.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ext4_superblock() {
        let mut h = vec![0u8; 4096];
        h[1024 + 56..1024 + 58].copy_from_slice(&0xEF53u16.to_le_bytes());
        h[1024 + 96] = 0x40; // extents
        h[1024 + 104..1024 + 120].copy_from_slice(&[
            0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8,
        ]);
        h[1024 + 120..1024 + 127].copy_from_slice(b"kdumpfs");
        let id = probe(&h).unwrap();
        assert_eq!(id.fstype, "ext4");
        assert_eq!(id.label, "kdumpfs");
        assert_eq!(id.uuid, "12345678-9abc-def0-0102-030405060708");
        h[1024 + 96] = 0;
        h[1024 + 92] = 4; // has_journal
        assert_eq!(probe(&h).unwrap().fstype, "ext3");
        assert_eq!(probe(&h[..100]), None);
        assert_eq!(probe(&[0u8; 8192]), None);
    }
}
