//! Writing kdump-compressed files in makedumpfile's layout, compressing pages in parallel.
//!
//! Two phases: [`Layout::new`] reserves every region (header, sub-header with the note blob,
//! bitmaps, page descriptors, page data) from the dump's description and the number of
//! dumped pages; [`write_kdump`] then fills it. Pages are compressed by N worker threads,
//! each owning its [`PageCompressor`]; the calling thread reads input pages and writes
//! results strictly in pfn order, so the bytes written do not depend on N. The number of
//! batches in flight is bounded, so memory does not grow with the dump.
//!
//! On a write error (ENOSPC, EIO, a size limit) the header is rewritten with the INCOMPLETE
//! flag: every page whose descriptor reached the disk is readable, later pages read as lost.
//!
//! ```
//! use kdump_compressed::codec::Codec;
//! use kdump_compressed::read::{KdumpFile, PageState};
//! use kdump_compressed::write::{write_kdump, DumpInfo, MemBitmaps, WriteOptions};
//!
//! let mut bitmaps = MemBitmaps::new(16, 4096);
//! for pfn in [1, 2, 5] {
//!     bitmaps.set_valid(pfn);
//!     bitmaps.set_dumped(pfn);
//! }
//! bitmaps.set_valid(3); // exists but filtered out
//! let info = DumpInfo { max_mapnr: 16, dump_level: 1, ..DumpInfo::default() };
//! let mut out = Vec::new();
//! let opts = WriteOptions { codec: Codec::Lzo, threads: 2, ..WriteOptions::default() };
//! write_kdump(&mut out, &info, &bitmaps, |pfn, buf| { buf.fill(pfn as u8); Ok(()) }, &opts).unwrap();
//!
//! let dump = KdumpFile::from_source(out).unwrap();
//! let mut page = vec![0u8; 4096];
//! assert_eq!(dump.read_page(5, &mut page).unwrap(), PageState::Data);
//! assert!(page.iter().all(|&b| b == 5));
//! assert_eq!(dump.read_page(3, &mut page).unwrap(), PageState::Excluded);
//! assert_eq!(dump.read_page(4, &mut page).unwrap(), PageState::NotInDump);
//! ```

use crate::codec::{Codec, CodecError, PageCompressor};
use crate::format::*;
use crate::read::{Bitmap, KdumpFile};
use crate::source::ReadAt;
use std::collections::BTreeMap;
use std::io;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// Why writing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The description of the dump is inconsistent.
    #[error("invalid dump description: {0}")]
    Invalid(String),
    /// Writing failed after `pages_written` pages; the header carries the INCOMPLETE flag
    /// (if that write succeeded) and the file is readable up to there.
    #[error("write failed at offset {offset:#x} after {pages_written} pages (dump marked INCOMPLETE): {source}")]
    Incomplete {
        /// Output offset of the failed write.
        offset: u64,
        /// Pages whose data and descriptor were written.
        pages_written: u64,
        /// Cause.
        source: io::Error,
    },
    /// Writing the header or bitmaps failed (nothing usable was written).
    #[error("writing {what} at offset {offset:#x}: {source}")]
    Io {
        /// Region.
        what: &'static str,
        /// Output offset.
        offset: u64,
        /// Cause.
        source: io::Error,
    },
    /// Reading the bitmaps failed.
    #[error("reading bitmap {which:?} at byte {offset:#x}: {source}")]
    Bitmap {
        /// Which bitmap.
        which: Bitmap,
        /// Byte offset in the bitmap.
        offset: u64,
        /// Cause.
        source: io::Error,
    },
    /// A compressor failed.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A worker thread died.
    #[error("compression worker failed")]
    Worker,
}

/// Where the bytes go: positioned writes.
pub trait Sink {
    /// Write all of `data` at `offset`.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
}

impl Sink for Vec<u8> {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let off = usize::try_from(offset).map_err(|_| io::Error::other("offset too large"))?;
        let end = off
            .checked_add(data.len())
            .ok_or_else(|| io::Error::other("offset too large"))?;
        if self.len() < end {
            self.resize(end, 0);
        }
        self[off..end].copy_from_slice(data);
        Ok(())
    }
}

