//! cpio "newc" (SVR4 without CRC, magic `070701`): the format the kernel unpacks as initramfs.
//!
//! A record is a 110-byte ASCII header (13 eight-digit hex fields after the magic), the NUL
//! terminated name padded to 4 bytes, then the data padded to 4 bytes. The archive ends with a
//! record named `TRAILER!!!`.
//!
//! [`Archive`] keeps members sorted by path and writes them deterministically: inode numbers in
//! order from 1, the given mtime, uid/gid 0, parents created as directories. [`CpioWriter`]
//! writes records in the order given. [`read_archive`] reads any newc archive (our own output
//! and others') within [`ReadLimits`] and never panics.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::io::Write;

/// The newc magic.
pub const MAGIC: &[u8; 6] = b"070701";
/// The newc-with-checksum magic (read, never written).
pub const MAGIC_CRC: &[u8; 6] = b"070702";
/// The name of the last record.
pub const TRAILER: &str = "TRAILER!!!";
/// Longest path accepted (bytes, without the NUL), as the kernel's PATH_MAX.
pub const MAX_PATH: usize = 4095;
/// Largest member: the header's size field has 32 bits.
pub const MAX_MEMBER: u64 = u32::MAX as u64;
const HEADER: usize = 110;

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;
const S_IFBLK: u32 = 0o060000;
const S_IFMT: u32 = 0o170000;

/// What an archive member is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory.
    Dir,
    /// A regular file with its bytes.
    File(Vec<u8>),
    /// A symbolic link to the target text.
    Symlink(String),
    /// A character device node.
    CharDevice {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
    /// A block device node.
    BlockDevice {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
}

impl Node {
    /// The file-type bits (`S_IFMT` part of st_mode).
    pub fn type_bits(&self) -> u32 {
        match self {
            Node::Dir => S_IFDIR,
            Node::File(_) => S_IFREG,
            Node::Symlink(_) => S_IFLNK,
            Node::CharDevice { .. } => S_IFCHR,
            Node::BlockDevice { .. } => S_IFBLK,
        }
    }

    /// The record's data: file bytes or symlink target.
    pub fn data(&self) -> &[u8] {
        match self {
            Node::File(d) => d,
            Node::Symlink(t) => t.as_bytes(),
            _ => &[],
        }
    }

    /// One-word kind, as `--list` prints it.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Dir => "dir",
            Node::File(_) => "file",
            Node::Symlink(_) => "symlink",
            Node::CharDevice { .. } => "chardev",
            Node::BlockDevice { .. } => "blockdev",
        }
    }
}

/// Check and normalise a path inside the image: no leading `/`, no empty, `.` or `..`
/// component, no NUL, at most [`MAX_PATH`] bytes.
///
/// ```
/// assert_eq!(capture_initramfs::normalize_path("/usr//bin/ssh").unwrap(), "usr/bin/ssh");
/// assert!(capture_initramfs::normalize_path("/usr/../etc").is_err());
/// ```
pub fn normalize_path(path: &str) -> Result<String> {
    let bad = |why| Error::BadPath {
        path: path.chars().take(200).collect(),
        why,
    };
    if path.contains('\0') {
        return Err(bad("contains NUL"));
    }
    let mut out = String::with_capacity(path.len().min(MAX_PATH));
    for part in path.split('/').filter(|p| !p.is_empty()) {
        if part == "." || part == ".." {
            return Err(bad("has a `.` or `..` component"));
        }
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(part);
        if out.len() > MAX_PATH {
            return Err(bad("longer than 4095 bytes"));
        }
    }
    if out.is_empty() {
        return Err(bad("is empty (the root is implicit)"));
    }
    if out == TRAILER {
        return Err(bad("is the trailer's name"));
    }
    Ok(out)
}

/// Writes newc records in the order given; [`CpioWriter::finish`] appends the trailer.
///
/// Inode numbers count from 1, uid and gid are 0, every record has the same mtime.
pub struct CpioWriter<W: Write> {
    out: W,
    ino: u32,
    written: u64,
    mtime: u32,
}

