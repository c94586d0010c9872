//! The `codecs` fuzz target: see fuzz/bodies/codecs.rs, shared with the regression test that replays
//! fuzz/regressions/codecs/ and fuzz/corpus/codecs/ in `cargo test`.
#![no_main]

#[path = "../bodies/codecs.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
