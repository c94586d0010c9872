//! Side-by-side timing on one vmcore, same session:
//! - makedumpfile's whole `-d 31` run (uncompressed kdump-compressed output),
//! - our classification at -d 31 without writing (open + mem_map + every window), in process
//!   and as a whole process (`pf-classify`),
//! - the same plus the zero-page scan of every dumpable page (what the writer will add),
//! - the zero test's throughput on cached data.
//!
//! `pf-bench VMCORE [RUNS]` (makedumpfile must be on PATH; its output goes to $TMPDIR).

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use page_filter::{is_zero_page, DumpLevel, FilterConfig, PageFilter};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn classify(
    path: &str,
    zero: bool,
    access: vmcore::Access,
) -> Result<u64, Box<dyn std::error::Error>> {
    let dump = vmcore::Vmcore::open_with(path, access)?;
    let mut config = FilterConfig::new(DumpLevel::new(31)?);
    config.exclude_zero_pages = zero;
    let mut f = PageFilter::from_vmcore(&dump, config)?;
    let mut n = 0;
    while let Some(w) = f.next_window()? {
        n += w.dumped_count();
    }
    Ok(n)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().ok_or("usage: pf-bench VMCORE [RUNS]")?.clone();
    let runs: usize = args.get(1).map_or(Ok(5), |a| a.parse())?;
    let out = std::env::temp_dir().join(format!("pf-bench-{}.kdump", std::process::id()));
    let me = std::env::current_exe()?;
    let classify_bin = me.with_file_name("pf-classify");

    // Warm the page cache.
    classify(&path, true, vmcore::Access::Mmap)?;

    let (mut mdf, mut ours, mut ours_zero, mut ours_proc) = (vec![], vec![], vec![], vec![]);
    let (mut ours_pread, mut ours_zero_pread) = (vec![], vec![]);
    for _ in 0..runs {
        let _ = std::fs::remove_file(&out);
        let t = Instant::now();
        let st = Command::new("makedumpfile")
            .args(["-d", "31", &path])
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()?;
        mdf.push(t.elapsed());
        if !st.success() {
            return Err(format!("makedumpfile failed: {st}").into());
        }
        let _ = std::fs::remove_file(&out);

        let t = Instant::now();
        black_box(classify(&path, false, vmcore::Access::Mmap)?);
        ours.push(t.elapsed());

        let t = Instant::now();
        black_box(classify(&path, true, vmcore::Access::Mmap)?);
        ours_zero.push(t.elapsed());

        let t = Instant::now();
        black_box(classify(&path, false, vmcore::Access::Pread)?);
        ours_pread.push(t.elapsed());

        let t = Instant::now();
        black_box(classify(&path, true, vmcore::Access::Pread)?);
        ours_zero_pread.push(t.elapsed());

        if classify_bin.exists() {
            let t = Instant::now();
            let st = Command::new(&classify_bin)
                .args([path.as_str(), "31"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()?;
            ours_proc.push(t.elapsed());
            if !st.success() {
                return Err("pf-classify failed".into());
            }
        }
    }
    let m = median(mdf);
    let pr = |name: &str, d: Duration| {
        println!(
            "{name:<58} {:>9.2} ms  {:>6.1}% of makedumpfile",
            d.as_secs_f64() * 1e3,
            100.0 * d.as_secs_f64() / m.as_secs_f64()
        )
    };
    println!("median of {runs} runs, {path}");
    pr("makedumpfile -d 31 (uncompressed, whole run)", m);
    pr(
        "page-filter -d 31, classify only (mmap, in process)",
        median(ours),
    );
    pr(
        "page-filter -d 31, classify only (pread, in process)",
        median(ours_pread),
    );
    if !ours_proc.is_empty() {
        pr(
            "page-filter -d 31, classify only (pf-classify process)",
            median(ours_proc),
        );
    }
    pr(
        "page-filter -d 31 + zero scan of dumpable pages (mmap)",
        median(ours_zero),
    );
    pr(
        "page-filter -d 31 + zero scan of dumpable pages (pread)",
        median(ours_zero_pread),
    );

    // Zero test throughput on zero pages: a 256 KiB buffer (CPU cache) and a 64 MiB one (RAM).
    for (size, reps) in [(256usize << 10, 4096usize), (64 << 20, 16)] {
        let buf = vec![0u8; size];
        let t = Instant::now();
        let mut zeros = 0usize;
        for _ in 0..reps {
            for p in black_box(&buf).chunks_exact(4096) {
                zeros += usize::from(is_zero_page(black_box(p)));
            }
        }
        let dt = t.elapsed();
        println!(
            "is_zero_page: {:.1} GB/s over a {} KiB buffer ({zeros} pages)",
            (reps * size) as f64 / dt.as_secs_f64() / 1e9,
            size >> 10
        );
    }
    Ok(())
}
