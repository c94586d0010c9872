//! The fuzz targets' properties (fuzz/fuzz_targets/{bzimage,elf_kernel,iomem,memmap}.rs) over
//! every input that once failed (fuzz/regressions/<target>/) and the committed seeds
//! (fuzz/corpus/<target>/): no panic, and the seeds taken from real systems parse.

use kexec_image::memmap::{MemRange, RangeKind};
use kexec_image::{bzimage, crash, elf_kernel, memmap, plan, LoadRequest, MemSystem};

#[path = "../../../fuzz/regression_inputs.rs"]
mod regression_inputs;
use regression_inputs::inputs;

fn ram() -> Vec<MemRange> {
    vec![MemRange {
        start: 0x10_0000,
        end: 0x3fff_ffff,
        kind: RangeKind::Ram,
    }]
}

#[test]
fn bzimage() {
    for (_, data) in inputs("bzimage") {
        let _ = bzimage::looks_like(&data);
        if bzimage::parse(&data).is_ok() && data.len() < (1 << 20) {
            let mut req = LoadRequest::new(&data, "console=ttyS0");
            req.memory = ram();
            let _ = plan::build(&req, plan::Format::BzImage);
        }
        let _ = plan::probe(&data, None);
    }
}

#[test]
fn elf_kernel() {
    for (_, data) in inputs("elf_kernel") {
        if let Ok(k) = elf_kernel::parse(&data) {
            if k.loads.iter().all(|l| l.memsz < (64 << 20)) {
                let mut req = LoadRequest::new(&data, "console=ttyS0");
                req.memory = ram();
                let _ = plan::build(&req, plan::Format::Elf);
            }
        }
    }
}

#[test]
fn iomem() {
    let mut parsed = 0;
    for (_, data) in inputs("iomem") {
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        if let Ok(entries) = memmap::parse_iomem(text) {
            parsed += 1;
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
    }
    assert!(parsed >= 1, "no iomem seed parsed");
}

#[test]
fn memmap() {
    let mut parsed = 0;
    for (_, data) in inputs("memmap") {
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        let mut parts = text.splitn(3, '\n');
        let (s, e, t) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        if memmap::parse_memmap_entry("0", s, e, t).is_ok() {
            parsed += 1;
        }
        let mut sys = MemSystem::default();
        sys.insert("/sys/firmware/memmap/0/start", s);
        sys.insert("/sys/firmware/memmap/0/end", e);
        sys.insert("/sys/firmware/memmap/0/type", t);
        let _ = memmap::read_firmware_memmap(&sys);
    }
    assert!(parsed >= 1, "no memmap seed parsed");
}
