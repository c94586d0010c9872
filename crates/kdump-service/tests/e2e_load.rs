//! `kdump load`'s choices on a fake root: kernel and initrd from /boot or the sysconfig /
//! kdump-tools settings, the capture command line, and the errors for a missing kernel. No
//! system call is made (loading is covered by the kdump-e2e VM tests).

mod common;

use common::TempRoot;
use kdump_service::load::{resolve, LoadError, LoadOptions, DEFAULT_APPEND_X86_64};
use kdump_service::sysinfo::SysRoot;

const RELEASE: &str = "6.1.0-56-amd64";

fn root() -> TempRoot {
    let t = TempRoot::new("e2e-load");
    t.put("/proc/sys/kernel/osrelease", format!("{RELEASE}\n"));
    t.put(
        "/proc/cmdline",
        "BOOT_IMAGE=/boot/vmlinuz-6.1.0-56-amd64 root=UUID=1234 ro quiet crashkernel=256M hugepages=8 console=ttyS0\n",
    );
    t.put(
        "/proc/cpuinfo",
        "processor\t: 0\napicid\t\t: 2\n\nprocessor\t: 1\napicid\t\t: 3\n",
    );
    t.put(&format!("/boot/vmlinuz-{RELEASE}"), b"kernel");
    t.put(&format!("/boot/initrd.img-{RELEASE}"), b"initrd");
    t
}

#[test]
fn defaults_without_sysconfig() {
    let t = root();
    let s = resolve(&SysRoot::new(t.path()), None, &LoadOptions::default()).unwrap();
    assert_eq!(s.kernel, t.path().join(format!("boot/vmlinuz-{RELEASE}")));
    assert_eq!(
        s.initrd,
        Some(t.path().join(format!("boot/initrd.img-{RELEASE}")))
    );
    assert_eq!(
        s.cmdline,
        format!("ro console=ttyS0 {DEFAULT_APPEND_X86_64} disable_cpu_apicid=2")
    );
}

#[test]
fn kdump_initrd_preferred_and_sysconfig_edits() {
    let t = root();
    t.put(
        &format!("/boot/initramfs-{RELEASE}kdump.img"),
        b"kdump initrd",
    );
    let (k, d) = kdump_conf::parse_sysconfig(
        "KDUMP_COMMANDLINE_REMOVE=\"console quiet\"\nKDUMP_COMMANDLINE_APPEND=\"irqpoll nr_cpus=1 reset_devices\"\n",
    );
    assert!(d.is_empty(), "{d:?}");
    let s = resolve(&SysRoot::new(t.path()), Some(&k), &LoadOptions::default()).unwrap();
    assert_eq!(
        s.initrd,
        Some(t.path().join(format!("boot/initramfs-{RELEASE}kdump.img")))
    );
    // crashkernel, root and BOOT_IMAGE always go; hugepages stays (not in this REMOVE list).
    assert_eq!(
        s.cmdline,
        "ro hugepages=8 irqpoll nr_cpus=1 reset_devices disable_cpu_apicid=2"
    );
}

#[test]
fn debian_kdump_tools_kernel_and_version() {
    let t = root();
    t.put("/boot/vmlinuz-6.12.9-amd64", b"k");
    let (plan, d) = kdump_conf::parse_kdump_tools(
        "USE_KDUMP=1\nKDUMP_KERNEL=/boot/vmlinuz-6.12.9-amd64\nKDUMP_INITRD=/var/lib/kdump/initrd.img\n",
    );
    assert!(!kdump_conf::has_errors(&d), "{d:?}");
    let k = plan.kernel.expect("kdump-tools gives kernel settings");
    t.put("/var/lib/kdump/initrd.img", b"i");
    let s = resolve(&SysRoot::new(t.path()), Some(&k), &LoadOptions::default()).unwrap();
    assert_eq!(s.kernel, t.path().join("boot/vmlinuz-6.12.9-amd64"));
    assert_eq!(s.initrd, Some(t.path().join("var/lib/kdump/initrd.img")));
}

#[test]
fn missing_kernel_is_a_clear_error() {
    let t = root();
    std::fs::remove_file(t.path().join(format!("boot/vmlinuz-{RELEASE}"))).unwrap();
    let e = resolve(&SysRoot::new(t.path()), None, &LoadOptions::default()).unwrap_err();
    assert!(matches!(e, LoadError::KernelMissing(_)));
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("/boot/vmlinuz-{RELEASE}")) && msg.contains("--kernel"),
        "{msg}"
    );
    // --kernel pointing nowhere
    let o = LoadOptions {
        kernel: Some(t.path().join("nope")),
        ..LoadOptions::default()
    };
    let e = resolve(&SysRoot::new(t.path()), None, &o).unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
}
