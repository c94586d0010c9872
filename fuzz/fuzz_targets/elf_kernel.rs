//! The `elf_kernel` fuzz target: see fuzz/bodies/elf_kernel.rs, shared with the regression test that replays
//! fuzz/regressions/elf_kernel/ and fuzz/corpus/elf_kernel/ in `cargo test`.
#![no_main]

#[path = "../bodies/elf_kernel.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
