//! The fuzz targets' properties (fuzz/fuzz_targets/{lzo,lzo_liblzo2,codecs,kdump_header,
//! flattened}.rs) over every input that once failed (fuzz/regressions/<target>/) and over the
//! committed seeds (fuzz/corpus/<target>/), so `cargo test` keeps them fixed without a fuzzer.

use kdump_compressed::codec::{Codec, PageCompressor, PageDecompressor};
use kdump_compressed::flattened::FlatSource;
use kdump_compressed::lzo;
use kdump_compressed::read::{Bitmap, KdumpFile};
use kdump_compressed::source::ReadAt;

#[path = "../../../fuzz/regression_inputs.rs"]
mod regression_inputs;
use regression_inputs::inputs;

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
    for (path, data) in inputs("codecs") {
        let Some((&sel, rest)) = data.split_first() else {
            continue;
        };
        let flags = [0u32, 1, 2, 4, 0x20, 0x4000_0000, 3, 0xffff_ffff][sel as usize % 8];
        let mut d = PageDecompressor::new();
        let mut out = vec![0u8; 4096];
        let _ = d.decompress(flags, rest, &mut out);
        let mut page = vec![0u8; 4096];
        let n = rest.len().min(4096);
        page[..n].copy_from_slice(&rest[..n]);
        for codec in [
            Codec::Zlib,
            Codec::Lzo,
            Codec::Snappy,
            Codec::Zstd,
            Codec::Lz4,
        ] {
            let mut c = PageCompressor::new(codec).unwrap();
            let (bytes, f) = c.compress(&page).unwrap();
            let bytes = bytes.to_vec();
            d.decompress(f, &bytes, &mut out).unwrap();
            assert_eq!(out, page, "{} {codec:?}", path.display());
        }
    }
}

#[test]
fn kdump_header() {
    let mut parsed = 0;
    for (_, data) in inputs("kdump_header") {
        let mut bytes = data.clone();
        if bytes.first().is_some_and(|b| b & 1 == 1) && bytes.len() >= 8 {
            bytes[..8].copy_from_slice(b"KDUMP   ");
        }
        let Ok(f) = KdumpFile::from_source(bytes) else {
            continue;
        };
        parsed += 1;
        let _ = f.vmcoreinfo();
        let _ = f.notes();
        let _ = f.eraseinfo();
        let mut buf = vec![0u8; f.page_size()];
        for pfn in f.iter_bitmap(Bitmap::Valid).take(512).flatten() {
            let _ = f.read_page(pfn, &mut buf);
        }
        for pfn in [
            0,
            1,
            f.max_mapnr().saturating_sub(1),
            f.max_mapnr(),
            u64::MAX,
        ] {
            let _ = f.read_page(pfn, &mut buf);
        }
    }
    // The seeds are heads of real makedumpfile output: their headers parse.
    assert!(parsed >= 1, "no kdump_header seed parsed");
}

#[test]
fn flattened() {
    let mut parsed = 0;
    for (_, data) in inputs("flattened") {
        let mut bytes = data.clone();
        if bytes.first().is_some_and(|b| b & 1 == 1) && bytes.len() >= 16 {
            bytes[..16].copy_from_slice(b"makedumpfile\0\0\0\0");
        }
        if let Ok(f) = FlatSource::new(bytes.as_slice()) {
            parsed += 1;
            let n = f.len().min(1 << 16) as usize;
            let mut b = vec![0u8; n];
            let _ = f.read_exact_at(0, &mut b);
            let _ = f.read_exact_at(f.len() / 2, &mut b[..n / 2]);
        }
    }
    assert!(parsed >= 1, "no flattened seed parsed");
}
