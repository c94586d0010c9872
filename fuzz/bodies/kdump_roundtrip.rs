//! Body of the `kdump_roundtrip` fuzz target. Differential: our kdump-compressed writer
//! against our reader. A fuzzed description (codec, frame count, which frames exist, are
//! dumped or cannot be read, page contents) is written, then read back: every dumped page
//! equals what was written, filtered frames and frames the source could not read read as
//! excluded, holes as not in the dump. With an injected write fault (ENOSPC at a size limit,
//! or one EIO) the writer must report INCOMPLETE and the file must read as INCOMPLETE with
//! every page written before the fault intact; no page may ever read back with wrong contents.
//!
//! Input: 8 header bytes (codec, frame count, dump level, fault position (3 bytes), fault mode,
//! batch size and read-error switch), then one kind byte per frame (0x80 valid, 0x40 dumped,
//! 0x20 unreadable when the read-error switch is on, low 2 bits the content), then the bytes
//! page contents and notes are made of.
//!
//! Shared by fuzz/fuzz_targets/kdump_roundtrip.rs and
//! crates/kdump-compressed/tests/fuzz_regressions.rs.

use kdump_compressed::codec::Codec;
use kdump_compressed::read::{KdumpFile, PageState};
use kdump_compressed::write::{write_kdump, DumpInfo, MemBitmaps, Sink, WriteError, WriteOptions};
use std::io;

/// A Vec sink that fails: `limit` makes every write crossing it fail (ENOSPC, what fits is
/// written, like a full disk); `eio_at` makes that one write call fail with EIO.
struct FaultSink {
    out: Vec<u8>,
    limit: Option<u64>,
    eio_at: Option<u32>,
    calls: u32,
}

impl Sink for FaultSink {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.calls += 1;
        if self.eio_at == Some(self.calls) {
            return Err(io::Error::from_raw_os_error(5));
        }
        if let Some(limit) = self.limit {
            let end = offset.saturating_add(data.len() as u64);
            if end > limit {
                let fit = limit.saturating_sub(offset).min(data.len() as u64) as usize;
                if fit > 0 {
                    self.out.write_at(offset, &data[..fit])?;
                }
                return Err(io::Error::from_raw_os_error(28));
            }
        }
        self.out.write_at(offset, data)
    }
}

fn page(pfn: u64, kind: u8, tail: &[u8], buf: &mut [u8]) {
    match kind & 3 {
        0 => buf.fill(0),
        1 => buf.fill(pfn as u8 ^ 0x5a),
        2 if !tail.is_empty() => {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = tail[(i + pfn as usize) % tail.len()];
            }
        }
        _ => {
            let mut x = pfn.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            for b in buf.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
        }
    }
}

/// Run one input; true if the dump was written (completely or INCOMPLETE) and read back.
pub fn run(data: &[u8]) -> bool {
    if data.len() < 8 {
        return false;
    }
    let (head, rest) = data.split_at(8);
    let codec = Codec::ALL[head[0] as usize % Codec::ALL.len()];
    let max_mapnr = 1 + u64::from(head[1] % 64);
    let dump_level = i32::from(head[2] & 31);
    let fault = u32::from_le_bytes([head[3], head[4], head[5], 0]);
    let mode = head[6] % 3;
    let read_errors = head[7] & 0x80 != 0;
    let n = max_mapnr as usize;
    let (kinds, tail) = rest.split_at(rest.len().min(n));
    let kind = |pfn: u64| kinds.get(pfn as usize).copied().unwrap_or(0xff);
    let unreadable = |pfn: u64| read_errors && kind(pfn) & 0x20 != 0;

    let mut bitmaps = MemBitmaps::new(max_mapnr, 4096);
    for pfn in 0..max_mapnr {
        let k = kind(pfn);
        if k & 0x80 != 0 {
            bitmaps.set_valid(pfn);
            if k & 0x40 != 0 {
                bitmaps.set_dumped(pfn);
            }
        }
    }
    let info = DumpInfo {
        max_mapnr,
        dump_level,
        notes: tail.get(..tail.len().min(64)).unwrap_or_default().to_vec(),
        ..DumpInfo::default()
    };
    let mut sink = FaultSink {
        out: Vec::new(),
        limit: (mode == 1).then_some(u64::from(fault)),
        eio_at: (mode == 2).then_some(fault % 16 + 1),
        calls: 0,
    };
    let opts = WriteOptions {
        codec,
        threads: 1,
        batch_pages: 1 + usize::from(head[7] % 8),
        ..WriteOptions::default()
    };
    let res = write_kdump(
        &mut sink,
        &info,
        &bitmaps,
        |pfn, buf| {
            if unreadable(pfn) {
                return Err(io::Error::from_raw_os_error(5));
            }
            page(pfn, kind(pfn), tail, buf);
            Ok(())
        },
        &opts,
    );
    let written = match res {
        Ok(stats) => {
            let want = (0..max_mapnr)
                .filter(|&p| kind(p) & 0xc0 == 0xc0 && unreadable(p))
                .count() as u64;
            assert_eq!(stats.read_errors, want, "read errors counted");
            None
        }
        Err(WriteError::Incomplete { pages_written, .. }) => {
            assert!(mode != 0, "no fault injected but the write failed");
            Some(pages_written)
        }
        Err(WriteError::Io { .. }) if mode != 0 => return false,
        Err(WriteError::Codec(_)) => return false,
        Err(e) => panic!("unexpected write error: {e}"),
    };
    let f = match KdumpFile::from_source(sink.out) {
        Ok(f) => f,
        Err(e) => panic!("written file does not read back ({written:?} pages written): {e}"),
    };
    assert_eq!(f.is_incomplete(), written.is_some());
    assert_eq!(f.max_mapnr(), max_mapnr);
    let mut want = vec![0u8; 4096];
    let mut got = vec![0u8; 4096];
    // Rank of the page among the pages that got a descriptor.
    let mut index = 0u64;
    for pfn in 0..max_mapnr {
        let k = kind(pfn);
        let st = f.read_page(pfn, &mut got);
        if k & 0x80 == 0 {
            assert_eq!(st.ok(), Some(PageState::NotInDump), "pfn {pfn}");
        } else if k & 0x40 == 0 {
            assert_eq!(st.ok(), Some(PageState::Excluded), "pfn {pfn}");
        } else if unreadable(pfn) {
            // Left out of the dump: excluded; after a fault the bitmap fix may not have
            // reached the file, but the page must never read as data.
            match st {
                Ok(PageState::Excluded) => {}
                Ok(PageState::Lost) if written.is_some() => {}
                other => panic!("unreadable pfn {pfn} (written {written:?}): {other:?}"),
            }
        } else {
            page(pfn, k, tail, &mut want);
            let before_fault = written.is_none_or(|w| index < w);
            match st {
                Ok(PageState::Data) => assert!(got == want, "pfn {pfn} reads back different"),
                Ok(PageState::Lost) if !before_fault => {}
                other => panic!("pfn {pfn} (dumped page #{index}, written {written:?}): {other:?}"),
            }
            index += 1;
        }
    }
    true
}
