//! `kdump save` on the host, on the real 6.1 vmcore fixture: a file-system target (an
//! already-mounted directory), a raw target (a plain file), an ssh target (an sshd started here
//! on 127.0.0.1 with its own keys and config), a full file system (a small tmpfs) that leaves a
//! readable `vmcore-incomplete` and runs the failure action, kdump_pre/kdump_post statuses;
//! LABEL=/UUID= resolution on an mkfs.ext4 image. Pages are compared with makedumpfile's
//! reference dump of the same vmcore. Tests skip (`test_skip`: a failure under
//! `KDUMP_RS_NO_SKIP=1`, as in `cargo xtask test`) when the fixtures (or sshd, or root for
//! tmpfs) are absent.

mod common;

use common::TempRoot;
use kdump_compressed::read::{Bitmap, KdumpFile, PageState};
use kdump_service::save::{save, SaveOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

struct Fixture {
    vmcore: PathBuf,
    d31_lzo: PathBuf,
}

/// The kdump-6.1 fixture, or a skip for `test`.
fn fixture(test: &str) -> Option<Fixture> {
    find_fixture()
        .map_err(|why| test_skip::skip(test, why))
        .ok()
}

fn find_fixture() -> Result<Fixture, String> {
    let dir = std::env::var_os("KDUMP_RS_FIXTURES")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/kdump-rs/fixtures"))
        })
        .ok_or("neither KDUMP_RS_FIXTURES nor HOME is set")?;
    let manifest = dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).map_err(|e| {
        format!(
            "no fixture manifest at {} ({e}; run `cargo xtask fixtures`)",
            manifest.display()
        )
    })?;
    let m: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let f = m["fixtures"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["name"] == "kdump-6.1")
        .ok_or_else(|| format!("{} lists no kdump-6.1 fixture", manifest.display()))?;
    let refpath = f["references"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["name"] == "d31-lzo")
        .and_then(|r| r["path"].as_str())
        .ok_or_else(|| format!("{}: kdump-6.1 has no d31-lzo reference", manifest.display()))?;
    let vmcore = f["vmcore"]
        .as_str()
        .ok_or_else(|| format!("{}: kdump-6.1 has no vmcore", manifest.display()))?;
    Ok(Fixture {
        vmcore: dir.join(vmcore),
        d31_lzo: dir.join(refpath),
    })
}

fn plan(conf: &str) -> kdump_conf::Plan {
    let c = kdump_conf::check(conf);
    assert!(c.is_valid(), "{conf}: {:?}", c.diagnostics);
    kdump_conf::plan(&c.config)
}

fn opts(f: &Fixture) -> SaveOptions {
    SaveOptions {
        vmcore: f.vmcore.clone(),
        no_action: true,
        host: Some("127.0.0.1".into()),
        ..SaveOptions::default()
    }
}

/// Pages dumped in `a` and in `b` (both must have the same set), all equal.
fn same_pages(a: &Path, b: &Path) {
    let fa = KdumpFile::open(a).unwrap();
    let fb = KdumpFile::open(b).unwrap();
    let ps = fa.page_size();
    let (mut x, mut y) = (vec![0u8; ps], vec![0u8; ps]);
    let mut n = 0;
    for pfn in fa.iter_bitmap(Bitmap::Dumped) {
        let pfn = pfn.unwrap();
        assert!(
            fb.bit(Bitmap::Dumped, pfn).unwrap(),
            "pfn {pfn:#x} only in {}",
            a.display()
        );
        assert_eq!(fa.read_page(pfn, &mut x).unwrap(), PageState::Data);
        assert_eq!(fb.read_page(pfn, &mut y).unwrap(), PageState::Data);
        assert!(x == y, "pfn {pfn:#x} differs");
        n += 1;
    }
    assert_eq!(n, fb.dumped_pages(), "{} has more pages", b.display());
    assert!(n > 1000);
}

fn only_dir(p: &Path) -> PathBuf {
    let v: Vec<PathBuf> = std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(v.len(), 1, "{v:?}");
    v[0].clone()
}