impl Sink for std::fs::File {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(self, data, offset)
    }
}

impl<W: io::Write> Sink for crate::flattened::FlatWriter<W> {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        crate::flattened::FlatWriter::write_at(self, offset, data)
    }
}

impl<T: Sink + ?Sized> Sink for &mut T {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        (**self).write_at(offset, data)
    }
}

/// A sink that refuses to grow past `limit` bytes (`-L SIZE`): the write that would cross
/// it fails with `ENOSPC` ("StorageFull").
#[derive(Debug)]
pub struct LimitedSink<S> {
    inner: S,
    limit: u64,
}

impl<S: Sink> LimitedSink<S> {
    /// Wrap `inner` with a size limit.
    pub fn new(inner: S, limit: u64) -> Self {
        LimitedSink { inner, limit }
    }
    /// The wrapped sink.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Sink> Sink for LimitedSink<S> {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let end = offset.saturating_add(data.len() as u64);
        if end > self.limit {
            let fit = self.limit.saturating_sub(offset).min(data.len() as u64) as usize;
            if fit > 0 {
                self.inner.write_at(offset, &data[..fit])?;
            }
            return Err(io::Error::from_raw_os_error(28)); // ENOSPC
        }
        self.inner.write_at(offset, data)
    }
}

/// The two bitmaps of a dump, read a range of bytes at a time (bounded memory for huge
/// machines: the writer never holds a whole bitmap).
pub trait Bitmaps {
    /// Number of page frames.
    fn max_mapnr(&self) -> u64;
    /// Fill `buf` with bytes of a bitmap from `byte_off`; bytes past `max_mapnr` are zero.
    fn read_bytes(&self, which: Bitmap, byte_off: u64, buf: &mut [u8]) -> io::Result<()>;
}

/// Bitmaps held in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemBitmaps {
    max_mapnr: u64,
    valid: Vec<u8>,
    dumped: Vec<u8>,
}

impl MemBitmaps {
    /// All-clear bitmaps for `max_mapnr` frames (byte length rounded to `block_size`).
    pub fn new(max_mapnr: u64, block_size: u64) -> Self {
        let n = bitmap_bytes(max_mapnr, block_size.max(1)).unwrap_or(0) as usize;
        MemBitmaps {
            max_mapnr,
            valid: vec![0; n],
            dumped: vec![0; n],
        }
    }
    /// Mark `pfn` as existing (bitmap 1).
    pub fn set_valid(&mut self, pfn: u64) {
        if let Some(b) = self.valid.get_mut((pfn / 8) as usize) {
            *b |= 1 << (pfn % 8);
        }
    }
    /// Mark `pfn` as dumped (bitmap 2).
    pub fn set_dumped(&mut self, pfn: u64) {
        if let Some(b) = self.dumped.get_mut((pfn / 8) as usize) {
            *b |= 1 << (pfn % 8);
        }
    }
    /// Clear `pfn` in bitmap 2.
    pub fn clear_dumped(&mut self, pfn: u64) {
        if let Some(b) = self.dumped.get_mut((pfn / 8) as usize) {
            *b &= !(1 << (pfn % 8));
        }
    }
    /// Copy both bitmaps of an existing dump.
    pub fn from_dump<S: ReadAt>(f: &KdumpFile<S>) -> Result<Self, crate::read::ReadError> {
        let mut m = MemBitmaps::new(f.max_mapnr(), f.page_size() as u64);
        let (_, len) = f.bitmap_layout();
        let n = (m.valid.len() as u64).min(len) as usize;
        f.read_bitmap_bytes(Bitmap::Valid, 0, &mut m.valid[..n])?;
        f.read_bitmap_bytes(Bitmap::Dumped, 0, &mut m.dumped[..n])?;
        Ok(m)
    }
}

