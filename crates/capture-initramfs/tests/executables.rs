//! Executables with their libraries, against `ldd` (glibc's own loader) as the oracle, and
//! the image they make run in a chroot.

use capture_initramfs::{Compression, ExecFileKind, ImageBuilder, LibResolver};
use std::collections::BTreeSet;
use std::process::Command;

/// The absolute paths ldd prints for `exe`.
fn ldd(exe: &str) -> Option<BTreeSet<String>> {
    let out = Command::new("ldd").arg(exe).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter(|w| w.starts_with('/'))
            .map(String::from)
            .collect(),
    )
}

#[test]
fn libraries_match_ldd() {
    let lr = LibResolver::new("/");
    let mut checked = 0;
    for exe in [
        "/usr/bin/ssh",
        "/usr/sbin/kexec",
        "/usr/bin/makedumpfile",
        "/usr/bin/curl",
        "/bin/ls",
    ] {
        let Some(want) = ldd(exe) else { continue };
        let files = lr.resolve(exe, "test").unwrap();
        let paths: BTreeSet<String> = files.iter().map(|f| f.path.clone()).collect();
        for w in &want {
            assert!(paths.contains(w), "{exe}: ldd names {w}, we have {paths:?}");
        }
        // every symlink we keep leads to a file we keep
        for f in &files {
            if let ExecFileKind::Symlink(t) = &f.kind {
                let parent = std::path::Path::new(&f.path).parent().unwrap();
                let abs = if t.starts_with('/') {
                    t.clone()
                } else {
                    parent.join(t).to_string_lossy().into_owned()
                };
                let canon = std::fs::canonicalize(&abs).unwrap();
                assert!(files.iter().any(|g| matches!(&g.kind, ExecFileKind::File(h) if std::fs::canonicalize(h).unwrap() == canon)), "{f:?}");
            }
        }
        checked += 1;
    }
    assert!(
        checked > 0,
        "no dynamic executable found to compare with ldd"
    );
}

#[test]
fn image_runs_in_a_chroot() {
    let Some(want) = ldd("/bin/ls") else { return };
    assert!(!want.is_empty());
    let mut b = ImageBuilder::new();
    b.add_executable("/bin/ls", "test").unwrap();
    let image = b.to_bytes(Compression::None).unwrap();
    let d = tempfile::tempdir().unwrap();
    let mut child = match Command::new("cpio")
        .args(["-id", "--quiet"])
        .current_dir(d.path())
        .stdin(std::process::Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(_) => return,
    };
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&image).unwrap();
    assert!(child.wait().unwrap().success());
    let out = Command::new("chroot")
        .arg(d.path())
        .args(["/bin/ls", "/"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chroot ls: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.lines().any(|l| l == "bin"), "{listing}");
}

#[test]
fn static_binary_is_just_the_file() {
    if !std::path::Path::new("/bin/busybox").exists() {
        return;
    }
    let files = LibResolver::new("/").resolve("/bin/busybox", "t").unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
}
