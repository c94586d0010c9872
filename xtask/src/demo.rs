//! `cargo xtask demo`: a whole kdump cycle in a QEMU guest running Debian's 6.1 kernel —
//! load the panic kernel, crash with sysrq-c, capture and filter /proc/vmcore in the capture
//! kernel, and print the timeline and makedumpfile-style page table.
//!
//! Which program does each step is decided by [`TOOLS`]: switch an entry's `use_ours` as our
//! crates learn the step.

use crate::initramfs;
use crate::kernel::{Kernel, Series};
use crate::makedumpfile::Stats;
use crate::qemu::{Disk, Guest, GuestSpec};
use crate::util::{lab_dir, run};
use anyhow::{Context, Result};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// When to use our implementation of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Debian's tool (ours cannot do it yet).
    #[allow(dead_code)]
    Debian,
    /// Ours when its self-check passes, else Debian's.
    OursIfReady,
    /// Always ours.
    #[allow(dead_code)]
    Ours,
}

/// One step of the cycle and who performs it.
struct Tool {
    step: &'static str,
    /// Our binary (examples/).
    ours: &'static str,
    /// Debian's program, as the guest scripts name it.
    debian: &'static str,
    use_ours: Use,
}

/// The tool table: one line to change per step as crates land.
const TOOLS: &[Tool] = &[
    Tool {
        step: "load panic kernel",
        ours: "kexec-load",
        debian: "kexec",
        use_ours: Use::Ours,
    },
    Tool {
        step: "filter vmcore",
        ours: "dumpfilter",
        debian: "makedumpfile",
        use_ours: Use::OursIfReady,
    },
];

/// Does our binary claim it can do the step? (`-v` exits 0 and, for the filter, `-d 31` on a
/// fixture vmcore works when one is present.)
fn ours_ready(bin: &Path, tool: &Tool) -> bool {
    let v = Command::new(bin)
        .arg("-v")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !v {
        return false;
    }
    if tool.ours == "dumpfilter" {
        if let Ok(Some(m)) = crate::fixtures::load_manifest() {
            if let Some(f) = m.fixtures.first() {
                let out = lab_dir().join("demo/selfcheck.kdump");
                let _ = std::fs::remove_file(&out);
                return Command::new(bin)
                    .args(["-d", "31"])
                    .arg(crate::fixtures::abs(&f.vmcore_for_makedumpfile))
                    .arg(&out)
                    .output()
                    .map(|o| o.status.success() && out.exists())
                    .unwrap_or(false);
            }
        }
    }
    true
}

/// Run the demo.
pub fn demo() -> Result<()> {
    let t0 = Instant::now();
    let kernel = Kernel::get(Series::V6_1)?;
    let ours_dir = match initramfs::build_ours() {
        Ok(p) => p.first().and_then(|b| b.parent()).map(Path::to_path_buf),
        Err(e) => {
            eprintln!("demo: our binaries do not build ({e:#}); using Debian's tools");
            None
        }
    };
    let mut choice = Vec::new();
    println!(
        "kdump-rs demo: Debian {} in QEMU (TCG), 1 GiB, crashkernel=192M",
        kernel.abi
    );
    for t in TOOLS {
        let ours = match (t.use_ours, &ours_dir) {
            (Use::Debian, _) | (_, None) => false,
            (Use::Ours, Some(_)) => true,
            (Use::OursIfReady, Some(d)) => ours_ready(&d.join(t.ours), t),
        };
        let why = match (t.use_ours, ours) {
            (_, true) => "ours".to_string(),
            (Use::Debian, _) => format!("Debian's (our {} cannot do this yet)", t.ours),
            _ => format!(
                "Debian's (our {} is not ready: its self-check failed)",
                t.ours
            ),
        };
        println!(
            "  {:<18} {:<13} {}",
            t.step,
            if ours { t.ours } else { t.debian },
            why
        );
        choice.push(ours);
    }
    let loader = if choice[0] { "ours" } else { "debian" };
    let filter = if choice[1] {
        "dumpfilter"
    } else {
        "makedumpfile"
    };

    let dir = lab_dir().join("demo");
    let mut spec = GuestSpec::new("demo", &kernel, "kdump");
    spec.mem_mb = 1024;
    spec.smp = 2;
    spec.append = format!(
        "crashkernel=192M hugepages=8 kdumprs.huge=4 kdumprs.anon_mb=30 kdumprs.capture=capture-filter kdumprs.loader={loader} kdumprs.filter={filter}"
    );
    spec.disks = vec![Disk::Blank {
        name: "vda".into(),
        mib: 512,
    }];
    spec.initramfs = initramfs::Spec {
        ours: ours_dir.is_some(),
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
    step(
        &mut g,
        "KDUMPRS: panic kernel loaded",
        "panic kernel loaded",
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
    step(
        &mut g,
        "KDUMPRS-FILTERED",
        "vmcore filtered (-d 31 -c) to /dev/vda",
        900,
    )?;
    let done = step(
        &mut g,
        "KDUMPRS-DONE scenario=capture-filter",
        "capture done, powering off",
        120,
    )?;
    g.wait_exit(Duration::from_secs(60))?;
    timeline.push((boot.elapsed().as_secs_f64(), "QEMU exited".into()));
    if !done.contains("rc=0") {
        return Err(g.fail(format!("capture failed: {done}")));
    }
    let size = g.result("vmcore_size")?;
    let stats_text = g.block("STATS").unwrap_or_default();
    let stats =
        Stats::parse(&stats_text).ok_or_else(|| g.fail("no statistics in the serial log"))?;
    // The flattened stream on the disk → a normal kdump-compressed file.
    let out = dir.join("vmcore.kdump");
    let _ = std::fs::remove_file(&out);
    let disk = std::fs::File::open(&g.disks[0])?;
    run(Command::new("makedumpfile")
        .arg("-R")
        .arg(&out)
        .stdin(disk)
        .stdout(std::process::Stdio::null()))
    .context("makedumpfile -R of the flattened dump")?;
    let out_size = std::fs::metadata(&out)?.len();

    println!(
        "\nTimeline (host seconds since QEMU start; {:.1} s of preparation before):",
        prep.as_secs_f64()
    );
    for (t, what) in &timeline {
        println!("  {t:>7.1} s  {what}");
    }
    println!(
        "\n/proc/vmcore: {:.1} MB; filtered with {filter} -d 31 -c: {} ({:.1} MB)",
        size.parse::<f64>().unwrap_or(0.0) / 1e6,
        out.display(),
        out_size as f64 / 1e6
    );
    println!("\nPages per class ({filter} --message-level 31, 4 KiB pages):");
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
