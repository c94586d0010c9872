//! `cargo xtask fuzz [TARGET] [--seconds N] [--runs N]`: cargo-fuzz runs of the targets listed
//! in fuzz/Cargo.toml (`[[bin]]` names), each for N seconds or until N executions, whichever
//! comes first. Every run appends one line to fuzz/target/fuzz-logs/summary.tsv (date, target,
//! seconds, executions, cov, ft, findings), the record the long runs are reported from.
//!
//! One `cargo fuzz build` for all targets, with the address sanitizer (cargo-fuzz's default
//! `-Zsanitizer=address`; `RUSTC_BOOTSTRAP=1` lets the stable toolchain accept it), then each
//! target binary runs (niced, one worker each, `--jobs` targets at a time) over a scratch corpus in
//! fuzz/target/corpus/<target>/ (new inputs go there, never into the repository) plus the
//! committed seeds in fuzz/corpus/<target>/, with the bounds of [`BOUNDS`]:
//!
//! - `-malloc_limit_mb=256`: a single allocation of 256 MiB or more is reported as an OOM
//!   with its stack. libFuzzer sees allocations only through the sanitizer's malloc hooks,
//!   which is why the build uses ASan: without a sanitizer this flag has no effect.
//! - `-rss_limit_mb=2048`: the whole process (ASan's shadow memory and quarantine included)
//!   stays under 2 GiB, so many smaller allocations that add up are caught as well.
//! - `-timeout=10`: one input running 10 s is a hang (a loop without bound).
//!
//! Prints executions, coverage (cov/ft) and crashes, leaks, timeouts and OOMs per target; fails
//! if any target found one (the input is in fuzz/artifacts/<target>/: copy it to
//! fuzz/regressions/<target>/, where the crate's tests/fuzz_regressions.rs replays it).

use crate::util::{run, workspace_root};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The `[[bin]]` names of fuzz/Cargo.toml.
pub fn targets() -> Result<Vec<String>> {
    let text = std::fs::read_to_string(workspace_root().join("fuzz/Cargo.toml"))?;
    let mut out = Vec::new();
    let mut in_bin = false;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_bin = l == "[[bin]]";
            continue;
        }
        if in_bin {
            if let Some(v) = l.strip_prefix("name") {
                if let Some(v) = v.trim_start().strip_prefix('=') {
                    out.push(v.trim().trim_matches('"').to_string());
                }
            }
        }
    }
    Ok(out)
}

/// What one target's run reported.
#[derive(Debug, Default)]
struct Outcome {
    execs: u64,
    cov: u64,
    ft: u64,
    corpus: u64,
    crashes: usize,
    leaks: usize,
    timeouts: usize,
    ooms: usize,
    exit: Option<i32>,
}

impl Outcome {
    fn failed(&self) -> bool {
        self.crashes + self.leaks + self.timeouts + self.ooms > 0 || self.exit != Some(0)
    }
}

/// libFuzzer's runtime arguments bounding memory and time per input (see the module docs;
/// `-malloc_limit_mb` needs the ASan build that [`fuzz`] makes).
pub const BOUNDS: [&str; 3] = ["-rss_limit_mb=2048", "-malloc_limit_mb=256", "-timeout=10"];

