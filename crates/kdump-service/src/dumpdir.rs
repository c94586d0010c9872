//! The dump directory on a file-system target, created so that nothing can redirect it and
//! nobody else can read it: a vmcore holds every secret the crashed kernel held.
//!
//! - Every component under the target's mount point is opened relative to the one before
//!   (`openat`) with `O_NOFOLLOW`: a symbolic link planted in /var/crash is refused, not
//!   followed; `..` components are refused.
//! - Directories we create are mode 0700 and the dump directory must be new (an existing one
//!   of the same name is an error, never reused); files are created `O_EXCL | O_NOFOLLOW`,
//!   mode 0600. Modes are set on the open descriptor (`fchmod`), so the umask does not matter.
//! - Each new directory entry is made durable by `fsync` of its directory, with the error
//!   reported.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags};

/// A dump directory we created, held open.
#[derive(Debug)]
pub(crate) struct DumpDir {
    fd: OwnedFd,
    path: PathBuf,
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

fn errno_text(e: rustix::io::Errno) -> std::io::Error {
    std::io::Error::from(e)
}

/// The components of a path below a target, refusing `..`.
pub(crate) fn below(rel: &str) -> Result<Vec<&std::ffi::OsStr>, String> {
    let mut out = Vec::new();
    for c in Path::new(rel).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!(
                    "dump path {rel} has a `..` component: it would climb out of the dump target"
                ))
            }
            Component::Prefix(_) => return Err(format!("dump path {rel} is not a Unix path")),
        }
    }
    Ok(out)
}

impl DumpDir {
    /// Create the dump directory `rel` (relative to `root`, the target's mount point):
    /// missing parents are created 0700, the last component must not exist and is created
    /// 0700. No symbolic link below `root` is followed.
    pub(crate) fn create(root: &Path, rel: &str) -> Result<DumpDir, String> {
        let parts = below(rel)?;
        let (last, parents) = parts
            .split_last()
            .ok_or_else(|| format!("dump path {rel} names no directory"))?;
        let mut path = root.to_path_buf();
        // The mount point itself is the administrator's: it may be a link. A missing one
        // (a target root given as a plain directory) is created, 0700.
        if !root.exists() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root)
                .map_err(|e| format!("mkdir {}: {e}", root.display()))?;
        }
        let mut dir = rustix::fs::open(
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| format!("open {}: {}", root.display(), errno_text(e)))?;
        for name in parents {
            path.push(name);
            dir = match rustix::fs::openat(&dir, *name, dir_flags(), Mode::empty()) {
                Ok(fd) => fd,
                Err(rustix::io::Errno::NOENT) => make_dir(&dir, name, &path)?,
                Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => {
                    return Err(format!(
                    "{} is not a directory (a symbolic link is not followed under the dump target)",
                    path.display()
                ))
                }
                Err(e) => return Err(format!("open {}: {}", path.display(), errno_text(e))),
            };
        }
        path.push(last);
        let fd = match rustix::fs::mkdirat(&dir, *last, Mode::RWXU) {
            Ok(()) => open_new_dir(&dir, last, &path, true)?,
            Err(rustix::io::Errno::EXIST) => {
                return Err(format!(
                    "{} already exists: a dump directory is never reused",
                    path.display()
                ))
            }
            Err(e) => return Err(format!("mkdir {}: {}", path.display(), errno_text(e))),
        };
        Ok(DumpDir { fd, path })
    }

    /// The directory's path (for messages and the report).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Create the new file `name` in the directory, mode 0600, for reading and writing.
    pub(crate) fn create_file(&self, name: &str) -> Result<File, String> {
        let p = self.path.join(name);
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::RUSR | Mode::WUSR,
        )
        .map_err(|e| format!("create {}: {}", p.display(), errno_text(e)))?;
        rustix::fs::fchmod(&fd, Mode::RUSR | Mode::WUSR)
            .map_err(|e| format!("chmod 600 {}: {}", p.display(), errno_text(e)))?;
        Ok(File::from(fd))
    }

    /// Open the existing file `name` (written by a collector run as a program), narrow its
    /// mode to 0600 and `fsync` it. The descriptor is opened after the program wrote: a
    /// write-back error the program itself saw is its to report (its exit status); one
    /// nobody saw yet is reported here.
    pub(crate) fn sync_file(&self, name: &str) -> Result<(), String> {
        let p = self.path.join(name);
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| format!("open {}: {}", p.display(), errno_text(e)))?;
        rustix::fs::fchmod(&fd, Mode::RUSR | Mode::WUSR)
            .map_err(|e| format!("chmod 600 {}: {}", p.display(), errno_text(e)))?;
        rustix::fs::fsync(&fd).map_err(|e| format!("fsync {}: {}", p.display(), errno_text(e)))
    }

    /// The full path of `name` in the directory (for a collector run as a program).
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Rename `from` to `to` inside the directory; `to` must not exist.
    pub(crate) fn rename(&self, from: &str, to: &str) -> Result<(), String> {
        if rustix::fs::statat(&self.fd, to, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).is_ok() {
            return Err(format!("{} already exists", self.path.join(to).display()));
        }
        rustix::fs::renameat(&self.fd, from, &self.fd, to).map_err(|e| {
            format!(
                "rename {} to {to}: {}",
                self.path.join(from).display(),
                errno_text(e)
            )
        })
    }

    /// `fsync` the directory: its entries (a rename, a new file) reach the disk.
    pub(crate) fn sync(&self) -> Result<(), String> {
        rustix::fs::fsync(&self.fd)
            .map_err(|e| format!("fsync {}: {}", self.path.display(), errno_text(e)))
    }
}

