#![no_main]
//! ELF vmlinux program-header parser, then the planner on a fixed map.
use kexec_image::memmap::{MemRange, RangeKind};
use kexec_image::{elf_kernel, plan, LoadRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = elf_kernel::parse(data) {
        if k.loads.iter().all(|l| l.memsz < (64 << 20)) {
            let mut req = LoadRequest::new(data, "console=ttyS0");
            req.memory = vec![MemRange { start: 0x10_0000, end: 0x3fff_ffff, kind: RangeKind::Ram }];
            let _ = plan::build(&req, plan::Format::Elf);
        }
    }
});
