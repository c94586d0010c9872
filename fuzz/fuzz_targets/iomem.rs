#![no_main]
//! /proc/iomem parser, the memory map and crash-kernel extraction, and the core-header inputs.
use kexec_image::{crash, memmap, MemSystem};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(entries) = memmap::parse_iomem(text) {
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
});
