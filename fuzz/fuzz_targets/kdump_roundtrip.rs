//! The `kdump_roundtrip` fuzz target: see fuzz/bodies/kdump_roundtrip.rs, shared with the regression test that replays
//! fuzz/regressions/kdump_roundtrip/ and fuzz/corpus/kdump_roundtrip/ in `cargo test`.
#![no_main]

#[path = "../bodies/kdump_roundtrip.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
