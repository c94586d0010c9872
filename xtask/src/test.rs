//! `cargo xtask test`: the whole suite, one summary line per stage.
//!
//! Nothing may skip: `KDUMP_RS_NO_SKIP=1` is set for every stage, so a test that would print
//! `SKIP` (see crates/test-skip) fails instead, and `cargo test` fails the stage when any test
//! outside the doc tests is ignored. The `cargo test` stage counts what its `test result:`
//! lines report.

use crate::util::{fixtures_dir, secs, show, workspace_root};
use crate::{crashcheck, fixtures, fuzz, setup, vmtests};
use anyhow::{bail, Context, Result};
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Set for every stage: a skipped test fails (crates/test-skip).
pub const NO_SKIP_VAR: &str = "KDUMP_RS_NO_SKIP";

/// The panic text of a skip turned into a failure (crates/test-skip prints it once per test).
const SKIP_FAILURE_MARK: &str = "KDUMP_RS_NO_SKIP=1: a test that does not run fails";

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
    /// Guests at once (`--vm-jobs N`); see [`vm_jobs`].
    pub vm_jobs: Option<usize>,
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
    // Before any thread exists: every stage and everything it starts sees it.
    std::env::set_var(NO_SKIP_VAR, "1");
    let fuzz_seconds = opts
        .fuzz_seconds
        .or_else(|| {
            std::env::var("KDUMP_RS_FUZZ_SECONDS")
                .ok()
                .and_then(|s| s.parse().ok())
        })
        .or((!opts.quick && opts.vm_filter.is_none()).then_some(FUZZ_SMOKE_SECONDS))
        .filter(|&s| s > 0);
    let stages: std::cell::RefCell<Vec<Stage>> = std::cell::RefCell::new(Vec::new());
    let stage = |name: &str, f: &mut dyn FnMut() -> Result<String>| {
        let s = timed(name, f);
        let ok = s.ok;
        stages.borrow_mut().push(s);
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
        let stages = stages.into_inner();
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
        stage("cargo test", &mut || cargo_test(&fixtures_env));
    }
    if opts.quick {
        eprintln!("[test] --quick: crash check and VM tests skipped");
    } else {
        if opts.vm_filter.is_none() {
            stage("crash", &mut || crashcheck::crash_check());
        }
        let selected: Vec<&vmtests::VmTest> = vmtests::TESTS
            .iter()
            .filter(|t| opts.vm_filter.as_deref().is_none_or(|f| t.name.contains(f)))
            .collect();
        let jobs = vm_jobs(opts.vm_jobs);
        let t_vm = Instant::now();
        stages.borrow_mut().extend(run_vm_tests(&selected, jobs));
        if !selected.is_empty() {
            eprintln!(
                "[test] VM tests: {} in {} ({jobs} at a time)",
                selected.len(),
                secs(t_vm.elapsed())
            );
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
    let stages = stages.into_inner();
    summary(&stages, total)
}

/// Run one stage: its header line, `f` timed, its outcome line (and the error when it
/// failed); the stage's note is what `f` returned, or the error's first line.
fn timed(name: &str, f: impl FnOnce() -> Result<String>) -> Stage {
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
    Stage {
        name: name.into(),
        ok,
        seconds,
        note,
    }
}

/// How many guests run at once: `--vm-jobs N`, else `KDUMP_RS_VM_JOBS`, else [`VM_JOBS`]
/// (never more than the machine's cores: every guest is one TCG vCPU, a busy core).
fn vm_jobs(asked: Option<usize>) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    asked
        .or_else(|| {
            std::env::var("KDUMP_RS_VM_JOBS")
                .ok()
                .and_then(|s| s.parse().ok())
        })
        .unwrap_or(VM_JOBS)
        .clamp(1, cores.max(1))
}

/// Guests at once in the full suite: two, which a 2-core CI machine runs side by side (each
/// guest is a single TCG vCPU). Tests that share host state take care of it themselves (the
/// installed tests build their .debs once, under a lock).
pub const VM_JOBS: usize = 2;

/// Run `tests`, `jobs` at a time, each on its own thread taking the next test of the list
/// (so the list's order is the start order: the longest come first). Returns one stage per
/// test, in list order. A panic in a test is its failure, not the suite's end.
fn run_vm_tests(tests: &[&vmtests::VmTest], jobs: usize) -> Vec<Stage> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<Stage>>> = Mutex::new(tests.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(tests.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(t) = tests.get(i) else { break };
                let s = timed(&format!("vm {}", t.name), || {
                    std::panic::catch_unwind(|| (t.run)())
                        .unwrap_or_else(|p| Err(anyhow::anyhow!("panicked: {}", panic_text(&p))))
                        .map(|()| t.about.to_string())
                });
                if let Ok(mut d) = done.lock() {
                    d[i] = Some(s);
                }
            });
        }
    });
    done.into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// `cargo test --workspace` with the fixtures and skips as failures; its output (stdout and
