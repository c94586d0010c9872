//! Shared by the crates' tests/fuzz_regressions.rs (included with `#[path]`): the inputs a fuzz
//! target's regression test replays, and the replay loop.
//!
//! Each test includes the target's body (fuzz/bodies/<target>.rs), the very code the fuzz
//! target runs, and calls [`replay`] with it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Every file of fuzz/regressions/<target>/ (inputs that once failed) and of the committed
/// seed corpus fuzz/corpus/<target>/, sorted, with its path. Inputs that still fail, kept in
/// fuzz/regressions/<target>/open/ until the owning code is fixed, are not among them (see
/// [`replay_open`]).
pub fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    files(&["regressions", "corpus"].map(|d| format!("{d}/{target}")))
}

/// The files directly in these directories under fuzz/, sorted per directory.
fn files(dirs: &[String]) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(rd) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut paths: Vec<_> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        for p in paths {
            let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            out.push((p, data));
        }
    }
    out
}

/// What [`replay`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    /// Inputs run.
    pub inputs: usize,
    /// Inputs for which the body returned true (it got past its first parse).
    pub accepted: usize,
}

/// Run `body` (a fuzz target's `run`) on every input of `target`; a panic names the file.
/// Fails if the target has no input at all (every target has committed seeds).
pub fn replay(target: &str, body: fn(&[u8]) -> bool) -> Replayed {
    let all = inputs(target);
    assert!(
        !all.is_empty(),
        "no inputs in fuzz/corpus/{target}/ or fuzz/regressions/{target}/"
    );
    run_all(target, &all, body)
}

/// Run `body` on the open regressions of `target` (fuzz/regressions/<target>/open/: found by
/// the fuzzer, not fixed yet). Called from an `#[ignore]`d test that names the defect; once
/// the code is fixed, the files move up to fuzz/regressions/<target>/ and the test goes.
pub fn replay_open(target: &str, body: fn(&[u8]) -> bool) -> Replayed {
    let all = files(&[format!("regressions/{target}/open")]);
    assert!(
        !all.is_empty(),
        "no inputs in fuzz/regressions/{target}/open/"
    );
    run_all(target, &all, body)
}

fn run_all(target: &str, all: &[(PathBuf, Vec<u8>)], body: fn(&[u8]) -> bool) -> Replayed {
    let mut r = Replayed {
        inputs: 0,
        accepted: 0,
    };
    for (path, data) in all {
        match std::panic::catch_unwind(|| body(data)) {
            Ok(accepted) => r.accepted += usize::from(accepted),
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| e.downcast_ref::<&str>().copied())
                    .unwrap_or("(non-string panic)");
                panic!("fuzz target {target} fails on {}: {msg}", path.display());
            }
        }
        r.inputs += 1;
    }
    eprintln!(
        "{target}: {} inputs replayed, {} accepted",
        r.inputs, r.accepted
    );
    r
}
