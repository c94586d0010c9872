//! Fault injection on real dumps (issue 9): a write failing with ENOSPC or EIO at a random
//! point leaves a file our reader opens as INCOMPLETE, with every page written before the
//! fault equal to the original and every later page either equal or reported lost (never
//! wrong); a page the input cannot read is left out of the dump (bitmap 2 bit cleared, no
//! descriptor), counted, and writing continues.
//! (The fuzz target kdump_roundtrip does the same over fuzzed descriptions and fault points.)

mod common;

use common::*;
use kdump_compressed::codec::Codec;
use kdump_compressed::read::{Bitmap, KdumpFile, PageState};
use kdump_compressed::write::{
    write_kdump, write_kdump_from, DumpInfo, MemBitmaps, PageSource, Sink, WriteError, WriteOptions,
};
use std::io;

/// A file whose writes fail once they cross `fail_at`: ENOSPC writes what fits (a full disk),
/// EIO writes nothing of the failing call. Writes below `fail_at` (the header rewrite) work.
struct FaultyFile {
    file: std::fs::File,
    fail_at: u64,
    errno: i32,
}

impl Sink for FaultyFile {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let end = offset + data.len() as u64;
        if end > self.fail_at {
            if self.errno == 28 && offset < self.fail_at {
                let fit = (self.fail_at - offset) as usize;
                Sink::write_at(&mut self.file, offset, &data[..fit])?;
            }
            return Err(io::Error::from_raw_os_error(self.errno));
        }
        Sink::write_at(&mut self.file, offset, data)
    }
}

/// The smallest fixture reference (a real makedumpfile -d 31 output), or a skip.
fn source_dump(test: &str) -> Option<std::path::PathBuf> {
    let fixtures = fixtures_or_skip(test);
    if fixtures.is_empty() {
        return None;
    }
    let smallest = fixtures
        .into_iter()
        .flat_map(|f| f.refs.into_values())
        .filter(|p| p.extension().is_some_and(|e| e == "kdump") && p.exists())
        .min_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(u64::MAX));
    if smallest.is_none() {
        skip(test, "no fixture has a kdump-compressed reference");
    }
    smallest
}

#[test]
fn write_fault_at_random_points_leaves_readable_incomplete_dump() {
    let Some(src) = source_dump("write_fault_at_random_points") else {
        return;
    };
    let f = KdumpFile::open(&src).unwrap();
    let info = DumpInfo::from_dump(&f).unwrap();
    let bm = MemBitmaps::from_dump(&f).unwrap();
    let size = std::fs::metadata(&src).unwrap().len();
    let dir = scratch("fault-injection");
    // A fixed xorshift sequence: "random" points, the same on every run.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut ran = 0;
    for (i, errno) in [28, 5, 28, 5].into_iter().enumerate() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Somewhere in the page data (past the bitmaps and descriptors of a -d 31 dump).
        let fail_at = size / 5 + x % (size * 3 / 5);
        let path = dir.join(format!("fault-{i}.kdump"));
        let mut sink = FaultyFile {
            file: std::fs::File::create(&path).unwrap(),
            fail_at,
            errno,
        };
        let opts = WriteOptions {
            codec: Codec::Lzo,
            threads: 2,
            batch_pages: 64,
            ..WriteOptions::default()
        };
        let err = write_kdump(
            &mut sink,
            &info,
            &bm,
            |pfn, buf| f.read_page(pfn, buf).map(|_| ()).map_err(io::Error::other),
            &opts,
        )
        .unwrap_err();
        let written = match err {
            WriteError::Incomplete {
                pages_written,
                source,
                ..
            } => {
                assert_eq!(source.raw_os_error(), Some(errno));
                pages_written
            }
            e => panic!("fault at {fail_at:#x} (errno {errno}): expected Incomplete, got {e}"),
        };
        let g = KdumpFile::open(&path).unwrap();
        assert!(g.is_incomplete(), "fault at {fail_at:#x}");
        let (mut p, mut q) = (vec![0u8; 4096], vec![0u8; 4096]);
        let (mut index, mut lost) = (0u64, 0u64);
        for pfn in f.iter_bitmap(Bitmap::Dumped) {
            let pfn = pfn.unwrap();
            match g.read_page(pfn, &mut p).unwrap() {
                PageState::Data => {
                    f.read_page(pfn, &mut q).unwrap();
                    assert!(p == q, "pfn {pfn:#x} differs (fault at {fail_at:#x})");
                }
                PageState::Lost if index >= written => lost += 1,
                s => panic!("pfn {pfn:#x} (#{index}, {written} written): {s:?}"),
            }
            index += 1;
        }
        assert!(lost > 0, "fault at {fail_at:#x} lost no page");
        eprintln!(
            "fault {i}: errno {errno} at {fail_at:#x} of {size:#x}: {written} pages intact, {lost} lost"
        );
        ran += 1;
    }
    assert_eq!(ran, 4);
}

