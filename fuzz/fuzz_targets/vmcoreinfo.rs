//! The `vmcoreinfo` fuzz target: see fuzz/bodies/vmcoreinfo.rs, shared with the regression test that replays
//! fuzz/regressions/vmcoreinfo/ and fuzz/corpus/vmcoreinfo/ in `cargo test`.
#![no_main]

#[path = "../bodies/vmcoreinfo.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
