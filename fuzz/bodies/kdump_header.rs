//! Body of the `kdump_header` fuzz target: the kdump-compressed reader (header, sub-header,
//! bitmaps, page descriptors and page data) on arbitrary bytes; the signature is forced when
//! the first byte is odd, to get past the first check.
//!
//! Shared by fuzz/fuzz_targets/kdump_header.rs and
//! crates/kdump-compressed/tests/fuzz_regressions.rs.

use kdump_compressed::read::{Bitmap, KdumpFile};

/// Run one input; true if the header parsed.
pub fn run(data: &[u8]) -> bool {
    let mut bytes = data.to_vec();
    if bytes.first().is_some_and(|b| b & 1 == 1) && bytes.len() >= 8 {
        bytes[..8].copy_from_slice(b"KDUMP   ");
    }
    let Ok(f) = KdumpFile::from_source(bytes) else {
        return false;
    };
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
    true
}
