//! `--split VMCORE DUMPFILE1 DUMPFILE2 ...`: one dump cut into several kdump-compressed files,
//! with makedumpfile's partition (1 GiB split blocks; each file but the last takes whole
//! blocks until it holds its share of the dumped pages).

use crate::progress::Indicator;
use crate::NullSink;
use kdump_compressed::codec::Codec;
use kdump_compressed::read::Bitmap;
use kdump_compressed::write::{write_kdump, Bitmaps, MemBitmaps, WriteOptions};
use kdump_service::collector;
use page_filter::Stats;
use std::path::Path;
use vmcore::PhysMemory;

/// makedumpfile's default split block: 1 GiB.
const SPLITBLOCK_BYTES: u64 = 1 << 30;

/// The pfn ranges of `n` split files for these bitmaps (makedumpfile's rule).
pub fn split_ranges(bm: &MemBitmaps, max: u64, page_size: u64, n: usize) -> Vec<(u64, u64)> {
    let per_block = (SPLITBLOCK_BYTES / page_size.max(1)).max(1);
    let blocks = max.div_ceil(per_block);
    // Dumped pages per block; a last partial block counts as empty, as in makedumpfile.
    let mut counts = vec![0u64; blocks as usize];
    let mut buf = vec![0u8; (per_block / 8) as usize];
    for (b, c) in counts.iter_mut().enumerate() {
        let first = b as u64 * per_block;
        if first + per_block > max {
            break;
        }
        if bm.read_bytes(Bitmap::Dumped, first / 8, &mut buf).is_ok() {
            *c = buf.iter().map(|x| x.count_ones() as u64).sum();
        }
    }
    let total: u64 = {
        let mut all = vec![0u8; max.div_ceil(8) as usize];
        let _ = bm.read_bytes(Bitmap::Dumped, 0, &mut all);
        let mut t: u64 = all.iter().map(|x| x.count_ones() as u64).sum();
        // bits past max are not frames
        if max % 8 != 0 {
            if let Some(last) = all.last() {
                t -= (last >> (max % 8)).count_ones() as u64;
            }
        }
        t
    };
    let need = (total / n as u64) as i64;
    let mut ranges = Vec::with_capacity(n);
    let (mut end, mut cur) = (0u64, 0usize);
    for _ in 0..n.saturating_sub(1) {
        let start = end;
        if start >= max {
            ranges.push((max, max));
            end = max;
            continue;
        }
        let mut left = need;
        while cur < counts.len() && left > 0 {
            left -= counts[cur] as i64;
            cur += 1;
        }
        end = (cur as u64 * per_block).min(max);
        ranges.push((start, end));
    }
    ranges.push((end, max));
    ranges
}

/// What a split dump wrote, over all its files.
pub struct SplitOutcome {
    /// The page classes (zero pages as the writer found them).
    pub stats: Stats,
    /// Pages with a descriptor, in all files.
    pub pages: u64,
    /// Bytes, in all files.
    pub file_size: u64,
}

/// Filter `vmcore` and write it split over `outputs` (`dry_run`: filter and compress, write
/// nothing).
#[allow(clippy::too_many_arguments)]
pub fn run(
    vmcore: &Path,
    outputs: &[String],
    level: u8,
    codec: Codec,
    threads: usize,
    force: bool,
    dry_run: bool,
    message_level: u8,
) -> Result<SplitOutcome, String> {
    let vm = vmcore::Vmcore::open_with(vmcore, vmcore::Access::Pread)
        .map_err(|e| format!("{}: {e}", vmcore.display()))?;
    let err = |e: collector::CollectorError| format!("{}: {e}", vmcore.display());
    let (bm, mut stats, max) = collector::classify(&vm, level).map_err(err)?;
    let ps = vm.dump().page_size();
    let base = collector::dump_info(&vm, max, level).map_err(err)?;
    // Every output is created (or refused) before anything is written.
    let mut files = Vec::with_capacity(outputs.len());
    for path in outputs {
        files.push(if dry_run {
            None
        } else {
            Some(collector::open_output(Path::new(path), force).map_err(|e| e.message)?)
        });
    }
    let n = outputs.len();
    let (mut pages, mut file_size) = (0u64, 0u64);
    stats.zero = 0;
    for (i, ((path, mut f), range)) in outputs
        .iter()
        .zip(files)
        .zip(split_ranges(&bm, max, ps, n))
        .enumerate()
    {
        let label = format!("Copying data {}/{n}", i + 1);
        let progress = Indicator::new(message_level, &label, ps);
        let mut info = base.clone();
        info.split = Some(range);
        let opts = WriteOptions {
            codec,
            threads,
            progress: progress.as_ref().map(Indicator::callback),
            ..WriteOptions::default()
        };
        let read = |pfn: u64, buf: &mut [u8]| {
            vm.dump()
                .read_phys(pfn * buf.len() as u64, buf)
                .map_err(std::io::Error::other)
        };
        let written = match f.as_mut() {
            Some(f) => write_kdump(f, &info, &bm, read, &opts),
            None => write_kdump(&mut NullSink, &info, &bm, read, &opts),
        };
        if let Some(p) = &progress {
            p.close();
        }
        let w = written.map_err(|e| format!("writing {path}: {e}"))?;
        if let Some(f) = f.as_mut() {
            f.set_len(w.file_size).map_err(|e| e.to_string())?;
            f.sync_all().ok();
        }
        stats.zero += w.zero_pages;
        pages += w.pages;
        file_size += w.file_size;
    }
    Ok(SplitOutcome {
        stats,
        pages,
        file_size,
    })
}
