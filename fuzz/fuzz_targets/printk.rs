//! The `printk` fuzz target: see fuzz/bodies/printk.rs, shared with the regression test that replays
//! fuzz/regressions/printk/ and fuzz/corpus/printk/ in `cargo test`.
#![no_main]

#[path = "../bodies/printk.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
