//! Flattened stream (makedumpfile -F): random-access index and reassembly from a reader.
#![no_main]
use kdump_compressed::flattened::{reassemble, FlatSource};
use kdump_compressed::source::ReadAt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.to_vec();
    if bytes.first().is_some_and(|b| b & 1 == 1) && bytes.len() >= 16 {
        bytes[..16].copy_from_slice(b"makedumpfile\0\0\0\0");
    }
    if let Ok(f) = FlatSource::new(bytes.as_slice()) {
        let n = f.len().min(1 << 16) as usize;
        let mut b = vec![0u8; n];
        let _ = f.read_exact_at(0, &mut b);
        let _ = f.read_exact_at(f.len() / 2, &mut b[..n / 2]);
        // Reassembly writes at offsets from the input: only into a scratch file when small.
        if f.len() <= 1 << 20 {
            if let Ok(tmp) = tempfile() {
                let _ = reassemble(bytes.as_slice(), &tmp);
            }
        }
    }
});

fn tempfile() -> std::io::Result<std::fs::File> {
    let p = std::env::temp_dir().join(format!("fuzz-flat-{}", std::process::id()));
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&p)?;
    std::fs::remove_file(&p)?;
    Ok(f)
}
