//! `cargo xtask bench`: `dumpfilter` against Debian's makedumpfile on the same real vmcore, in the
//! same run, mode by mode; prints wall time (median of the runs), output size, sampled peak RSS
//! and the ratios. Timings are printed, never asserted.
//!
//! The crates' own micro-benchmarks are examples that print their side-by-side figures:
//! `cargo run --release -p vmcore --example read-bench -- VMCORE` (mmap/pread vs `cat`),
//! `cargo run --release -p page-filter --example pf-bench -- VMCORE` (classification vs
//! makedumpfile), `cargo run --release -p kdump-compressed --example codec-bench -- VMCORE`
//! (codecs vs liblzo2 and C zlib).

use crate::fixtures::{self, Source};
use crate::util::workspace_root;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One measured run of a command.
struct Sample {
    wall: Duration,
    peak_rss_kib: u64,
    out_bytes: u64,
}

/// Runs per tool and mode; the median wall time is reported.
const RUNS: usize = 3;

/// The modes compared: (label, arguments before VMCORE OUTFILE).
const MODES: &[(&str, &[&str])] = &[
    ("-d 31", &["-d", "31"]),
    ("-d 31 -c", &["-d", "31", "-c"]),
    ("-d 31 -l", &["-d", "31", "-l"]),
    ("-d 31 -z", &["-d", "31", "-z"]),
];

/// VmHWM (peak resident set) of a running process, in KiB.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Run `cmd` writing `out`, sampling its peak RSS every 5 ms until it exits.
fn measure(mut cmd: Command, out: &Path) -> Result<Sample> {
    let _ = std::fs::remove_file(out);
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("spawn {cmd:?}"))?;
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = vm_hwm(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall = start.elapsed();
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        bail!("{cmd:?} failed ({status}): {}", err.trim());
    }
    let out_bytes = std::fs::metadata(out)
        .with_context(|| format!("{cmd:?} wrote no {}", out.display()))?
        .len();
    Ok(Sample {
        wall,
        peak_rss_kib: peak,
        out_bytes,
    })
}

/// Median of RUNS alternating runs; the largest RSS and the last size.
fn summarize(mut samples: Vec<Sample>) -> Sample {
    samples.sort_by_key(|s| s.wall);
    let peak_rss_kib = samples.iter().map(|s| s.peak_rss_kib).max().unwrap_or(0);
    let mid = samples.swap_remove(samples.len() / 2);
    Sample {
        peak_rss_kib,
        ..mid
    }
}

fn build_dumpfilter() -> Result<PathBuf> {
    let root = workspace_root();
    let status = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["build", "--release", "--quiet", "-p", "dumpfilter"])
        .status()
        .context("cargo build --release -p dumpfilter")?;
    if !status.success() {
        bail!("cargo build --release -p dumpfilter failed");
    }
    Ok(root.join("target/release/dumpfilter"))
}

/// Run the side-by-side table on the 6.1 kdump fixture.
pub fn bench() -> Result<()> {
    let manifest = fixtures::fixtures(None, false)?;
    let fx = manifest
        .fixtures
        .iter()
        .find(|f| f.source == Source::Kdump && f.series == "6.1")
        .context("no 6.1 kdump fixture in the manifest")?;
    let vmcore = fixtures::abs(&fx.vmcore);
    let ours = build_dumpfilter()?;
    let scratch = workspace_root().join("target/xtask/bench");
    std::fs::create_dir_all(&scratch)?;
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "bench: {} ({} MB, {}), {} runs each, alternating; ours with --num-threads {nproc}",
        fx.name,
        fx.vmcore_size / 1_000_000,
        fx.kernel_abi,
        RUNS
    );
    println!("note: makedumpfile 1.7.2 has no zstd; its -z writes an uncompressed dump");
    println!(
        "{:<10} {:>11} {:>11} {:>8} {:>11} {:>11} {:>7} {:>9} {:>9}",
        "mode", "ours s", "mdf s", "speedup", "ours MB", "mdf MB", "size %", "ours MiB", "mdf MiB"
    );
    for (label, args) in MODES {
        let ours_out = scratch.join("ours.out");
        let theirs_out = scratch.join("mdf.out");
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let mut cmd = Command::new(&ours);
            cmd.args(*args)
                .args(["--num-threads", &nproc.to_string()])
                .arg(&vmcore)
                .arg(&ours_out);
            a.push(measure(cmd, &ours_out)?);
            let mut cmd = Command::new("makedumpfile");
            cmd.args(*args).arg(&vmcore).arg(&theirs_out);
            b.push(measure(cmd, &theirs_out)?);
        }
        let (a, b) = (summarize(a), summarize(b));
        println!(
            "{:<10} {:>11.3} {:>11.3} {:>7.2}x {:>11.1} {:>11.1} {:>6.1}% {:>9.1} {:>9.1}",
            label,
            a.wall.as_secs_f64(),
            b.wall.as_secs_f64(),
            b.wall.as_secs_f64() / a.wall.as_secs_f64().max(1e-9),
            a.out_bytes as f64 / 1e6,
            b.out_bytes as f64 / 1e6,
            100.0 * a.out_bytes as f64 / (b.out_bytes as f64).max(1.0),
            a.peak_rss_kib as f64 / 1024.0,
            b.peak_rss_kib as f64 / 1024.0,
        );
        let _ = std::fs::remove_file(&ours_out);
        let _ = std::fs::remove_file(&theirs_out);
    }
    println!("peak RSS is VmHWM sampled every 5 ms (a lower bound for very short runs)");
    Ok(())
}
