#![no_main]
//! bzImage setup-header parser and the probe table, then the segment planner on a fixed map.
use kexec_image::memmap::{MemRange, RangeKind};
use kexec_image::{bzimage, plan, LoadRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bzimage::looks_like(data);
    if bzimage::parse(data).is_ok() && data.len() < (1 << 20) {
        let mut req = LoadRequest::new(data, "console=ttyS0");
        req.memory = vec![MemRange { start: 0x10_0000, end: 0x3fff_ffff, kind: RangeKind::Ram }];
        let _ = plan::build(&req, plan::Format::BzImage);
    }
    let _ = plan::probe(data, None);
});
