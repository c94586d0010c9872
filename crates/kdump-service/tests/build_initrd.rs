//! `kdump build-initrd` on this machine's real devices, against a real Debian kernel's modules:
//! a root whose /sys, /proc, /dev and libraries are this machine's and whose
//! /lib/modules/<release> is the lab's Debian 6.1 kernel indexed by the real `depmod`.
//! The image is read back and its modules, init and recorded target are checked.

use std::path::{Path, PathBuf};
use std::process::Command;

use capture_initramfs::{list_image, parse_modules_order, MODULES_ORDER};
use kdump_service::capture::{CaptureInfo, CAPTURE_INFO_PATH};
use kdump_service::image::{self, staleness};
use kdump_service::initrd::{self, BuildRequest};
use kdump_service::sysinfo::SysRoot;

fn skip(test: &str, why: &str) {
    test_skip::skip(test, why);
}

/// A root made of this machine's /sys, /proc, /dev, /usr and libraries, with the lab's Debian
/// 6.1 modules indexed by depmod under lib/modules and its config under boot.
struct Root {
    dir: PathBuf,
    release: String,
}

/// One indexed root for every test of this file (depmod takes a while), used one test at a
/// time (they write the same kdump.conf and image).
fn shared(test: &str) -> Option<std::sync::MutexGuard<'static, Root>> {
    use std::sync::{Mutex, OnceLock};
    static ROOT: OnceLock<Option<Mutex<Root>>> = OnceLock::new();
    match ROOT.get_or_init(|| make_root(test).map(Mutex::new)) {
        Some(m) => Some(m.lock().unwrap_or_else(|e| e.into_inner())),
        None => {
            skip(
                test,
                "the shared root could not be made (see the first test's message)",
            );
            None
        }
    }
}

fn make_root(test: &str) -> Option<Root> {
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    let kernels = Path::new(&home).join(".cache/kdump-rs/kernels");
    let abi = std::fs::read_dir(&kernels).ok().and_then(|d| {
        d.flatten().map(|e| e.path()).find(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("6.1."))
        })
    });
    let Some(abi) = abi else {
        skip(
            test,
            &format!(
                "no 6.1 kernel in {} (cargo xtask fixtures fetches it)",
                kernels.display()
            ),
        );
        return None;
    };
    if Command::new("depmod").arg("--version").output().is_err() {
        skip(test, "depmod (kmod) is not installed");
        return None;
    }
    if !Path::new("/sys/class/block/vda").exists() {
        skip(test, "this machine has no /sys/class/block/vda");
        return None;
    }
    let release = std::fs::read_dir(abi.join("lib/modules"))
        .ok()?
        .flatten()
        .next()?
        .file_name()
        .to_string_lossy()
        .into_owned();
    let dir =
        std::env::temp_dir().join(format!("kdump-build-initrd-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    let link =
        |target: &Path, name: &str| std::os::unix::fs::symlink(target, dir.join(name)).unwrap();
    for d in ["sys", "proc", "dev", "usr", "lib64", "work", "tmp", "root"] {
        if Path::new("/").join(d).exists() {
            link(&Path::new("/").join(d), d);
        }
    }
    link(Path::new("/lib/x86_64-linux-gnu"), "lib/x86_64-linux-gnu");
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    for f in ["ld.so.conf", "ld.so.conf.d"] {
        if Path::new("/etc").join(f).exists() {
            link(&Path::new("/etc").join(f), &format!("etc/{f}"));
        }
    }
    let src = abi.join("lib/modules").join(&release);
    let dst = dir.join("lib/modules").join(&release);
    std::fs::create_dir_all(&dst).unwrap();
    std::os::unix::fs::symlink(src.join("kernel"), dst.join("kernel")).unwrap();
    for f in [
        "modules.builtin",
        "modules.builtin.modinfo",
        "modules.order",
    ] {
        if src.join(f).exists() {
            std::fs::copy(src.join(f), dst.join(f)).unwrap();
        }
    }
    let st = Command::new("depmod")
        .arg("-b")
        .arg(&dir)
        .arg(&release)
        .status()
        .unwrap();
    assert!(st.success(), "depmod -b {} {release}", dir.display());
    std::fs::create_dir_all(dir.join("boot")).unwrap();
    std::fs::copy(
        abi.join(format!("boot/config-{release}")),
        dir.join(format!("boot/config-{release}")),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("var/lib/kdump")).unwrap();
    Some(Root { dir, release })
}

/// What these images get as /init.
const INIT: &str = "/usr/bin/true";

fn plan(text: &str) -> kdump_conf::Plan {
    let c = kdump_conf::check(text);
    assert!(c.is_valid(), "{:?}", c.diagnostics);
    kdump_conf::plan(&c.config)
}

#[derive(Debug)]
struct Image {
    list: Vec<capture_initramfs::ListEntry>,
    bytes: Vec<u8>,
}

fn build(r: &Root, conf: &str) -> Result<(initrd::Built, Image), String> {
    let sys = SysRoot::new(&r.dir);
    std::fs::write(r.dir.join("etc/kdump.conf"), conf).unwrap();
    let p = plan(conf);
    // A small dynamic executable stands in for kdump (the test binary is tens of MB).
    let exe = PathBuf::from(INIT);
    let req = BuildRequest {
        root: &sys,
        release: r.release.clone(),
        plan: &p,
        config: "/etc/kdump.conf".into(),
        sysconfig: None,
        init_binary: exe.clone(),
        output: image::image_path(&r.release),
    };
    let inputs = vec![PathBuf::from("/etc/kdump.conf"), exe];
    let built = initrd::build(&req, &inputs)?;
    let bytes = std::fs::read(sys.path(&built.image)).unwrap();
    let list = list_image(&bytes, 1 << 30).unwrap();
    Ok((built, Image { list, bytes }))
}

fn member<'a>(img: &'a Image, path: &str) -> &'a capture_initramfs::ListEntry {
    img.list
        .iter()
        .find(|e| e.path == path)
        .unwrap_or_else(|| panic!("{path} is not in the image"))
}

