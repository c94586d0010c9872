//! Page decompression for every codec (zlib, LZO, snappy, zstd, lz4, raw) on arbitrary data,
//! and compress → decompress of the input as a page for each codec.
#![no_main]
use kdump_compressed::codec::{Codec, PageCompressor, PageDecompressor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
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
        assert_eq!(out, page);
    }
});
