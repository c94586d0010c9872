#![no_main]
//! One /sys/firmware/memmap entry (start, end, type files) and the tree reader.
use kexec_image::{memmap, MemSystem};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(3, '\n');
    let (s, e, t) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let _ = memmap::parse_memmap_entry("0", s, e, t);
    let mut sys = MemSystem::default();
    sys.insert("/sys/firmware/memmap/0/start", s);
    sys.insert("/sys/firmware/memmap/0/end", e);
    sys.insert("/sys/firmware/memmap/0/type", t);
    let _ = memmap::read_firmware_memmap(&sys);
});
