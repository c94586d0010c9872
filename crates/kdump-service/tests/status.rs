//! `kdump status` and `kdump estimate` on fake /proc, /sys and /boot trees.

mod common;

use common::TempRoot;
use kdump_service::crashkernel::MIB;
use kdump_service::estimate::{self, EstimateInput};
use kdump_service::status::{Fit, Status};
use kdump_service::sysinfo::{choose_images, SysRoot};
use std::path::Path;

const RELEASE: &str = "6.1.0-56-amd64";

/// A 1 GiB guest booted with crashkernel=192M, as /proc/iomem shows it to root.
const IOMEM_1G_192M: &str = "\
00000000-00000fff : Reserved
00001000-0009fbff : System RAM
0009fc00-0009ffff : Reserved
000f0000-000fffff : Reserved
  000f0000-000fffff : System ROM
00100000-3ffdffff : System RAM
  02000000-02e01fff : Kernel code
  2f000000-3affffff : Crash kernel
3ffe0000-3fffffff : Reserved
fd000000-fdffffff : PCI Bus 0000:00
";

/// A minimal bzImage: only the setup header fields we read.
fn bzimage(init_size: u32, file_len: usize) -> Vec<u8> {
    let mut b = vec![0u8; file_len.max(0x1000)];
    b[0x1f1] = 27;
    b[0x202..0x206].copy_from_slice(b"HdrS");
    b[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    b[0x230..0x234].copy_from_slice(&0x200000u32.to_le_bytes());
    b[0x260..0x264].copy_from_slice(&init_size.to_le_bytes());
    b
}

/// A "gzip" file: magic at the start, ISIZE at the end (all the estimate reads).
fn gzip_like(len: usize, isize: u32) -> Vec<u8> {
    let mut b = vec![0u8; len];
    b[0] = 0x1f;
    b[1] = 0x8b;
    let n = b.len();
    b[n - 4..].copy_from_slice(&isize.to_le_bytes());
    b
}

fn guest(cmdline: &str, crash_size: u64, loaded: bool) -> TempRoot {
    let t = TempRoot::new("status");
    t.put("/proc/cmdline", format!("{cmdline}\n"));
    t.put("/proc/iomem", IOMEM_1G_192M);
    t.put("/proc/sys/kernel/osrelease", format!("{RELEASE}\n"));
    t.put("/sys/kernel/kexec_crash_size", format!("{crash_size}\n"));
    t.put(
        "/sys/kernel/kexec_crash_loaded",
        if loaded { "1\n" } else { "0\n" },
    );
    t.put(
        &format!("/boot/vmlinuz-{RELEASE}"),
        bzimage(64 << 20, 8 << 20),
    );
    t.put(
        &format!("/boot/initrd.img-{RELEASE}"),
        gzip_like(20 << 20, 60 << 20),
    );
    t
}

#[test]
fn reports_a_192m_reservation_that_fits() {
    let t = guest(
        "BOOT_IMAGE=/vmlinuz root=/dev/vda ro crashkernel=192M",
        192 * MIB,
        true,
    );
    let st = Status::gather(&SysRoot::new(t.path()), None, None).unwrap();
    assert_eq!(st.system_ram, 0x9ec00 + 0x3fee0000);
    assert_eq!(st.requested.as_ref().unwrap().main.size, 192 * MIB);
    assert_eq!(st.reserved(), 192 * MIB);
    assert_eq!(st.iomem_ranges.len(), 1);
    assert_eq!(st.iomem_ranges[0].start, 0x2f000000);
    // 64 MiB kernel (2 MiB aligned) + 20 MiB initrd + 2 MiB overhead = 86 MiB.
    match st.fit() {
        Fit::Fits {
            need,
            headroom,
            run_need,
            enough_to_run,
        } => {
            assert!(run_need > headroom);
            assert_eq!(need, 86 * MIB);
            assert_eq!(headroom, 106 * MIB);
            // Running needs 64 runtime + 64 filter + memmap + 60 unpacked > 106.
            assert!(!enough_to_run);
        }
        other => panic!("{other:?}"),
    }
    // Loaded and fitting: exit 0 (the run-headroom remark is advice, not a failure).
    assert_eq!(st.exit_code(), 0);
    let text = st.to_string();
    for want in [
        "command line:     crashkernel=192M\n",
        "asks for:         192M\n",
        "reserved:         192.0 MiB (/sys/kernel/kexec_crash_size)\n",
        "/proc/iomem:      Crash kernel 0x2f000000-0x3affffff (192.0 MiB)\n",
        "panic kernel:     loaded\n",
        "verdict:          images fit (86.0 MiB of 192.0 MiB); 106.0 MiB left to run in",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}

#[test]
fn a_small_reservation_is_too_small() {
    let t = guest("crashkernel=64M", 64 * MIB, false);
    let st = Status::gather(&SysRoot::new(t.path()), None, None).unwrap();
    assert_eq!(st.fit(), Fit::TooSmall { need: 86 * MIB });
    assert!(st.to_string().contains("TOO SMALL"), "{st}");
    assert!(st.to_string().contains("panic kernel:     not loaded"));
}

#[test]
fn no_reservation_and_no_kexec_support() {
    let t = TempRoot::new("nokexec");
    t.put("/proc/cmdline", "quiet\n");
    t.put("/proc/iomem", "00100000-3ffdffff : System RAM\n");
    t.put("/proc/sys/kernel/osrelease", "6.12.0\n");
    let st = Status::gather(&SysRoot::new(t.path()), None, None).unwrap();
    assert_eq!(st.fit(), Fit::NoReservation);
    assert_eq!(st.exit_code(), 3);
    let text = st.to_string();
    assert!(text.contains("no crashkernel="), "{text}");
    assert!(text.contains("kexec_crash_size absent"), "{text}");
    assert!(text.contains("/boot/vmlinuz-6.12.0 (missing)"), "{text}");
}

#[test]
fn hidden_addresses_fall_back_to_sysfs() {
    let t = guest("crashkernel=192M", 192 * MIB, true);
    let hidden: String = IOMEM_1G_192M
        .lines()
        .map(|l| {
            let (range, name) = l.split_once(" : ").unwrap();
            let indent = range.len() - range.trim_start().len();
            format!("{}00000000-00000000 : {name}\n", " ".repeat(indent))
        })
        .collect();
    t.put("/proc/iomem", hidden);
    let st = Status::gather(&SysRoot::new(t.path()), None, None).unwrap();
    assert!(st.addresses_hidden);
    assert_eq!(st.reserved(), 192 * MIB);
    assert!(st.to_string().contains("addresses hidden"));
}

#[test]
fn images_follow_the_configuration_files() {
    let t = guest("crashkernel=192M", 192 * MIB, false);
    let root = SysRoot::new(t.path());
    let i = choose_images(&root, None, None).unwrap();
    assert_eq!(i.kernel, Path::new("/boot/vmlinuz-6.1.0-56-amd64"));
    assert_eq!(
        i.initrd.as_deref(),
        Some(Path::new("/boot/initrd.img-6.1.0-56-amd64"))
    );
    t.put(
        "/etc/default/kdump-tools",
        "KDUMP_KERNEL=/var/lib/kdump/vmlinuz\nKDUMP_INITRD=/var/lib/kdump/initrd.img\n",
    );
    let i = choose_images(&root, None, None).unwrap();
    assert_eq!(i.kernel, Path::new("/var/lib/kdump/vmlinuz"));
    assert_eq!(i.source, "/etc/default/kdump-tools");
    std::fs::remove_file(t.path().join("etc/default/kdump-tools")).unwrap();
    t.put(
        "/etc/sysconfig/kdump",
        "KDUMP_KERNELVER=\"6.12.9\"\nKDUMP_IMG=\"vmlinuz\"\n",
    );
    t.put("/boot/initramfs-6.12.9kdump.img", "x");
    let i = choose_images(&root, None, None).unwrap();
    assert_eq!(i.kernel, Path::new("/boot/vmlinuz-6.12.9"));
    assert_eq!(
        i.initrd.as_deref(),
        Some(Path::new("/boot/initramfs-6.12.9kdump.img"))
    );
    let i = choose_images(&root, Some(Path::new("/k")), None).unwrap();
    assert_eq!(i.kernel, Path::new("/k"));
    // KDUMP_IMG_EXT goes after the version, as kdumpctl builds the name; an existing image
    // under / is taken when /boot has none.
    t.put(
        "/etc/sysconfig/kdump",
        "KDUMP_KERNELVER=\"6.12.9\"\nKDUMP_IMG=\"vmlinux\"\nKDUMP_IMG_EXT=\".gz\"\n",
    );
    let i = choose_images(&root, None, None).unwrap();
    assert_eq!(i.kernel, Path::new("/boot/vmlinux-6.12.9.gz"));
    t.put("/vmlinux-6.12.9.gz", "x");
    let i = choose_images(&root, None, None).unwrap();
    assert_eq!(i.kernel, Path::new("/vmlinux-6.12.9.gz"));
    assert_eq!(i.source, "/etc/sysconfig/kdump");
}

#[test]
fn estimate_from_the_fake_tree() {
    let t = guest("crashkernel=192M", 192 * MIB, false);
    let root = SysRoot::new(t.path());
    let k = estimate::kernel_image(&root, Path::new("/boot/vmlinuz-6.1.0-56-amd64"))
        .unwrap()
        .unwrap();
    assert_eq!(k.init_size, Some(64 << 20));
    let i = estimate::initrd_image(&root, Path::new("/boot/initrd.img-6.1.0-56-amd64"))
        .unwrap()
        .unwrap();
    assert_eq!((i.file_size, i.unpacked), (20 << 20, 60 << 20));
    assert_eq!(i.unpacked_rule, "gzip ISIZE");
    let e = estimate::estimate(&EstimateInput {
        system_ram: root.iomem().unwrap().system_ram(),
        kernel: Some(k),
        initrd: Some(i),
    });
    let names: Vec<&str> = e.parts.iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "capture kernel",
            "initramfs",
            "runtime",
            "dump filter",
            "struct pages + page tables",
            "margin"
        ]
    );
    // 64 + 80 + 64 + 64 = 272 MiB, + 4.9 MiB memmap, + 28 MiB margin -> 320 MiB (16 MiB steps).
    assert_eq!(e.total, 320 * MIB);
    // An uncompressed cpio is counted once unpacked at its own size.
    let mut cpio = b"070701".to_vec();
    cpio.resize(7000, b'0');
    cpio.extend_from_slice(b"TRAILER!!!");
    cpio.resize(7168, 0);
    t.put("/boot/plain.cpio", &cpio);
    let i = estimate::initrd_image(&root, Path::new("/boot/plain.cpio"))
        .unwrap()
        .unwrap();
    assert_eq!((i.unpacked, i.unpacked_rule), (7168, "uncompressed cpio"));
    assert!(estimate::initrd_image(&root, Path::new("/nope"))
        .unwrap()
        .is_none());
}

