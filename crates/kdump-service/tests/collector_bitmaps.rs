//! The collector's bounded bitmaps: bitmaps kept in a scratch file hold exactly the bytes of
//! the in-memory ones, on the real fixtures, and the scratch file leaves nothing behind.

#[path = "../../vmcore/tests/common/mod.rs"]
mod common;

use kdump_compressed::read::Bitmap;
use kdump_compressed::write::Bitmaps;
use kdump_service::collector::{classify, classify_bounded, BitmapStore};

#[test]
fn scratch_file_bitmaps_equal_memory_bitmaps() {
    let mut dumps = common::elf_dumps();
    dumps.extend(common::kdump_dumps().into_iter().take(1));
    if dumps.is_empty() {
        common::skip("scratch_file_bitmaps_equal_memory_bitmaps", "no fixtures");
        return;
    }
    let dir = std::env::temp_dir().join(format!("kdump-rs-bitmaps-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for fx in &dumps {
        let vm = vmcore::Vmcore::open(&fx.path).unwrap();
        for level in [1u8, 31] {
            let (mem, stats_m, max_m) = classify(&vm, level).unwrap();
            let (file, stats_f, max_f) = classify_bounded(&vm, level, &dir, 0).unwrap();
            assert!(
                matches!(file, BitmapStore::File(_)),
                "memory 0 must use a file"
            );
            assert_eq!(max_m, max_f);
            assert_eq!(stats_m, stats_f);
            let n = max_m.div_ceil(8) as usize;
            for which in [Bitmap::Valid, Bitmap::Dumped] {
                let (mut a, mut b) = (vec![0u8; n], vec![0u8; n]);
                mem.read_bytes(which, 0, &mut a).unwrap();
                file.read_bytes(which, 0, &mut b).unwrap();
                assert!(
                    a == b,
                    "{}: level {level}: {which:?} differs",
                    fx.path.display()
                );
                assert!(a.iter().any(|&x| x != 0), "{which:?} is empty");
            }
        }
    }
    // The scratch files were unlinked when created.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir(&dir).unwrap();
}
