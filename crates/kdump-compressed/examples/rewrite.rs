//! Read a kdump-compressed file and write it again with another codec (and thread count):
//! `rewrite IN OUT [none|zlib|lzo|snappy|zstd|lz4] [THREADS]`. With `none`, the output of
//! makedumpfile's `-c`/`-l` file must equal makedumpfile's uncompressed output byte for byte.
use kdump_compressed::codec::Codec;
use kdump_compressed::read::KdumpFile;
use kdump_compressed::write::{write_kdump, DumpInfo, MemBitmaps, WriteOptions};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 2 {
        eprintln!("usage: rewrite IN OUT [codec] [threads]");
        std::process::exit(2);
    }
    let codec = match a.get(2).map(String::as_str).unwrap_or("none") {
        "zlib" => Codec::Zlib,
        "lzo" => Codec::Lzo,
        "snappy" => Codec::Snappy,
        "zstd" => Codec::Zstd,
        "lz4" => Codec::Lz4,
        _ => Codec::None,
    };
    let threads = a.get(3).and_then(|t| t.parse().ok()).unwrap_or(1);
    let input = KdumpFile::open(&a[0])?;
    let info = DumpInfo::from_dump(&input)?;
    let bitmaps = MemBitmaps::from_dump(&input)?;
    let mut out = std::fs::File::create(&a[1])?;
    let t = Instant::now();
    let stats = write_kdump(
        &mut out,
        &info,
        &bitmaps,
        |pfn, buf| {
            input
                .read_page(pfn, buf)
                .map(|_| ())
                .map_err(std::io::Error::other)
        },
        &WriteOptions {
            codec,
            threads,
            ..WriteOptions::default()
        },
    )?;
    out.set_len(stats.file_size)?;
    eprintln!("{stats:?} in {:.2?}", t.elapsed());
    Ok(())
}