#[test]
fn fs_target_complete_dump_and_dmesg() {
    let Some(f) = fixture("fs_target_complete_dump_and_dmesg") else {
        return;
    };
    let t = TempRoot::new("e2e-fs");
    let p = plan("ext4 LABEL=kdumpfs\npath /var/crash\ncore_collector makedumpfile -l --message-level 7 -d 31\nfinal_action poweroff\n");
    let mut o = opts(&f);
    o.target_root = Some(t.path().to_path_buf());
    let r = save(&p, &o);
    assert_eq!(r.error, None);
    assert_eq!(r.exit_code(), 0);
    assert!(r.action.starts_with("poweroff"), "{}", r.action);
    let dir = only_dir(&t.path().join("var/crash"));
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("127.0.0.1-20"), "{name}");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["vmcore", "vmcore-dmesg.txt"]);
    let ref_dmesg = f.d31_lzo.with_file_name("dmesg.txt");
    if ref_dmesg.exists() {
        assert_eq!(
            std::fs::read(dir.join("vmcore-dmesg.txt")).unwrap(),
            std::fs::read(ref_dmesg).unwrap()
        );
    }
    assert!(!KdumpFile::open(dir.join("vmcore")).unwrap().is_incomplete());
    same_pages(&dir.join("vmcore"), &f.d31_lzo);
}

#[test]
fn other_collector_is_spawned() {
    let t = TempRoot::new("e2e-cp");
    let src = t.put("/fake-vmcore", b"0123456789".repeat(1000));
    let p = plan("path /var/crash\ncore_collector cp\n");
    let o = SaveOptions {
        vmcore: src.clone(),
        no_action: true,
        target_root: Some(t.path().join("root")),
        ..SaveOptions::default()
    };
    let r = save(&p, &o);
    assert_eq!(r.error, None);
    assert!(r.outcome.is_none() && !r.dmesg_saved);
    let dir = only_dir(&t.path().join("root/var/crash"));
    assert_eq!(
        std::fs::read(dir.join("vmcore")).unwrap(),
        std::fs::read(&src).unwrap()
    );
    assert!(!dir.join("vmcore-incomplete").exists());
    // a collector that fails leaves no `vmcore`
    let p = plan("path /var/crash2\ncore_collector false\n");
    let r = save(&p, &o);
    assert_eq!(r.exit_code(), 1);
    assert!(r.error.unwrap().contains("false failed"));
}

#[test]
fn raw_target_is_a_flattened_stream() {
    let Some(f) = fixture("raw_target_is_a_flattened_stream") else {
        return;
    };
    let t = TempRoot::new("e2e-raw");
    let dev = t.path().join("rawdev");
    std::fs::write(&dev, vec![0u8; 4096]).unwrap();
    let p = plan(&format!("raw {}\n", dev.display()));
    let r = save(&p, &opts(&f));
    assert_eq!(r.error, None);
    let kd = KdumpFile::open(&dev).unwrap();
    assert!(kd.is_flattened());
    same_pages(&dev, &f.d31_lzo);
}

#[test]
fn pre_hook_failure_skips_dump_post_gets_status() {
    let Some(f) = fixture("pre_hook_failure_skips_dump_post_gets_status") else {
        return;
    };
    let t = TempRoot::new("e2e-hooks");
    let pre = t.put("/pre.sh", "#!/bin/sh\nexit 3\n");
    let post_out = t.path().join("post.out");
    let post = t.put(
        "/post.sh",
        format!("#!/bin/sh\necho \"$1\" > {}\n", post_out.display()),
    );
    for s in [&pre, &post] {
        Command::new("chmod").arg("755").arg(s).status().unwrap();
    }
    let root = t.path().join("root");
    let mut o = opts(&f);
    o.target_root = Some(root.clone());
    let p = plan(&format!(
        "path /var/crash\nkdump_pre {}\nkdump_post {}\n",
        pre.display(),
        post.display()
    ));
    let r = save(&p, &o);
    assert!(r.pre_failed);
    assert_eq!(r.exit_code(), 1);
    assert!(r.error.as_deref().unwrap().contains("status 3"));
    assert!(
        !root.exists(),
        "nothing may be saved after kdump_pre failed"
    );
    assert!(r.action.starts_with("reboot"), "final action: {}", r.action);
    // A failing dump (missing input) gives kdump_post status 1.
    let p = plan(&format!(
        "path /var/crash\nkdump_post {}\nfailure_action halt\n",
        post.display()
    ));
    o.vmcore = t.path().join("no-such-vmcore");
    let r = save(&p, &o);
    assert_eq!(r.exit_code(), 1);
    assert_eq!(std::fs::read_to_string(&post_out).unwrap().trim(), "1");
    assert!(r.action.starts_with("halt"), "{}", r.action);
}

