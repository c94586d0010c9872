//! Fuzz makedumpfile/dumpfilter option parsing: NUL-separated words.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let args: Vec<&str> = text.split('\0').collect();
    if let Ok(o) = dumpfilter_options::parse(&args) {
        assert_eq!(dumpfilter_options::parse(&o.to_args()).as_ref(), Ok(&o));
    }
    if let Ok(o) = dumpfilter_options::parse_collector(&args) {
        assert_eq!(dumpfilter_options::parse_collector(&o.to_args()).as_ref(), Ok(&o));
    }
});
