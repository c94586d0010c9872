//! Body of the `elf_kernel` fuzz target: the ELF vmlinux program-header parser, then the
//! planner on a fixed memory map.
//!
//! Shared by fuzz/fuzz_targets/elf_kernel.rs and crates/kexec-image/tests/fuzz_regressions.rs.

use kexec_image::memmap::{MemRange, RangeKind};
use kexec_image::{elf_kernel, plan, LoadRequest};

/// Run one input; true if it parsed as an ELF kernel.
pub fn run(data: &[u8]) -> bool {
    let Ok(k) = elf_kernel::parse(data) else {
        return false;
    };
    if k.loads.iter().all(|l| l.memsz < (64 << 20)) {
        let mut req = LoadRequest::new(data, "console=ttyS0");
        // 63 MiB of RAM: the planner hashes every segment up to its memory size, as the
        // purgatory checks it, so a fuzzed p_memsz of up to 1 GiB cost ~10 ms of SHA-256 an
        // input; a smaller map keeps the fit and no-room paths at ~5x the executions.
        req.memory = vec![MemRange {
            start: 0x10_0000,
            end: 0x03ff_ffff,
            kind: RangeKind::Ram,
        }];
        let _ = plan::build(&req, plan::Format::Elf);
    }
    true
}
