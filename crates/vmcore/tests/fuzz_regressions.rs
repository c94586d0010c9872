//! The fuzz targets elf_core, vmcoreinfo, pagetable_walk and printk (their bodies in
//! fuzz/bodies/, the same code the fuzzer runs) over every input that once failed
//! (fuzz/regressions/<target>/) and every committed seed (fuzz/corpus/<target>/): no panic,
//! and the seeds made from real dumps parse.

#[path = "../../../fuzz/regression_inputs.rs"]
mod regression_inputs;
use regression_inputs::replay;

#[path = "../../../fuzz/bodies/elf_core.rs"]
mod elf_core;
#[path = "../../../fuzz/bodies/pagetable_walk.rs"]
mod pagetable_walk;
#[path = "../../../fuzz/bodies/printk.rs"]
mod printk;
#[path = "../../../fuzz/bodies/vmcoreinfo.rs"]
mod vmcoreinfo;

#[test]
fn elf_core() {
    let r = replay("elf_core", elf_core::run);
    assert!(r.accepted >= 1, "no elf_core seed parsed");
}

#[test]
fn vmcoreinfo() {
    let r = replay("vmcoreinfo", vmcoreinfo::run);
    assert!(r.accepted >= 1, "no vmcoreinfo seed has a kernel version");
}

#[test]
fn pagetable_walk() {
    replay("pagetable_walk", pagetable_walk::run);
}

#[test]
fn printk() {
    let r = replay("printk", printk::run);
    // The ring buffer slices of the 6.1 and 6.12 fixtures (fuzz/examples/seeds.rs) print.
    assert!(r.accepted >= 2, "printk seeds give no kernel log: {r:?}");
}
