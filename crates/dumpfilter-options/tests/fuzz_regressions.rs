//! The dumpfilter_options fuzz target (its body in fuzz/bodies/dumpfilter_options.rs, the
//! same code the fuzzer runs) over every input that once failed
//! (fuzz/regressions/dumpfilter_options/) and every committed seed
//! (fuzz/corpus/dumpfilter_options/): whatever parses prints back to the same options.

#[path = "../../../fuzz/regression_inputs.rs"]
mod regression_inputs;
use regression_inputs::replay;

#[path = "../../../fuzz/bodies/dumpfilter_options.rs"]
mod dumpfilter_options_body;

#[test]
fn dumpfilter_options() {
    let r = replay("dumpfilter_options", dumpfilter_options_body::run);
    assert!(r.accepted >= 1, "no dumpfilter_options seed parsed: {r:?}");
}
