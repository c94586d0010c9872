//! The registry of VM tests that `cargo xtask test` runs, two guests at a time (src/test.rs).
//!
//! To add one: write `xtask/guest/scenarios/NAME.sh` (it runs inside the guest with the helpers
//! of xtask/guest/init.sh: `result KEY VALUE`, `mark TEXT`, `karg NAME DEFAULT`, `workload`,
//! `meminfo`; its exit code is reported as `KDUMPRS-DONE scenario=NAME rc=N`), then add a
//! [`VmTest`] below whose function boots it with [`run_scenario`] and asserts on
//! [`Guest::results`], the serial log or the disks.

use crate::fixtures::{self, Source};
use crate::initramfs;
use crate::kernel::{Kernel, Series};
use crate::qemu::{debugfs_read, Disk, Guest, GuestSpec};
use anyhow::{bail, ensure, Context, Result};
use std::time::Duration;

mod installed;
pub(crate) mod kdump;
mod kexec;
mod reserve;

/// One VM test.
pub struct VmTest {
    /// Name, for `cargo xtask test --vm NAME` and the summary.
    pub name: &'static str,
    /// What it checks.
    pub about: &'static str,
    /// The test.
    pub run: fn() -> Result<()>,
}

/// Every VM test, in the order they start: the longest first, so that two runners at a time
/// finish together. A scenario runs on both kernel series only where they differ in what it
/// tests (page classification, kexec_file_load, the NFS client, the reservation); the corrupt
/// purgatory is ours and refuses the same way under either, so it runs on 6.1 only.
pub const TESTS: &[VmTest] = &[
    VmTest {
        name: "installed-kdump",
        about: "Debian 12 installed image through GRUB: apt install, reset-crashkernel, enable --now kdump, kdump test --yes; our capture image saves /var/crash/*/vmcore and reboots; then xfs by UUID=, then ssh to a real sshd on the host",
        run: installed::installed_kdump,
    },
    VmTest {
        name: "installed-deb-sysv",
        about: "the same on the sysvinit-core image: service kdump start, the boot-time SysV start, upgrade, purge",
        run: || installed::installed_deb(crate::debian_image::Init::SysV),
    },
    VmTest {
        name: "boot-6.1",
        about: "6.1 guest boots, guard marker set, our static binaries run",
        run: || hello(Series::V6_1),
    },
    VmTest {
        name: "boot-6.12",
        about: "6.12 guest boots, guard marker set, our static binaries run",
        run: || hello(Series::V6_12),
    },
    VmTest {
        name: "kdump-fixtures",
        about: "the kdump fixtures (crash in a guest, capture of /proc/vmcore) are complete and consistent",
        run: kdump_fixtures,
    },
    VmTest {
        name: "kexec-c-6.1",
        about: "kexec-load -l/-u/-p/-p -u, then -c -e boots 6.1",
        run: || kexec::load_exec(Series::V6_1, 'c'),
    },
    VmTest {
        name: "kexec-s-6.1",
        about: "kexec-load -s (kexec_file_load) -e boots 6.1",
        run: || kexec::load_exec(Series::V6_1, 's'),
    },
    VmTest {
        name: "kexec-corrupt-6.1",
        about: "a purgatory with a bad digest does not boot (6.1)",
        run: || kexec::corrupt_digest(Series::V6_1),
    },
    VmTest {
        name: "kexec-panic-6.1",
        about: "kexec-load -p -c: capture kernel, vmcore, makedumpfile (6.1)",
        run: || kexec::panic_capture(Series::V6_1, 'c'),
    },
    VmTest {
        name: "kexec-c-6.12",
        about: "kexec-load -l/-u/-p/-p -u, then -c -e boots 6.12",
        run: || kexec::load_exec(Series::V6_12, 'c'),
    },
    VmTest {
        name: "kexec-s-6.12",
        about: "kexec-load -s (kexec_file_load) -e boots 6.12",
        run: || kexec::load_exec(Series::V6_12, 's'),
    },
    VmTest {
        name: "kexec-panic-6.12",
        about: "kexec-load -p -c: capture kernel, vmcore, makedumpfile (6.12)",
        run: || kexec::panic_capture(Series::V6_12, 'c'),
    },
    VmTest {
        name: "kdump-e2e-6.1",
        about: "kdump load + kdump save to ext4 LABEL=, raw, ext3 /dev/vdc1; pages equal makedumpfile's (6.1)",
        run: || kdump::e2e(Series::V6_1),
    },
    VmTest {
        name: "kdump-e2e-6.12",
        about: "kdump load + kdump save to ext4 LABEL=, raw, ext3 /dev/vdc1; pages equal makedumpfile's (6.12)",
        run: || kdump::e2e(Series::V6_12),
    },
    VmTest {
        name: "kdump-timing-6.1",
        about: "sysrq-c to dump complete: Debian kexec -p + makedumpfile vs kdump load + kdump save, same guest, back to back (6.1)",
        run: || kdump::timing(Series::V6_1),
    },
    VmTest {
        name: "kdump-nfs-6.1",
        about: "kdump save to nfs 10.0.2.2:/export (a userspace NFSv3 server on the host's loopback) (6.1)",
        run: || kdump::nfs(Series::V6_1),
    },
    VmTest {
        name: "kdump-nfs-6.12",
        about: "kdump save to nfs 10.0.2.2:/export (a userspace NFSv3 server on the host's loopback) (6.12)",
        run: || kdump::nfs(Series::V6_12),
    },
    VmTest {
        name: "kdump-rootfs-6.1",
        about: "missing LABEL= target: failure_action dump_to_rootfs saves on the root fs, final_action poweroff powers off (6.1)",
        run: || kdump::rootfs_poweroff(Series::V6_1),
    },
    VmTest {
        name: "kdump-faults-6.1",
        about: "kdump save against real I/O faults (QEMU blkdebug EIO on write, EIO on flush; ENOSPC): failure reported, no vmcore left, failure_action runs (6.1)",
        run: || kdump::faults(Series::V6_1),
    },
    VmTest {
        name: "reserve-service-6.1",
        about: "crashkernel=192M: kdump status sees the reservation; the SysV service loads and unloads (6.1)",
        run: || reserve::reserve_service(Series::V6_1),
    },
    VmTest {
        name: "reserve-service-6.12",
        about: "crashkernel=192M: kdump status sees the reservation; the SysV service loads and unloads (6.12)",
        run: || reserve::reserve_service(Series::V6_12),
    },
];

