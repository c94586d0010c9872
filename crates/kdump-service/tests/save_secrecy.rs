//! Secrecy of a dump on a file-system target (issue 19): the dump directory is 0700 and
//! every file in it 0600 whatever the umask; a symbolic link or a directory planted at the
//! dump path is refused, not followed or reused; `path` values with `..` are refused.
//! One test function: the umask is per process.

use kdump_service::save::{save, SaveOptions};
use rustix::fs::Mode;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kdump-secrecy-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn plan(conf: &str) -> kdump_conf::Plan {
    kdump_conf::plan(&kdump_conf::check(conf).config)
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn when() -> kdump_conf::Timestamp {
    kdump_conf::Timestamp::from_unix(1_700_000_000)
}

fn opts(vmcore: &Path, root: &Path) -> SaveOptions {
    SaveOptions {
        vmcore: vmcore.to_path_buf(),
        target_root: Some(root.to_path_buf()),
        no_action: true,
        host: Some("127.0.0.1".into()),
        time: Some(when()),
        ..SaveOptions::default()
    }
}

#[test]
fn modes_links_and_parent_components() {
    let t = scratch("all");
    let vmcore = t.join("vmcore.in");
    std::fs::write(&vmcore, b"secret kernel memory\n".repeat(64)).unwrap();
    // `cp` is run as a program (it creates the file with the umask's mode); dmesg of this
    // input fails, so only the dump is written.
    let p = plan("path /var/crash\ncore_collector cp\n");
    let rel = p.dump_dir("127.0.0.1", &when()).unwrap();
    let rel = rel.trim_start_matches('/');
    for umask in [0o000, 0o077, 0o022] {
        let old = rustix::process::umask(Mode::from_raw_mode(umask));
        let root = t.join(format!("umask-{umask:03o}"));
        std::fs::create_dir_all(&root).unwrap();
        let r = save(&p, &opts(&vmcore, &root));
        rustix::process::umask(old);
        assert_eq!(r.error, None, "umask {umask:03o}");
        let crash = root.join("var/crash");
        let dir = root.join(rel);
        // Directories we created: 0700; the dump: 0600.
        assert_eq!(mode(&root.join("var")), 0o700, "umask {umask:03o}: var");
        assert_eq!(mode(&crash), 0o700, "umask {umask:03o}: var/crash");
        assert_eq!(mode(&dir), 0o700, "umask {umask:03o}: dump dir");
        assert_eq!(
            mode(&dir.join("vmcore")),
            0o600,
            "umask {umask:03o}: vmcore"
        );
        eprintln!(
            "umask {umask:03o}: var {:o}, var/crash {:o}, dump dir {:o}, vmcore {:o}",
            mode(&root.join("var")),
            mode(&crash),
            mode(&dir),
            mode(&dir.join("vmcore"))
        );
        // The same dump directory again: refused, not reused.
        let r = save(&p, &opts(&vmcore, &root));
        let e = r
            .error
            .clone()
            .expect("an existing dump directory was reused");
        assert!(e.contains("already exists"), "{e}");
        assert_eq!(r.exit_code(), 1);
    }

    // A symbolic link planted at the dump directory's path, and at /var/crash.
    let elsewhere = t.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let root = t.join("link-at-dump-dir");
    std::fs::create_dir_all(root.join("var/crash")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.join(rel)).unwrap();
    let r = save(&p, &opts(&vmcore, &root));
    let e = r.error.expect("a planted link was followed");
    assert!(e.contains("already exists"), "{e}");
    let root = t.join("link-at-var-crash");
    std::fs::create_dir_all(root.join("var")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.join("var/crash")).unwrap();
    let r = save(&p, &opts(&vmcore, &root));
    let e = r.error.expect("a planted link was followed");
    assert!(e.contains("symbolic link is not followed"), "{e}");
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "written through the link"
    );
    // A file planted at the dump directory's path.
    let root = t.join("file-at-dump-dir");
    std::fs::create_dir_all(root.join("var/crash")).unwrap();
    std::fs::write(root.join(rel), b"planted").unwrap();
    let r = save(&p, &opts(&vmcore, &root));
    assert!(r.error.unwrap().contains("already exists"));

    // `path ../../etc`: refused by the check and again by save, nothing written outside.
    let c = kdump_conf::check("path ../../etc\ncore_collector cp\n");
    assert!(!c.is_valid());
    let root = t.join("escape/target");
    std::fs::create_dir_all(&root).unwrap();
    let r = save(
        &plan("path ../../etc\ncore_collector cp\n"),
        &opts(&vmcore, &root),
    );
    let e = r.error.expect("a path out of the target was used");
    assert!(e.contains("`..`"), "{e}");
    assert_eq!(std::fs::read_dir(t.join("escape")).unwrap().count(), 1);
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);
    assert!(!t.join("etc").exists());
    let _ = std::fs::remove_dir_all(&t);
}
