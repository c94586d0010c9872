//! Shared by the crates' tests/fuzz_regressions.rs (included with `#[path]`): the inputs a fuzz
//! target's regression test replays.

/// Every file of fuzz/regressions/<target>/ (inputs that once failed) and of the committed seed
/// corpus fuzz/corpus/<target>/ (at most 300, sorted), with its path.
pub fn inputs(target: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = Vec::new();
    for dir in ["regressions", "corpus"] {
        let Ok(rd) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        paths.sort();
        for p in paths.into_iter().take(300) {
            if let Ok(data) = std::fs::read(&p) {
                out.push((p, data));
            }
        }
    }
    out
}
