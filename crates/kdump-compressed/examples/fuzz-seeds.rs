//! Write small seed inputs for the fuzz targets: `fuzz-seeds DIR` creates
//! DIR/kdump_header/{lzo,zlib,raw}.kdump, DIR/flattened/lzo.flat and DIR/lzo/page.lzo.
use kdump_compressed::codec::Codec;
use kdump_compressed::flattened::FlatWriter;
use kdump_compressed::write::{write_kdump, DumpInfo, MemBitmaps, WriteOptions};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: fuzz-seeds DIR")?);
    let mut bm = MemBitmaps::new(64, 4096);
    for pfn in [0, 1, 2, 5, 9] {
        bm.set_valid(pfn);
        if pfn != 2 {
            bm.set_dumped(pfn);
        }
    }
    let desc = b"OSRELEASE=6.1.0\nPAGESIZE=4096\n";
    let mut notes = Vec::new();
    notes.extend_from_slice(&11u32.to_le_bytes());
    notes.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    notes.extend_from_slice(&0u32.to_le_bytes());
    notes.extend_from_slice(b"VMCOREINFO\0\0");
    notes.extend_from_slice(desc);
    let info = DumpInfo {
        max_mapnr: 64,
        dump_level: 31,
        vmcoreinfo: Some((24, desc.len() as u64)),
        notes,
        ..DumpInfo::default()
    };
    let fill = |pfn: u64, buf: &mut [u8]| {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = if pfn == 1 {
                0
            } else {
                ((i / 64) as u64 ^ pfn) as u8
            };
        }
        Ok(())
    };
    std::fs::create_dir_all(dir.join("kdump_header"))?;
    std::fs::create_dir_all(dir.join("flattened"))?;
    std::fs::create_dir_all(dir.join("lzo"))?;
    for (name, codec) in [
        ("lzo", Codec::Lzo),
        ("zlib", Codec::Zlib),
        ("raw", Codec::None),
    ] {
        let mut out = Vec::new();
        let opts = WriteOptions {
            codec,
            ..WriteOptions::default()
        };
        write_kdump(&mut out, &info, &bm, fill, &opts)?;
        std::fs::write(dir.join(format!("kdump_header/{name}.kdump")), &out)?;
        if codec == Codec::Lzo {
            let mut flat = FlatWriter::new(Vec::new())?;
            write_kdump(&mut flat, &info, &bm, fill, &opts)?;
            std::fs::write(dir.join("flattened/lzo.flat"), flat.finish()?)?;
        }
    }
    let mut page = vec![0u8; 4096];
    fill(5, &mut page)?;
    std::fs::write(
        dir.join("lzo/page.lzo"),
        kdump_compressed::lzo::compress(&page),
    )?;
    Ok(())
}
