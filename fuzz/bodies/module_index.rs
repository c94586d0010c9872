//! Body of the `module_index` fuzz target: the modules.dep / modules.alias / modules.softdep /
//! modules.builtin(.modinfo) parsers, name and alias resolution, and the alias glob matcher
//! never panic and stay bounded; every resolved order lists each module once, after its
//! dependencies.
//!
//! Input: sections separated by a line `--`: dep, alias, softdep, builtin, builtin.modinfo,
//! then queries one a line (also used as glob pattern/text pairs).
//!
//! Shared by fuzz/fuzz_targets/module_index.rs and crates/capture-initramfs/tests/fuzz_regressions.rs.

use capture_initramfs::{glob_match, IndexTexts, ModuleIndex};
use std::path::Path;

/// Run one input; true if the index texts parsed.
pub fn run(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split("\n--\n");
    let mut next = || parts.next().unwrap_or("");
    let (dep, alias, softdep, builtin, modinfo) = (next(), next(), next(), next(), next());
    let queries: Vec<&str> = next().lines().take(64).collect();
    for pair in queries.chunks(2) {
        if let [p, t] = pair {
            let _ = glob_match(p, t);
        }
    }
    let texts = IndexTexts {
        dep,
        alias,
        softdep,
        builtin,
        builtin_modinfo: modinfo.as_bytes(),
    };
    let Ok(idx) = ModuleIndex::parse(Path::new("/lib/modules/fuzz"), texts) else {
        return false;
    };
    for q in &queries {
        let _ = idx.lookup(q);
        if let Ok(r) = idx.resolve(&[q], "fuzz") {
            for (i, m) in r.load.iter().enumerate() {
                assert!(!r.load[..i].contains(m), "{m} twice in {:?}", r.load);
                let e = idx.module(m).expect("resolved modules are in the index");
                for d in &e.deps {
                    if let Some(j) = r.load.iter().position(|x| x == d) {
                        // after m only when m was being visited from d: a cycle
                        assert!(
                            j < i || reaches(&idx, d, m),
                            "{m} before its dependency {d}"
                        );
                    }
                }
            }
        }
    }
    true
}

/// Whether `to` is reachable from `from` through dependencies and soft dependencies.
fn reaches(idx: &ModuleIndex, from: &str, to: &str) -> bool {
    let mut seen = vec![from.to_string()];
    let mut i = 0;
    while i < seen.len() && i < 10_000 {
        let cur = seen[i].clone();
        i += 1;
        let mut next: Vec<String> = idx.module(&cur).map(|e| e.deps.clone()).unwrap_or_default();
        if let Some(sd) = idx.softdep(&cur) {
            for q in sd.pre.iter().chain(&sd.post) {
                if let capture_initramfs::Lookup::Modules(ms) = idx.lookup(q) {
                    next.extend(ms);
                }
            }
        }
        for n in next {
            if n == to {
                return true;
            }
            if !seen.contains(&n) {
                seen.push(n);
            }
        }
    }
    false
}
