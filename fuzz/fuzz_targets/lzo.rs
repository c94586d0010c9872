//! Our LZO1X decompressor on arbitrary input (never panics, never writes past the page), and
//! compress → decompress gives the input back: for the input itself, for an input longer than
//! one compression chunk built from it, and with a compressor that has seen other data first
//! (its output must not depend on that history).
#![no_main]
use kdump_compressed::lzo;
use libfuzzer_sys::fuzz_target;

fn round_trip(c: &mut lzo::LzoCompressor, data: &[u8]) -> Vec<u8> {
    let z = c.compress_to_slice(data).to_vec();
    assert!(z.len() <= lzo::max_compressed_len(data.len()));
    let mut back = vec![0u8; data.len()];
    assert_eq!(lzo::decompress(&z, &mut back), Ok(data.len()));
    assert!(back == data);
    z
}

fuzz_target!(|data: &[u8]| {
    let mut out = vec![0u8; 4096];
    let _ = lzo::decompress(data, &mut out);
    let fresh = round_trip(&mut lzo::LzoCompressor::new(), data);
    // The same compressor after other input gives the same bytes.
    let mut used = lzo::LzoCompressor::new();
    let (a, b) = data.split_at(data.len() / 2);
    round_trip(&mut used, b);
    round_trip(&mut used, a);
    assert!(round_trip(&mut used, data) == fresh);
    // Several chunks: the input repeated with a counter byte, past 48 KiB.
    if !data.is_empty() {
        let mut long = Vec::new();
        let mut k = 0u8;
        while long.len() < 50_000 + data.len() * 3 {
            long.extend_from_slice(data);
            long.push(k);
            k = k.wrapping_add(1);
        }
        round_trip(&mut used, &long);
    }
});
