//! The fuzz targets crashkernel and kdump_target (their bodies in fuzz/bodies/, the same code
//! the fuzzer runs) over every input that once failed (fuzz/regressions/<target>/) and every
//! committed seed (fuzz/corpus/<target>/).

#[path = "../../../fuzz/regression_inputs.rs"]
mod regression_inputs;
use regression_inputs::replay;

#[path = "../../../fuzz/bodies/crashkernel.rs"]
mod crashkernel;
#[path = "../../../fuzz/bodies/kdump_target.rs"]
mod kdump_target;

#[test]
fn crashkernel() {
    let r = replay("crashkernel", crashkernel::run);
    assert!(r.accepted >= 1, "no crashkernel seed parsed: {r:?}");
}

#[test]
fn kdump_target() {
    replay("kdump_target", kdump_target::run);
}
