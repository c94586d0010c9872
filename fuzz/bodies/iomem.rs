//! Body of the `iomem` fuzz target: the /proc/iomem parser, the memory map and crash-kernel
//! extraction, and the core-header inputs.
//!
//! Shared by fuzz/fuzz_targets/iomem.rs and crates/kexec-image/tests/fuzz_regressions.rs.

use kexec_image::{crash, memmap, MemSystem};

/// Run one input; true if it parsed as /proc/iomem.
pub fn run(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let mut parsed = false;
    if let Ok(entries) = memmap::parse_iomem(text) {
        parsed = true;
        let _ = memmap::iomem_memory_map(&entries);
        let _ = memmap::named_ranges(&entries, "Crash kernel");
    }
    let mut sys = MemSystem::default();
    sys.insert("/proc/iomem", text);
    sys.insert("/sys/devices/system/cpu/cpu0/crash_notes", "3fc10000\n");
    sys.insert("/sys/devices/system/cpu/cpu0/crash_notes_size", "424\n");
    if let Ok(c) = crash::gather(&sys) {
        if c.phdr_count() < 10_000 {
            let _ = c.elf_core_header(None);
        }
    }
    parsed
}
