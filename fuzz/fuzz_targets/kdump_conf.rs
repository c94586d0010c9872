//! The `kdump_conf` fuzz target: see fuzz/bodies/kdump_conf.rs, shared with the regression test that replays
//! fuzz/regressions/kdump_conf/ and fuzz/corpus/kdump_conf/ in `cargo test`.
#![no_main]

#[path = "../bodies/kdump_conf.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