struct Tmpfs(PathBuf);
impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn full_file_system_leaves_incomplete_dump_and_runs_failure_action() {
    let Some(f) = fixture("full_file_system_leaves_incomplete_dump_and_runs_failure_action") else {
        return;
    };
    let t = TempRoot::new("e2e-full");
    let mnt = t.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=6m", "kdumprs-test"])
        .arg(&mnt)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return test_skip::skip(
            "full_file_system_leaves_incomplete_dump_and_runs_failure_action",
            "cannot mount a tmpfs (not root?)",
        );
    }
    let _guard = Tmpfs(mnt.clone());
    let p = plan("path /var/crash\ncore_collector makedumpfile -l --message-level 7 -d 31\nfailure_action shell\nfinal_action halt\n");
    let mut o = opts(&f);
    o.target_root = Some(mnt.clone());
    let r = save(&p, &o);
    assert_eq!(r.exit_code(), 1);
    let err = r.error.clone().unwrap();
    assert!(err.contains("the dump is incomplete"), "{err}");
    assert!(
        r.action.starts_with("shell") && r.action.contains("final action halt"),
        "{}",
        r.action
    );
    let dir = only_dir(&mnt.join("var/crash"));
    assert!(dir.join("vmcore-dmesg.txt").exists());
    assert!(!dir.join("vmcore").exists());
    let inc = dir.join("vmcore-incomplete");
    let kd = KdumpFile::open(&inc).unwrap();
    assert!(kd.is_incomplete());
    // Pages written before the disk filled up read back equal to makedumpfile's.
    let rf = KdumpFile::open(&f.d31_lzo).unwrap();
    let ps = kd.page_size();
    let (mut a, mut b) = (vec![0u8; ps], vec![0u8; ps]);
    let (mut data, mut lost) = (0, 0);
    for pfn in kd.iter_bitmap(Bitmap::Dumped) {
        let pfn = pfn.unwrap();
        match kd.read_page(pfn, &mut a).unwrap() {
            PageState::Data => {
                assert_eq!(rf.read_page(pfn, &mut b).unwrap(), PageState::Data);
                assert!(a == b, "pfn {pfn:#x}");
                data += 1;
            }
            PageState::Lost => lost += 1,
            s => panic!("pfn {pfn:#x}: {s:?}"),
        }
    }
    assert!(data > 100 && lost > 100, "data {data} lost {lost}");
}

