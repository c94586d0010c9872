//! Body of the `modules_order` fuzz target: the parser the capture image's PID 1 uses for
//! /etc/kdump/modules.order never panics, and what it accepts formats and parses back equal.
//!
//! Shared by fuzz/fuzz_targets/modules_order.rs and crates/capture-initramfs/tests/fuzz_regressions.rs.

use capture_initramfs::{format_modules_order, parse_modules_order};

/// Run one input; true if it parsed.
pub fn run(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(entries) = parse_modules_order(text) else {
        return false;
    };
    for e in &entries {
        assert!(e.path.starts_with('/') && e.path.ends_with(".ko"));
    }
    let again =
        parse_modules_order(&format_modules_order(&entries)).expect("formatted manifest parses");
    assert_eq!(again, entries);
    true
}
