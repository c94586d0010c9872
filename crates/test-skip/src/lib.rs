//! One way for the workspace's tests to say that they cannot run here.
//!
//! A test that lacks what it needs (a fixture, a reference tool, root) calls [`skip`]. On a
//! developer's quick run that prints `SKIP test: why` and the test returns, passing. With
//! `KDUMP_RS_NO_SKIP=1`, which `cargo xtask test` sets for every stage that runs tests, the
//! same call panics, so the full suite fails on every test that did not run its checks.
//!
//! A check that does not apply to one input (makedumpfile 1.7.2 is no oracle for kernel 6.12,
//! a QEMU dump has no kdump original) is not a skip: [`not_applicable`] says so and never
//! fails, and [`ran_on`] after the loop makes the test skip (so fail in the full suite) when
//! it applied to none of the inputs.
//!
//! ```no_run
//! fn fixture() -> Option<std::path::PathBuf> {
//!     None
//! }
//! let Some(path) = fixture() else {
//!     return test_skip::skip("my_test", "no fixture (run `cargo xtask fixtures`)");
//! };
//! # let _ = path;
//! ```
#![deny(missing_docs)]

use std::fmt::Display;
use std::path::PathBuf;

/// The variable that turns a skip into a failure (`1`; unset, empty or `0` keep the skip).
pub const NO_SKIP_VAR: &str = "KDUMP_RS_NO_SKIP";

/// Whether a skip fails the test: `KDUMP_RS_NO_SKIP` is set to anything but "" and "0".
pub fn skips_fail() -> bool {
    std::env::var_os(NO_SKIP_VAR).is_some_and(|v| flag_on(&v.to_string_lossy()))
}

fn flag_on(v: &str) -> bool {
    !v.is_empty() && v != "0"
}

/// `test` cannot run here because of `why`: prints `SKIP test: why` to stderr and returns, or,
/// under `KDUMP_RS_NO_SKIP=1`, panics with that text (the test fails).
#[track_caller]
pub fn skip(test: &str, why: impl Display) {
    skip_or_fail(skips_fail(), test, &why);
}

#[track_caller]
fn skip_or_fail(fail: bool, test: &str, why: &dyn Display) {
    if fail {
        panic!("SKIP {test}: {why} ({NO_SKIP_VAR}=1: a test that does not run fails)");
    }
    eprintln!("SKIP {test}: {why}");
}

/// `test`'s checks do not apply to the input `what` because of `why`: printed, never a
/// failure. Count the inputs the checks ran on and call [`ran_on`] after the loop.
pub fn not_applicable(test: &str, what: impl Display, why: impl Display) {
    eprintln!("N/A {test} on {what}: {why}");
}

/// After a loop over inputs: [`skip`] (so fail under `KDUMP_RS_NO_SKIP=1`) when the checks
/// ran on none of them.
#[track_caller]
pub fn ran_on(test: &str, inputs_checked: usize) {
    if inputs_checked == 0 {
        skip(
            test,
            "its checks applied to none of the inputs found (see the N/A and SKIP lines)",
        );
    }
}

/// The Debian kernels (`boot/vmlinuz-*`) that `cargo xtask fixtures` (and every lab command)
/// caches in `$XDG_CACHE_HOME/kdump-rs/kernels/<abi>/` or `~/.cache/kdump-rs/kernels/<abi>/`,
/// sorted; empty when none was downloaded yet.
pub fn cached_kernels() -> Vec<PathBuf> {
    let cache = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(x) => PathBuf::from(x),
        None => match std::env::var_os("HOME") {
            Some(h) => PathBuf::from(h).join(".cache"),
            None => return Vec::new(),
        },
    };
    let mut v: Vec<PathBuf> = std::fs::read_dir(cache.join("kdump-rs/kernels"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|abi| std::fs::read_dir(abi.path().join("boot")).ok())
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "SKIP t: no fixture (KDUMP_RS_NO_SKIP=1")]
    fn a_skip_fails_when_asked() {
        skip_or_fail(true, "t", &"no fixture");
    }

    #[test]
    fn a_skip_returns_otherwise() {
        skip_or_fail(false, "t", &"no fixture");
    }

    #[test]
    fn the_flag() {
        assert!(flag_on("1"));
        assert!(flag_on("yes"));
        assert!(!flag_on(""));
        assert!(!flag_on("0"));
    }
}
