//! The `memmap` fuzz target: see fuzz/bodies/memmap.rs, shared with the regression test that replays
//! fuzz/regressions/memmap/ and fuzz/corpus/memmap/ in `cargo test`.
#![no_main]

#[path = "../bodies/memmap.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