/// The text of a member, from the decompressed cpio.
fn text_of(img: &Image, path: &str) -> String {
    let raw = capture_initramfs::Compression::decompress_image(&img.bytes, 1 << 30).unwrap();
    let recs = capture_initramfs::read_archive(&raw, &Default::default()).unwrap();
    let rel = path.trim_start_matches('/');
    let r = recs
        .iter()
        .find(|r| r.path.trim_start_matches('/') == rel)
        .unwrap_or_else(|| panic!("{path} not in the archive"));
    String::from_utf8_lossy(r.data).into_owned()
}

#[test]
fn raw_target_on_the_virtio_disk_gets_its_driver_chain_and_kdump_as_init() {
    let Some(r) = shared("raw") else { return };
    let (built, img) = build(
        &r,
        "raw /dev/vda\ncore_collector makedumpfile -F -l -d 31\n",
    )
    .unwrap();
    assert!(
        built.modules.iter().any(|m| m == "virtio_blk"),
        "{:?}",
        built.modules
    );
    let exe = PathBuf::from(INIT);
    assert_eq!(
        member(&img, "/init").detail.as_deref(),
        Some(&*exe.display().to_string())
    );
    member(&img, &exe.display().to_string());
    member(&img, "/dev/console");
    assert!(text_of(&img, "/etc/kdump.conf").starts_with("raw /dev/vda"));
    let order = parse_modules_order(&text_of(&img, MODULES_ORDER)).unwrap();
    let pos = |m: &str| {
        order
            .iter()
            .position(|e| e.path.ends_with(&format!("/{m}.ko")))
    };
    let blk = pos("virtio_blk").expect("virtio_blk in modules.order");
    if let Some(ring) = pos("virtio_ring") {
        assert!(
            ring < blk,
            "virtio_ring must load before virtio_blk: {order:?}"
        );
    }
    for e in &order {
        member(&img, &e.path);
    }
    let info = CaptureInfo::parse(&text_of(&img, CAPTURE_INFO_PATH)).unwrap();
    assert_eq!(info.kernel_release.as_deref(), Some(&*r.release));
    assert_eq!(info.root, None);
}

#[test]
fn default_target_records_the_root_file_system_and_its_module() {
    let Some(r) = shared("default") else { return };
    let (built, img) = build(
        &r,
        "path /var/crash\ncore_collector makedumpfile -l -d 31\n",
    )
    .unwrap();
    let info = CaptureInfo::parse(&text_of(&img, CAPTURE_INFO_PATH)).unwrap();
    let t = info.root.expect("the default target is recorded");
    // This machine's / is ext4 on /dev/vda (findmnt /).
    let mi =
        image::MountInfo::parse(&std::fs::read_to_string("/proc/self/mountinfo").unwrap()).unwrap();
    let m = mi.holding("/var/crash").unwrap();
    assert_eq!(t.fstype, m.fstype);
    assert_eq!(t.mount_point, m.mount_point);
    if m.fstype == "ext4" {
        assert!(
            built.modules.iter().any(|x| x == "ext4"),
            "{:?}",
            built.modules
        );
    }
    // Named by UUID when the superblock can be read; this machine's sandbox may forbid reading
    // its own disk, and then the /dev path is what can be recorded.
    let dev = format!(
        "/dev/{}",
        Path::new(&m.source).file_name().unwrap().to_string_lossy()
    );
    let readable = std::fs::File::open(&dev)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut [0u8; 512]))
        .is_ok();
    if readable {
        assert!(t.device.to_string().starts_with("UUID="), "{}", t.device);
    } else {
        assert_eq!(t.device.to_string(), dev);
    }
    assert!(
        built.modules.iter().any(|x| x == "virtio_blk"),
        "{:?}",
        built.modules
    );
    // reproducible, and current until an input changes
    let again = std::fs::read(SysRoot::new(&r.dir).path(&built.image)).unwrap();
    let (_, img2) = build(
        &r,
        "path /var/crash\ncore_collector makedumpfile -l -d 31\n",
    )
    .unwrap();
    assert_eq!(again, img.bytes);
    assert_eq!(img2.bytes, img.bytes);
    let sys = SysRoot::new(&r.dir);
    let inputs = vec![PathBuf::from("/etc/kdump.conf"), PathBuf::from(INIT)];
    assert_eq!(staleness(&sys, &built.image, &inputs).unwrap(), None);
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(r.dir.join("etc/kdump.conf"), "path /var/crash2\n").unwrap();
    let why = staleness(&sys, &built.image, &inputs).unwrap().unwrap();
    assert!(why.contains("/etc/kdump.conf"), "{why}");
}

#[test]
fn a_target_that_is_not_there_fails_the_build_naming_it() {
    let Some(r) = shared("absent") else { return };
    let img = SysRoot::new(&r.dir).path(image::image_path(&r.release));
    let before = std::fs::read(&img).ok();
    let e = build(&r, "ext4 LABEL=no-such-label-kdumprs\n").unwrap_err();
    assert!(e.contains("LABEL=no-such-label-kdumprs"), "{e}");
    // a failed build leaves the previous image (or none) as it was
    assert_eq!(std::fs::read(&img).ok(), before);
}
