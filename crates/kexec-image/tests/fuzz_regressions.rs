//! The fuzz targets bzimage, elf_kernel, iomem and memmap (their bodies in fuzz/bodies/, the
//! same code the fuzzer runs) over every input that once failed (fuzz/regressions/<target>/)
//! and every committed seed (fuzz/corpus/<target>/): no panic, and the seeds taken from real
//! systems parse.

#[path = "../../../fuzz/regression_inputs.rs"]
mod regression_inputs;
use regression_inputs::replay;

#[path = "../../../fuzz/bodies/bzimage.rs"]
mod bzimage;
#[path = "../../../fuzz/bodies/elf_kernel.rs"]
mod elf_kernel;
#[path = "../../../fuzz/bodies/iomem.rs"]
mod iomem;
#[path = "../../../fuzz/bodies/memmap.rs"]
mod memmap;

#[test]
fn bzimage() {
    let r = replay("bzimage", bzimage::run);
    assert!(r.accepted >= 1, "the 6.1 bzImage head does not parse");
}

#[test]
fn elf_kernel() {
    let r = replay("elf_kernel", elf_kernel::run);
    assert!(r.accepted >= 1, "no elf_kernel seed parsed");
}

#[test]
fn iomem() {
    let r = replay("iomem", iomem::run);
    assert!(r.accepted >= 1, "no iomem seed parsed");
}

#[test]
fn memmap() {
    let r = replay("memmap", memmap::run);
    assert!(r.accepted >= 1, "no memmap seed parsed");
}