impl<W: Write> CpioWriter<W> {
    /// Start an archive whose records all carry `mtime` (seconds since the epoch; 0 for
    /// reproducible images, or a SOURCE_DATE_EPOCH-like value).
    pub fn new(out: W, mtime: u32) -> Self {
        CpioWriter {
            out,
            ino: 1,
            written: 0,
            mtime,
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    fn put(&mut self, b: &[u8]) -> Result<()> {
        self.out.write_all(b).map_err(Error::Write)?;
        self.written += b.len() as u64;
        Ok(())
    }

    fn pad4(&mut self) -> Result<()> {
        let pad = ((4 - self.written % 4) % 4) as usize;
        self.put(&[0u8; 3][..pad])
    }

    fn record(
        &mut self,
        name: &str,
        mode: u32,
        nlink: u32,
        rdev: (u32, u32),
        data: &[u8],
    ) -> Result<()> {
        let size = u32::try_from(data.len()).map_err(|_| {
            Error::limit(format!("cpio member {name}"), data.len() as u64, MAX_MEMBER)
        })?;
        if name.len() > MAX_PATH {
            return Err(Error::limit(
                "cpio name length",
                name.len() as u64,
                MAX_PATH as u64,
            ));
        }
        let namesize = name.len() as u32 + 1;
        let ino = self.ino;
        self.ino = self.ino.wrapping_add(1);
        let (rmaj, rmin) = rdev;
        let mtime = self.mtime;
        // magic ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor
        // namesize check
        let header = format!(
            "070701{ino:08x}{mode:08x}{:08x}{:08x}{nlink:08x}{mtime:08x}{size:08x}{:08x}{:08x}{rmaj:08x}{rmin:08x}{namesize:08x}{:08x}",
            0, 0, 0, 0, 0
        );
        self.put(header.as_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad4()?;
        self.put(data)?;
        self.pad4()
    }

    /// Append one member. `path` is normalised with [`normalize_path`]; `perm` keeps only
    /// its low 12 bits (symlinks are always 0777).
    pub fn add(&mut self, path: &str, perm: u32, node: &Node) -> Result<()> {
        let path = normalize_path(path)?;
        let perm = match node {
            Node::Symlink(_) => 0o777,
            _ => perm & 0o7777,
        };
        let (nlink, rdev) = match node {
            Node::Dir => (2, (0, 0)),
            Node::CharDevice { major, minor } | Node::BlockDevice { major, minor } => {
                (1, (*major, *minor))
            }
            _ => (1, (0, 0)),
        };
        self.record(&path, node.type_bits() | perm, nlink, rdev, node.data())
    }

    /// Write the `TRAILER!!!` record and return the inner writer.
    pub fn finish(mut self) -> Result<W> {
        self.record(TRAILER, 0, 1, (0, 0), &[])?;
        self.out.flush().map_err(Error::Write)?;
        Ok(self.out)
    }
}

/// A set of members kept sorted by path, written deterministically.
///
/// Adding a path creates its missing parents as 0755 directories. Adding the same path again
/// with the same node and mode is a no-op; with a different one it is an [`Error::Conflict`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Archive {
    members: BTreeMap<String, (u32, Node)>,
    bytes: u64,
}

/// Bound on the sum of member sizes held by one [`Archive`] (4 GiB).
pub const MAX_ARCHIVE_DATA: u64 = 4 << 30;

impl Archive {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add (or confirm) a member. Returns the normalised path.
    pub fn insert(&mut self, path: &str, perm: u32, node: Node) -> Result<String> {
        let path = normalize_path(path)?;
        let perm = match node {
            Node::Symlink(_) => 0o777,
            _ => perm & 0o7777,
        };
        if let Some((p, n)) = self.members.get(&path) {
            if *p == perm && *n == node {
                return Ok(path);
            }
            if matches!((n, &node), (Node::Dir, Node::Dir)) {
                // a directory made as a parent first, then given its own mode
                self.members.insert(path.clone(), (perm, node));
                return Ok(path);
            }
            return Err(Error::Conflict {
                path,
                first: format!("{} {:o}", n.kind(), p),
                second: format!("{} {:o}", node.kind(), perm),
            });
        }
        let len = node.data().len() as u64;
        if len > MAX_MEMBER {
            return Err(Error::limit(
                format!("image member {path}"),
                len,
                MAX_MEMBER,
            ));
        }
        let total = self.bytes.saturating_add(len);
        if total > MAX_ARCHIVE_DATA {
            return Err(Error::limit("image data", total, MAX_ARCHIVE_DATA));
        }
        self.make_parents(&path)?;
        self.bytes = total;
        self.members.insert(path.clone(), (perm, node));
        Ok(path)
    }

    fn make_parents(&mut self, path: &str) -> Result<()> {
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            let parent = &path[..end + i];
            match self.members.get(parent) {
                None => {
                    self.members.insert(parent.to_string(), (0o755, Node::Dir));
                }
                Some((_, Node::Dir)) => {}
                Some((_, other)) => {
                    return Err(Error::Conflict {
                        path: parent.to_string(),
                        first: other.kind().to_string(),
                        second: format!("parent directory of {path}"),
                    })
                }
            }
            end += i + 1;
        }
        Ok(())
    }

    /// Remove a member (not its children); returns whether it was there.
    pub fn remove(&mut self, path: &str) -> bool {
        let Ok(p) = normalize_path(path) else {
            return false;
        };
        match self.members.remove(&p) {
            Some((_, n)) => {
                self.bytes = self.bytes.saturating_sub(n.data().len() as u64);
                true
            }
            None => false,
        }
    }

    /// The member at `path` (normalised), if any: (permission bits, node).
    pub fn get(&self, path: &str) -> Option<(u32, &Node)> {
        let p = normalize_path(path).ok()?;
        self.members.get(&p).map(|(m, n)| (*m, n))
    }

    /// Members in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u32, &Node)> {
        self.members.iter().map(|(p, (m, n))| (p.as_str(), *m, n))
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Write all members in path order, then the trailer; every record gets `mtime`.
    pub fn write<W: Write>(&self, out: W, mtime: u32) -> Result<W> {
        let mut w = CpioWriter::new(out, mtime);
        for (path, (perm, node)) in &self.members {
            w.add(path, *perm, node)?;
        }
        w.finish()
    }

    /// The uncompressed archive as bytes.
    pub fn to_bytes(&self, mtime: u32) -> Result<Vec<u8>> {
        self.write(Vec::new(), mtime)
    }
}

/// Bounds for [`read_archive`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Most records read (the trailer not counted).
    pub max_entries: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_entries: 1_000_000,
        }
    }
}