impl Bitmaps for MemBitmaps {
    fn max_mapnr(&self) -> u64 {
        self.max_mapnr
    }
    fn read_bytes(&self, which: Bitmap, byte_off: u64, buf: &mut [u8]) -> io::Result<()> {
        let src = match which {
            Bitmap::Valid => &self.valid,
            Bitmap::Dumped => &self.dumped,
        };
        buf.fill(0);
        let start = (byte_off as usize).min(src.len());
        let n = (src.len() - start).min(buf.len());
        buf[..n].copy_from_slice(&src[start..start + n]);
        Ok(())
    }
}

impl<S: ReadAt> Bitmaps for KdumpFile<S> {
    fn max_mapnr(&self) -> u64 {
        KdumpFile::max_mapnr(self)
    }
    fn read_bytes(&self, which: Bitmap, byte_off: u64, buf: &mut [u8]) -> io::Result<()> {
        buf.fill(0);
        let (_, len) = self.bitmap_layout();
        let have = len.saturating_sub(byte_off).min(buf.len() as u64) as usize;
        self.read_bitmap_bytes(which, byte_off, &mut buf[..have])
            .map_err(io::Error::other)
    }
}

/// Everything about the dump that goes into the header and sub-header.
#[derive(Clone, Debug)]
pub struct DumpInfo {
    /// The crashed kernel's utsname.
    pub utsname: Utsname,
    /// Crash time (seconds, microseconds).
    pub timestamp: (i64, i64),
    /// Page size (block size).
    pub page_size: u32,
    /// Number of page frames.
    pub max_mapnr: u64,
    /// Number of CPUs.
    pub nr_cpus: i32,
    /// CPU that crashed.
    pub current_cpu: u32,
    /// Extra header status bits (e.g. `DUMP_DH_EXCLUDED_VMEMMAP`); compression bits are
    /// added from the codec.
    pub status: u32,
    /// phys_base.
    pub phys_base: u64,
    /// Dump level (bit 1: zero pages share one stored page).
    pub dump_level: i32,
    /// The input's ELF note blob (all PT_NOTE contents).
    pub notes: Vec<u8>,
    /// VMCOREINFO as (offset inside `notes`, size), if present.
    pub vmcoreinfo: Option<(u64, u64)>,
    /// For a split file: the pfn range it holds.
    pub split: Option<(u64, u64)>,
}

impl Default for DumpInfo {
    fn default() -> Self {
        let mut utsname = Utsname::default();
        utsname.set_field(0, "Linux");
        DumpInfo {
            utsname,
            timestamp: (0, 0),
            page_size: 4096,
            max_mapnr: 0,
            nr_cpus: 1,
            current_cpu: 0,
            status: 0,
            phys_base: 0,
            dump_level: 0,
            notes: Vec::new(),
            vmcoreinfo: None,
            split: None,
        }
    }
}

impl DumpInfo {
    /// The description of an existing kdump-compressed file (for refiltering or copying).
    pub fn from_dump<S: ReadAt>(f: &KdumpFile<S>) -> Result<Self, crate::read::ReadError> {
        let h = f.header();
        let notes = f.notes()?.unwrap_or_default();
        let sub = f.sub_header().cloned().unwrap_or_default();
        let vmcoreinfo = if sub.size_vmcoreinfo > 0 && sub.offset_note > 0 {
            sub.offset_vmcoreinfo
                .checked_sub(sub.offset_note)
                .map(|o| (o, sub.size_vmcoreinfo))
        } else {
            None
        };
        Ok(DumpInfo {
            utsname: h.utsname.clone(),
            timestamp: (h.timestamp_sec, h.timestamp_usec),
            page_size: f.page_size() as u32,
            max_mapnr: f.max_mapnr(),
            nr_cpus: h.nr_cpus,
            current_cpu: h.current_cpu,
            status: h.status & DUMP_DH_EXCLUDED_VMEMMAP,
            phys_base: sub.phys_base,
            dump_level: sub.dump_level,
            notes,
            vmcoreinfo,
            split: None,
        })
    }
}

