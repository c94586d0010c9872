//! The fuzz targets' properties (fuzz/fuzz_targets/{kdump_conf,sysconfig}.rs) over every input
//! that once failed (fuzz/regressions/<target>/) and the committed seeds (fuzz/corpus/<target>/).

/// Every file of fuzz/regressions/<target>/ (inputs that once failed) and of the committed seed
/// corpus fuzz/corpus/<target>/ (at most 300, sorted), with its path.
fn inputs(target: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
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

#[test]
fn kdump_conf() {
    let all = inputs("kdump_conf");
    assert!(!all.is_empty(), "no seeds in fuzz/corpus/kdump_conf");
    for (path, data) in all {
        let text = String::from_utf8_lossy(&data);
        let checked = kdump_conf::check(&text);
        assert_eq!(checked.document.to_string(), text, "{}", path.display());
        let lines = text.split('\n').count();
        for d in &checked.diagnostics {
            assert!(
                d.span.line >= 1 && d.span.line <= lines,
                "{}",
                path.display()
            );
        }
        let _ = kdump_conf::plan(&checked.config).to_json();
        let mut doc = checked.document.clone();
        if doc.set("path", "/var/crash").is_ok() {
            assert_eq!(
                doc.get("path").map(|d| d.value.as_str()),
                Some("/var/crash")
            );
        }
    }
}

#[test]
fn sysconfig() {
    let all = inputs("sysconfig");
    assert!(!all.is_empty(), "no seeds in fuzz/corpus/sysconfig");
    for (_, data) in all {
        let text = String::from_utf8_lossy(&data);
        let _ = kdump_conf::parse_assignments(&text);
        let _ = kdump_conf::parse_sysconfig(&text);
        let (plan, _) = kdump_conf::parse_kdump_tools(&text);
        let _ = plan.to_json();
    }
}
