//! The `module_index` fuzz target: see fuzz/bodies/module_index.rs, shared with the regression test that replays
//! fuzz/regressions/module_index/ and fuzz/corpus/module_index/ in `cargo test`.
#![no_main]

#[path = "../bodies/module_index.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