/// Options for [`write_kdump`].
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// Page compression.
    pub codec: Codec,
    /// Compression threads (0 or 1: compress on the calling thread).
    pub threads: usize,
    /// Pages per batch handed to a worker.
    pub batch_pages: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            codec: Codec::None,
            threads: 1,
            batch_pages: 64,
        }
    }
}

/// What was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Pages with a descriptor.
    pub pages: u64,
    /// Pages that pointed at the shared zero page.
    pub zero_pages: u64,
    /// Pages stored compressed.
    pub compressed_pages: u64,
    /// Bytes of page data written (the zero page included).
    pub data_bytes: u64,
    /// Total file size.
    pub file_size: u64,
    /// Pages the input could not read (stored as zero-filled pages), with the first error.
    pub read_errors: u64,
    /// The first read error's message.
    pub first_read_error: Option<String>,
}

/// The reserved regions of a kdump-compressed file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The header to write (INCOMPLETE clear).
    pub header: DiskDumpHeader,
    /// The sub-header to write.
    pub sub: KdumpSubHeader,
    /// Offset of bitmap 1.
    pub bitmap_off: u64,
    /// Bytes of one bitmap.
    pub bitmap_len: u64,
    /// Offset of the page descriptor array.
    pub desc_off: u64,
    /// Number of descriptors.
    pub num_dumpable: u64,
    /// Offset of the first page data byte (the zero page, if any, is here).
    pub data_off: u64,
    /// Whether zero pages share one stored page.
    pub zero_page: bool,
}

impl Layout {
    /// Reserve the regions for `info` with `num_dumpable` dumped pages.
    pub fn new(info: &DumpInfo, codec: Codec, num_dumpable: u64) -> Result<Self, WriteError> {
        let bs = info.page_size as u64;
        if !(512..=1 << 20).contains(&bs) || !bs.is_power_of_two() {
            return Err(WriteError::Invalid(format!("page size {bs}")));
        }
        let bad = |w: &str| WriteError::Invalid(w.to_string());
        let size_note = info.notes.len() as u64;
        let sub_hdr_size = (KdumpSubHeader::SIZE as u64 + size_note).div_ceil(bs);
        let bitmap_len = bitmap_bytes(info.max_mapnr, bs).ok_or_else(|| bad("max_mapnr"))?;
        let bitmap_blocks = 2 * bitmap_len / bs;
        let bitmap_off = (1 + sub_hdr_size) * bs;
        let desc_off = bitmap_off
            .checked_add(2 * bitmap_len)
            .ok_or_else(|| bad("bitmap size"))?;
        let data_off = num_dumpable
            .checked_mul(PageDesc::SIZE as u64)
            .and_then(|d| d.checked_add(desc_off))
            .ok_or_else(|| bad("number of pages"))?;
        let offset_note = bs + KdumpSubHeader::SIZE as u64;
        let (offset_vmcoreinfo, size_vmcoreinfo) = match info.vmcoreinfo {
            Some((o, s)) if o.checked_add(s).is_some_and(|e| e <= size_note) => {
                (offset_note + o, s)
            }
            Some(_) => return Err(bad("VMCOREINFO lies outside the note blob")),
            None => (0, 0),
        };
        let (split, start, end) = match info.split {
            Some((a, b)) => (1, a, b),
            None => (0, 0, 0),
        };
        let header = DiskDumpHeader {
            signature: KDUMP_SIGNATURE,
            header_version: HEADER_VERSION,
            utsname: info.utsname.clone(),
            timestamp_sec: info.timestamp.0,
            timestamp_usec: info.timestamp.1,
            status: (info.status & !COMPRESSION_MASK & !DUMP_DH_COMPRESSED_INCOMPLETE)
                | codec.flag(),
            block_size: bs as i32,
            sub_hdr_size: i32::try_from(sub_hdr_size).map_err(|_| bad("note blob too large"))?,
            bitmap_blocks: u32::try_from(bitmap_blocks).map_err(|_| bad("max_mapnr too large"))?,
            max_mapnr: info.max_mapnr.min(u32::MAX as u64) as u32,
            total_ram_blocks: 0,
            device_blocks: 0,
            written_blocks: 0,
            current_cpu: info.current_cpu,
            nr_cpus: info.nr_cpus,
        };
        let sub = KdumpSubHeader {
            phys_base: info.phys_base,
            dump_level: info.dump_level,
            split,
            start_pfn: start.min(u32::MAX as u64),
            end_pfn: end.min(u32::MAX as u64),
            offset_vmcoreinfo,
            size_vmcoreinfo,
            offset_note: if size_note > 0 { offset_note } else { 0 },
            size_note,
            offset_eraseinfo: 0,
            size_eraseinfo: 0,
            start_pfn_64: start,
            end_pfn_64: end,
            max_mapnr_64: info.max_mapnr,
        };
        Ok(Layout {
            header,
            sub,
            bitmap_off,
            bitmap_len,
            desc_off,
            num_dumpable,
            data_off,
            zero_page: info.dump_level & 1 != 0,
        })
    }
}

