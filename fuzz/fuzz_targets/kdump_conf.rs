//! Fuzz kdump.conf reading: never a panic, always lossless, spans inside the text, a plan.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let checked = kdump_conf::check(&text);
    assert_eq!(checked.document.to_string(), text);
    let lines = text.split('\n').count();
    for d in &checked.diagnostics {
        assert!(d.span.line >= 1 && d.span.line <= lines);
    }
    let _ = kdump_conf::plan(&checked.config).to_json();
    // an edit keeps the document printable and parsable
    let mut doc = checked.document.clone();
    if doc.set("path", "/var/crash").is_ok() {
        assert_eq!(doc.get("path").map(|d| d.value.as_str()), Some("/var/crash"));
    }
});
