//! The `flattened` fuzz target: see fuzz/bodies/flattened.rs, shared with the regression test that replays
//! fuzz/regressions/flattened/ and fuzz/corpus/flattened/ in `cargo test`.
#![no_main]

#[path = "../bodies/flattened.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
