//! Per-page compression benchmark: `cargo run --release --example codec-bench FILE [ROUNDS]`.
//! FILE is a kdump-compressed file (its dumped pages), an ELF core such as a /proc/vmcore copy
//! (the pages of its PT_LOAD segments) or raw concatenated 4 KiB pages (`*.bin`); all-zero
//! pages are skipped (the writers store them as the shared zero page). Prints, per codec,
//! single-thread compression throughput (MB/s of input), the stored size (a page that does
//! not shrink counts as stored raw) and decode speed; then liblzo2's `lzo1x_1_compress` on the
//! same pages in the same run (a small C program built against the system's liblzo2, or
//! python3-lzo when no C compiler is found) and our LZO's speed and size relative to it.
//!
//! Environment: `CODEC_BENCH_ONLY=lzo|zlib`, `CODEC_BENCH_LEVEL=N`,
//! `CODEC_BENCH_DUMP_PAGES=FILE` (save the pages as a `.bin` for later runs),
//! `CODEC_BENCH_MAX_MB=N` (use only the first N MB of non-zero pages),
//! `CODEC_BENCH_NO_LIBLZO2=1`.
use kdump_compressed::codec::{Codec, PageCompressor, PageDecompressor};
use kdump_compressed::elf::{self, PT_LOAD};
use kdump_compressed::read::{Bitmap, KdumpFile, PageState};
use kdump_compressed::source::{FileSource, ReadAt};
use std::time::Instant;

/// CPU seconds used by this thread so far (nanoseconds from /proc/thread-self/schedstat,
/// else utime + stime ticks from /proc/self/stat), so that a busy machine skews the figures
/// less than wall time would.
fn cpu_seconds() -> f64 {
    let sched = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    if let Some(ns) = sched
        .split_whitespace()
        .next()
        .and_then(|v| v.parse::<u64>().ok())
    {
        return ns as f64 / 1e9;
    }
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// The non-zero pages of FILE, concatenated, and the page size.
fn load_pages(path: &str, max: usize) -> Result<(Vec<u8>, usize), Box<dyn std::error::Error>> {
    let mut ps = 4096;
    let mut pages = Vec::new();
    let mut magic = [0u8; 4];
    let src = FileSource::open(path)?;
    src.read_exact_at(0, &mut magic).ok();
    if path.ends_with(".bin") {
        pages = std::fs::read(path)?;
        pages.truncate(pages.len() / ps * ps);
    } else if magic == *b"\x7fELF" {
        let mut buf = vec![0u8; ps];
        'segs: for ph in elf::program_headers(&src)? {
            if ph.p_type != PT_LOAD {
                continue;
            }
            for k in 0..ph.p_filesz / ps as u64 {
                if pages.len() >= max {
                    break 'segs;
                }
                src.read_exact_at(ph.p_offset + k * ps as u64, &mut buf)?;
                if buf.iter().any(|&b| b != 0) {
                    pages.extend_from_slice(&buf);
                }
            }
        }
    } else {
        let f = KdumpFile::open(path)?;
        ps = f.page_size();
        let mut buf = vec![0u8; ps];
        for pfn in f.iter_bitmap(Bitmap::Dumped) {
            if pages.len() >= max {
                break;
            }
            if f.read_page(pfn?, &mut buf)? == PageState::Data && buf.iter().any(|&b| b != 0) {
                pages.extend_from_slice(&buf);
            }
        }
    }
    pages.truncate(max / ps * ps);
    Ok((pages, ps))
}

