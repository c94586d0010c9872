//! `cargo xtask demo`: a whole kdump cycle with our tools only, in a QEMU guest running
//! Debian's 6.1 kernel.
//!
//! First kernel (xtask/guest/scenarios/kdump-cycle.sh): /etc/kdump.conf and
//! /etc/sysconfig/kdump, `kdump load` (the panic kernel through kexec_file_load or
//! kexec_load), the workload, sysrq-c. Capture kernel (kdump-cycle-capture.sh): `kdump save`
//! with `ext4 LABEL=kdumpfs`, `path /var/crash`, `core_collector makedumpfile -l
//! --message-level 23 -d 31` (run in-process by our crates, not Debian's makedumpfile) and
//! `final_action poweroff`, which powers the guest off. The host then reads the dump back from
//! the disk image with debugfs (never mounted) and prints the timeline, the size and the
//! per-class page table `kdump save` reported.

use crate::initramfs;
use crate::kernel::{Kernel, Series};
use crate::makedumpfile::Stats;
use crate::qemu::{Disk, Guest, GuestSpec};
use crate::util::lab_dir;
use crate::vmtests::kdump::{debugfs_get, label_disk, only_dump_dir};
use anyhow::{ensure, Context, Result};
use std::time::{Duration, Instant};

/// The capture kernel's collector (kdump-cycle-capture.sh builds the kdump.conf line from
/// kdumprs.msglevel; 23 = makedumpfile's default 7 plus the page-statistics report).
const COLLECTOR: &str = "makedumpfile -l --message-level 23 -d 31";

