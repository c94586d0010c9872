//! The format against makedumpfile 1.7.2 and libkdumpfile on real vmcores (fixtures).
//!
//! - Reading makedumpfile's `-d 31 -c` and `-l` output and writing it again uncompressed gives
//!   makedumpfile's own `-d 31` output byte for byte (header, sub-header, notes, bitmaps,
//!   descriptors, data, zero page).
//! - Our zlib and LZO files, refiltered by makedumpfile to an uncompressed dump, equal its own.
//! - libkdumpfile reads our zlib, LZO, snappy and zstd files page-identical to the reference.
//! - The bytes do not depend on the number of threads; flattened output reassembles to the
//!   same file (ours and makedumpfile's -R); a size-limited write is INCOMPLETE and readable.

mod common;

use common::*;
use kdump_compressed::codec::Codec;
use kdump_compressed::flattened::{reassemble, FlatWriter};
use kdump_compressed::read::{Bitmap, KdumpFile, PageState};
use kdump_compressed::source::{FileSource, ReadAt};
use kdump_compressed::write::{
    write_kdump, DumpInfo, LimitedSink, MemBitmaps, Sink, WriteError, WriteOptions, WriteStats,
};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Write the pages of `f` again into `sink`, with its header fields and bitmaps.
fn write_again<S: ReadAt, K: Sink>(
    f: &KdumpFile<S>,
    sink: &mut K,
    opts: &WriteOptions,
) -> Result<WriteStats, WriteError> {
    let info = DumpInfo::from_dump(f).unwrap();
    let bm = MemBitmaps::from_dump(f).unwrap();
    write_kdump(
        sink,
        &info,
        &bm,
        |pfn, buf| {
            f.read_page(pfn, buf)
                .map(|_| ())
                .map_err(std::io::Error::other)
        },
        opts,
    )
}

/// Rewrite `input` with `codec` into `out` (a plain file).
fn rewrite(input: &Path, out: &Path, codec: Codec, threads: usize) -> u64 {
    let f = KdumpFile::open(input).unwrap();
    let mut file = std::fs::File::create(out).unwrap();
    let opts = WriteOptions {
        codec,
        threads,
        ..Default::default()
    };
    let stats = write_again(&f, &mut file, &opts).unwrap();
    file.set_len(stats.file_size).unwrap();
    stats.pages
}

struct Refs {
    fx: Fixture,
    d31: PathBuf,
    zlib: PathBuf,
    lzo: PathBuf,
}

fn refs(test: &str) -> Vec<Refs> {
    let mut v = Vec::new();
    for fx in fixtures_or_skip(test) {
        let (Some(d31), Some(zlib), Some(lzo)) = (
            reference(&fx, "d31", &["-d", "31"]),
            reference(&fx, "d31-zlib", &["-d", "31", "-c"]),
            reference(&fx, "d31-lzo", &["-d", "31", "-l"]),
        ) else {
            continue;
        };
        v.push(Refs { fx, d31, zlib, lzo });
    }
    v
}

#[test]
fn makedumpfile_compressed_rewritten_uncompressed_is_byte_identical() {
    for r in refs("byte identity") {
        let dir = scratch(&format!("ident-{}", r.fx.name));
        for (name, src) in [("zlib", &r.zlib), ("lzo", &r.lzo)] {
            let out = dir.join(format!("from-{name}.kdump"));
            let pages = rewrite(src, &out, Codec::None, 2);
            assert!(pages > 1000);
            assert_same_file(&out, &r.d31);
            eprintln!(
                "{}: {name} -> uncompressed identical ({pages} pages)",
                r.fx.name
            );
        }
    }
}

#[test]
fn makedumpfile_refilters_our_output_to_its_own() {
    for r in refs("makedumpfile refilter") {
        let dir = scratch(&format!("refilter-{}", r.fx.name));
        for codec in [Codec::Zlib, Codec::Lzo] {
            let ours = dir.join(format!("ours-{}.kdump", codec.name()));
            rewrite(&r.zlib, &ours, codec, 2);
            let back = dir.join(format!("back-{}.kdump", codec.name()));
            let _ = std::fs::remove_file(&back);
            let o = Command::new("makedumpfile")
                .args(["-d", "31"])
                .arg(&ours)
                .arg(&back)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert_same_file(&back, &r.d31);
        }
    }
}

#[test]
fn libkdumpfile_reads_every_codec_page_identical() {
    if !python_has("kdumpfile") {
        return skip("libkdumpfile", "python3-libkdumpfile not installed");
    }
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/kdumpfile_compare.py");
    for r in refs("libkdumpfile") {
        let dir = scratch(&format!("libkdumpfile-{}", r.fx.name));
        for codec in [Codec::Zlib, Codec::Lzo, Codec::Snappy, Codec::Zstd] {
            let ours = dir.join(format!("ours-{}.kdump", codec.name()));
            let pages = rewrite(&r.lzo, &ours, codec, 2);
            let o = Command::new("/usr/bin/python3")
                .arg(&script)
                .arg(&ours)
                .arg(&r.d31)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{}: {}",
                codec.name(),
                String::from_utf8_lossy(&o.stderr)
            );
            let out = String::from_utf8_lossy(&o.stdout);
            let n: u64 = out
                .trim()
                .strip_prefix("identical ")
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(n, pages, "{}", codec.name());
        }
    }
}

