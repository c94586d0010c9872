//! Finding real dumps for the tests: the fixtures manifest
//! (`$KDUMP_RS_FIXTURES/manifest.json`, default `~/.cache/kdump-rs/fixtures`), then the
//! development lab's files under /tmp/vmlab. Tests skip through `test_skip` when none exist
//! (a failure under `KDUMP_RS_NO_SKIP=1`, as in `cargo xtask test`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A dump found on this machine.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub path: PathBuf,
    /// A `makedumpfile --dump-dmesg` reference output for it, if the fixture has one.
    pub dmesg_ref: Option<PathBuf>,
    /// The dump this one was made from (a makedumpfile output's input), if known.
    pub original: Option<PathBuf>,
}

fn fixtures_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("KDUMP_RS_FIXTURES") {
        return Some(PathBuf::from(d));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/kdump-rs/fixtures"))
}

fn head(p: &Path) -> [u8; 16] {
    let mut m = [0u8; 16];
    let _ = std::fs::File::open(p).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut m));
    m
}

fn is_elf(p: &Path) -> bool {
    head(p)[..4] == *b"\x7fELF"
}

/// A kdump-compressed file or a flattened stream of one.
pub fn is_kdump(p: &Path) -> bool {
    let h = head(p);
    h.starts_with(b"KDUMP   ")
        || h.starts_with(b"DISKDUMP")
        || (h.starts_with(b"makedumpfile") && h[12..16] == [0; 4])
}

/// Collect every string value of the manifest that names an existing ELF file.
fn walk_json(v: &serde_json::Value, base: &Path, out: &mut Vec<PathBuf>) {
    match v {
        serde_json::Value::String(s) => {
            let p = if Path::new(s).is_absolute() {
                PathBuf::from(s)
            } else {
                base.join(s)
            };
            if p.is_file() && (is_elf(&p) || is_kdump(&p)) && !out.contains(&p) {
                out.push(p);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| walk_json(x, base, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| walk_json(x, base, out)),
        _ => {}
    }
}

/// ELF vmcores available on this machine (kdump /proc/vmcore copies and QEMU dumps).
pub fn elf_dumps() -> Vec<Fixture> {
    all_dumps()
        .into_iter()
        .filter(|f| is_elf(&f.path))
        .collect()
}

/// kdump-compressed dumps available on this machine (makedumpfile and QEMU output).
pub fn kdump_dumps() -> Vec<Fixture> {
    all_dumps()
        .into_iter()
        .filter(|f| is_kdump(&f.path))
        .collect()
}

/// Every dump available on this machine.
pub fn all_dumps() -> Vec<Fixture> {
    let mut paths = Vec::new();
    let mut refs: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut originals: Vec<(PathBuf, PathBuf)> = vec![(
        PathBuf::from("/tmp/vmlab/kdump/proc-vmcore-inguest.kdump"),
        PathBuf::from("/tmp/vmlab/kdump/proc-vmcore.elf"),
    )];
    if let Some(dir) = fixtures_dir() {
        // Per-fixture descriptions: <dir>/<name>/fixture.json with "vmcore" and
        // "references" (makedumpfile outputs; the one named "dmesg" is --dump-dmesg's).
        let mut subdirs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        subdirs.sort();
        for sub in subdirs {
            let Ok(text) = std::fs::read_to_string(sub.join("fixture.json")) else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            let mut found = Vec::new();
            if let Some(vm) = v.get("vmcore").and_then(|x| x.as_str()) {
                found.push(dir.join(vm));
            }
            let mut dmesg = None;
            for r in v
                .get("references")
                .and_then(|x| x.as_array())
                .into_iter()
                .flatten()
            {
                let Some(p) = r.get("path").and_then(|x| x.as_str()).map(|p| dir.join(p)) else {
                    continue;
                };
                if r.get("name").and_then(|x| x.as_str()) == Some("dmesg") {
                    dmesg = Some(p);
                } else {
                    found.push(p);
                }
            }
            for (i, p) in found.iter().enumerate() {
                if i > 0 {
                    originals.push((p.clone(), found[0].clone()));
                }
                let p = p.clone();
                if p.is_file() && (is_elf(&p) || is_kdump(&p)) && !paths.contains(&p) {
                    if let Some(d) = &dmesg {
                        refs.push((p.clone(), d.clone()));
                    }
                    paths.push(p);
                }
            }
        }
        let manifest = dir.join("manifest.json");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                walk_json(&v, &dir, &mut paths);
            }
        }
    }
    let lab = [
        "/tmp/vmlab/kdump/proc-vmcore.elf",
        "/tmp/vmlab/kdump/proc-vmcore-inguest.kdump",
    ];
    for p in lab {
        let p = PathBuf::from(p);
        if p.is_file() && !paths.contains(&p) {
            paths.push(p);
        }
    }
    if let Ok(rd) = std::fs::read_dir("/tmp/vmlab") {
        let mut dirs: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        dirs.sort();
        for d in dirs {
            for name in ["vmcore.elf", "vmcore.kdump-zlib", "vmcore.kdump-raw-zlib"] {
                let p = d.join(name);
                // QEMU's formats come from separate dump-guest-memory calls on a running
                // guest: not copies of one another, so no "original".
                if p.is_file() && !paths.contains(&p) {
                    paths.push(p);
                }
            }
        }
    }
    // Only dumps that we can read (root-only files are skipped when not root).
    paths
        .into_iter()
        .filter(|p| std::fs::File::open(p).is_ok())
        .map(|path| {
            let dmesg_ref = refs
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, d)| d.clone())
                .filter(|d| d.is_file());
            let original = originals
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, o)| o.clone())
                .filter(|o| o.is_file());
            Fixture {
                path,
                dmesg_ref,
                original,
            }
        })
        .collect()
}

// Not every test file that includes this module uses all three.
#[allow(unused_imports)]
pub use test_skip::{not_applicable, ran_on, skip};

/// Whether a program runs (`prog --version` or similar exits).
pub fn have(prog: &str, arg: &str) -> bool {
    std::process::Command::new(prog)
        .arg(arg)
        .output()
        .map(|o| o.status.success() || !o.stdout.is_empty() || !o.stderr.is_empty())
        .unwrap_or(false)
}