/// Count the set bits of bitmap 2 in `[start, end)`.
pub fn count_dumped(bitmaps: &dyn Bitmaps, start: u64, end: u64) -> Result<u64, WriteError> {
    let mut total = 0u64;
    for_each_set(bitmaps, Bitmap::Dumped, start, end, |_| {
        total += 1;
        Ok(())
    })?;
    Ok(total)
}

/// Call `f` for each set bit of a bitmap in `[start, end)`, reading 64 KiB at a time.
fn for_each_set(
    bitmaps: &dyn Bitmaps,
    which: Bitmap,
    start: u64,
    end: u64,
    mut f: impl FnMut(u64) -> Result<(), WriteError>,
) -> Result<(), WriteError> {
    const CHUNK: u64 = 1 << 16;
    let end = end.min(bitmaps.max_mapnr());
    let mut buf = vec![0u8; CHUNK as usize];
    let mut byte = start / 8;
    while byte * 8 < end {
        let n = CHUNK.min(end.div_ceil(8) - byte) as usize;
        bitmaps
            .read_bytes(which, byte, &mut buf[..n])
            .map_err(|source| WriteError::Bitmap {
                which,
                offset: byte,
                source,
            })?;
        for (i, &b) in buf[..n].iter().enumerate() {
            let mut bits = b;
            while bits != 0 {
                let pfn = (byte + i as u64) * 8 + bits.trailing_zeros() as u64;
                bits &= bits - 1;
                if pfn >= start && pfn < end {
                    f(pfn)?;
                }
            }
        }
        byte += n as u64;
    }
    Ok(())
}

/// One batch of pages on its way through a worker.
struct Job {
    seq: u64,
    pages: Vec<u8>,
    count: usize,
}

/// Per-page result: size and flags of the stored data, or zero page.
#[derive(Clone, Copy)]
enum Stored {
    Zero,
    Data { size: u32, flags: u32 },
}

struct Done {
    seq: u64,
    entries: Vec<Stored>,
    data: Vec<u8>,
    pages: Vec<u8>,
}

fn is_zero(page: &[u8]) -> bool {
    page.chunks(64)
        .all(|c| c.iter().fold(0u8, |a, &b| a | b) == 0)
}

fn compress_job(
    c: &mut PageCompressor,
    job: Job,
    page_size: usize,
    zero: bool,
    mut data: Vec<u8>,
) -> Result<Done, WriteError> {
    data.clear();
    let mut entries = Vec::with_capacity(job.count);
    for page in job.pages.chunks_exact(page_size).take(job.count) {
        if zero && is_zero(page) {
            entries.push(Stored::Zero);
            continue;
        }
        let (bytes, flags) = c.compress(page)?;
        entries.push(Stored::Data {
            size: bytes.len() as u32,
            flags,
        });
        data.extend_from_slice(bytes);
    }
    Ok(Done {
        seq: job.seq,
        entries,
        data,
        pages: job.pages,
    })
}

