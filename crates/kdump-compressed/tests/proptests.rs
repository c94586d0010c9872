//! Property tests: the reader never panics on arbitrary or mutated bytes, write → read gives
//! back every page for every codec, LZO round-trips and its decoder survives any input.

use kdump_compressed::codec::{Codec, PageDecompressor};
use kdump_compressed::flattened::{FlatSource, FlatWriter};
use kdump_compressed::lzo;
use kdump_compressed::read::{Bitmap, KdumpFile, PageState};
use kdump_compressed::source::ReadAt;
use kdump_compressed::write::{write_kdump, DumpInfo, MemBitmaps, WriteOptions};
use proptest::prelude::*;

fn page_for(pfn: u64, kind: u8) -> Vec<u8> {
    match kind % 4 {
        0 => vec![0; 4096],
        1 => (0..4096).map(|i| (i as u64 ^ pfn) as u8).collect(),
        2 => {
            let mut x = pfn.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            (0..4096)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        }
        _ => (0..4096)
            .map(|i| if i % 64 < 8 { pfn as u8 } else { 0 })
            .collect(),
    }
}

fn small_dump(
    codec: Codec,
    set: &[(u64, bool, bool)],
    level: i32,
    kind: u8,
) -> (Vec<u8>, MemBitmaps) {
    let max = 256;
    let mut bm = MemBitmaps::new(max, 4096);
    for &(pfn, valid, dumped) in set {
        let pfn = pfn % max;
        if valid || dumped {
            bm.set_valid(pfn);
        }
        if dumped {
            bm.set_dumped(pfn);
        }
    }
    let mut notes = Vec::new();
    // One VMCOREINFO note.
    let desc = b"OSRELEASE=6.1.0\nPAGESIZE=4096\n";
    notes.extend_from_slice(&11u32.to_le_bytes());
    notes.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    notes.extend_from_slice(&0u32.to_le_bytes());
    notes.extend_from_slice(b"VMCOREINFO\0\0");
    notes.extend_from_slice(desc);
    let info = DumpInfo {
        max_mapnr: max,
        dump_level: level,
        vmcoreinfo: Some((24, desc.len() as u64)),
        notes,
        ..DumpInfo::default()
    };
    let mut out = Vec::new();
    write_kdump(
        &mut out,
        &info,
        &bm,
        |pfn, buf| {
            buf.copy_from_slice(&page_for(pfn, kind.wrapping_add(pfn as u8)));
            Ok(())
        },
        &WriteOptions {
            codec,
            threads: 2,
            batch_pages: 3,
            ..WriteOptions::default()
        },
    )
    .unwrap();
    (out, bm)
}

fn codec_of(i: u8) -> Codec {
    Codec::ALL[i as usize % Codec::ALL.len()]
}