/// Run the demo.
pub fn demo() -> Result<()> {
    let t0 = Instant::now();
    let kernel = Kernel::get(Series::V6_1)?;
    initramfs::build_ours().context("the demo needs our binaries (kdump, kexec-load)")?;
    let dir = lab_dir().join("demo");
    std::fs::create_dir_all(&dir)?;
    let disk = dir.join("kdumpfs.img");
    label_disk(&disk)?;
    println!(
        "kdump-rs demo: Debian {} in QEMU (TCG, 1 vCPU), 1 GiB, crashkernel=192M",
        kernel.abi
    );
    println!("  /etc/kdump.conf in the capture kernel:");
    println!("    ext4 LABEL=kdumpfs    (vda: made on the host with mkfs.ext4 -L kdumpfs)");
    println!("    path /var/crash");
    println!("    core_collector {COLLECTOR}");
    println!("    final_action poweroff");
    println!("  load panic kernel  kdump load   (ours: crates/kdump-service + kexec-image)");
    println!("  crash              echo c > /proc/sysrq-trigger (in the guest)");
    println!("  save dump          kdump save   (ours: the collector runs in-process)");
    println!("  read back          debugfs on the host (the image is never mounted)");

    let mut spec = GuestSpec::new("demo", &kernel, "kdump-cycle");
    spec.mem_mb = 1024;
    spec.append = "crashkernel=192M hugepages=8 kdumprs.huge=4 kdumprs.anon_mb=30 kdumprs.mode=ours kdumprs.conf=label kdumprs.action=run kdumprs.msglevel=23".into();
    spec.disks = vec![Disk::Existing(disk.clone())];
    spec.initramfs = initramfs::Spec {
        ours: true,
        kexec_payload: true,
        extra: Vec::new(),
    };
    spec.dir = Some(dir.join("vm"));
    let mut g = Guest::boot(spec)?;
    // The timeline starts when QEMU starts (after the initramfs is built).
    let boot = g.started;
    let prep = boot.duration_since(t0);
    let mut timeline: Vec<(f64, String)> = vec![(0.0, "QEMU started".into())];
    let mut step = |g: &mut Guest, pat: &str, what: &str, secs: u64| -> Result<String> {
        let line = g.wait_for(pat, Duration::from_secs(secs))?;
        let up = line
            .split("uptime=")
            .nth(1)
            .map(|u| {
                format!(
                    " (guest uptime {}s)",
                    u.split_whitespace().next().unwrap_or("")
                )
            })
            .unwrap_or_default();
        timeline.push((boot.elapsed().as_secs_f64(), format!("{what}{up}")));
        Ok(line)
    };
    step(
        &mut g,
        "KDUMPRS: guard marker",
        "first kernel: /init running",
        300,
    )?;
    let loaded = step(
        &mut g,
        "kdump: panic kernel loaded",
        "`kdump load`: panic kernel loaded",
        300,
    )?;
    step(
        &mut g,
        "KDUMPRS-CRASH",
        "workload done, crashing with sysrq-c",
        300,
    )?;
    step(
        &mut g,
        "KDUMPRS-CAPTURE",
        "capture kernel: /init running, /proc/vmcore present",
        300,
    )?;
    let saved = step(
        &mut g,
        "kdump: saving vmcore complete",
        "`kdump save`: vmcore complete on LABEL=kdumpfs",
        900,
    )?;
    step(
        &mut g,
        "kdump: running action: poweroff",
        "`kdump save`: final_action poweroff",
        60,
    )?;
    g.wait_exit(Duration::from_secs(60))?;
    timeline.push((
        boot.elapsed().as_secs_f64(),
        "QEMU exited (the guest powered off)".into(),
    ));
    let log = g.log();
    ensure!(
        !log.contains("kdump save returned"),
        "{}",
        g.fail("kdump save returned instead of powering off")
    );
    // The in-process collector prints this line; a spawned makedumpfile would not.
    let written = log
        .lines()
        .find(|l| l.starts_with("kdump: ") && l.contains(" pages written, "))
        .ok_or_else(|| g.fail("no in-process collector report from kdump save"))?
        .to_string();
    let capture_log = log.split("KDUMPRS-CAPTURE").nth(1).unwrap_or_default();
    let stats =
        Stats::parse(capture_log).ok_or_else(|| g.fail("no page statistics from kdump save"))?;
    let size: f64 = g.result("vmcore_size")?.parse().unwrap_or(0.0);

    // Read the dump back from the image.
    let (ddir, listing) = only_dump_dir(&disk, "/var/crash", "127.0.0.1")?;
    ensure!(
        listing.contains("vmcore-dmesg.txt") && !listing.contains("incomplete"),
        "{ddir} holds: {listing}"
    );
    let out = dir.join("vmcore.kdump");
    let dmesg = dir.join("vmcore-dmesg.txt");
    debugfs_get(&disk, &format!("{ddir}/vmcore"), &out)?;
    debugfs_get(&disk, &format!("{ddir}/vmcore-dmesg.txt"), &dmesg)?;
    let data = std::fs::read(&out)?;
    ensure!(
        data.starts_with(b"KDUMP   "),
        "{} is not a kdump-compressed file",
        out.display()
    );
    let dm = std::fs::read_to_string(&dmesg).unwrap_or_default();
    let sysrq = dm
        .lines()
        .find(|l| l.contains("sysrq: Trigger a crash"))
        .map(str::trim)
        .unwrap_or("(no sysrq line)");

    println!(
        "\nTimeline (host seconds since QEMU start; {:.1} s of preparation before):",
        prep.as_secs_f64()
    );
    for (t, what) in &timeline {
        println!("  {t:>7.1} s  {what}");
    }
    let at = |what: &str| {
        timeline
            .iter()
            .find(|t| t.1.contains(what))
            .map_or(0.0, |t| t.0)
    };
    let (crash_at, done_at) = (at("sysrq-c"), at("vmcore complete"));
    println!("  sysrq-c to dump complete: {:.1} s", done_at - crash_at);
    println!("\n{}", loaded.trim());
    println!("{}", written.trim());
    println!("{}", saved.trim());
    println!(
        "\n/proc/vmcore: {:.1} MB; read back with debugfs: {}/vmcore -> {} ({:.1} MB, kdump-compressed, lzo)",
        size / 1e6,
        ddir,
        out.display(),
        data.len() as f64 / 1e6
    );
    println!(
        "vmcore-dmesg.txt: {} ({} lines; {sysrq})",
        dmesg.display(),
        dm.lines().count()
    );
    println!("\nPages per class (kdump save, --message-level 23, 4 KiB pages):");
    let rows = [
        ("zero", stats.zero),
        ("cache", stats.cache),
        ("private cache", stats.private_cache),
        ("user", stats.user),
        ("free", stats.free),
        ("hwpoison", stats.hwpoison),
        ("offline", stats.offline),
        ("remaining (kept)", stats.remaining),
        ("total", stats.total),
        ("memory holes", stats.holes),
    ];
    for (name, v) in rows {
        match v {
            Some(n) => println!(
                "  {name:<17} {n:>9}  {:>8.1} MiB",
                n as f64 * 4096.0 / (1 << 20) as f64
            ),
            None => println!("  {name:<17} {:>9}", "-"),
        }
    }
    println!("\nserial log: {}", g.serial.display());
    println!("demo: done in {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}
