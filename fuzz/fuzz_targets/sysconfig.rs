//! The `sysconfig` fuzz target: see fuzz/bodies/sysconfig.rs, shared with the regression test that replays
//! fuzz/regressions/sysconfig/ and fuzz/corpus/sysconfig/ in `cargo test`.
#![no_main]

#[path = "../bodies/sysconfig.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
