//! Body of the `codecs` fuzz target: page decompression for every codec (zlib, LZO, snappy,
//! zstd, lz4, raw) on arbitrary data (the first byte picks the descriptor flags), and
//! compress → decompress of the input as a page for each codec.
//!
//! Shared by fuzz/fuzz_targets/codecs.rs and crates/kdump-compressed/tests/fuzz_regressions.rs.

use kdump_compressed::codec::{Codec, PageCompressor, PageDecompressor};

/// Run one input; true if the fuzzed decompression succeeded.
pub fn run(data: &[u8]) -> bool {
    let Some((&sel, rest)) = data.split_first() else {
        return false;
    };
    let flags = [0u32, 1, 2, 4, 0x20, 0x4000_0000, 3, 0xffff_ffff][sel as usize % 8];
    let mut d = PageDecompressor::new();
    let mut out = vec![0u8; 4096];
    let decoded = d.decompress(flags, rest, &mut out).is_ok();
    let mut page = vec![0u8; 4096];
    let n = rest.len().min(4096);
    page[..n].copy_from_slice(&rest[..n]);
    for &codec in &Codec::ALL[1..] {
        let mut c = PageCompressor::new(codec).expect("compressor");
        let (bytes, f) = c.compress(&page).expect("compress a page");
        let bytes = bytes.to_vec();
        d.decompress(f, &bytes, &mut out)
            .unwrap_or_else(|e| panic!("{codec:?}: our own page does not decompress: {e}"));
        assert!(
            out == page,
            "{codec:?}: page differs after compress → decompress"
        );
    }
    decoded
}
