//! Classify a dump's pages at a dump level and print makedumpfile's statistics table.
//!
//! `pf-classify VMCORE LEVEL [--zero] [--pread] [--budget BYTES] [--bitmap2 OUT] [--mem-map]`
//!
//! `--pread` reads the dump with pread instead of mmap (mapped file pages count in RSS).
//!
//! `--zero` also reads every dumpable page to count (and exclude) zero pages, as makedumpfile
//! does for ELF output; `--bitmap2 OUT` writes bitmap 2 for frames 0..max_pfn.

use std::io::Write;
use std::time::Instant;

use page_filter::{DumpLevel, FilterConfig, PageFilter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!(
            "usage: pf-classify VMCORE LEVEL [--zero] [--budget BYTES] [--bitmap2 OUT] [--mem-map]"
        );
        std::process::exit(2);
    }
    let level = DumpLevel::new(args[1].parse()?)?;
    let mut config = FilterConfig::new(level);
    let mut out = None;
    let mut mem_map = false;
    let mut access = vmcore::Access::Mmap;
    let mut i = 2;
    while i < args.len() {
        match args[i].as_str() {
            "--zero" => config.exclude_zero_pages = true,
            "--mem-map" => mem_map = true,
            "--pread" => access = vmcore::Access::Pread,
            "--budget" => {
                i += 1;
                config.bitmap_budget = args.get(i).ok_or("--budget needs a value")?.parse()?;
            }
            "--bitmap2" => {
                i += 1;
                out = Some(args.get(i).ok_or("--bitmap2 needs a file")?.clone());
            }
            a => return Err(format!("unknown argument {a}").into()),
        }
        i += 1;
    }
    let t0 = Instant::now();
    let dump = vmcore::Vmcore::open_with(&args[0], access)?;
    let t_open = t0.elapsed();
    let mut filter = PageFilter::from_vmcore(&dump, config)?;
    if mem_map {
        for (i, r) in filter.mem_map_table()?.iter().enumerate() {
            match r.mem_map {
                Some(m) => println!(
                    "mem_map[{i:4}] {m:16x} {:16x} {:16x}",
                    r.start_pfn, r.end_pfn
                ),
                None => println!(
                    "mem_map[{i:4}] {:>16} {:16x} {:16x}",
                    "-", r.start_pfn, r.end_pfn
                ),
            }
        }
    }
    let mut file = match &out {
        Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p)?)),
        None => None,
    };
    let mut windows = 0;
    while let Some(w) = filter.next_window()? {
        windows += 1;
        if let Some(f) = file.as_mut() {
            f.write_all(w.bitmap2)?;
        }
    }
    if let Some(f) = file.as_mut() {
        f.flush()?;
    }
    let elapsed = t0.elapsed();
    print!("{}", filter.stats());
    eprintln!(
        "model {:?}, max_pfn {:#x}, {} window(s) of {} frames; open {:.3} ms, total {:.3} ms",
        filter.memory_model(),
        filter.max_pfn(),
        windows,
        filter.window_pfns(),
        t_open.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e3
    );
    Ok(())
}