/// The output side: buffers data and descriptors, writes data before the descriptors that
/// point at it, and marks the dump INCOMPLETE on failure.
struct Out<'a, K: Sink> {
    sink: &'a mut K,
    layout: &'a Layout,
    data_buf: Vec<u8>,
    data_at: u64,
    desc_buf: Vec<u8>,
    desc_idx: u64,
    next_desc: u64,
    pages_written: u64,
    stats: WriteStats,
}

const DATA_BUF: usize = 1 << 20;

impl<K: Sink> Out<'_, K> {
    fn add(&mut self, e: Stored, data: &[u8]) -> Result<(), WriteError> {
        let pd = match e {
            Stored::Zero => {
                self.stats.zero_pages += 1;
                PageDesc {
                    offset: self.layout.data_off as i64,
                    size: self.layout.header.block_size as u32,
                    flags: 0,
                    page_flags: 0,
                }
            }
            Stored::Data { size, flags } => {
                let off = self.data_at + self.data_buf.len() as u64;
                self.data_buf.extend_from_slice(data);
                if flags != 0 {
                    self.stats.compressed_pages += 1;
                }
                self.stats.data_bytes += size as u64;
                PageDesc {
                    offset: off as i64,
                    size,
                    flags,
                    page_flags: 0,
                }
            }
        };
        self.desc_buf.extend_from_slice(&pd.to_bytes());
        self.next_desc += 1;
        self.stats.pages += 1;
        if self.data_buf.len() >= DATA_BUF {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), WriteError> {
        if !self.data_buf.is_empty() {
            let at = self.data_at;
            self.sink
                .write_at(at, &self.data_buf)
                .map_err(|e| self.fail(at, e))?;
            self.data_at += self.data_buf.len() as u64;
            self.data_buf.clear();
        }
        if !self.desc_buf.is_empty() {
            let at = self.layout.desc_off + self.desc_idx * PageDesc::SIZE as u64;
            self.sink
                .write_at(at, &self.desc_buf)
                .map_err(|e| self.fail(at, e))?;
            self.desc_idx = self.next_desc;
            self.desc_buf.clear();
        }
        self.pages_written = self.desc_idx;
        Ok(())
    }

    fn fail(&mut self, offset: u64, source: io::Error) -> WriteError {
        let mut h = self.layout.header.clone();
        h.status |= DUMP_DH_COMPRESSED_INCOMPLETE;
        let _ = self.sink.write_at(0, &h.to_bytes());
        WriteError::Incomplete {
            offset,
            pages_written: self.desc_idx,
            source,
        }
    }
}

/// Write the fixed regions: header, sub-header, notes, bitmaps.
pub fn write_head<K: Sink>(
    sink: &mut K,
    layout: &Layout,
    info: &DumpInfo,
    bitmaps: &dyn Bitmaps,
) -> Result<(), WriteError> {
    let bs = layout.header.block_size as u64;
    let io = |what, offset| {
        move |source| WriteError::Io {
            what,
            offset,
            source,
        }
    };
    sink.write_at(0, &layout.header.to_bytes())
        .map_err(io("disk_dump_header", 0))?;
    let mut block = vec![0u8; (layout.bitmap_off - bs) as usize];
    block[..KdumpSubHeader::SIZE].copy_from_slice(&layout.sub.to_bytes());
    block[KdumpSubHeader::SIZE..KdumpSubHeader::SIZE + info.notes.len()]
        .copy_from_slice(&info.notes);
    sink.write_at(bs, &block)
        .map_err(io("kdump_sub_header", bs))?;
    let mut buf = vec![0u8; 1 << 20];
    for (which, base) in [
        (Bitmap::Valid, layout.bitmap_off),
        (Bitmap::Dumped, layout.bitmap_off + layout.bitmap_len),
    ] {
        let mut off = 0u64;
        while off < layout.bitmap_len {
            let n = (layout.bitmap_len - off).min(buf.len() as u64) as usize;
            bitmaps
                .read_bytes(which, off, &mut buf[..n])
                .map_err(|source| WriteError::Bitmap {
                    which,
                    offset: off,
                    source,
                })?;
            mask_tail(&mut buf[..n], off, bitmaps.max_mapnr());
            sink.write_at(base + off, &buf[..n])
                .map_err(io("bitmap", base + off))?;
            off += n as u64;
        }
    }
    Ok(())
}