#[test]
fn label_and_uuid_found_by_superblock() {
    let t = TempRoot::new("e2e-label");
    let img = t.path().join("fs.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    let ok = Command::new("mkfs.ext4")
        .args([
            "-q",
            "-F",
            "-L",
            "kdumpfs",
            "-U",
            "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        ])
        .arg(&img)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return test_skip::skip(
            "label_and_uuid_found_by_superblock",
            "mkfs.ext4 not available",
        );
    }
    let other = t.put("/other.img", vec![0u8; 8192]);
    let cands = vec![other, img.clone()];
    use kdump_conf::Device;
    use kdump_service::target::{probe_path, resolve_device};
    let id = probe_path(&img).unwrap();
    assert_eq!((id.fstype, id.label.as_str()), ("ext4", "kdumpfs"));
    assert_eq!(
        resolve_device(&Device::Label("kdumpfs".into()), &cands).unwrap(),
        img
    );
    assert_eq!(
        resolve_device(
            &Device::Uuid("0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0".into()),
            &cands
        )
        .unwrap(),
        img
    );
    let e = resolve_device(&Device::Label("nope".into()), &cands).unwrap_err();
    assert!(e.to_string().contains("LABEL=nope"), "{e}");
}

// ---- ssh, against an sshd on 127.0.0.1 started here ----

struct Sshd {
    child: Child,
    port: u16,
    dir: PathBuf,
}
impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

fn start_sshd(dir: &Path) -> Option<Sshd> {
    let sshd = Path::new("/usr/sbin/sshd");
    if !sshd.exists()
        || Command::new("ssh")
            .arg("-V")
            .stderr(Stdio::null())
            .status()
            .is_err()
    {
        test_skip::skip("ssh_target_and_propagate", "no sshd/ssh");
        return None;
    }
    let _ = std::fs::create_dir_all("/run/sshd");
    // The login's home is a directory of the test (ForceCommand below), so nothing ssh-copy-id
    // or `cat >> .ssh/authorized_keys` writes lands in the real home directory.
    std::fs::create_dir_all(dir.join("home")).unwrap();
    keygen(&dir.join("hostkey"));
    keygen(&dir.join("admin"));
    std::fs::copy(dir.join("admin.pub"), dir.join("authorized_keys")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.join("sshd_config");
    std::fs::write(
        &cfg,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/hostkey\nAuthorizedKeysFile {d}/authorized_keys {d}/home/.ssh/authorized_keys\nSubsystem sftp /usr/lib/openssh/sftp-server\nForceCommand export HOME={d}/home; cd \"$HOME\" || exit 1; case \"$SSH_ORIGINAL_COMMAND\" in sftp|*sftp-server) exec /usr/lib/openssh/sftp-server;; esac; eval \"$SSH_ORIGINAL_COMMAND\"\nPidFile {d}/sshd.pid\nStrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let hostpub = std::fs::read_to_string(dir.join("hostkey.pub")).unwrap();
    std::fs::write(
        dir.join("known_hosts"),
        format!("[127.0.0.1]:{port} {hostpub}"),
    )
    .unwrap();
    let child = Command::new(sshd)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(&cfg)
        .stderr(std::fs::File::create(dir.join("sshd.log")).unwrap())
        .spawn()
        .ok()?;
    let s = Sshd {
        child,
        port,
        dir: dir.to_path_buf(),
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(s);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    test_skip::skip(
        "ssh_target_and_propagate",
        format!(
            "sshd did not start: {}",
            std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
        ),
    );
    None
}

impl Sshd {
    fn options(&self) -> Vec<String> {
        vec![
            format!("Port={}", self.port),
            format!("UserKnownHostsFile={}/known_hosts", self.dir.display()),
            "IdentitiesOnly=yes".into(),
        ]
    }
}

fn user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn ssh_target_and_propagate() {
    let Some(f) = fixture("ssh_target_and_propagate") else {
        return;
    };
    let t = TempRoot::new("e2e-ssh");
    let Some(sshd) = start_sshd(t.path()) else {
        return;
    };
    let remote = t.path().join("remote");
    let u = user();
    // propagate: a new key, installed with ssh-copy-id (authenticating with the admin key).
    let key = t.path().join("kdump_id_rsa");
    let mut popts = sshd.options();
    popts.push(format!("IdentityFile={}/admin", t.path().display()));
    let p = kdump_service::ssh::propagate(&format!("{u}@127.0.0.1"), &key, &popts).unwrap();
    assert!(p.generated && p.verified, "{p:?}");
    eprintln!("propagate installed the key with {}", p.method);
    let auth = std::fs::read_to_string(t.path().join("home/.ssh/authorized_keys")).unwrap();
    let new_pub = std::fs::read_to_string(t.path().join("kdump_id_rsa.pub")).unwrap();
    assert!(
        auth.contains(new_pub.split_whitespace().nth(1).unwrap()),
        "key not installed"
    );
    // save over ssh with that key only.
    let p = plan(&format!(
        "ssh {u}@127.0.0.1\nsshkey {}\npath {}\n",
        key.display(),
        remote.display()
    ));
    let mut o = opts(&f);
    o.ssh_options = sshd.options();
    let r = save(&p, &o);
    assert_eq!(
        r.error,
        None,
        "{}",
        std::fs::read_to_string(t.path().join("sshd.log")).unwrap_or_default()
    );
    let dir = only_dir(&remote);
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["vmcore-dmesg.txt", "vmcore.flat"]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("vmcore.flat"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "umask 0077 on the server");
    same_pages(&dir.join("vmcore.flat"), &f.d31_lzo);
    // `core_collector scp`: /proc/vmcore copied whole, renamed vmcore.
    let small = t.put("/small-vmcore", b"not really a vmcore\n".repeat(100));
    let p2 = plan(&format!(
        "ssh {u}@127.0.0.1\nsshkey {}\npath {}/scp\ncore_collector scp\n",
        key.display(),
        remote.display()
    ));
    let mut o2 = o.clone();
    o2.vmcore = small.clone();
    let r = save(&p2, &o2);
    assert_eq!(r.error, None);
    assert!(
        !r.dmesg_saved && !r.warnings.is_empty(),
        "dmesg of a non-vmcore only warns"
    );
    let sdir = only_dir(&remote.join("scp"));
    assert_eq!(
        std::fs::read(sdir.join("vmcore")).unwrap(),
        std::fs::read(&small).unwrap()
    );
    // A server that refuses the key: the dump fails, the failure action is reported.
    std::fs::write(t.path().join("authorized_keys"), "").unwrap();
    std::fs::write(t.path().join("home/.ssh/authorized_keys"), "").unwrap();
    let r = save(&p, &o);
    assert_eq!(r.exit_code(), 1);
    assert!(r.action.starts_with("reboot"), "{}", r.action);
}
