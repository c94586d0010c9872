//! Read every page of a dump and compare with `cat FILE > /dev/null` in the same run.
//!
//! `cargo run --release -p vmcore --example read-bench -- [FILE] [ROUNDS]`
//! (default: the lab's /proc/vmcore copy). The file is read once first so every
//! measurement comes from the page cache. Prints the best of ROUNDS (default 5) for each.
use std::time::{Duration, Instant};
use vmcore::{Access, PhysMemory, Vmcore};

fn best(rounds: usize, mut f: impl FnMut() -> u64) -> (Duration, u64) {
    let mut best = Duration::MAX;
    let mut out = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed());
    }
    (best, out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "/tmp/vmlab/kdump/proc-vmcore.elf".into());
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let size = std::fs::metadata(&path)?.len();
    // Warm the page cache.
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("cat '{path}' > /dev/null"))
        .status()?;
    let (cat, _) = best(rounds, || {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("cat '{path}' > /dev/null"))
            .status()
            .map(|s| u64::from(s.success()))
            .unwrap_or(0)
    });
    let report = |name: &str, access: Access| -> Result<f64, Box<dyn std::error::Error>> {
        let (t, pages) = best(rounds, || {
            // Open inside the measurement: mapping and parsing are part of the cost.
            let vm = Vmcore::open_with(&path, access).expect("open");
            let mut buf = vec![0u8; vm.page_size() as usize];
            let mut n = 0u64;
            let mut sum = 0u8;
            for pfn in 0..vm.max_pfn() {
                if vm.read_page(pfn, &mut buf).is_ok() {
                    n += 1;
                    sum ^= buf[pfn as usize % 4096];
                }
            }
            std::hint::black_box(sum);
            n
        });
        let mb = (pages * 4096) as f64 / 1e6;
        let ratio = cat.as_secs_f64() / t.as_secs_f64();
        println!(
            "{name:5}: {pages} pages ({mb:.0} MB) in {:.3} s = {:.0} MB/s; speed relative to cat: {:.0}%",
            t.as_secs_f64(),
            mb / t.as_secs_f64(),
            ratio * 100.0
        );
        Ok(ratio)
    };
    println!(
        "cat  : {:.0} MB in {:.3} s = {:.0} MB/s (page cache, best of {rounds})",
        size as f64 / 1e6,
        cat.as_secs_f64(),
        size as f64 / 1e6 / cat.as_secs_f64()
    );
    report("mmap", Access::Mmap)?;
    report("pread", Access::Pread)?;
    Ok(())
}