/// Best-of-rounds figures of one compressor on the page set.
struct Figures {
    cpu_mbs: f64,
    stored: usize,
    /// Pages stored raw (their compressed form is not smaller).
    raw_pages: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: codec-bench FILE [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let max = std::env::var("CODEC_BENCH_MAX_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(usize::MAX, |m| m << 20);
    let (pages, ps) = load_pages(path, max)?;
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
    let mut ours_lzo = None;
    for codec in codecs {
        let level = std::env::var("CODEC_BENCH_LEVEL")
            .ok()
            .and_then(|v| v.parse().ok());
        let mut c = PageCompressor::with_level(codec, level)?;
        let mut best = f64::MAX;
        let mut total = 0usize;
        let mut raw_pages = 0usize;
        let mut best_cpu = f64::MAX;
        for _ in 0..rounds {
            let cpu0 = cpu_seconds();
            total = 0;
            raw_pages = 0;
            let t = Instant::now();
            for p in pages.chunks_exact(ps) {
                let (d, flags) = c.compress(p)?;
                total += d.len();
                raw_pages += usize::from(flags == 0);
            }
            best = best.min(t.elapsed().as_secs_f64());
            best_cpu = best_cpu.min(cpu_seconds() - cpu0);
        }
        // Decode (outside the compression timing): every page must come back.
        let mut stored = Vec::with_capacity(n);
        for p in pages.chunks_exact(ps) {
            let (d, flags) = c.compress(p)?;
            stored.push((flags, d.to_vec()));
        }
        let mut d = PageDecompressor::new();
        let mut out = vec![0u8; ps];
        let t = Instant::now();
        for (flags, data) in &stored {
            d.decompress(*flags, data, &mut out)?;
        }
        let dt = t.elapsed().as_secs_f64();
        for ((flags, data), p) in stored.iter().zip(pages.chunks_exact(ps)) {
            d.decompress(*flags, data, &mut out)?;
            if out != p {
                return Err(format!("{} round trip differs", codec.name()).into());
            }
        }
        let cpu_mbs = pages.len() as f64 / best_cpu.max(1e-9) / 1e6;
        println!(
            "{:<8} {:>10.0} {:>10.0} {:>12} {:>8.3} {:>12.0}",
            codec.name(),
            pages.len() as f64 / best / 1e6,
            cpu_mbs,
            total,
            total as f64 / pages.len() as f64,
            pages.len() as f64 / dt / 1e6
        );
        if codec == Codec::Lzo {
            ours_lzo = Some(Figures {
                cpu_mbs,
                stored: total,
                raw_pages,
            });
        }
    }
    if std::env::var_os("CODEC_BENCH_NO_LIBLZO2").is_none() && ps == 4096 {
        if let Some(theirs) = liblzo2_reference(&pages, rounds) {
            if let Some(ours) = ours_lzo {
                println!(
                    "lzo vs liblzo2 lzo1x_1: speed {:.2}x ({:.0} / {:.0} cpu MB/s), stored size {:.4}x ({} / {}), pages stored raw {} / {}",
                    ours.cpu_mbs / theirs.cpu_mbs,
                    ours.cpu_mbs,
                    theirs.cpu_mbs,
                    ours.stored as f64 / theirs.stored as f64,
                    ours.stored,
                    theirs.stored,
                    ours.raw_pages,
                    theirs.raw_pages,
                );
            }
        }
    }
    Ok(())
}

/// liblzo2's lzo1x_1 on 4 KiB pages: CPU time per round (best), the stored total (each page
/// capped at 4096 as a raw page) and the number of pages that do not shrink.
const C_BENCH: &str = r#"
#include <lzo/lzo1x.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "rb");
    int rounds = atoi(argv[2]);
    if (!f || lzo_init() != LZO_E_OK) return 1;
    fseek(f, 0, SEEK_END);
    long len = ftell(f) / 4096 * 4096;
    fseek(f, 0, SEEK_SET);
    unsigned char *in = malloc(len), *out = malloc(4096 + 4096 / 16 + 64 + 3);
    void *wrk = malloc(LZO1X_1_MEM_COMPRESS);
    if (!in || !out || !wrk || fread(in, 1, len, f) != (size_t)len) return 1;
    double best = 1e9;
    unsigned long stored = 0, raw = 0;
    for (int r = 0; r < rounds; r++) {
        struct timespec a, b;
        stored = 0; raw = 0;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
        for (long p = 0; p < len; p += 4096) {
            lzo_uint n = 0;
            lzo1x_1_compress(in + p, 4096, out, &n, wrk);
            if (n < 4096) stored += n; else { stored += 4096; raw++; }
        }
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
        double t = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
        if (t < best) best = t;
    }
    printf("%f %lu %lu\n", len / best / 1e6, stored, raw);
    return 0;
}
"#;

/// The same pages through liblzo2's lzo1x_1, when available: a C program (exact library
/// speed) or else python3-lzo (adds Python's per-call overhead, understating liblzo2).
fn liblzo2_reference(pages: &[u8], rounds: usize) -> Option<Figures> {
    let dir = std::env::temp_dir().join(format!("codec-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let bin = dir.join("pages.bin");
    let r = std::fs::write(&bin, pages)
        .ok()
        .and_then(|_| liblzo2_c(&dir, rounds).or_else(|| liblzo2_python(&dir, rounds)));
    std::fs::remove_dir_all(&dir).ok();
    let Some((how, f)) = r else {
        println!("liblzo2: neither cc with liblzo2-dev nor python3-lzo available, no reference");
        return None;
    };
    println!(
        "{:<8} {:>10} {:>10.0} {:>12} {:>8.3}   (liblzo2 lzo1x_1 via {how})",
        "liblzo2",
        "-",
        f.cpu_mbs,
        f.stored,
        f.stored as f64 / pages.len() as f64
    );
    Some(f)
}

fn parse_figures(stdout: &[u8]) -> Option<Figures> {
    let s = String::from_utf8_lossy(stdout);
    let mut it = s.split_whitespace();
    Some(Figures {
        cpu_mbs: it.next()?.parse().ok()?,
        stored: it.next()?.parse().ok()?,
        raw_pages: it.next()?.parse().ok()?,
    })
}

fn liblzo2_c(dir: &std::path::Path, rounds: usize) -> Option<(&'static str, Figures)> {
    let src = dir.join("lzo-bench.c");
    let exe = dir.join("lzo-bench");
    std::fs::write(&src, C_BENCH).ok()?;
    let built = std::process::Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&exe)
        .arg(&src)
        .arg("-llzo2")
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    if !built.success() {
        return None;
    }
    let cmd = std::process::Command::new(&exe);
    Some(("C", run_on_pages(cmd, dir, rounds)?))
}

/// Run a liblzo2 benchmark program on `dir/pages.bin` for `rounds` rounds; its figures.
fn run_on_pages(
    mut cmd: std::process::Command,
    dir: &std::path::Path,
    rounds: usize,
) -> Option<Figures> {
    let o = cmd
        .arg(dir.join("pages.bin"))
        .arg(rounds.to_string())
        .output()
        .ok()?;
    if !o.status.success() {
        return None;
    }
    parse_figures(&o.stdout)
}

fn liblzo2_python(dir: &std::path::Path, rounds: usize) -> Option<(&'static str, Figures)> {
    let script = r#"
import lzo, time, sys
data = open(sys.argv[1], 'rb').read()
pages = [data[i:i + 4096] for i in range(0, len(data), 4096)]
best = 1e9
for r in range(int(sys.argv[2])):
    t = time.process_time(); tot = 0; raw = 0
    for p in pages:
        n = len(lzo.compress(p, 1, False))
        tot += min(n, 4096)
        raw += n >= 4096
    best = min(best, time.process_time() - t)
print(len(data) / best / 1e6, tot, raw)
"#;
    let mut cmd = std::process::Command::new("/usr/bin/python3");
    cmd.arg("-c").arg(script);
    Some(("python3-lzo", run_on_pages(cmd, dir, rounds)?))
}
