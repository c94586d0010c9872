//! The `pagetable_walk` fuzz target: see fuzz/bodies/pagetable_walk.rs, shared with the regression test that replays
//! fuzz/regressions/pagetable_walk/ and fuzz/corpus/pagetable_walk/ in `cargo test`.
#![no_main]

#[path = "../bodies/pagetable_walk.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
