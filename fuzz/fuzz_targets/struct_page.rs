//! The `struct_page` fuzz target: see fuzz/bodies/struct_page.rs, shared with the regression test that replays
//! fuzz/regressions/struct_page/ and fuzz/corpus/struct_page/ in `cargo test`.
#![no_main]

#[path = "../bodies/struct_page.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
