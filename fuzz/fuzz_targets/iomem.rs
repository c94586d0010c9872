//! The `iomem` fuzz target: see fuzz/bodies/iomem.rs, shared with the regression test that replays
//! fuzz/regressions/iomem/ and fuzz/corpus/iomem/ in `cargo test`.
#![no_main]

#[path = "../bodies/iomem.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