/// Boot `spec`, wait up to `timeout` for `KDUMPRS-DONE scenario=<scenario>` with rc=0 and for
/// QEMU to exit; return the guest for assertions (its serial log and disks stay readable).
pub fn run_scenario(spec: GuestSpec, timeout: Duration) -> Result<Guest> {
    let scenario = spec.scenario.clone();
    let mut g = Guest::boot(spec)?;
    finish(&mut g, &scenario, timeout, Duration::from_secs(30))?;
    Ok(g)
}

/// Wait up to `timeout` for `KDUMPRS-DONE scenario=<scenario>`, fail (with the serial log)
/// unless it reports rc=0, then wait up to `exit` for QEMU to exit.
pub fn finish(g: &mut Guest, scenario: &str, timeout: Duration, exit: Duration) -> Result<()> {
    let done = g.wait_for(&format!("KDUMPRS-DONE scenario={scenario} "), timeout)?;
    if !done.contains(" rc=0 ") {
        return Err(g.fail(format!("scenario {scenario} failed: {done}")));
    }
    g.wait_exit(exit)?;
    Ok(())
}

/// Fail (with the serial log) unless the guest reported `KDUMPRS-RESULT key=want`.
pub fn expect(g: &Guest, key: &str, want: &str) -> Result<()> {
    match g.results().get(key) {
        Some(v) if v == want => Ok(()),
        other => Err(g.fail(format!("expected {key}={want}, got {other:?}"))),
    }
}

