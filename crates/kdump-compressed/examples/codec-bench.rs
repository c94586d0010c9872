//! Per-page compression benchmark over the dumped non-zero pages of a kdump-compressed file:
//! `cargo run --release --example codec-bench FILE [ROUNDS]`. Prints, per codec, single-thread
//! compression throughput (MB/s of input) and the total compressed size.
use kdump_compressed::codec::{Codec, PageCompressor, PageDecompressor};
use kdump_compressed::read::{Bitmap, KdumpFile, PageState};
use std::time::Instant;

/// CPU seconds used by this process so far (utime + stime from /proc/self/stat), so that a
/// busy machine skews the figures less than wall time would.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: codec-bench FILE [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let mut ps = 4096;
    let mut pages = Vec::new();
    if path.ends_with(".bin") {
        // Raw concatenated 4 KiB pages.
        pages = std::fs::read(path)?;
        pages.truncate(pages.len() / ps * ps);
    } else {
        let f = KdumpFile::open(path)?;
        ps = f.page_size();
        let mut buf = vec![0u8; ps];
        for pfn in f.iter_bitmap(Bitmap::Dumped) {
            if f.read_page(pfn?, &mut buf)? == PageState::Data && buf.iter().any(|&b| b != 0) {
                pages.extend_from_slice(&buf);
            }
        }
    }
    let n = pages.len() / ps;
    if let Ok(dump_to) = std::env::var("CODEC_BENCH_DUMP_PAGES") {
        std::fs::write(dump_to, &pages)?;
    }
    println!(
        "{n} non-zero pages ({:.1} MB), best of {rounds} rounds, one thread",
        pages.len() as f64 / 1e6
    );
    println!(
        "{:<8} {:>10} {:>10} {:>12} {:>8} {:>12}",
        "codec", "wall MB/s", "cpu MB/s", "bytes", "ratio", "decode MB/s"
    );
    let codecs: Vec<Codec> = match std::env::var("CODEC_BENCH_ONLY").ok().as_deref() {
        Some("lzo") => vec![Codec::Lzo],
        Some("zlib") => vec![Codec::Zlib],
        _ => vec![
            Codec::Lzo,
            Codec::Zlib,
            Codec::Zstd,
            Codec::Snappy,
            Codec::Lz4,
        ],
    };
    for codec in codecs {
        let level = std::env::var("CODEC_BENCH_LEVEL")
            .ok()
            .and_then(|v| v.parse().ok());
        let mut c = PageCompressor::with_level(codec, level)?;
        let mut best = f64::MAX;
        let mut total = 0usize;
        let mut stored = Vec::new();
        let mut best_cpu = f64::MAX;
        for _ in 0..rounds {
            let cpu0 = cpu_seconds();
            total = 0;
            stored.clear();
            let t = Instant::now();
            for p in pages.chunks_exact(ps) {
                let (d, flags) = c.compress(p)?;
                total += d.len();
                stored.push((flags, d.to_vec()));
            }
            best = best.min(t.elapsed().as_secs_f64());
            best_cpu = best_cpu.min(cpu_seconds() - cpu0);
        }
        let cpu = best_cpu;
        // decode time (includes a copy for raw pages)
        let mut d = PageDecompressor::new();
        let mut out = vec![0u8; ps];
        let t = Instant::now();
        for (flags, data) in &stored {
            d.decompress(*flags, data, &mut out)?;
        }
        let dt = t.elapsed().as_secs_f64();
        println!(
            "{:<8} {:>10.0} {:>10.0} {:>12} {:>8.3} {:>12.0}",
            codec.name(),
            pages.len() as f64 / best / 1e6,
            pages.len() as f64 / cpu.max(1e-9) / 1e6,
            total,
            total as f64 / pages.len() as f64,
            pages.len() as f64 / dt / 1e6
        );
    }
    if std::env::var_os("CODEC_BENCH_NO_LIBLZO2").is_none() {
        liblzo2_reference(&pages, rounds);
    }
    Ok(())
}

/// The same pages through liblzo2's lzo1x_1 via python3-lzo (includes Python's per-call
/// overhead, so it slightly understates liblzo2), when available.
fn liblzo2_reference(pages: &[u8], rounds: usize) {
    let path = std::env::temp_dir().join(format!("codec-bench-{}.bin", std::process::id()));
    if std::fs::write(&path, pages).is_err() {
        return;
    }
    let script = r#"
import lzo, time, sys
data = open(sys.argv[1], 'rb').read()
pages = [data[i:i + 4096] for i in range(0, len(data), 4096)]
best = 1e9
for r in range(int(sys.argv[2])):
    t = time.process_time(); tot = 0
    for p in pages:
        tot += min(len(lzo.compress(p, 1, False)), 4096)
    best = min(best, time.process_time() - t)
print("%-8s %10s %10.0f %12d %8.3f   (liblzo2 lzo1x_1 via python3-lzo)" % ("liblzo2", "-", len(data) / best / 1e6, tot, tot / len(data)))
"#;
    match std::process::Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .arg(&path)
        .arg(rounds.to_string())
        .output()
    {
        Ok(o) if o.status.success() => print!("{}", String::from_utf8_lossy(&o.stdout)),
        _ => println!("liblzo2: python3-lzo not available, no reference"),
    }
    std::fs::remove_file(&path).ok();
}
