//! The `crashkernel` fuzz target: see fuzz/bodies/crashkernel.rs, shared with the regression test that replays
//! fuzz/regressions/crashkernel/ and fuzz/corpus/crashkernel/ in `cargo test`.
#![no_main]

#[path = "../bodies/crashkernel.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
