//! Body of the `dumpfilter_options` fuzz target: makedumpfile/dumpfilter option parsing of
//! NUL-separated words; whatever parses prints back (`to_args`) to the same options.
//!
//! Shared by fuzz/fuzz_targets/dumpfilter_options.rs and
//! crates/dumpfilter-options/tests/fuzz_regressions.rs.

/// Run one input; true if the words parsed as makedumpfile options (a full command line, or
/// a kdump.conf core_collector's options).
pub fn run(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    let args: Vec<&str> = text.split('\0').collect();
    let mut parsed = false;
    if let Ok(o) = dumpfilter_options::parse(&args) {
        parsed = true;
        assert_eq!(
            dumpfilter_options::parse(&o.to_args()).as_ref(),
            Ok(&o),
            "{args:?}"
        );
    }
    if let Ok(o) = dumpfilter_options::parse_collector(&args) {
        parsed = true;
        assert_eq!(
            dumpfilter_options::parse_collector(&o.to_args()).as_ref(),
            Ok(&o),
            "{args:?}"
        );
    }
    parsed
}
