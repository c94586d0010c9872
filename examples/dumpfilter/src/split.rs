//! `--split VMCORE DUMPFILE1 DUMPFILE2 ...`: one dump cut into several kdump-compressed files,
//! with makedumpfile's partition (1 GiB split blocks; each file but the last takes whole
//! blocks until it holds its share of the dumped pages).

use crate::progress::Indicator;
use kdump_compressed::codec::Codec;
use kdump_compressed::read::Bitmap;
use kdump_compressed::write::{write_kdump, Bitmaps, MemBitmaps, WriteOptions};
use kdump_service::collector;
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

/// Filter `vmcore` and write it split over `outputs`.
pub fn run(
    vmcore: &Path,
    outputs: &[String],
    level: u8,
    codec: Codec,
    threads: usize,
    force: bool,
    message_level: u8,
) -> Result<(), String> {
    let vm = vmcore::Vmcore::open_with(vmcore, vmcore::Access::Pread)
        .map_err(|e| format!("{}: {e}", vmcore.display()))?;
    let (bm, _, max) = collector::classify(&vm, level).map_err(|e| e.to_string())?;
    let ps = vm.dump().page_size();
    let base = collector::dump_info(&vm, max, level).map_err(|e| e.to_string())?;
    // Every output is created (or refused) before anything is written.
    let mut files = Vec::with_capacity(outputs.len());
    for path in outputs {
        files.push(collector::open_output(Path::new(path), force).map_err(|e| e.message)?);
    }
    let n = outputs.len();
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
        let stats = write_kdump(
            &mut f,
            &info,
            &bm,
            |pfn, buf| {
                vm.dump()
                    .read_phys(pfn * buf.len() as u64, buf)
                    .map_err(std::io::Error::other)
            },
            &WriteOptions {
                codec,
                threads,
                progress: progress.as_ref().map(Indicator::callback),
                ..WriteOptions::default()
            },
        );
        if let Some(p) = &progress {
            p.close();
        }
        let stats = stats.map_err(|e| format!("writing {path}: {e}"))?;
        f.set_len(stats.file_size).map_err(|e| e.to_string())?;
        f.sync_all().ok();
    }
    Ok(())
}
