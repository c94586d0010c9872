//! The `initramfs_cpio` fuzz target: see fuzz/bodies/initramfs_cpio.rs, shared with the regression test that replays
//! fuzz/regressions/initramfs_cpio/ and fuzz/corpus/initramfs_cpio/ in `cargo test`.
#![no_main]

#[path = "../bodies/initramfs_cpio.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    body::run(data);
});
