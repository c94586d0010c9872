//! `cargo xtask man`: the man pages and bash completions, rendered by the `kdump-cli` crate
//! from the same definitions as `--help`, written under target/xtask/deb/ (man/kdump.8,
//! man/kexec-load.8, man/dumpfilter.8, man/kdump.conf.5, completions/kdump, ...). Each
//! completion is checked with `bash -n`.

use crate::util::workspace_root;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// Writes every page; returns the directory.
pub fn man() -> Result<PathBuf> {
    let dir = workspace_root().join("target/xtask/deb");
    for page in kdump_cli::pages() {
        let path = dir.join(page.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, &page.bytes)
            .with_context(|| format!("writing {}", path.display()))?;
        if page.path.starts_with("completions/") {
            let out = Command::new("bash")
                .arg("-n")
                .arg(&path)
                .output()
                .context("running bash -n")?;
            if !out.status.success() {
                bail!(
                    "bash -n {}: {}",
                    path.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        println!("  {} ({} bytes)", path.display(), page.bytes.len());
    }
    Ok(dir)
}
