//! The `bzimage` fuzz target: see fuzz/bodies/bzimage.rs, shared with the regression test that replays
//! fuzz/regressions/bzimage/ and fuzz/corpus/bzimage/ in `cargo test`.
#![no_main]

#[path = "../bodies/bzimage.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
