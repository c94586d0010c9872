//! `cargo xtask fuzz [TARGET] [--seconds N]`: short cargo-fuzz runs of the targets listed in
//! fuzz/Cargo.toml (`[[bin]]` names).

use crate::util::{run, workspace_root};
use anyhow::{bail, Result};
use std::process::Command;

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

/// Fuzz `only` (or every target) for `seconds` each; returns how many ran.
pub fn fuzz(only: Option<&str>, seconds: u64) -> Result<usize> {
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
    for t in &chosen {
        eprintln!("[fuzz] {t}: {seconds} s");
        run(Command::new("cargo")
            .current_dir(workspace_root().join("fuzz"))
            // cargo-fuzz passes -Z flags; this lets a stable toolchain accept them.
            .env("RUSTC_BOOTSTRAP", "1")
            .args([
                "fuzz",
                "run",
                "--sanitizer",
                "none",
                "--debug-assertions",
                t,
            ])
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .args(["-rss_limit_mb=2048", "-timeout=10"]))?;
    }
    Ok(chosen.len())
}
