//! The fuzz targets' properties (fuzz/fuzz_targets/{kdump_conf,sysconfig}.rs) over every input
//! that once failed (fuzz/regressions/<target>/) and the committed seeds (fuzz/corpus/<target>/).

#[path = "../../../fuzz/regression_inputs.rs"]
mod regression_inputs;
use regression_inputs::inputs;

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
