//! Differential: our LZO1X decompressor and compressor against liblzo2 (the C library
//! makedumpfile links), through a small test-only binding to the system's liblzo2.
//! - Whatever liblzo2 decodes cleanly, we decode to the same bytes; whatever we accept,
//!   liblzo2 accepts too (possibly with input left over) with the same output.
//! - liblzo2's lzo1x_1 output of the input decodes with ours to the input.
//! - Our compressor's output decodes with liblzo2 to the input.
#![no_main]
use kdump_compressed::lzo;
use libfuzzer_sys::fuzz_target;
use std::os::raw::{c_int, c_uchar, c_ulong, c_void};

#[link(name = "lzo2")]
extern "C" {
    fn lzo1x_decompress_safe(
        src: *const c_uchar,
        src_len: c_ulong,
        dst: *mut c_uchar,
        dst_len: *mut c_ulong,
        wrkmem: *mut c_void,
    ) -> c_int;
    fn lzo1x_1_compress(
        src: *const c_uchar,
        src_len: c_ulong,
        dst: *mut c_uchar,
        dst_len: *mut c_ulong,
        wrkmem: *mut c_void,
    ) -> c_int;
}

const LZO_E_OK: c_int = 0;
const LZO_E_INPUT_NOT_CONSUMED: c_int = -8;
/// LZO1X_1_MEM_COMPRESS: 16384 dictionary pointers.
const WRKMEM: usize = 16384 * 8;

fn c_decompress(src: &[u8], out: &mut [u8]) -> (c_int, usize) {
    let mut n = out.len() as c_ulong;
    // SAFETY: src and out are valid for their lengths; the _safe decoder never writes past
    // *dst_len and never reads past src_len; it takes no work memory.
    let r = unsafe {
        lzo1x_decompress_safe(
            src.as_ptr(),
            src.len() as c_ulong,
            out.as_mut_ptr(),
            &mut n,
            std::ptr::null_mut(),
        )
    };
    (r, n as usize)
}

fn c_compress(src: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; src.len() + src.len() / 16 + 64 + 3];
    let mut wrk = vec![0u8; WRKMEM];
    let mut n = out.len() as c_ulong;
    // SAFETY: out has the documented worst-case size for src.len() input, wrk has
    // LZO1X_1_MEM_COMPRESS bytes, all pointers are valid for their lengths.
    let r = unsafe {
        lzo1x_1_compress(
            src.as_ptr(),
            src.len() as c_ulong,
            out.as_mut_ptr(),
            &mut n,
            wrk.as_mut_ptr().cast(),
        )
    };
    assert_eq!(r, LZO_E_OK);
    out.truncate(n as usize);
    out
}

fuzz_target!(|data: &[u8]| {
    // 1. The fuzz bytes as compressed input, into a page-sized buffer.
    let mut ours = vec![0u8; 4096];
    let mut theirs = vec![0u8; 4096];
    let mine = lzo::decompress(data, &mut ours);
    let (r, n) = c_decompress(data, &mut theirs);
    if r == LZO_E_OK {
        // Known, harmless divergence: we stop a length extension as soon as it exceeds the
        // output buffer, liblzo2 reads it whole and may then meet the end-of-stream marker
        // (an M4 match of distance 0), returning fewer bytes than a page. A page that short
        // is refused by every caller anyway (fuzz/regressions/lzo_liblzo2/long-eof-length).
        let tolerated = n < ours.len() && matches!(mine, Err(lzo::LzoError::OutputOverrun(_)));
        if !tolerated {
            assert_eq!(mine, Ok(n), "liblzo2 decodes {n} bytes, we do not");
        }
        assert!(ours[..n] == theirs[..n], "different output");
    }
    if let Ok(m) = mine {
        assert!(
            r == LZO_E_OK || r == LZO_E_INPUT_NOT_CONSUMED,
            "we decode {m} bytes, liblzo2 fails with {r}"
        );
        assert_eq!(m, n);
        assert!(ours[..m] == theirs[..m], "different output");
    }
    // 2. liblzo2 compresses, we decompress.
    let c = c_compress(data);
    let mut back = vec![0u8; data.len()];
    assert_eq!(lzo::decompress(&c, &mut back), Ok(data.len()));
    assert!(back == data);
    // 3. We compress, liblzo2 decompresses.
    let c = lzo::compress(data);
    let mut back = vec![0u8; data.len()];
    assert_eq!(c_decompress(&c, &mut back), (LZO_E_OK, data.len()));
    assert!(back == data);
});
