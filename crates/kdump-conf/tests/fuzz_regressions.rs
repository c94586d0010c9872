//! The fuzz targets kdump_conf and sysconfig (their bodies in fuzz/bodies/, the same code the
//! fuzzer runs) over every input that once failed (fuzz/regressions/<target>/) and every
//! committed seed (fuzz/corpus/<target>/).

#[path = "../../../fuzz/regression_inputs.rs"]
mod regression_inputs;
use regression_inputs::replay;

#[path = "../../../fuzz/bodies/kdump_conf.rs"]
mod kdump_conf_body;
#[path = "../../../fuzz/bodies/sysconfig.rs"]
mod sysconfig_body;

#[test]
fn kdump_conf() {
    let r = replay("kdump_conf", kdump_conf_body::run);
    // The seeds are real configurations: most are clean.
    assert!(
        r.accepted >= 1,
        "every kdump.conf seed has a diagnostic: {r:?}"
    );
}

#[test]
fn sysconfig() {
    let r = replay("sysconfig", sysconfig_body::run);
    assert!(r.accepted >= 1, "no sysconfig seed parsed cleanly: {r:?}");
}
