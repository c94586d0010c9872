//! Bounded memory on a huge sparse machine: a synthetic 6.1 dump claiming N TiB of RAM
//! (default 1), a 4 GiB hole at the start of every 64 GiB, struct pages generated on the fly (60% free order-10
//! blocks, 15% anonymous THPs and hugetlb pages, 10% page cache, 15% kernel pages), classified
//! at -d 31. Prints the statistics, checks them against the generator's own count, and the
//! time; run under `/usr/bin/time -v` for the peak RSS.
//!
//! `pf-sparse [TIB] [--budget BYTES]`

use std::time::Instant;

use page_filter::synthetic::{Flavor, PageKind, SyntheticDump};
use page_filter::{DumpLevel, FilterConfig, PageFilter};

const BLOCK: u64 = 1024;

fn kind_of_block(b: u64) -> (PageKind, u64) {
    let h = b.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 57; // 0..128
    match h * 100 / 128 {
        0..=59 => (PageKind::Free { order: 10 }, 1024),
        60..=69 => (PageKind::AnonThp { order: 9 }, 512),
        70..=74 => (PageKind::Hugetlb { order: 9 }, 512),
        75..=84 => (PageKind::Cache { private: false }, 1),
        _ => (PageKind::Kernel, 1),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tib: u64 = args.first().map_or(Ok(1), |a| a.parse())?;
    let mut budget = 16usize << 20;
    if let Some(i) = args.iter().position(|a| a == "--budget") {
        budget = args.get(i + 1).ok_or("--budget needs a value")?.parse()?;
    }
    let gib_pfns: u64 = 1 << 18;
    let total_gib = tib * 1024;
    // A 4 GiB hole, then 60 GiB of RAM, repeated up to exactly TIB TiB.
    let ranges: Vec<(u64, u64)> = (0..total_gib / 64)
        .map(|i| ((i * 64 + 4) * gib_pfns, (i * 64 + 64) * gib_pfns))
        .collect();
    let flavor = Flavor::Linux6_1;
    let dump = SyntheticDump::generated(
        flavor,
        &ranges,
        move |pfn, out| {
            let (kind, size) = kind_of_block(pfn / BLOCK);
            let head = pfn & !(size - 1);
            flavor.struct_page(kind, head, pfn, out);
        },
        |_| false,
    );
    // What the generator put there.
    let (mut free, mut user, mut cache) = (0u64, 0u64, 0u64);
    for &(a, b) in &ranges {
        for blk in a / BLOCK..b / BLOCK {
            match kind_of_block(blk).0 {
                PageKind::Free { .. } => free += BLOCK,
                PageKind::AnonThp { .. } | PageKind::Hugetlb { .. } => user += BLOCK,
                PageKind::Cache { .. } => cache += BLOCK,
                _ => {}
            }
        }
    }
    let info = dump.vmcoreinfo();
    let r = dump.ranges().to_vec();
    let mut config = FilterConfig::new(DumpLevel::new(31)?);
    config.bitmap_budget = budget;
    let t0 = Instant::now();
    let mut f = PageFilter::new(dump, &info, &r, config)?;
    let mut windows = 0u64;
    let mut dumped = 0u64;
    while let Some(w) = f.next_window()? {
        windows += 1;
        dumped += w.dumped_count();
    }
    let dt = t0.elapsed();
    let s = *f.stats();
    print!("{s}");
    println!(
        "claimed {tib} TiB ({} frames), {} ranges, {windows} windows of {} frames, {dumped} frames dumped, {:.2} s",
        f.max_pfn(),
        r.len(),
        f.window_pfns(),
        dt.as_secs_f64()
    );
    if (s.free, s.user, s.cache) != (free, user, cache) {
        return Err(format!(
            "mismatch: filter free/user/cache {}/{}/{} vs generator {free}/{user}/{cache}",
            s.free, s.user, s.cache
        )
        .into());
    }
    println!("counts match the generator: free {free}, user {user}, cache {cache}");
    Ok(())
}