#[test]
fn output_does_not_depend_on_threads_and_reader_agrees() {
    for r in refs("threads") {
        let dir = scratch(&format!("threads-{}", r.fx.name));
        let a = dir.join("t1.kdump");
        let b = dir.join("t3.kdump");
        rewrite(&r.d31, &a, Codec::Lzo, 1);
        rewrite(&r.d31, &b, Codec::Lzo, 3);
        assert_same_file(&a, &b);
        // Every page reads back equal to the uncompressed reference.
        let x = KdumpFile::open(&a).unwrap();
        let y = KdumpFile::open(&r.d31).unwrap();
        assert_eq!(x.dumped_pages(), y.dumped_pages());
        let (mut p, mut q) = (vec![0u8; 4096], vec![0u8; 4096]);
        let mut n = 0;
        for pfn in y.iter_bitmap(Bitmap::Valid) {
            let pfn = pfn.unwrap();
            let (s, t) = (
                x.read_page(pfn, &mut p).unwrap(),
                y.read_page(pfn, &mut q).unwrap(),
            );
            assert_eq!(s, t, "pfn {pfn:#x}");
            if s == PageState::Data {
                assert_eq!(p, q, "pfn {pfn:#x}");
                n += 1;
            }
        }
        assert_eq!(n, y.dumped_pages());
    }
}

#[test]
fn flattened_round_trip_and_makedumpfile_reassembles_it() {
    for r in refs("flattened") {
        let dir = scratch(&format!("flat-{}", r.fx.name));
        let f = KdumpFile::open(&r.zlib).unwrap();
        let flat_path = dir.join("ours.flat");
        let mut flat = FlatWriter::new(std::io::BufWriter::new(
            std::fs::File::create(&flat_path).unwrap(),
        ))
        .unwrap();
        write_again(&f, &mut flat, &WriteOptions::default()).unwrap();
        flat.finish().unwrap();
        // Our reader reads the stream directly.
        let g = KdumpFile::from_source(FileSource::open(&flat_path).unwrap()).unwrap();
        assert!(g.is_flattened());
        assert_eq!(g.dumped_pages(), f.dumped_pages());
        // Our reassembly and makedumpfile's -R both give the reference file.
        let re = dir.join("re.kdump");
        let out = std::fs::File::create(&re).unwrap();
        reassemble(std::fs::File::open(&flat_path).unwrap(), &out).unwrap();
        assert_same_file(&re, &r.d31);
        let mk = dir.join("mk-R.kdump");
        let _ = std::fs::remove_file(&mk);
        let o = Command::new("makedumpfile")
            .arg("-R")
            .arg(&mk)
            .stdin(std::fs::File::open(&flat_path).unwrap())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_same_file(&mk, &r.d31);
    }
}

#[test]
fn size_limit_gives_a_readable_incomplete_dump() {
    for r in refs("incomplete") {
        let dir = scratch(&format!("incomplete-{}", r.fx.name));
        let f = KdumpFile::open(&r.d31).unwrap();
        let path = dir.join("cut.kdump");
        let limit = std::fs::metadata(&r.d31).unwrap().len() / 2;
        let file = std::fs::File::create(&path).unwrap();
        let mut sink = LimitedSink::new(file, limit);
        let err = write_again(&f, &mut sink, &WriteOptions::default()).unwrap_err();
        let written = match err {
            WriteError::Incomplete {
                pages_written,
                source,
                ..
            } => {
                assert_eq!(source.raw_os_error(), Some(28));
                pages_written
            }
            e => panic!("expected Incomplete, got {e}"),
        };
        assert!(written > 100);
        let g = KdumpFile::open(&path).unwrap();
        assert!(g.is_incomplete());
        let (mut p, mut q) = (vec![0u8; 4096], vec![0u8; 4096]);
        let (mut data, mut lost) = (0u64, 0u64);
        for pfn in f.iter_bitmap(Bitmap::Dumped) {
            let pfn = pfn.unwrap();
            match g.read_page(pfn, &mut p).unwrap() {
                PageState::Data => {
                    f.read_page(pfn, &mut q).unwrap();
                    assert_eq!(p, q, "pfn {pfn:#x}");
                    data += 1;
                }
                PageState::Lost => lost += 1,
                s => panic!("pfn {pfn:#x}: {s:?}"),
            }
        }
        assert_eq!(data, written);
        assert_eq!(data + lost, f.dumped_pages());
        assert!(lost > 0);
    }
}