/// Clear bits at or past `max_mapnr` in a bitmap slice starting at byte `off`.
fn mask_tail(buf: &mut [u8], off: u64, max_mapnr: u64) {
    let end = off + buf.len() as u64;
    let full = max_mapnr / 8;
    if full >= end {
        return;
    }
    for (i, b) in buf.iter_mut().enumerate() {
        let byte = off + i as u64;
        if byte > full {
            *b = 0;
        } else if byte == full {
            *b &= ((1u16 << (max_mapnr % 8)) - 1) as u8;
        }
    }
}

/// Write a whole kdump-compressed file: header, sub-header, notes, bitmaps, then every page
/// set in bitmap 2 (within `info.split`, if any), read with `read_page(pfn, buf)`.
///
/// A page that `read_page` cannot read is stored zero-filled and counted in
/// [`WriteStats::read_errors`]. A write error marks the dump INCOMPLETE and returns
/// [`WriteError::Incomplete`].
pub fn write_kdump<K, F>(
    sink: &mut K,
    info: &DumpInfo,
    bitmaps: &dyn Bitmaps,
    mut read_page: F,
    opts: &WriteOptions,
) -> Result<WriteStats, WriteError>
where
    K: Sink,
    F: FnMut(u64, &mut [u8]) -> io::Result<()>,
{
    if bitmaps.max_mapnr() != info.max_mapnr {
        return Err(WriteError::Invalid(format!(
            "bitmaps describe {} frames, the dump {}",
            bitmaps.max_mapnr(),
            info.max_mapnr
        )));
    }
    let (start, end) = info.split.unwrap_or((0, info.max_mapnr));
    // A split file reserves descriptors for every dumped page of the whole dump (as
    // makedumpfile does) and fills those of its own range from index 0.
    let num = count_dumped(bitmaps, 0, info.max_mapnr)?;
    let layout = Layout::new(info, opts.codec, num)?;
    write_head(sink, &layout, info, bitmaps)?;
    let ps = info.page_size as usize;
    let mut out = Out {
        sink,
        layout: &layout,
        data_buf: Vec::with_capacity(DATA_BUF + 2 * ps),
        data_at: layout.data_off,
        desc_buf: Vec::new(),
        desc_idx: 0,
        next_desc: 0,
        pages_written: 0,
        stats: WriteStats::default(),
    };
    if layout.zero_page {
        out.data_buf.resize(ps, 0);
        out.stats.data_bytes += ps as u64;
    }
    let batch = opts.batch_pages.clamp(1, 4096);
    let threads = opts.threads.clamp(1, 256);
    let zero = layout.zero_page;

    let mut read_errors = 0u64;
    let mut first_err: Option<String> = None;
    let mut fill = |pfn: u64, buf: &mut [u8]| {
        if let Err(e) = read_page(pfn, buf) {
            buf.fill(0);
            read_errors += 1;
            if first_err.is_none() {
                first_err = Some(format!("pfn {pfn:#x}: {e}"));
            }
        }
    };

    if threads == 1 {
        let mut c = PageCompressor::new(opts.codec)?;
        let mut job = Job {
            seq: 0,
            pages: vec![0u8; batch * ps],
            count: 0,
        };
        let mut data = Vec::new();
        let mut run =
            |job: &mut Job, out: &mut Out<K>, data: &mut Vec<u8>| -> Result<(), WriteError> {
                let j = Job {
                    seq: 0,
                    pages: std::mem::take(&mut job.pages),
                    count: job.count,
                };
                let done = compress_job(&mut c, j, ps, zero, std::mem::take(data))?;
                write_done(out, &done)?;
                job.pages = done.pages;
                *data = done.data;
                job.count = 0;
                Ok(())
            };
        for_each_set(bitmaps, Bitmap::Dumped, start, end, |pfn| {
            let at = job.count * ps;
            fill(pfn, &mut job.pages[at..at + ps]);
            job.count += 1;
            if job.count == batch {
                run(&mut job, &mut out, &mut data)?;
            }
            Ok(())
        })?;
        if job.count > 0 {
            run(&mut job, &mut out, &mut data)?;
        }
    } else {
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(threads * 2);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (done_tx, done_rx) = mpsc::channel::<Result<Done, WriteError>>();
        let max_in_flight = threads * 4;
        std::thread::scope(|scope| -> Result<(), WriteError> {
            for _ in 0..threads {
                let rx = Arc::clone(&job_rx);
                let tx = done_tx.clone();
                let codec = opts.codec;
                scope.spawn(move || {
                    let mut c = match PageCompressor::new(codec) {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = tx.send(Err(e.into()));
                            return;
                        }
                    };
                    loop {
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        let r = compress_job(&mut c, job, ps, zero, Vec::new());
                        if tx.send(r).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(done_tx);
            let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
            let mut next_write = 0u64;
            let mut sent = 0u64;
            let mut spare: Vec<Vec<u8>> = Vec::new();
            let mut job = Job {
                seq: 0,
                pages: vec![0u8; batch * ps],
                count: 0,
            };
            // Receive one result and write everything now in order.
            let drain_one = |pending: &mut BTreeMap<u64, Done>,
                             next_write: &mut u64,
                             spare: &mut Vec<Vec<u8>>,
                             out: &mut Out<K>|
             -> Result<(), WriteError> {
                let d = done_rx.recv().map_err(|_| WriteError::Worker)??;
                pending.insert(d.seq, d);
                while let Some(d) = pending.remove(next_write) {
                    write_done(out, &d)?;
                    spare.push(d.pages);
                    *next_write += 1;
                }
                Ok(())
            };
            let send = |job: &mut Job,
                        sent: &mut u64,
                        pending: &mut BTreeMap<u64, Done>,
                        next_write: &mut u64,
                        spare: &mut Vec<Vec<u8>>,
                        out: &mut Out<K>|
             -> Result<(), WriteError> {
                while *sent - *next_write >= max_in_flight as u64 {
                    drain_one(pending, next_write, spare, out)?;
                }
                let fresh = spare.pop().unwrap_or_else(|| vec![0u8; batch * ps]);
                let j = Job {
                    seq: *sent,
                    pages: std::mem::replace(&mut job.pages, fresh),
                    count: job.count,
                };
                job_tx.send(j).map_err(|_| WriteError::Worker)?;
                *sent += 1;
                job.count = 0;
                Ok(())
            };
            let r = for_each_set(bitmaps, Bitmap::Dumped, start, end, |pfn| {
                let at = job.count * ps;
                fill(pfn, &mut job.pages[at..at + ps]);
                job.count += 1;
                if job.count == batch {
                    send(
                        &mut job,
                        &mut sent,
                        &mut pending,
                        &mut next_write,
                        &mut spare,
                        &mut out,
                    )?;
                }
                Ok(())
            });
            let r = r.and_then(|_| {
                if job.count > 0 {
                    send(
                        &mut job,
                        &mut sent,
                        &mut pending,
                        &mut next_write,
                        &mut spare,
                        &mut out,
                    )?;
                }
                Ok(())
            });
            drop(job_tx);
            r?;
            while next_write < sent {
                drain_one(&mut pending, &mut next_write, &mut spare, &mut out)?;
            }
            Ok(())
        })?;
    }
    out.flush()?;
    let mut stats = out.stats;
    stats.file_size = out.data_at;
    stats.read_errors = read_errors;
    stats.first_read_error = first_err;
    Ok(stats)
}

fn write_done<K: Sink>(out: &mut Out<K>, d: &Done) -> Result<(), WriteError> {
    let mut at = 0usize;
    for e in &d.entries {
        match *e {
            Stored::Zero => out.add(*e, &[])?,
            Stored::Data { size, .. } => {
                let end = at + size as usize;
                out.add(*e, d.data.get(at..end).unwrap_or(&[]))?;
                at = end;
            }
        }
    }
    let _ = d.seq;
    Ok(())
}
