//! Finding real dumps for the tests: the fixtures manifest
//! (`$KDUMP_RS_FIXTURES/manifest.json`, default `~/.cache/kdump-rs/fixtures`), then the
//! development lab's files under /tmp/vmlab. Tests skip, printing why, when none exist.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A dump found on this machine.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub path: PathBuf,
    /// A `makedumpfile --dump-dmesg` reference output next to it, if the manifest has one.
    pub dmesg_ref: Option<PathBuf>,
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
    h.starts_with(b"KDUMP   ") || h.starts_with(b"DISKDUMP") || h.starts_with(b"makedumpfile")
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
    if let Some(dir) = fixtures_dir() {
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
            let dmesg_ref = ["dmesg.txt", "makedumpfile-dmesg.txt"]
                .iter()
                .map(|n| path.with_file_name(n))
                .find(|p| p.is_file());
            Fixture { path, dmesg_ref }
        })
        .collect()
}

pub fn skip(test: &str, why: &str) {
    eprintln!("SKIP {test}: {why}");
}

/// Whether a program runs (`prog --version` or similar exits).
pub fn have(prog: &str, arg: &str) -> bool {
    std::process::Command::new(prog)
        .arg(arg)
        .output()
        .map(|o| o.status.success() || !o.stdout.is_empty() || !o.stderr.is_empty())
        .unwrap_or(false)
}
