//! Body of the `bzimage` fuzz target: the bzImage setup-header parser and the probe table,
//! then the segment planner on a fixed memory map.
//!
//! Shared by fuzz/fuzz_targets/bzimage.rs and crates/kexec-image/tests/fuzz_regressions.rs
//! (included with `#[path]`), so the fuzzer and the replay test run the same code.

use kexec_image::memmap::{MemRange, RangeKind};
use kexec_image::{bzimage, plan, LoadRequest};

/// Run one input; true if it parsed as a bzImage.
pub fn run(data: &[u8]) -> bool {
    let _ = bzimage::looks_like(data);
    let parsed = bzimage::parse(data).is_ok();
    if parsed && data.len() < (1 << 20) {
        let mut req = LoadRequest::new(data, "console=ttyS0");
        // 63 MiB of RAM: the planner hashes every segment up to its memory size, as the
        // purgatory checks it, so a fuzzed init_size of up to 1 GiB cost ~10 ms of SHA-256 an
        // input; a smaller map keeps the fit and no-room paths at ~5x the executions.
        req.memory = vec![MemRange {
            start: 0x10_0000,
            end: 0x03ff_ffff,
            kind: RangeKind::Ram,
        }];
        let _ = plan::build(&req, plan::Format::BzImage);
    }
    let _ = plan::probe(data, None);
    parsed
}