/// The real Debian kernels the lab caches (6.1 and 6.12): the header gives init_size.
#[test]
fn real_debian_kernel_header() {
    let kernels = test_skip::cached_kernels();
    if kernels.is_empty() {
        return test_skip::skip(
            "real_debian_kernel_header",
            "no vmlinuz in ~/.cache/kdump-rs/kernels (`cargo xtask fixtures` downloads them)",
        );
    }
    for p in &kernels {
        let k = estimate::kernel_image(&SysRoot::host(), p)
            .unwrap()
            .unwrap();
        let init = k.init_size.expect("a Debian bzImage has protocol >= 2.10");
        assert!(
            u64::from(init) > k.file_size,
            "{}: init_size {init} vs file {}",
            p.display(),
            k.file_size
        );
        assert_eq!(k.alignment, Some(0x200000), "{}", p.display());
    }
}

/// Values from a real boot of the lab's Debian 6.1 guest (1 GiB, `crashkernel=192M`), from its
/// serial log: the BIOS-e820 usable ranges, "Reserving 192MB of memory at 816MB for
/// crashkernel (System RAM: 1023MB)" and the /proc/iomem line `33000000-3effffff : Crash
/// kernel`. The fixture is /proc/iomem rebuilt from those lines.
#[test]
fn real_6_1_guest_reservation() {
    let t = TempRoot::new("real61");
    t.put(
        "/proc/cmdline",
        "console=ttyS0 panic=-1 crashkernel=192M kvmlab=kdump\n",
    );
    t.put(
        "/proc/iomem",
        common::fixture("iomem-6.1-guest-crashkernel-192M"),
    );
    t.put("/proc/sys/kernel/osrelease", "6.1.0-56-amd64\n");
    t.put("/sys/kernel/kexec_crash_size", "201326592\n");
    t.put("/sys/kernel/kexec_crash_loaded", "1\n");
    let st = Status::gather(&SysRoot::new(t.path()), None, None).unwrap();
    // The kernel printed "System RAM: 1023MB" (memblock, whole pages: 1048032 KiB); the
    // /proc/iomem sum differs only by the partial page below 0x9fc00.
    assert_eq!(st.system_ram / MIB, 1023);
    assert!((st.system_ram as i64 - 1_048_032 * 1024).abs() < 4096);
    assert_eq!(st.requested.as_ref().unwrap().main.size, 192 * MIB);
    assert_eq!(st.reserved(), 192 * MIB);
    // "at 816MB"
    assert_eq!(st.iomem_ranges[0].start, 816 * MIB);
    assert_eq!(st.iomem_ranges[0].len(), 192 * MIB);
    assert!(st
        .to_string()
        .contains("/proc/iomem:      Crash kernel 0x33000000-0x3effffff (192.0 MiB)"));
}
