//! Body of the `initramfs_cpio` fuzz target: capture-initramfs' cpio reader (and the image
//! decompressor in front of it) never panics, and whatever it reads, written again by our
//! writer, reads back the same.
//!
//! Shared by fuzz/fuzz_targets/initramfs_cpio.rs and crates/capture-initramfs/tests/fuzz_regressions.rs.

use capture_initramfs::{read_archive, Archive, Compression, ReadLimits};

/// Run one input; true if it read as an archive.
pub fn run(data: &[u8]) -> bool {
    let _ = Compression::decompress_image(data, 1 << 20);
    let limits = ReadLimits {
        max_entries: 10_000,
    };
    let Ok(records) = read_archive(data, &limits) else {
        return false;
    };
    let mut a = Archive::new();
    for r in &records {
        if let Some(node) = r.node() {
            let _ = a.insert(&r.path, r.perm(), node);
        }
    }
    let bytes = a
        .to_bytes(7)
        .expect("our writer writes what Archive accepted");
    let back = read_archive(&bytes, &limits).expect("our own output reads back");
    assert_eq!(back.len(), a.len());
    for (r, (path, perm, node)) in back.iter().zip(a.iter()) {
        assert_eq!(r.path, path);
        assert_eq!(r.perm(), perm);
        assert_eq!(r.node().as_ref(), Some(node));
        assert_eq!(r.mtime, 7);
    }
    true
}
