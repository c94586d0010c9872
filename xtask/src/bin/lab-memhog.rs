//! `lab-memhog ANON_MB HUGE_PAGES [HUGETLBFS_FILE]`: a guest-side helper of the lab workload.
//!
//! Holds ANON_MB MiB of anonymous memory filled with non-zero bytes and, when a hugetlbfs file
//! is given, maps HUGE_PAGES 2 MiB huge pages of it and writes to each. Prints `READY ...`
//! and sleeps until killed (the kernel crashes or is dumped meanwhile).
//! It is built statically for the guest (`target/guest`) and never does anything dangerous.

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let anon_mb: usize = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(30)
        .min(4096);
    let huge: usize = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
        .min(4096);
    // Anonymous memory: an xorshift pattern so pages are neither zero nor identical.
    let mut anon = vec![0u8; anon_mb << 20];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for chunk in anon.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = x.to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
    let mut mapped = 0;
    if huge > 0 {
        if let Some(path) = args.get(3) {
            match hugetlb::map_and_touch(path, huge) {
                Ok(n) => mapped = n,
                Err(e) => eprintln!("lab-memhog: hugetlb {path}: {e}"),
            }
        }
    }
    let sum: u64 = anon.iter().step_by(4096).map(|&b| u64::from(b)).sum();
    println!("READY anon_mb={anon_mb} hugetlb_pages={mapped} checksum={sum}");
    let _ = std::io::stdout().flush();
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
        std::hint::black_box(&anon);
    }
}

#[allow(unsafe_code)]
mod hugetlb {
    use std::os::fd::AsRawFd;

    const HUGE: usize = 2 << 20;

    /// Map `pages` huge pages of a hugetlbfs file and write to each; the mapping is leaked on
    /// purpose (it must stay until the guest is dumped).
    pub fn map_and_touch(path: &str, pages: usize) -> std::io::Result<usize> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let len = pages * HUGE;
        f.set_len(len as u64)?;
        // SAFETY: a fresh shared mapping of a file we own, length and fd valid; the result is
        // checked against MAP_FAILED before use.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: p points to `len` writable bytes mapped above and never unmapped.
        let mem = unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), len) };
        for (i, page) in mem.chunks_mut(4096).enumerate() {
            page[..8].copy_from_slice(&(i as u64 | 0xA5A5_0000_0000_0000).to_le_bytes());
        }
        Ok(pages)
    }
}
