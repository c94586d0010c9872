//! The `modules_order` fuzz target: see fuzz/bodies/modules_order.rs, shared with the regression test that replays
//! fuzz/regressions/modules_order/ and fuzz/corpus/modules_order/ in `cargo test`.
#![no_main]

#[path = "../bodies/modules_order.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
