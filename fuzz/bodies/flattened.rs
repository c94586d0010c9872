//! Body of the `flattened` fuzz target: the flattened stream (makedumpfile -F), its
//! random-access index and reassembly from a reader (into an unlinked scratch file, only when
//! small). The signature is forced when the first byte is odd.
//!
//! Shared by fuzz/fuzz_targets/flattened.rs and crates/kdump-compressed/tests/fuzz_regressions.rs.

use kdump_compressed::flattened::{reassemble, FlatSource};
use kdump_compressed::source::ReadAt;

/// Run one input; true if the stream's index parsed.
pub fn run(data: &[u8]) -> bool {
    let mut bytes = data.to_vec();
    if bytes.first().is_some_and(|b| b & 1 == 1) && bytes.len() >= 16 {
        bytes[..16].copy_from_slice(b"makedumpfile\0\0\0\0");
    }
    let Ok(f) = FlatSource::new(bytes.as_slice()) else {
        return false;
    };
    let n = f.len().min(1 << 16) as usize;
    let mut b = vec![0u8; n];
    let _ = f.read_exact_at(0, &mut b);
    let _ = f.read_exact_at(f.len() / 2, &mut b[..n / 2]);
    // Reassembly writes at offsets from the input: only into a scratch file when small.
    if f.len() <= 1 << 20 {
        if let Ok(tmp) = scratch_file() {
            let _ = reassemble(bytes.as_slice(), &tmp);
        }
    }
    true
}

/// An unlinked read/write file in the temporary directory.
fn scratch_file() -> std::io::Result<std::fs::File> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let p = std::env::temp_dir().join(format!(
        "fuzz-flat-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&p)?;
    std::fs::remove_file(&p)?;
    Ok(f)
}
