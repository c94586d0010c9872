//! Body of the `elf_dynamic` fuzz target: capture-initramfs' ELF reader (PT_INTERP, the
//! dynamic section's DT_NEEDED/DT_RUNPATH/DT_RPATH, section lookup, `.modinfo`) never panics
//! or over-allocates on any bytes.
//!
//! Shared by fuzz/fuzz_targets/elf_dynamic.rs and crates/capture-initramfs/tests/fuzz_regressions.rs.

/// Run one input; true if the dynamic information parsed.
pub fn run(data: &[u8]) -> bool {
    let _ = capture_initramfs::section(data, ".dynstr");
    let _ = capture_initramfs::modinfo(data);
    capture_initramfs::parse_elf(data).is_ok()
}