/// `mkdir name` (0700) in `parent`, then open it: shared by parents and the dump directory.
fn make_dir(parent: &OwnedFd, name: &std::ffi::OsStr, path: &Path) -> Result<OwnedFd, String> {
    let ours = match rustix::fs::mkdirat(parent, name, Mode::RWXU) {
        Ok(()) => true,
        // Created by someone else meanwhile: open it as it is.
        Err(rustix::io::Errno::EXIST) => false,
        Err(e) => return Err(format!("mkdir {}: {}", path.display(), errno_text(e))),
    };
    open_new_dir(parent, name, path, ours)
}

/// Open the directory `name` just made in `parent`, set its mode to 0700 (when `ours`) and
/// make its entry durable.
fn open_new_dir(
    parent: &OwnedFd,
    name: &std::ffi::OsStr,
    path: &Path,
    ours: bool,
) -> Result<OwnedFd, String> {
    let fd = rustix::fs::openat(parent, name, dir_flags(), Mode::empty())
        .map_err(|e| format!("open {}: {}", path.display(), errno_text(e)))?;
    if ours {
        rustix::fs::fchmod(&fd, Mode::RWXU)
            .map_err(|e| format!("chmod 700 {}: {}", path.display(), errno_text(e)))?;
    }
    rustix::fs::fsync(parent.as_fd()).map_err(|e| {
        format!(
            "fsync the directory holding {}: {}",
            path.display(),
            errno_text(e)
        )
    })?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_at_a_dump_file_is_not_followed() {
        let t = std::env::temp_dir().join(format!("kdump-dumpdir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&t);
        std::fs::create_dir_all(&t).unwrap();
        let victim = t.join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let d = DumpDir::create(&t, "var/crash/x").unwrap();
        std::os::unix::fs::symlink(&victim, d.join("vmcore-incomplete")).unwrap();
        let e = d.create_file("vmcore-incomplete").unwrap_err();
        assert!(e.contains("File exists"), "{e}");
        // A collector program's output is opened without following links either.
        let e = d.sync_file("vmcore-incomplete").unwrap_err();
        assert!(e.contains("symbolic links"), "{e}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        // A pre-created file is not reused either.
        std::fs::write(d.join("vmcore-dmesg-incomplete.txt"), b"planted").unwrap();
        assert!(d.create_file("vmcore-dmesg-incomplete.txt").is_err());
        // The rename refuses to replace an entry.
        let f = d.create_file("a").unwrap();
        drop(f);
        std::fs::write(d.join("b"), b"").unwrap();
        assert!(d.rename("a", "b").unwrap_err().contains("already exists"));
        assert!(DumpDir::create(&t, "var/crash/x")
            .unwrap_err()
            .contains("never reused"));
        std::fs::remove_dir_all(&t).unwrap();
    }

    #[test]
    fn parent_components_are_refused() {
        assert!(below("/var/crash/x").is_ok());
        let e = below("/var/crash/../../etc").unwrap_err();
        assert!(e.contains("`..`"), "{e}");
    }
}