/// Read everything the API offers; any error is fine, a panic is not.
fn exercise<S: ReadAt>(f: &KdumpFile<S>) {
    let _ = f.vmcoreinfo();
    let _ = f.notes();
    let _ = f.eraseinfo();
    let mut buf = vec![0u8; f.page_size()];
    for pfn in f.iter_bitmap(Bitmap::Valid).take(300).flatten() {
        let _ = f.read_page(pfn, &mut buf);
    }
    for pfn in [
        0,
        1,
        7,
        100,
        f.max_mapnr().saturating_sub(1),
        f.max_mapnr(),
        u64::MAX,
    ] {
        let _ = f.read_page(pfn, &mut buf);
        let _ = f.page_desc(pfn);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn write_read_round_trip(
        codec in 0u8..6,
        set in proptest::collection::vec((0u64..256, any::<bool>(), any::<bool>()), 0..80),
        zero_level in any::<bool>(),
        kind in any::<u8>(),
    ) {
        let codec = codec_of(codec);
        let level = if zero_level { 31 } else { 0 };
        let (bytes, bm) = small_dump(codec, &set, level, kind);
        let f = KdumpFile::from_source(bytes).unwrap();
        prop_assert_eq!(f.max_mapnr(), 256);
        prop_assert_eq!(f.vmcoreinfo().unwrap().unwrap(), b"OSRELEASE=6.1.0\nPAGESIZE=4096\n".to_vec());
        let mut buf = vec![0u8; 4096];
        for pfn in 0..256u64 {
            let mut one = [0u8; 1];
            bm_bytes(&bm, Bitmap::Dumped, pfn, &mut one);
            let dumped = one[0] >> (pfn % 8) & 1 == 1;
            bm_bytes(&bm, Bitmap::Valid, pfn, &mut one);
            let valid = one[0] >> (pfn % 8) & 1 == 1;
            let st = f.read_page(pfn, &mut buf).unwrap();
            if dumped {
                prop_assert_eq!(st, PageState::Data);
                prop_assert!(buf == page_for(pfn, kind.wrapping_add(pfn as u8)), "pfn {}", pfn);
            } else if valid {
                prop_assert_eq!(st, PageState::Excluded);
            } else {
                prop_assert_eq!(st, PageState::NotInDump);
            }
        }
    }

    #[test]
    fn reader_survives_mutations(
        codec in 0u8..6,
        set in proptest::collection::vec((0u64..256, any::<bool>(), any::<bool>()), 1..40),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..20),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let (mut bytes, _) = small_dump(codec_of(codec), &set, 31, 1);
        for (i, v) in flips {
            let at = i.index(bytes.len());
            bytes[at] ^= v;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        if let Ok(f) = KdumpFile::from_source(bytes) {
            exercise(&f);
        }
    }

    #[test]
    fn reader_survives_arbitrary_bytes(mut bytes in proptest::collection::vec(any::<u8>(), 0..20000), sig in 0u8..3) {
        match sig {
            0 if bytes.len() >= 8 => bytes[..8].copy_from_slice(b"KDUMP   "),
            1 if bytes.len() >= 16 => {
                bytes[..16].copy_from_slice(b"makedumpfile\0\0\0\0");
            }
            _ => {}
        }
        if let Ok(f) = KdumpFile::from_source(bytes.clone()) {
            exercise(&f);
        }
        if let Ok(f) = FlatSource::new(bytes) {
            let mut b = [0u8; 64];
            let _ = f.read_exact_at(0, &mut b);
        }
    }

    #[test]
    fn lzo_round_trip(data in proptest::collection::vec(any::<u8>(), 0..9000), rep in 0usize..64) {
        let mut input = data.clone();
        if rep > 0 && !data.is_empty() {
            // Make it compressible: repeat a prefix.
            let chunk = data[..rep.min(data.len())].to_vec();
            for _ in 0..(4096 / chunk.len()).min(200) {
                input.extend_from_slice(&chunk);
            }
        }
        let c = lzo::compress(&input);
        let mut out = vec![0u8; input.len()];
        prop_assert_eq!(lzo::decompress(&c, &mut out), Ok(input.len()));
        prop_assert_eq!(out, input);
    }

    #[test]
    fn decoders_survive_arbitrary_input(data in proptest::collection::vec(any::<u8>(), 0..6000), flags in 0usize..7) {
        let f = [0u32, 1, 2, 4, 0x20, 0x4000_0000, 3][flags];
        let mut out = vec![0u8; 4096];
        let _ = PageDecompressor::new().decompress(f, &data, &mut out);
        let _ = lzo::decompress(&data, &mut out);
    }

    #[test]
    fn flattened_writer_round_trip(recs in proptest::collection::vec((0u64..5000, proptest::collection::vec(any::<u8>(), 0..300)), 0..20)) {
        let mut w = FlatWriter::new(Vec::new()).unwrap();
        let mut model = Vec::<u8>::new();
        for (off, data) in &recs {
            w.write_at(*off, data).unwrap();
            let end = *off as usize + data.len();
            if !data.is_empty() {
                if model.len() < end { model.resize(end, 0); }
                model[*off as usize..end].copy_from_slice(data);
            }
        }
        let s = FlatSource::new(w.finish().unwrap()).unwrap();
        prop_assert_eq!(s.len(), model.len() as u64);
        let mut back = vec![0u8; model.len()];
        s.read_exact_at(0, &mut back).unwrap();
        prop_assert_eq!(back, model);
    }
}

fn bm_bytes(bm: &MemBitmaps, which: Bitmap, pfn: u64, out: &mut [u8; 1]) {
    use kdump_compressed::write::Bitmaps;
    bm.read_bytes(which, pfn / 8, out).unwrap();
}