/// stderr merged, in order) is shown as it comes and its `test result:` lines counted. Fails
/// when cargo test fails or any test outside the doc tests was ignored.
fn cargo_test(fixtures: &Path) -> Result<String> {
    let mut cmd = Command::new("sh");
    cmd.current_dir(workspace_root())
        .env("KDUMP_RS_FIXTURES", fixtures)
        .env(NO_SKIP_VAR, "1")
        .args(["-c", "exec \"$@\" 2>&1", "sh"])
        .args(["cargo", "test", "--workspace", "--no-fail-fast"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let shown = show(&cmd);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start `{shown}`"))?;
    let mut counts = Counts::default();
    if let Some(out) = child.stdout.take() {
        for line in std::io::BufReader::new(out).split(b'\n') {
            let line = line.with_context(|| format!("reading the output of `{shown}`"))?;
            let line = String::from_utf8_lossy(&line);
            eprintln!("{line}");
            counts.line(&line);
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("waiting for `{shown}`"))?;
    let note = counts.note();
    eprintln!("[test] cargo test: {note}");
    for name in &counts.ignored_names {
        eprintln!("[test] ignored (a failure here): {name}");
    }
    if !status.success() {
        bail!("{note}; `{shown}` failed: {status}");
    }
    if counts.ignored > 0 {
        bail!("{note}; ignored tests count as failures");
    }
    if counts.suites == 0 {
        bail!("{note}; no `test result:` line in the output of `{shown}`");
    }
    Ok(note)
}

/// What cargo test's `test result: ok. N passed; M failed; K ignored; ...` lines add up to.
#[derive(Debug, Default, PartialEq)]
struct Counts {
    /// Test binaries and doc-test groups that reported a result.
    suites: u64,
    passed: u64,
    failed: u64,
    /// Ignored unit and integration tests (`#[ignore]`): failures in the full suite.
    ignored: u64,
    /// Doc examples marked `ignore` (`no_run` ones are compiled and count as passed).
    doc_ignored: u64,
    /// Tests that failed because they would have skipped.
    skips: u64,
    /// `binary: test` of each ignored unit or integration test.
    ignored_names: Vec<String>,
    /// The binary or doc-test group whose output is being read, and whether it is doc tests.
    section: String,
    in_doc: bool,
}

impl Counts {
    fn line(&mut self, line: &str) {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("Running ") {
            self.section = rest.to_string();
            self.in_doc = false;
        } else if let Some(krate) = t.strip_prefix("Doc-tests ") {
            self.section = format!("doc tests of {krate}");
            self.in_doc = true;
        } else if let Some(rest) = t.strip_prefix("test result: ") {
            self.result(rest);
        } else if let Some(name) = t
            .strip_prefix("test ")
            .filter(|r| {
                !self.in_doc && (r.ends_with(" ... ignored") || r.contains(" ... ignored, "))
            })
            .and_then(|r| r.split(" ... ").next())
        {
            self.ignored_names.push(format!("{}: {name}", self.section));
        }
        if t.contains(SKIP_FAILURE_MARK) {
            self.skips += 1;
        }
    }

    /// `ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s`
    fn result(&mut self, rest: &str) {
        self.suites += 1;
        let fields = rest.split_once(". ").map_or("", |(_, f)| f);
        for field in fields.split(';') {
            let mut w = field.split_whitespace();
            let (Some(n), Some(what)) = (w.next().and_then(|n| n.parse::<u64>().ok()), w.next())
            else {
                continue;
            };
            match what {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" if self.in_doc => self.doc_ignored += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }

    fn note(&self) -> String {
        format!(
            "{} tests run in {} binaries and doc-test groups: {} passed, {} failed ({} of them \
             skips), {} ignored; {} doc examples not run (`ignore`)",
            self.passed + self.failed,
            self.suites,
            self.passed,
            self.failed,
            self.skips,
            self.ignored,
            self.doc_ignored
        )
    }
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
    let vm: Vec<&Stage> = stages
        .iter()
        .filter(|s| s.name.starts_with("vm "))
        .collect();
    println!(
        "VM tests: {} run, {} failed (of {})",
        vm.len(),
        vm.iter().filter(|s| !s.ok).count(),
        vmtests::TESTS.len()
    );
    let failed = stages.iter().filter(|s| !s.ok).count();
    println!("total {}", secs(total.elapsed()));
    println!("test: {} passed, {} failed", stages.len() - failed, failed);
    if failed > 0 {
        bail!("{failed} stage(s) failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_cargo_test_output() {
        let out = "\
   Compiling vmcore v0.1.0
     Running unittests src/lib.rs (target/debug/deps/vmcore-0123)

running 3 tests
test a ... ok
test b ... ignored
test c ... ignored, needs a disk
test result: ok. 1 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.00s

     Running tests/real_dumps.rs (target/debug/deps/real_dumps-4567)

running 2 tests
test dmesg ... FAILED
test uts ... ok

failures:

---- dmesg stdout ----
thread 'dmesg' panicked at crates/vmcore/tests/real_dumps.rs:14:16:
SKIP dmesg: no vmcore fixture on this machine (KDUMP_RS_NO_SKIP=1: a test that does not run fails)

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.10s

   Doc-tests vmcore

running 2 tests
test src/lib.rs - (line 4) ... ignored
test src/read.rs - read (line 9) - compile ... ok
test result: ok. 1 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.20s
";
        let mut c = Counts::default();
        out.lines().for_each(|l| c.line(l));
        assert_eq!(
            (
                c.suites,
                c.passed,
                c.failed,
                c.ignored,
                c.doc_ignored,
                c.skips
            ),
            (3, 3, 1, 2, 1, 1)
        );
        assert_eq!(
            c.ignored_names,
            [
                "unittests src/lib.rs (target/debug/deps/vmcore-0123): b",
                "unittests src/lib.rs (target/debug/deps/vmcore-0123): c"
            ]
        );
        assert!(c.note().starts_with(
            "4 tests run in 3 binaries and doc-test groups: 3 passed, 1 failed (1 of them skips), 2 ignored; 1 doc examples not run"
        ));
    }
}