/// One record read back from an archive; `data` borrows the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// Offset of the record's header in the input.
    pub offset: u64,
    /// Name as stored (lossy UTF-8).
    pub path: String,
    /// Inode number.
    pub ino: u32,
    /// Full st_mode (type and permission bits).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Link count.
    pub nlink: u32,
    /// Modification time.
    pub mtime: u32,
    /// Device major of a device node.
    pub rdev_major: u32,
    /// Device minor of a device node.
    pub rdev_minor: u32,
    /// File bytes or symlink target.
    pub data: &'a [u8],
}

impl Record<'_> {
    /// The member as a [`Node`], or `None` for a type we do not write (FIFO, socket).
    pub fn node(&self) -> Option<Node> {
        let (major, minor) = (self.rdev_major, self.rdev_minor);
        Some(match self.mode & S_IFMT {
            S_IFDIR => Node::Dir,
            S_IFREG => Node::File(self.data.to_vec()),
            S_IFLNK => Node::Symlink(String::from_utf8_lossy(self.data).into_owned()),
            S_IFCHR => Node::CharDevice { major, minor },
            S_IFBLK => Node::BlockDevice { major, minor },
            _ => return None,
        })
    }

    /// Permission bits.
    pub fn perm(&self) -> u32 {
        self.mode & 0o7777
    }
}

fn hex_field(bytes: &[u8], offset: u64, name: &str) -> Result<u32> {
    let mut v: u32 = 0;
    for &b in bytes {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => {
                return Err(Error::Cpio {
                    offset,
                    what: format!("field {name} is not 8 hex digits"),
                })
            }
        };
        v = (v << 4) | u32::from(d);
    }
    Ok(v)
}

