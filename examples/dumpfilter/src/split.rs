//! `--split VMCORE DUMPFILE1 DUMPFILE2 ...`: one dump cut into several kdump-compressed files,
//! with makedumpfile's partition (1 GiB split blocks; each file but the last takes whole
//! blocks until it holds its share of the dumped pages).

use crate::progress::Indicator;
use crate::NullSink;
use dumpfilter_options::Options;
use kdump_compressed::write::{
    count_dumped, write_kdump, write_kdump_durable, Bitmaps, FnSource, WriteError, WriteOptions,
};
use kdump_service::collector;
use page_filter::Stats;
use std::path::Path;
use vmcore::PhysMemory;

/// makedumpfile's default split block: 1 GiB.
const SPLITBLOCK_BYTES: u64 = 1 << 30;

/// The pfn ranges of `n` split files for these bitmaps (makedumpfile's rule).
pub fn split_ranges(
    bm: &dyn Bitmaps,
    max: u64,
    page_size: u64,
    n: usize,
) -> Result<Vec<(u64, u64)>, WriteError> {
    let per_block = (SPLITBLOCK_BYTES / page_size.max(1)).max(1);
    // Dumped pages per whole block; a last partial block counts as empty, as in makedumpfile.
    let blocks = max.div_ceil(per_block);
    let mut counts = Vec::with_capacity(blocks as usize);
    for b in 0..blocks {
        let end = (b + 1) * per_block;
        counts.push(if end <= max {
            count_dumped(bm, b * per_block, end)?
        } else {
            0
        });
    }
    let total = count_dumped(bm, 0, max)?;
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
    Ok(ranges)
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

/// Filter `vmcore` and write it split over `outputs`, with the options of `opts` (dump
/// level, compression, threads, -f, --dry-run, --work-dir for large bitmaps, progress).
pub fn run(vmcore: &Path, outputs: &[String], opts: &Options) -> Result<SplitOutcome, String> {
    let level = opts.dump_level();
    let codec = collector::codec(opts.compression);
    let threads = collector::threads(opts);
    let message_level = opts.effective_message_level();
    let vm = vmcore::Vmcore::open_with(vmcore, vmcore::Access::Pread)
        .map_err(|e| format!("{}: {e}", vmcore.display()))?;
    let err = |e: collector::CollectorError| format!("{}: {e}", vmcore.display());
    // Large bitmaps go to --work-dir, else beside the first output (not in RAM).
    let scratch = collector::scratch_dir(
        opts.work_dir.as_deref().map(Path::new),
        outputs.first().map(Path::new).filter(|_| !opts.dry_run),
    );
    let (bm, mut stats, max) =
        collector::classify_bounded(&vm, level, &scratch, collector::BITMAP_MEMORY).map_err(err)?;
    let ps = vm.dump().page_size();
    let base = collector::dump_info(&vm, max, level).map_err(err)?;
    // Every output is created (or refused) before anything is written.
    let mut files = Vec::with_capacity(outputs.len());
    for path in outputs {
        files.push(if opts.dry_run {
            None
        } else {
            Some(collector::open_output(Path::new(path), opts.force).map_err(|e| e.message)?)
        });
    }
    let n = outputs.len();
    let (mut pages, mut file_size) = (0u64, 0u64);
    stats.zero = 0;
    for (i, ((path, mut f), range)) in outputs
        .iter()
        .zip(files)
        .zip(split_ranges(&bm, max, ps, n).map_err(|e| e.to_string())?)
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
        // A real file must reach the disk: on a failed fsync it is marked INCOMPLETE.
        let written = match f.as_mut() {
            Some(f) => write_kdump_durable(f, &info, &bm, FnSource(read), &opts),
            None => write_kdump(&mut NullSink, &info, &bm, read, &opts),
        };
        if let Some(p) = &progress {
            p.close();
        }
        let w = written.map_err(|e| format!("writing {path}: {e}"))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use kdump_compressed::write::MemBitmaps;

    /// Bitmaps with `dumped[i]` pages dumped at the start of split block `i`, over `max`
    /// frames.
    fn bitmaps(max: u64, dumped: &[u64]) -> MemBitmaps {
        let per_block = SPLITBLOCK_BYTES / 4096;
        let mut bm = MemBitmaps::new(max, 4096);
        for (b, &n) in dumped.iter().enumerate() {
            for pfn in b as u64 * per_block..b as u64 * per_block + n {
                bm.set_valid(pfn);
                bm.set_dumped(pfn);
            }
        }
        bm
    }

    #[test]
    fn whole_blocks_until_each_file_has_its_share() {
        let pb = SPLITBLOCK_BYTES / 4096;
        let max = 3 * pb + 1000;
        // 950 pages in all, the last 500 in the partial block (counted as empty there).
        let bm = bitmaps(max, &[100, 300, 50, 500]);
        // A share of 316: file 1 takes blocks 0 and 1 (400), file 2 the rest.
        assert_eq!(
            split_ranges(&bm, max, 4096, 3).unwrap(),
            [(0, 2 * pb), (2 * pb, max), (max, max)]
        );
        // A share of 475: blocks 0-2 hold 450 (< 475), so file 1 runs to the end.
        assert_eq!(
            split_ranges(&bm, max, 4096, 2).unwrap(),
            [(0, max), (max, max)]
        );
        assert_eq!(split_ranges(&bm, max, 4096, 1).unwrap(), [(0, max)]);
    }

    #[test]
    fn a_dump_smaller_than_a_block_goes_to_the_first_file() {
        let bm = bitmaps(5000, &[3000]);
        assert_eq!(
            split_ranges(&bm, 5000, 4096, 2).unwrap(),
            [(0, 5000), (5000, 5000)]
        );
    }
}
