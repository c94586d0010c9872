//! The fuzz targets' properties over every input that once failed
//! (fuzz/regressions/<target>/) and every committed seed (fuzz/corpus/<target>/), so
//! `cargo test` keeps them fixed without a fuzzer. codecs, kdump_header, flattened and
//! kdump_roundtrip run their bodies in fuzz/bodies/ (the same code the fuzzer runs); lzo and
//! lzo_liblzo2 repeat the LZO round-trip property here (liblzo2 is compared in
//! tests/lzo_liblzo2.rs).

use kdump_compressed::lzo;

#[path = "../../../fuzz/regression_inputs.rs"]
mod regression_inputs;
use regression_inputs::{inputs, replay};

#[path = "../../../fuzz/bodies/codecs.rs"]
mod codecs;
#[path = "../../../fuzz/bodies/flattened.rs"]
mod flattened;
#[path = "../../../fuzz/bodies/kdump_header.rs"]
mod kdump_header;
#[path = "../../../fuzz/bodies/kdump_roundtrip.rs"]
mod kdump_roundtrip;

fn lzo_property(data: &[u8]) {
    let mut out = vec![0u8; 4096];
    let _ = lzo::decompress(data, &mut out);
    let c = lzo::compress(data);
    let mut back = vec![0u8; data.len()];
    assert_eq!(lzo::decompress(&c, &mut back), Ok(data.len()));
    assert_eq!(back, data);
}

#[test]
fn lzo() {
    let all = inputs("lzo");
    assert!(!all.is_empty(), "no seeds in fuzz/corpus/lzo");
    for (_, data) in all {
        lzo_property(&data);
    }
}

#[test]
fn lzo_liblzo2() {
    let all = inputs("lzo_liblzo2");
    assert!(!all.is_empty());
    for (path, data) in all {
        lzo_property(&data);
        // The end-of-stream marker after an absurd length: liblzo2 ignores the marker's
        // length and returns 0 bytes, and so do we (tests/lzo_liblzo2.rs compares the two).
        if path.ends_with("long-eof-length") {
            let mut out = vec![0u8; 4096];
            assert_eq!(lzo::decompress(&data, &mut out), Ok(0));
        }
    }
}

#[test]
fn codecs() {
    let r = replay("codecs", codecs::run);
    assert!(r.accepted >= 1, "no codecs seed decompressed: {r:?}");
}

#[test]
fn kdump_header() {
    // The seeds are heads of real makedumpfile output: their headers parse.
    let r = replay("kdump_header", kdump_header::run);
    assert!(r.accepted >= 1, "no kdump_header seed parsed: {r:?}");
}

#[test]
fn flattened() {
    let r = replay("flattened", flattened::run);
    assert!(r.accepted >= 1, "no flattened seed parsed: {r:?}");
}

#[test]
fn kdump_roundtrip() {
    let r = replay("kdump_roundtrip", kdump_roundtrip::run);
    assert!(
        r.accepted >= 1,
        "no kdump_roundtrip seed wrote a dump: {r:?}"
    );
}
