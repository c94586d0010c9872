//! The `elf_core` fuzz target: see fuzz/bodies/elf_core.rs, shared with the regression test that replays
//! fuzz/regressions/elf_core/ and fuzz/corpus/elf_core/ in `cargo test`.
#![no_main]

#[path = "../bodies/elf_core.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
