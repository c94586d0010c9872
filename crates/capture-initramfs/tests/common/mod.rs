//! Test helpers: Debian kernels fetched by the lab (xtask/src/kernel.rs) indexed by the real
//! depmod into a temporary root, and modprobe as the oracle.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A Debian kernel's modules, indexed by `depmod -b` in a temporary root.
pub struct Indexed {
    pub root: tempfile::TempDir,
    pub kver: String,
}

fn kernels_dir() -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    Path::new(&home).join(".cache/kdump-rs/kernels")
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The lab's kernel whose version starts with `series` ("6.1." or "6.12."), indexed; `None`
/// (with a message) when the lab has not fetched it or kmod is not installed.
pub fn indexed(series: &str) -> Option<Indexed> {
    if !have("depmod") || !have("modprobe") {
        test_skip::skip(
            series,
            "kmod (depmod, modprobe) is not installed (cargo xtask setup)",
        );
        return None;
    }
    let abi = std::fs::read_dir(kernels_dir())
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(series))
        });
    let Some(abi) = abi else {
        test_skip::skip(
            series,
            format!(
                "no {series}* kernel in {} (cargo xtask fixtures fetches them)",
                kernels_dir().display()
            ),
        );
        return None;
    };
    let mods = abi.join("lib/modules");
    let kver = std::fs::read_dir(&mods)
        .ok()?
        .filter_map(|e| e.ok())
        .next()?
        .file_name()
        .to_string_lossy()
        .into_owned();
    let src = mods.join(&kver);
    let root = tempfile::tempdir().unwrap();
    let dst = root.path().join("lib/modules").join(&kver);
    std::fs::create_dir_all(&dst).unwrap();
    std::os::unix::fs::symlink(src.join("kernel"), dst.join("kernel")).unwrap();
    for f in [
        "modules.builtin",
        "modules.builtin.modinfo",
        "modules.order",
    ] {
        if src.join(f).exists() {
            std::fs::copy(src.join(f), dst.join(f)).unwrap();
        }
    }
    let st = Command::new("depmod")
        .arg("-b")
        .arg(root.path())
        .arg(&kver)
        .status()
        .unwrap();
    assert!(st.success(), "depmod -b {} {kver}", root.path().display());
    Some(Indexed { root, kver })
}

/// What `modprobe --show-depends` says: (modules to insmod in order, built-in names).
pub fn modprobe_show_depends(ix: &Indexed, module: &str) -> (Vec<String>, Vec<String>) {
    let out = Command::new("modprobe")
        .arg("-d")
        .arg(ix.root.path())
        .args(["-S", &ix.kver, "--show-depends", module])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "modprobe --show-depends {module}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut load = Vec::new();
    let mut builtin = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut w = line.split_whitespace();
        match (w.next(), w.next()) {
            (Some("insmod"), Some(p)) => load.push(capture_initramfs_name(p)),
            (Some("builtin"), Some(n)) => builtin.push(n.replace('-', "_")),
            _ => {}
        }
    }
    (load, builtin)
}

fn capture_initramfs_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap();
    let stem = file.split(".ko").next().unwrap();
    stem.replace('-', "_")
}
