//! Inputs the fuzzer once failed on (tests/fuzz-regressions/*.bin), run through the fuzz
//! target's property: NUL-separated words; whatever parses prints back to the same options.

#[test]
fn fuzz_regressions_round_trip() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&data);
        let args: Vec<&str> = text.split('\0').collect();
        if let Ok(o) = dumpfilter_options::parse(&args) {
            assert_eq!(
                dumpfilter_options::parse(&o.to_args()).as_ref(),
                Ok(&o),
                "{args:?}"
            );
        }
        if let Ok(o) = dumpfilter_options::parse_collector(&args) {
            assert_eq!(
                dumpfilter_options::parse_collector(&o.to_args()).as_ref(),
                Ok(&o),
                "{args:?}"
            );
        }
        n += 1;
    }
    assert!(n >= 1);
}
