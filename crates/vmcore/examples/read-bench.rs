//! Read every page of a dump and compare with `cat FILE > /dev/null` in the same run.
//!
//! `cargo run --release -p vmcore --example read-bench -- [FILE] [ROUNDS]`
//! (default: the lab's /proc/vmcore copy). The file is read once first so every
//! measurement comes from the page cache; the methods alternate round by round and the
//! best time of each is reported. Each round opens the dump anew (mapping, parsing and
//! unmapping are part of the cost).
//! - `mmap copy`: `read_page` into a buffer through the memory map;
//! - `mmap slice`: `page_slice` (no copy), every byte of every page read (XOR fold);
//! - `pread`: `read_page` through `pread(2)`.
use std::time::{Duration, Instant};
use vmcore::{Access, PhysMemory, Vmcore};

fn copy_pages(path: &str, access: Access) -> u64 {
    let vm = Vmcore::open_with(path, access).expect("open");
    let mut buf = vec![0u8; vm.page_size() as usize];
    let (mut n, mut sum) = (0u64, 0u8);
    for pfn in 0..vm.max_pfn() {
        if vm.read_page(pfn, &mut buf).is_ok() {
            n += 1;
            sum ^= buf[pfn as usize % 4096];
        }
    }
    std::hint::black_box(sum);
    n
}

fn slice_pages(path: &str) -> u64 {
    let vm = Vmcore::open_with(path, Access::Mmap).expect("open");
    let (mut n, mut acc) = (0u64, 0u64);
    for pfn in 0..vm.max_pfn() {
        if let Some(p) = vm.page_slice(pfn) {
            n += 1;
            for c in p.chunks_exact(8) {
                acc ^= u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
            }
        }
    }
    std::hint::black_box(acc);
    n
}

fn cat(path: &str) -> u64 {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("cat '{path}' > /dev/null"))
        .status()
        .map(|s| u64::from(s.success()))
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "/tmp/vmlab/kdump/proc-vmcore.elf".into());
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    cat(&path); // warm the page cache
    let methods: [(&str, &dyn Fn() -> u64); 4] = [
        ("cat", &|| cat(&path)),
        ("mmap copy", &|| copy_pages(&path, Access::Mmap)),
        ("mmap slice", &|| slice_pages(&path)),
        ("pread", &|| copy_pages(&path, Access::Pread)),
    ];
    let mut best = [Duration::MAX; 4];
    let mut pages = [0u64; 4];
    for _ in 0..rounds {
        for (i, (_, f)) in methods.iter().enumerate() {
            let t = Instant::now();
            pages[i] = f();
            best[i] = best[i].min(t.elapsed());
        }
    }
    let cat_s = best[0].as_secs_f64();
    println!(
        "{:10}: {:.0} MB in {:.3} s = {:.0} MB/s (page cache, best of {rounds})",
        "cat",
        size as f64 / 1e6,
        cat_s,
        size as f64 / 1e6 / cat_s
    );
    for i in 1..4 {
        let s = best[i].as_secs_f64();
        let mb = (pages[i] * 4096) as f64 / 1e6;
        println!(
            "{:10}: {} pages ({mb:.0} MB) in {s:.3} s = {:.0} MB/s; {:.0}% of cat's time-speed",
            methods[i].0,
            pages[i],
            mb / s,
            cat_s / s * 100.0
        );
    }
}
