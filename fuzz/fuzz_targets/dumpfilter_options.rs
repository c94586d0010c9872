//! The `dumpfilter_options` fuzz target: see fuzz/bodies/dumpfilter_options.rs, shared with the regression test that replays
//! fuzz/regressions/dumpfilter_options/ and fuzz/corpus/dumpfilter_options/ in `cargo test`.
#![no_main]

#[path = "../bodies/dumpfilter_options.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
