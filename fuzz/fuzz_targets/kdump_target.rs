//! The `kdump_target` fuzz target: see fuzz/bodies/kdump_target.rs, shared with the regression test that replays
//! fuzz/regressions/kdump_target/ and fuzz/corpus/kdump_target/ in `cargo test`.
#![no_main]

#[path = "../bodies/kdump_target.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
