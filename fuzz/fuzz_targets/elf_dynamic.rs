//! The `elf_dynamic` fuzz target: see fuzz/bodies/elf_dynamic.rs, shared with the regression test that replays
//! fuzz/regressions/elf_dynamic/ and fuzz/corpus/elf_dynamic/ in `cargo test`.
#![no_main]

#[path = "../bodies/elf_dynamic.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
