//! Body of the `memmap` fuzz target: one /sys/firmware/memmap entry (start, end and type
//! files, separated by the first two newlines of the input) and the tree reader.
//!
//! Shared by fuzz/fuzz_targets/memmap.rs and crates/kexec-image/tests/fuzz_regressions.rs.

use kexec_image::{memmap, MemSystem};

/// Run one input; true if the entry parsed.
pub fn run(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let mut parts = text.splitn(3, '\n');
    let (s, e, t) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let parsed = memmap::parse_memmap_entry("0", s, e, t).is_ok();
    let mut sys = MemSystem::default();
    sys.insert("/sys/firmware/memmap/0/start", s);
    sys.insert("/sys/firmware/memmap/0/end", e);
    sys.insert("/sys/firmware/memmap/0/type", t);
    let _ = memmap::read_firmware_memmap(&sys);
    parsed
}