fn pad4(x: usize) -> usize {
    x.saturating_add(3) & !3
}

/// Read the records of a newc archive (uncompressed) up to its trailer. Zero bytes before
/// a header are skipped (the kernel allows padding between concatenated archives). Data past
/// the trailer is ignored. Never panics; every malformed record is an [`Error::Cpio`] with
/// its offset.
pub fn read_archive<'a>(bytes: &'a [u8], limits: &ReadLimits) -> Result<Vec<Record<'a>>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    loop {
        while bytes.get(pos..pos.saturating_add(4)) == Some(&[0u8; 4][..]) {
            pos += 4;
        }
        let off = pos as u64;
        let Some(head) = bytes.get(pos..pos.saturating_add(HEADER)) else {
            return Err(Error::Cpio {
                offset: off,
                what: "archive ends before a TRAILER!!! record".into(),
            });
        };
        if &head[..6] != MAGIC && &head[..6] != MAGIC_CRC {
            return Err(Error::Cpio {
                offset: off,
                what: "expected magic 070701 (newc)".into(),
            });
        }
        let f = |i: usize, name: &str| hex_field(&head[6 + 8 * i..14 + 8 * i], off, name);
        let ino = f(0, "ino")?;
        let mode = f(1, "mode")?;
        let uid = f(2, "uid")?;
        let gid = f(3, "gid")?;
        let nlink = f(4, "nlink")?;
        let mtime = f(5, "mtime")?;
        let filesize = f(6, "filesize")? as usize;
        let rdev_major = f(9, "rdevmajor")?;
        let rdev_minor = f(10, "rdevminor")?;
        let namesize = f(11, "namesize")? as usize;
        if namesize == 0 || namesize > MAX_PATH + 1 {
            return Err(Error::Cpio {
                offset: off,
                what: format!("name size {namesize} is not in 1..=4096"),
            });
        }
        let name_start = pos + HEADER;
        let name = bytes
            .get(name_start..name_start + namesize)
            .ok_or_else(|| Error::Cpio {
                offset: off,
                what: "name runs past the end".into(),
            })?;
        if name[namesize - 1] != 0 {
            return Err(Error::Cpio {
                offset: off,
                what: "name is not NUL-terminated".into(),
            });
        }
        let name = &name[..namesize - 1];
        let data_start = pad4(name_start + namesize);
        let data = data_start
            .checked_add(filesize)
            .and_then(|end| bytes.get(data_start..end))
            .ok_or_else(|| Error::Cpio {
                offset: off,
                what: format!("data of {filesize} bytes runs past the end"),
            })?;
        pos = pad4(data_start + filesize);
        if name == TRAILER.as_bytes() {
            return Ok(out);
        }
        if out.len() >= limits.max_entries {
            return Err(Error::limit(
                "cpio records",
                out.len() as u64 + 1,
                limits.max_entries as u64,
            ));
        }
        out.push(Record {
            offset: off,
            path: String::from_utf8_lossy(name).into_owned(),
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            rdev_major,
            rdev_minor,
            data,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_newc() {
        let mut a = Archive::new();
        a.insert("/init", 0o755, Node::File(b"hi\n".to_vec()))
            .unwrap();
        let out = a.to_bytes(0).unwrap();
        assert_eq!(&out[..6], b"070701");
        assert_eq!(&out[110..115], b"init\0");
        assert_eq!(&out[116..119], b"hi\n");
        assert_eq!(out.len() % 4, 0);
        let field = |i: usize| {
            u32::from_str_radix(
                std::str::from_utf8(&out[6 + 8 * i..14 + 8 * i]).unwrap(),
                16,
            )
            .unwrap()
        };
        assert_eq!(field(0), 1, "ino");
        assert_eq!(field(1), 0o100755, "mode");
        assert_eq!(field(6), 3, "size");
        assert_eq!(&out[120..126], b"070701");
        assert_eq!(&out[120 + 110..120 + 120], b"TRAILER!!!");
    }

    #[test]
    fn parents_devices_and_readback() {
        let mut a = Archive::new();
        a.insert(
            "dev/console",
            0o600,
            Node::CharDevice { major: 5, minor: 1 },
        )
        .unwrap();
        a.insert("usr/bin/x", 0o755, Node::File(vec![1, 2, 3, 4, 5]))
            .unwrap();
        a.insert("bin", 0o777, Node::Symlink("usr/bin".into()))
            .unwrap();
        let bytes = a.to_bytes(1234).unwrap();
        let r = read_archive(&bytes, &ReadLimits::default()).unwrap();
        let names: Vec<_> = r.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(
            names,
            ["bin", "dev", "dev/console", "usr", "usr/bin", "usr/bin/x"]
        );
        let inos: Vec<_> = r.iter().map(|r| r.ino).collect();
        assert_eq!(inos, [1, 2, 3, 4, 5, 6]);
        assert!(r
            .iter()
            .all(|r| r.mtime == 1234 && r.uid == 0 && r.gid == 0));
        assert_eq!(r[2].node(), Some(Node::CharDevice { major: 5, minor: 1 }));
        assert_eq!(r[2].mode, 0o020600);
        assert_eq!(r[0].node(), Some(Node::Symlink("usr/bin".into())));
        assert_eq!(r[5].data, &[1, 2, 3, 4, 5]);
        assert_eq!(r[1].mode, 0o040755);
    }

    #[test]
    fn conflicts_and_bad_paths() {
        let mut a = Archive::new();
        a.insert("a/b", 0o644, Node::File(vec![1])).unwrap();
        a.insert("a/b", 0o644, Node::File(vec![1])).unwrap();
        assert!(matches!(
            a.insert("a/b", 0o644, Node::File(vec![2])),
            Err(Error::Conflict { .. })
        ));
        assert!(matches!(
            a.insert("a/b/c", 0o644, Node::Dir),
            Err(Error::Conflict { .. })
        ));
        a.insert("a", 0o700, Node::Dir).unwrap();
        assert_eq!(a.get("a"), Some((0o700, &Node::Dir)));
        for bad in ["", "/", "a/../b", "./x", "a\0b", "TRAILER!!!"] {
            assert!(
                matches!(normalize_path(bad), Err(Error::BadPath { .. })),
                "{bad:?}"
            );
        }
        assert!(normalize_path(&"x/".repeat(3000)).is_err());
    }

    #[test]
    fn reader_rejects_truncation_everywhere() {
        let mut a = Archive::new();
        a.insert("x/y", 0o644, Node::File(vec![9; 33])).unwrap();
        let bytes = a.to_bytes(0).unwrap();
        for cut in 0..bytes.len() {
            assert!(
                read_archive(&bytes[..cut], &ReadLimits::default()).is_err(),
                "cut {cut}"
            );
        }
        assert!(read_archive(&bytes, &ReadLimits { max_entries: 1 }).is_err());
        assert_eq!(
            read_archive(&bytes, &ReadLimits { max_entries: 2 })
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn host_cpio_reads_it() {
        let Ok(mut child) = std::process::Command::new("cpio")
            .args(["-t", "-v", "--quiet"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        else {
            test_skip::skip(
                "host_cpio_reads_it",
                "no cpio (cargo xtask setup installs it)",
            );
            return;
        };
        let mut a = Archive::new();
        a.insert("bin/a", 0o644, Node::File(vec![7; 1001])).unwrap();
        a.insert("bin/b", 0, Node::Symlink("a".into())).unwrap();
        a.insert("dev/null", 0o666, Node::CharDevice { major: 1, minor: 3 })
            .unwrap();
        let out = a.to_bytes(0).unwrap();
        child.stdin.take().unwrap().write_all(&out).unwrap();
        let listing = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
        assert!(listing.contains("1001"), "{listing}");
        assert!(listing.contains("bin/b -> a"), "{listing}");
        assert!(
            listing.lines().any(|l| l.starts_with("crw-rw-rw-")
                && l.contains("1,   3")
                && l.ends_with("dev/null")),
            "{listing}"
        );
    }
}
