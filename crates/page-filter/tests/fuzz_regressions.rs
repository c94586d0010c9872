//! The struct_page fuzz target (its body in fuzz/bodies/struct_page.rs, the same code the
//! fuzzer runs) over every input that once failed (fuzz/regressions/struct_page/) and every
//! committed seed (fuzz/corpus/struct_page/).

#[path = "../../../fuzz/regression_inputs.rs"]
mod regression_inputs;
use regression_inputs::replay;

#[path = "../../../fuzz/bodies/struct_page.rs"]
mod struct_page;

#[test]
fn struct_page() {
    let r = replay("struct_page", struct_page::run);
    assert!(r.accepted >= 1, "no struct_page seed ran the filter: {r:?}");
}
