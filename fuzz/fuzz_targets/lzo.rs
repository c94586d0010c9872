//! Our LZO1X decompressor on arbitrary input (never panics, never writes past the page), and
//! compress → decompress gives the input back.
#![no_main]
use kdump_compressed::lzo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = vec![0u8; 4096];
    let _ = lzo::decompress(data, &mut out);
    let c = lzo::compress(data);
    let mut back = vec![0u8; data.len()];
    assert_eq!(lzo::decompress(&c, &mut back), Ok(data.len()));
    assert_eq!(back, data);
});
