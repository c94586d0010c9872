//! `cargo xtask test`: the whole suite, one summary line per stage.

use crate::util::{fixtures_dir, secs, workspace_root};
use crate::{crashcheck, fixtures, fuzz, setup, vmtests};
use anyhow::{bail, Result};
use std::process::Command;
use std::time::Instant;

/// Options of the test command.
#[derive(Debug, Default)]
pub struct Opts {
    /// Skip the VM tests.
    pub quick: bool,
    /// Fuzz each target for this many seconds (also from KDUMP_RS_FUZZ_SECONDS); the full
    /// suite's default is [`FUZZ_SMOKE_SECONDS`], 0 turns it off.
    pub fuzz_seconds: Option<u64>,
    /// Run only the VM tests whose name contains this (after setup and fixtures; no fmt,
    /// clippy or cargo test).
    pub vm_filter: Option<String>,
}

struct Stage {
    name: String,
    ok: bool,
    seconds: f64,
    note: String,
}

fn cargo(args: &[&str]) -> Result<()> {
    crate::util::run(
        Command::new("cargo")
            .current_dir(workspace_root())
            .args(args),
    )
}

/// Seconds each fuzz target runs in the full suite (not with `--quick` or `--vm`).
pub const FUZZ_SMOKE_SECONDS: u64 = 30;

/// Run every stage (later stages run even when one fails); fail if any failed.
pub fn test(opts: Opts) -> Result<()> {
    let fuzz_seconds = opts
        .fuzz_seconds
        .or_else(|| {
            std::env::var("KDUMP_RS_FUZZ_SECONDS")
                .ok()
                .and_then(|s| s.parse().ok())
        })
        .or((!opts.quick && opts.vm_filter.is_none()).then_some(FUZZ_SMOKE_SECONDS))
        .filter(|&s| s > 0);
    let mut stages: Vec<Stage> = Vec::new();
    let mut stage = |name: &str, f: &mut dyn FnMut() -> Result<String>| {
        eprintln!("===== [test] {name}");
        let t = Instant::now();
        let r = f();
        let seconds = t.elapsed().as_secs_f64();
        let (ok, note) = match r {
            Ok(n) => (true, n),
            Err(e) => {
                eprintln!("[test] {name} FAILED: {e:#}");
                (
                    false,
                    format!("{e:#}").lines().next().unwrap_or("").to_string(),
                )
            }
        };
        eprintln!(
            "[test] {name}: {} in {seconds:.1} s",
            if ok { "ok" } else { "FAILED" }
        );
        stages.push(Stage {
            name: name.into(),
            ok,
            seconds,
            note,
        });
        ok
    };
    let total = Instant::now();
    if !stage("setup", &mut || {
        setup::setup(setup::Opts {
            fuzz: fuzz_seconds.is_some(),
            ..Default::default()
        })
        .map(|_| String::new())
    }) {
        return summary(&stages, total);
    }
    stage("fixtures", &mut || {
        let m = fixtures::fixtures(None, false)?;
        Ok(format!("{} fixtures", m.fixtures.len()))
    });
    let fixtures_env = fixtures_dir();
    if opts.vm_filter.is_none() {
        stage("fmt", &mut || {
            cargo(&["fmt", "--all", "--check"]).map(|_| String::new())
        });
        stage("clippy", &mut || {
            cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ])
            .map(|_| String::new())
        });
        stage("cargo test", &mut || {
            crate::util::run(
                Command::new("cargo")
                    .current_dir(workspace_root())
                    .env("KDUMP_RS_FIXTURES", &fixtures_env)
                    .args(["test", "--workspace", "--no-fail-fast"]),
            )
            .map(|_| String::new())
        });
    }
    if opts.quick {
        eprintln!("[test] --quick: crash check and VM tests skipped");
    } else {
        if opts.vm_filter.is_none() {
            stage("crash", &mut || crashcheck::crash_check());
        }
        for t in vmtests::TESTS {
            if opts
                .vm_filter
                .as_deref()
                .is_some_and(|f| !t.name.contains(f))
            {
                continue;
            }
            stage(&format!("vm {}", t.name), &mut || {
                (t.run)().map(|_| t.about.to_string())
            });
        }
    }
    match fuzz_seconds {
        Some(s) => {
            // As many targets at once as there are cores: the suite has the machine to itself.
            let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
            stage(&format!("fuzz ({s} s per target)"), &mut || {
                fuzz::fuzz(None, s, None, jobs).map(|n| format!("{n} targets, {jobs} at a time"))
            });
        }
        None => eprintln!(
            "[test] fuzz smoke runs skipped (--quick, --vm or --fuzz 0; --fuzz 30 runs every \
             target 30 s)"
        ),
    }
    summary(&stages, total)
}

fn summary(stages: &[Stage], total: Instant) -> Result<()> {
    println!("\n===== cargo xtask test summary");
    for s in stages {
        println!(
            "{:<6} {:<28} {:>8.1} s  {}",
            if s.ok { "ok" } else { "FAIL" },
            s.name,
            s.seconds,
            s.note
        );
    }
    let failed = stages.iter().filter(|s| !s.ok).count();
    println!("total {}", secs(total.elapsed()));
    println!("test: {} passed, {} failed", stages.len() - failed, failed);
    if failed > 0 {
        bail!("{failed} stage(s) failed");
    }
    Ok(())
}
