//! Saving an edited configuration: the only part of this crate that touches the file system.
//!
//! [`write_atomic`] never leaves a half-written file behind: the new text goes to a temporary
//! file in the same directory, is flushed to disk (`fsync`), gets the permissions of the file
//! it replaces, and is renamed over it; the directory is then synced so the rename itself is
//! durable. A failure at any point (a full disk, an I/O error, the process killed) leaves the
//! original file as it was; the temporary file is removed when the failure is an error.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Document;

/// Why saving failed; the original file is unchanged.
#[derive(Debug, thiserror::Error)]
#[error("{}: {what}: {source}", path.display())]
pub struct SaveError {
    /// The file being written (the temporary file for the steps before the rename).
    pub path: PathBuf,
    /// The step that failed.
    pub what: &'static str,
    /// The cause.
    pub source: io::Error,
}

/// Replace `path` by `contents` atomically (see the [module](self) docs). A symbolic link at
/// `path` is followed: the file it points to is replaced, the link is kept.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), SaveError> {
    write_atomic_with(path, |f| f.write_all(contents))
}

impl Document {
    /// Save the document (with its edits) to `path` with [`write_atomic`].
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("kdump-conf-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("kdump.conf");
    /// std::fs::write(&path, "path /var/crash\ncore_collector makedumpfile -l -d 31\n").unwrap();
    /// let mut doc = kdump_conf::Document::parse(&std::fs::read_to_string(&path).unwrap());
    /// doc.set("path", "/srv/crash").unwrap();
    /// doc.save(&path).unwrap();
    /// assert_eq!(std::fs::read_to_string(&path).unwrap(),
    ///     "path /srv/crash\ncore_collector makedumpfile -l -d 31\n");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn save(&self, path: &Path) -> Result<(), SaveError> {
        write_atomic(path, self.to_string().as_bytes())
    }
}

/// [`write_atomic`] with the writing step given by the caller (tests inject failures here).
fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<(), SaveError> {
    let err = |path: &Path, what| {
        let path = path.to_path_buf();
        move |source| SaveError { path, what, source }
    };
    let target = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            fs::canonicalize(path).map_err(err(path, "resolving the symbolic link"))?
        }
        _ => path.to_path_buf(),
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target.file_name().ok_or_else(|| SaveError {
        path: target.clone(),
        what: "no file name",
        source: io::Error::from(io::ErrorKind::InvalidInput),
    })?;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let mut tmp_name = OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".tmp.{}.{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = dir.join(tmp_name);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(err(&tmp, "creating the temporary file"))?;
    let staged = (|| {
        write(&mut f).map_err(err(&tmp, "writing"))?;
        if let Ok(meta) = fs::metadata(&target) {
            f.set_permissions(meta.permissions())
                .map_err(err(&tmp, "copying permissions"))?;
        }
        f.sync_all().map_err(err(&tmp, "syncing"))
    })();
    drop(f);
    if let Err(e) = staged {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = fs::rename(&tmp, &target) {
        let _ = fs::remove_file(&tmp);
        return Err(err(&target, "renaming the temporary file over it")(e));
    }
    // The rename is durable once the directory is synced; the new content is in place either
    // way, so a directory that cannot be opened for syncing is not an error.
    if let Ok(d) = File::open(&dir) {
        d.sync_all().map_err(err(&dir, "syncing the directory"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kdump-conf-save-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    const OLD: &str = "path /var/crash\ncore_collector makedumpfile -l --message-level 7 -d 31\n";

    #[test]
    fn replaces_content_and_keeps_permissions() {
        let d = scratch("ok");
        let p = d.join("kdump.conf");
        fs::write(&p, OLD).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        let mut doc = Document::parse(OLD);
        doc.set("path", "/srv/crash").unwrap();
        doc.save(&p).unwrap();
        assert_eq!(
            fs::read_to_string(&p).unwrap(),
            OLD.replace("/var/crash", "/srv/crash")
        );
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(entries(&d), ["kdump.conf"], "no temporary file left");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn failure_mid_write_leaves_the_original() {
        let d = scratch("fail");
        let p = d.join("kdump.conf");
        fs::write(&p, OLD).unwrap();
        let new = OLD.replace("/var/crash", "/srv/crash");
        for errno in [28, 5] {
            // Half of the new text reaches the disk, then ENOSPC / EIO.
            let e = write_atomic_with(&p, |f| {
                f.write_all(&new.as_bytes()[..new.len() / 2])?;
                Err(io::Error::from_raw_os_error(errno))
            })
            .unwrap_err();
            assert_eq!(e.what, "writing");
            assert_eq!(e.source.raw_os_error(), Some(errno));
            assert_eq!(fs::read_to_string(&p).unwrap(), OLD, "original intact");
            assert_eq!(entries(&d), ["kdump.conf"], "temporary file removed");
        }
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn killed_mid_write_leaves_the_original() {
        // A panic in the middle of the write stands for the process dying there: nothing
        // cleans up, the half-written temporary file stays, the original is untouched and
        // the next save still works.
        let d = scratch("killed");
        let p = d.join("kdump.conf");
        fs::write(&p, OLD).unwrap();
        let r = std::panic::catch_unwind(|| {
            write_atomic_with(&p, |f| {
                f.write_all(b"path /sr")?;
                panic!("killed");
            })
        });
        assert!(r.is_err());
        assert_eq!(fs::read_to_string(&p).unwrap(), OLD);
        assert_eq!(entries(&d).len(), 2, "the temporary file is left behind");
        write_atomic(&p, b"path /srv/crash\n").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "path /srv/crash\n");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn follows_a_symbolic_link() {
        let d = scratch("link");
        let real = d.join("real.conf");
        let link = d.join("kdump.conf");
        fs::write(&real, OLD).unwrap();
        std::os::unix::fs::symlink("real.conf", &link).unwrap();
        write_atomic(&link, b"path /srv/crash\n").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), "path /srv/crash\n");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_file() {
        let e =
            write_atomic(Path::new("/nonexistent-kdump-conf-dir/kdump.conf"), b"x").unwrap_err();
        assert_eq!(e.what, "creating the temporary file");
        assert!(e.to_string().contains("/nonexistent-kdump-conf-dir/"));
    }
}
