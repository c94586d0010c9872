//! Finding real dumps for tests: the fixtures built by `cargo xtask fixtures`
//! (`$KDUMP_RS_FIXTURES`, else `~/.cache/kdump-rs/fixtures`, read through `manifest.json` or
//! each fixture's `fixture.json`), with makedumpfile's reference outputs. Missing
//! references are made with makedumpfile into a scratch directory. Tests skip through
//! `test_skip` (a failure under `KDUMP_RS_NO_SKIP=1`, as in `cargo xtask test`); a fixture a
//! check does not apply to is reported "N/A", and a test that applied to none skips.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
// Not every test file that includes this module uses all three.
#[allow(unused_imports)]
pub use test_skip::{not_applicable, ran_on, skip};

/// One real vmcore and makedumpfile's outputs for it.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub name: String,
    /// The dump as captured (what our tools read).
    pub vmcore: PathBuf,
    /// The same dump as makedumpfile 1.7.2 can read it (QEMU 10 dumps get their program
    /// headers moved); equal to `vmcore` for real kdump captures.
    pub vmcore_mk: PathBuf,
    /// Kernel series ("6.1", "6.12"); makedumpfile 1.7.2 is only an oracle for 6.1 (see
    /// TESTING.md: on 6.12 it drops slab pages and keeps THP tails).
    pub series: String,
    pub refs: BTreeMap<String, PathBuf>,
}

impl Fixture {
    /// Whether makedumpfile 1.7.2's page selection is right for this kernel.
    pub fn makedumpfile_is_oracle(&self) -> bool {
        self.series.is_empty() || self.series == "6.1"
    }
}

pub fn fixtures_dir() -> PathBuf {
    match std::env::var_os("KDUMP_RS_FIXTURES").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/kdump-rs/fixtures"),
    }
}

fn collect(v: &serde_json::Value, root: &Path, out: &mut Vec<Fixture>) {
    match v {
        serde_json::Value::Object(m) => {
            let vm = m.get("vmcore").and_then(|x| x.as_str());
            if let (Some(vm), Some(refs)) = (vm, m.get("references").and_then(|r| r.as_array())) {
                let mk = m
                    .get("vmcore_for_makedumpfile")
                    .and_then(|x| x.as_str())
                    .unwrap_or(vm);
                let mut f = Fixture {
                    name: m
                        .get("name")
                        .and_then(|x| x.as_str())
                        .unwrap_or(vm)
                        .to_string(),
                    vmcore: root.join(vm),
                    vmcore_mk: root.join(mk),
                    series: m
                        .get("series")
                        .and_then(|x| x.as_str())
                        .unwrap_or("")
                        .to_string(),
                    refs: BTreeMap::new(),
                };
                for r in refs {
                    if let (Some(n), Some(p)) = (
                        r.get("name").and_then(|x| x.as_str()),
                        r.get("path").and_then(|x| x.as_str()),
                    ) {
                        f.refs.insert(n.to_string(), root.join(p));
                    }
                }
                if f.vmcore.exists() && !out.iter().any(|o| o.vmcore == f.vmcore) {
                    out.push(f);
                }
                return;
            }
            for x in m.values() {
                collect(x, root, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect(x, root, out)),
        _ => {}
    }
}

/// Every fixture found; if none, the development dump of the shell lab (if present).
pub fn fixtures() -> Vec<Fixture> {
    let root = fixtures_dir();
    let mut out = Vec::new();
    let mut files = vec![root.join("manifest.json")];
    if let Ok(rd) = std::fs::read_dir(&root) {
        for e in rd.flatten() {
            files.push(e.path().join("fixture.json"));
        }
    }
    for f in files {
        if let Ok(text) = std::fs::read_to_string(&f) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                collect(&v, &root, &mut out);
            }
        }
    }
    if out.is_empty() {
        let dev = PathBuf::from("/tmp/vmlab/kdump/proc-vmcore.elf");
        if dev.exists() {
            out.push(Fixture {
                name: "dev-vmlab".into(),
                vmcore: dev.clone(),
                vmcore_mk: dev,
                series: "6.1".into(),
                refs: BTreeMap::new(),
            });
        }
    }
    out
}

/// Fixtures whose kernel makedumpfile 1.7.2 filters correctly (the others are reported N/A),
/// or a skip.
pub fn oracle_fixtures_or_skip(test: &str) -> Vec<Fixture> {
    applicable(test, fixtures_or_skip(test), |f| {
        (!f.makedumpfile_is_oracle()).then(|| {
            format!(
                "makedumpfile 1.7.2 is not a correct oracle for kernel {}",
                f.series
            )
        })
    })
}

/// The fixtures for which `why_not` gives no reason; the others are reported N/A. A skip when
/// there were fixtures but none applies (the empty list was already reported).
pub fn applicable(
    test: &str,
    fixtures: Vec<Fixture>,
    why_not: impl Fn(&Fixture) -> Option<String>,
) -> Vec<Fixture> {
    let found = fixtures.len();
    let v: Vec<Fixture> = fixtures
        .into_iter()
        .filter(|f| match why_not(f) {
            Some(why) => {
                not_applicable(test, &f.name, why);
                false
            }
            None => true,
        })
        .collect();
    if found > 0 {
        ran_on(test, v.len());
    }
    v
}

/// Fixtures, or a skip.
pub fn fixtures_or_skip(test: &str) -> Vec<Fixture> {
    let f = fixtures();
    if f.is_empty() {
        skip(
            test,
            format!(
                "no fixture under {} (run `cargo xtask fixtures`) and no development dump",
                fixtures_dir().display()
            ),
        );
    }
    f
}

pub fn have_makedumpfile() -> bool {
    Command::new("makedumpfile")
        .arg("-v")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A scratch directory under the target's tmp dir, removed (with everything in it) when the
/// guard is dropped, so runs do not leave gigabytes of dumps behind.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn scratch(name: &str) -> Scratch {
    Scratch(scratch_keep(name))
}

/// A scratch directory that is kept (made references are reused by later runs).
pub fn scratch_keep(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// makedumpfile's output `name` (e.g. "d31", "d31-zlib") with `args` before IN OUT: from the
/// fixture, or made now. `None` (after a skip) if makedumpfile is missing.
pub fn reference(f: &Fixture, name: &str, args: &[&str]) -> Option<PathBuf> {
    if let Some(p) = f.refs.get(name).filter(|p| p.exists()) {
        return Some(p.clone());
    }
    if !have_makedumpfile() {
        skip(
            &format!("reference {name} of {}", f.name),
            "makedumpfile not installed, cannot make it",
        );
        return None;
    }
    let out = scratch_keep(&format!("ref-{}", f.name)).join(format!("{name}.kdump"));
    if !out.exists() {
        let tmp = out.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        let st = Command::new("makedumpfile")
            .args(args)
            .arg(&f.vmcore_mk)
            .arg(&tmp)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "makedumpfile {args:?} failed: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        std::fs::rename(&tmp, &out).unwrap();
    }
    Some(out)
}

pub fn python_has(module: &str) -> bool {
    Command::new("/usr/bin/python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Byte comparison with a useful message.
pub fn assert_same_file(a: &Path, b: &Path) {
    let x = std::fs::read(a).unwrap();
    let y = std::fs::read(b).unwrap();
    if x != y {
        let first = x.iter().zip(&y).position(|(p, q)| p != q);
        panic!(
            "{} ({} bytes) and {} ({} bytes) differ, first at {:?}",
            a.display(),
            x.len(),
            b.display(),
            y.len(),
            first
        );
    }
}