fn hello(series: Series) -> Result<()> {
    let k = Kernel::get(series)?;
    let mut spec = GuestSpec::new(&format!("hello-{}", series.name()), &k, "hello");
    spec.initramfs = initramfs::Spec {
        ours: true,
        ..Default::default()
    };
    // A host-made ext4 disk: the guest reads input.txt and writes output.txt.
    let input = crate::util::lab_dir().join(format!("hello-{}-disk", series.name()));
    let _ = std::fs::remove_dir_all(&input);
    std::fs::create_dir_all(&input)?;
    std::fs::write(input.join("input.txt"), "hello from the host\n")?;
    spec.disks = vec![Disk::Ext4From {
        name: "data".into(),
        mib: 32,
        dir: input,
    }];
    let g = run_scenario(spec, Duration::from_secs(240))?;
    let r = g.results();
    let want = [
        ("guest_env", "1"),
        ("cmdline_token", "1"),
        ("kexec-load_help_rc", "0"),
        ("dumpfilter_help_rc", "0"),
        ("kdump_help_rc", "0"),
        ("vmcoreinfo_fw_cfg", "1"),
        ("disk_input", "hello from the host"),
        ("disk_written", "1"),
    ];
    for (key, value) in want {
        if r.get(key).map(String::as_str) != Some(value) {
            return Err(g.fail(format!("expected {key}={value}, got {:?}", r.get(key))));
        }
    }
    if r.get("kernel") != Some(&k.abi) {
        return Err(g.fail(format!("guest runs {:?}, not {}", r.get("kernel"), k.abi)));
    }
    let out = g.dir.join("output.txt");
    let _ = std::fs::remove_file(&out);
    debugfs_read(&g.disks[0], "/output.txt", &out)?;
    let text = std::fs::read_to_string(&out)?;
    if text.trim() != format!("written by {}", k.abi) {
        return Err(g.fail(format!("output.txt read back with debugfs: {text:?}")));
    }
    Ok(())
}

fn kdump_fixtures() -> Result<()> {
    let m = fixtures::load_manifest()?.context("no fixture manifest (run cargo xtask fixtures)")?;
    let kdumps: Vec<_> = m
        .fixtures
        .iter()
        .filter(|f| f.source == Source::Kdump)
        .collect();
    ensure!(
        kdumps.len() >= 2,
        "expected kdump fixtures for 6.1 and 6.12"
    );
    for f in kdumps {
        let log = std::fs::read_to_string(fixtures::abs(&f.serial_log))?;
        for marker in [
            "KDUMPRS-CRASH",
            "KDUMPRS-CAPTURE",
            "KDUMPRS-DONE scenario=capture-raw rc=0",
        ] {
            ensure!(
                log.contains(marker),
                "{}: serial log lacks {marker}",
                f.name
            );
        }
        let want: u64 = crate::qemu::parse_results(&log)
            .get("vmcore_size")
            .and_then(|s| s.parse().ok())
            .context("no vmcore_size")?;
        let size = std::fs::metadata(fixtures::abs(&f.vmcore))?.len();
        ensure!(
            size == want,
            "{}: vmcore {size} bytes, guest said {want}",
            f.name
        );
        let info = crate::elf::vmcoreinfo(&fixtures::abs(&f.vmcore))?
            .with_context(|| format!("{}: no VMCOREINFO", f.name))?;
        ensure!(
            crate::elf::vmcoreinfo_value(&info, "OSRELEASE") == Some(f.kernel_abi.as_str()),
            "{}: OSRELEASE mismatch",
            f.name
        );
        let meminfo = std::fs::read_to_string(fixtures::abs(&f.meminfo))?;
        ensure!(meminfo.contains("MemTotal:"), "{}: meminfo", f.name);
        let d31 = f
            .references
            .iter()
            .find(|r| r.name == "d31")
            .and_then(|r| r.stats.clone())
            .context("no d31 stats")?;
        let (Some(total), Some(rem), Some(free)) = (d31.total, d31.remaining, d31.free) else {
            bail!("{}: incomplete d31 statistics", f.name);
        };
        ensure!(
            rem > 0 && free > 0 && rem < total,
            "{}: implausible d31 stats {d31:?}",
            f.name
        );
        eprintln!(
            "  {}: {} bytes, {} paging levels, d31 keeps {rem} of {total} pages",
            f.name, size, f.paging_levels
        );
    }
    Ok(())
}
