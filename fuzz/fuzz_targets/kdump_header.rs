//! kdump-compressed reader: header, sub-header, bitmaps, page descriptors and page data
//! from arbitrary bytes (the signature is forced half the time to get past the first check).
#![no_main]
use kdump_compressed::read::{Bitmap, KdumpFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.to_vec();
    if bytes.first().is_some_and(|b| b & 1 == 1) && bytes.len() >= 8 {
        bytes[..8].copy_from_slice(b"KDUMP   ");
    }
    let Ok(f) = KdumpFile::from_source(bytes) else {
        return;
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
});
