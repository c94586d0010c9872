//! `cargo xtask bench`: `dumpfilter` against Debian's makedumpfile on the same real vmcore, in the
//! same run, mode by mode; prints wall time (median of the runs), output size, sampled peak RSS
//! and the ratios. Then a row on a synthetic sparse ELF core that claims 64 GiB (dumpfilter's
//! `sparse-core` example: every frame a zero page in a hole of the file, so almost nothing is
//! kept; makedumpfile reads the whole range, dumpfilter finds the holes with SEEK_DATA and
//! skips them; the row shows whether memory stays bounded), and ours with `--num-threads 1` vs 2
//! on `-d 31 -c`. Timings are printed, never asserted.
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

/// The size the synthetic core claims.
const SPARSE_GIB: u64 = 64;

/// Build dumpfilter and its `sparse-core` example; returns their paths.
fn build_dumpfilter() -> Result<(PathBuf, PathBuf)> {
    let root = workspace_root();
    let args = [
        "build",
        "--release",
        "--quiet",
        "-p",
        "dumpfilter",
        "--bin",
        "dumpfilter",
        "--example",
        "sparse-core",
    ];
    let status = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(args)
        .status()
        .context("cargo build --release -p dumpfilter")?;
    if !status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok((
        root.join("target/release/dumpfilter"),
        root.join("target/release/examples/sparse-core"),
    ))
}

/// Print one table row: ours and makedumpfile's sample side by side, with the ratios.
fn row(label: &str, a: &Sample, b: &Sample) {
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
}

/// `mode VMCORE OUT` for ours (with `extra` options) and makedumpfile, `runs` times each,
/// alternating; the medians.
fn compare(
    ours: &Path,
    args: &[&str],
    extra: &[&str],
    vmcore: &Path,
    scratch: &Path,
    runs: usize,
) -> Result<(Sample, Sample)> {
    let ours_out = scratch.join("ours.out");
    let theirs_out = scratch.join("mdf.out");
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let mut cmd = Command::new(ours);
        cmd.args(args).args(extra).arg(vmcore).arg(&ours_out);
        a.push(measure(cmd, &ours_out)?);
        let mut cmd = Command::new("makedumpfile");
        cmd.args(args).arg(vmcore).arg(&theirs_out);
        b.push(measure(cmd, &theirs_out)?);
    }
    let _ = std::fs::remove_file(&ours_out);
    let _ = std::fs::remove_file(&theirs_out);
    Ok((summarize(a), summarize(b)))
}

/// Ours only: `-d 31 -c` with 1 and with 2 threads, medians of RUNS alternating runs.
fn threads_row(ours: &Path, vmcore: &Path, scratch: &Path) -> Result<()> {
    let out = scratch.join("ours-threads.out");
    let (mut one, mut two) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        for (n, v) in [("1", &mut one), ("2", &mut two)] {
            let mut cmd = Command::new(ours);
            cmd.args(["-d", "31", "-c", "--num-threads", n])
                .arg(vmcore)
                .arg(&out);
            v.push(measure(cmd, &out)?);
        }
    }
    let _ = std::fs::remove_file(&out);
    let (one, two) = (summarize(one), summarize(two));
    println!(
        "{:<22} {:>11} {:>11} {:>8}",
        "ours -d 31 -c", "1 thread s", "2 threads s", "speedup"
    );
    println!(
        "{:<22} {:>11.3} {:>11.3} {:>7.2}x",
        "--num-threads 1 vs 2",
        one.wall.as_secs_f64(),
        two.wall.as_secs_f64(),
        one.wall.as_secs_f64() / two.wall.as_secs_f64().max(1e-9)
    );
    Ok(())
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
    let (ours, sparse_core) = build_dumpfilter()?;
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
    let threads = nproc.to_string();
    for (label, args) in MODES {
        let (a, b) = compare(
            &ours,
            args,
            &["--num-threads", &threads],
            &vmcore,
            &scratch,
            RUNS,
        )?;
        row(label, &a, &b);
    }
    // The synthetic core: one run each (it reads 64 GiB of file holes).
    let core = scratch.join(format!("sparse-{SPARSE_GIB}g.elf"));
    let status = Command::new(&sparse_core)
        .arg(&core)
        .arg(SPARSE_GIB.to_string())
        .stdout(Stdio::null())
        .status()
        .context("sparse-core")?;
    if !status.success() {
        bail!("sparse-core {} failed", core.display());
    }
    let sparse = compare(
        &ours,
        &["-d", "31"],
        &["--num-threads", &threads],
        &core,
        &scratch,
        1,
    );
    let _ = std::fs::remove_file(&core);
    let (a, b) = sparse?;
    row(&format!("{SPARSE_GIB}G -d 31"), &a, &b);
    println!(
        "{SPARSE_GIB}G: a sparse ELF core claiming {SPARSE_GIB} GiB, every frame zero and a hole of the file (1 run each; dumpfilter skips holes, makedumpfile reads them)"
    );
    println!("peak RSS is VmHWM sampled every 5 ms (a lower bound for very short runs)");
    println!();
    threads_row(&ours, &vmcore, &scratch)
}
