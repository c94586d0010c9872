//! The `kdump_header` fuzz target: see fuzz/bodies/kdump_header.rs, shared with the regression test that replays
//! fuzz/regressions/kdump_header/ and fuzz/corpus/kdump_header/ in `cargo test`.
#![no_main]

#[path = "../bodies/kdump_header.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