/// A source that fails every multi-page read touching a bad frame, and the bad frames
/// themselves, as a `/proc/vmcore` with a few unreadable frames does.
struct BadFrames<'a> {
    f: &'a KdumpFile<kdump_compressed::source::FileSource>,
    bad: std::ops::Range<u64>,
}

impl PageSource for BadFrames<'_> {
    fn read_page(&self, pfn: u64, buf: &mut [u8]) -> io::Result<()> {
        if self.bad.contains(&pfn) {
            return Err(io::Error::from_raw_os_error(5));
        }
        self.f
            .read_page(pfn, buf)
            .map(|_| ())
            .map_err(io::Error::other)
    }

    fn read_pages(&self, pfn: u64, page_size: usize, buf: &mut [u8]) -> io::Result<()> {
        let n = (buf.len() / page_size) as u64;
        if (pfn..pfn + n).any(|p| self.bad.contains(&p)) {
            return Err(io::Error::from_raw_os_error(5));
        }
        for (i, page) in buf.chunks_exact_mut(page_size).enumerate() {
            self.read_page(pfn + i as u64, page)?;
        }
        Ok(())
    }
}

#[test]
fn unreadable_input_pages_are_left_out_counted_and_writing_continues() {
    let Some(src) = source_dump("unreadable_input_pages") else {
        return;
    };
    let f = KdumpFile::open(&src).unwrap();
    let info = DumpInfo::from_dump(&f).unwrap();
    let bm = MemBitmaps::from_dump(&f).unwrap();
    let dumped: Vec<u64> = f.iter_bitmap(Bitmap::Dumped).map(|p| p.unwrap()).collect();
    // An EIO over a run of pages in the middle, as a bad /proc/vmcore read would give.
    let bad = dumped[dumped.len() / 2]..dumped[dumped.len() / 2 + 40];
    let n_bad = dumped.iter().filter(|p| bad.contains(p)).count() as u64;
    for (threads, flat) in [(1, false), (2, false), (2, true)] {
        let opts = WriteOptions {
            codec: Codec::Zlib,
            threads,
            batch_pages: 64,
            ..WriteOptions::default()
        };
        let source = BadFrames {
            f: &f,
            bad: bad.clone(),
        };
        let mut out = Vec::new();
        let stats = if flat {
            let mut stream = Vec::new();
            let mut w = kdump_compressed::flattened::FlatWriter::new(&mut stream).unwrap();
            let stats = write_kdump_from(&mut w, &info, &bm, source, &opts).unwrap();
            w.finish().unwrap();
            let path = std::env::temp_dir()
                .join(format!("kdump-rs-unreadable-{}.kdump", std::process::id()));
            let file = std::fs::File::create(&path).unwrap();
            kdump_compressed::flattened::reassemble(&stream[..], &file).unwrap();
            out = std::fs::read(&path).unwrap();
            let _ = std::fs::remove_file(&path);
            stats
        } else {
            write_kdump_from(&mut out, &info, &bm, source, &opts).unwrap()
        };
        assert_eq!(stats.read_errors, n_bad);
        // The list: every unreadable frame once, in order, adjacent ones merged.
        let listed: Vec<u64> = stats
            .unreadable
            .iter()
            .flat_map(|&(first, n)| first..first + n)
            .collect();
        let want: Vec<u64> = dumped.iter().copied().filter(|p| bad.contains(p)).collect();
        assert_eq!(listed, want);
        assert!(stats
            .unreadable
            .windows(2)
            .all(|w| w[0].0 + w[0].1 < w[1].0));
        assert_eq!(stats.unreadable_unlisted, 0);
        assert!(stats.first_read_error.is_some());
        assert_eq!(stats.pages, dumped.len() as u64 - n_bad);
        let g = KdumpFile::from_source(out).unwrap();
        assert!(!g.is_incomplete());
        let (mut p, mut q) = (vec![0u8; 4096], vec![0u8; 4096]);
        for &pfn in &dumped {
            let state = g.read_page(pfn, &mut p).unwrap();
            if bad.contains(&pfn) {
                assert_eq!(
                    state,
                    PageState::Excluded,
                    "pfn {pfn:#x} (threads {threads})"
                );
            } else {
                assert_eq!(state, PageState::Data, "pfn {pfn:#x} (threads {threads})");
                f.read_page(pfn, &mut q).unwrap();
                assert!(
                    p == q,
                    "pfn {pfn:#x} differs (threads {threads}, flat {flat})"
                );
            }
        }
    }
}