/// Fuzz `only` (or every target) for `seconds` each, or until `runs` executions if that comes
/// first, `jobs` targets at a time; returns how many ran.
pub fn fuzz(only: Option<&str>, seconds: u64, runs: Option<u64>, jobs: usize) -> Result<usize> {
    crate::setup::ensure_cargo_fuzz()?;
    let all = targets()?;
    let chosen: Vec<&String> = all
        .iter()
        .filter(|t| only.is_none_or(|o| o == t.as_str()))
        .collect();
    if chosen.is_empty() {
        if let Some(o) = only {
            bail!("no fuzz target {o} in fuzz/Cargo.toml (have: {all:?})");
        }
        eprintln!("[fuzz] fuzz/Cargo.toml lists no targets yet");
        return Ok(0);
    }
    let dir = workspace_root().join("fuzz");
    let t0 = Instant::now();
    // Cargo caches what rustc answered to its target probe, failures included, without
    // RUSTC_BOOTSTRAP in the key: one `cargo fuzz build` run without it leaves a cached
    // "-Z is only accepted on the nightly compiler" that every later build repeats.
    let _ = std::fs::remove_file(dir.join("target/.rustc_info.json"));
    let mut build = Command::new("cargo");
    build
        .current_dir(&dir)
        // -Zsanitizer=address is a -Z flag; this lets a stable toolchain accept it.
        .env("RUSTC_BOOTSTRAP", "1")
        .args([
            "fuzz",
            "build",
            "-O",
            "--sanitizer",
            "address",
            "--debug-assertions",
        ]);
    if let Some(o) = only {
        build.arg(o);
    }
    run(&mut build)?;
    eprintln!("[fuzz] build: {:.0} s", t0.elapsed().as_secs_f64());
    let bin_dir = dir.join("target/x86_64-unknown-linux-gnu/release");
    // `jobs` targets at a time, each its own single-worker libFuzzer process; results in the
    // order of fuzz/Cargo.toml whatever order they finish in.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, chosen.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(t) = chosen.get(i) else { break };
                eprintln!("[fuzz] {t}: {seconds} s");
                let o = run_one(&dir, &bin_dir.join(t.as_str()), t, seconds, runs)
                    .with_context(|| format!("fuzz target {t}"));
                if let Ok(o) = &o {
                    eprintln!(
                        "[fuzz] {t}: {} execs, cov {} ft {}, {} crash(es)",
                        o.execs, o.cov, o.ft, o.crashes
                    );
                }
                if let Ok(mut d) = done.lock() {
                    d.push((i, t.to_string(), o));
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_default();
    done.sort_by_key(|(i, _, _)| *i);
    let mut results = Vec::new();
    for (_, t, o) in done {
        results.push((t, o?));
    }
    println!(
        "\n{:<20} {:>12} {:>7} {:>7} {:>7} {:>6} {:>6} {:>8} {:>5}",
        "target", "executions", "cov", "ft", "corpus", "crash", "leak", "timeout", "oom"
    );
    for (t, o) in &results {
        println!(
            "{:<20} {:>12} {:>7} {:>7} {:>7} {:>6} {:>6} {:>8} {:>5}{}",
            t,
            o.execs,
            o.cov,
            o.ft,
            o.corpus,
            o.crashes,
            o.leaks,
            o.timeouts,
            o.ooms,
            if o.failed() && o.crashes + o.leaks + o.timeouts + o.ooms == 0 {
                format!("  (exit {:?})", o.exit)
            } else {
                String::new()
            }
        );
    }
    println!("fuzz: total {:.0} s", t0.elapsed().as_secs_f64());
    let bad: Vec<&str> = results
        .iter()
        .filter(|(_, o)| o.failed())
        .map(|(t, _)| t.as_str())
        .collect();
    if !bad.is_empty() {
        bail!("fuzz targets failed: {bad:?} (inputs in fuzz/artifacts/<target>/; logs in fuzz/target/fuzz-logs/)");
    }
    Ok(chosen.len())
}

fn artifacts(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `ASAN_OPTIONS` for the runs: the caller's, plus `detect_odr_violation=0`.
fn asan_options() -> String {
    let mut o = std::env::var("ASAN_OPTIONS").unwrap_or_default();
    if !o.is_empty() {
        o.push(':');
    }
    o.push_str("detect_odr_violation=0");
    o
}

/// One target, in this process's libFuzzer loop (no -jobs/-workers: one process, one worker,
/// its output in one log).
fn run_one(dir: &Path, bin: &Path, t: &str, seconds: u64, runs: Option<u64>) -> Result<Outcome> {
    let work: PathBuf = dir.join("target/corpus").join(t);
    let seeds = dir.join("corpus").join(t);
    let arts = dir.join("artifacts").join(t);
    let logs = dir.join("target/fuzz-logs");
    for d in [&work, &seeds, &arts, &logs] {
        std::fs::create_dir_all(d).with_context(|| format!("mkdir {}", d.display()))?;
    }
    let before = artifacts(&arts);
    let log_path = logs.join(format!("{t}.log"));
    let log = std::fs::File::create(&log_path)?;
    let started = Instant::now();
    let mut cmd = Command::new("nice");
    cmd.args(["-n", "15"])
        .arg(bin)
        .arg(&work)
        .arg(&seeds)
        .arg(format!("-max_total_time={seconds}"));
    if let Some(n) = runs {
        cmd.arg(format!("-runs={n}"));
    }
    let status = cmd
        .args(BOUNDS)
        // What `cargo fuzz run` sets for ASan builds (Rust's codegen units trip the ODR check).
        .env("ASAN_OPTIONS", asan_options())
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", arts.display()))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .with_context(|| format!("running {}", bin.display()))?;
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let mut o = Outcome {
        exit: status.code(),
        ..Default::default()
    };
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("stat::number_of_executed_units:") {
            o.execs = v.trim().parse().unwrap_or(0);
        }
        if line.starts_with('#') && line.contains(" cov: ") {
            let word = |key: &str| {
                line.split_whitespace()
                    .skip_while(|w| *w != key)
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            };
            o.cov = word("cov:").unwrap_or(o.cov);
            o.ft = word("ft:").unwrap_or(o.ft);
            o.corpus = word("corp:")
                .or_else(|| {
                    let w = line
                        .split_whitespace()
                        .skip_while(|w| *w != "corp:")
                        .nth(1)?;
                    w.split('/').next()?.parse().ok()
                })
                .unwrap_or(o.corpus);
        }
    }
    for a in artifacts(&arts) {
        if before.contains(&a) {
            continue;
        }
        match a.split('-').next() {
            Some("crash") => o.crashes += 1,
            Some("leak") => o.leaks += 1,
            Some("timeout") => o.timeouts += 1,
            Some("oom") => o.ooms += 1,
            _ => {}
        }
    }
    let summary = format!(
        "{}\t{t}\t{:.0}\t{}\t{}\t{}\t{}\n",
        crate::util::utc_now(),
        started.elapsed().as_secs_f64(),
        o.execs,
        o.cov,
        o.ft,
        o.crashes + o.leaks + o.timeouts + o.ooms
    );
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logs.join("summary.tsv"))
        .and_then(|mut f| f.write_all(summary.as_bytes()))
        .context("fuzz-logs/summary.tsv")?;
    if o.failed() {
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        for l in tail.iter().rev() {
            eprintln!("[fuzz] {t} | {l}");
        }
    }
    Ok(o)
}
