//! Body of the `kdump_conf` fuzz target: kdump.conf reading never panics, is lossless, keeps
//! diagnostic spans inside the text and always gives a plan; an edit keeps the document
//! printable and parsable.
//!
//! Shared by fuzz/fuzz_targets/kdump_conf.rs and crates/kdump-conf/tests/fuzz_regressions.rs.

/// Run one input; true if the configuration had no diagnostics.
pub fn run(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    let checked = kdump_conf::check(&text);
    assert_eq!(checked.document.to_string(), text);
    let lines = text.split('\n').count();
    for d in &checked.diagnostics {
        assert!(
            d.span.line >= 1 && d.span.line <= lines,
            "span {:?} outside the {lines} lines",
            d.span
        );
    }
    let _ = kdump_conf::plan(&checked.config).to_json();
    let mut doc = checked.document.clone();
    if doc.set("path", "/var/crash").is_ok() {
        assert_eq!(
            doc.get("path").map(|d| d.value.as_str()),
            Some("/var/crash")
        );
        let again = kdump_conf::Document::parse(&doc.to_string());
        assert_eq!(
            again.get("path").map(|d| d.value.as_str()),
            Some("/var/crash")
        );
    }
    checked.diagnostics.is_empty()
}
