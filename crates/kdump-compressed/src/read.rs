//! Reading kdump-compressed files (makedumpfile's "KDUMP" and the older "DISKDUMP"), plain or
//! flattened, whole or split.
//!
//! ```no_run
//! use kdump_compressed::read::{KdumpFile, PageState};
//! let dump = KdumpFile::open("/var/crash/vmcore").unwrap();
//! let mut page = vec![0u8; dump.page_size()];
//! match dump.read_page(0x1000, &mut page).unwrap() {
//!     PageState::Data => println!("pfn 0x1000 present"),
//!     other => println!("pfn 0x1000: {other:?}"),
//! }
//! ```

use crate::codec::{CodecError, PageDecompressor};
use crate::flattened::{is_flattened, FlatError, FlatSource};
use crate::format::*;
use crate::source::{FileSource, ReadAt};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Largest note blob, VMCOREINFO or erase info accepted (64 MiB).
pub const MAX_BLOB: u64 = 64 << 20;
/// Largest block (page) size accepted.
pub const MAX_BLOCK_SIZE: u64 = 1 << 20;
/// Bitmap bytes summarised by one rank entry.
const RANK_CHUNK: u64 = 4096;

/// Why a kdump-compressed file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// Reading the source failed (or it ended early).
    #[error("reading {what} at offset {offset:#x}: {source}")]
    Io {
        /// What was being read.
        what: &'static str,
        /// Offset in the (reassembled) file.
        offset: u64,
        /// Cause.
        source: io::Error,
    },
    /// Not a KDUMP/DISKDUMP file.
    #[error("not a kdump-compressed file: signature {0:?}")]
    BadSignature([u8; 8]),
    /// A header field is out of range.
    #[error("bad header field {field} = {value}: {why}")]
    BadHeader {
        /// Field name.
        field: &'static str,
        /// Its value.
        value: i128,
        /// What was expected.
        why: &'static str,
    },
    /// A page descriptor or page data is invalid.
    #[error("pfn {pfn:#x}: {why}")]
    BadPage {
        /// Page frame.
        pfn: u64,
        /// What is wrong.
        why: String,
    },
    /// The page data did not decompress.
    #[error("pfn {pfn:#x}: {source}")]
    Codec {
        /// Page frame.
        pfn: u64,
        /// Cause.
        source: CodecError,
    },
    /// The output buffer is not one page long.
    #[error("buffer is {got} bytes, page size is {page_size}")]
    BufferSize {
        /// Buffer length.
        got: usize,
        /// Page size.
        page_size: usize,
    },
    /// The flattened stream is invalid.
    #[error(transparent)]
    Flattened(#[from] FlatError),
    /// The files of a split set do not belong together.
    #[error("split set: {0}")]
    Split(String),
    /// An error in a named file.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: Box<ReadError>,
    },
}

fn io_err(what: &'static str, offset: u64) -> impl FnOnce(io::Error) -> ReadError {
    move |source| ReadError::Io {
        what,
        offset,
        source,
    }
}

/// What [`KdumpFile::read_page`] found for a page frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageState {
    /// The page is in the dump; the buffer holds its contents.
    Data,
    /// The page existed in the crashed system but was filtered out (bitmap 1 set, bitmap 2
    /// clear). The buffer is untouched.
    Excluded,
    /// The page is not part of the dump at all: a hole in physical memory, beyond the last
    /// frame, or in another file of a split set. The buffer is untouched.
    NotInDump,
    /// The page should be in the dump but was never written: the dump is INCOMPLETE (the
    /// writer ran out of space). The buffer is untouched.
    Lost,
}

/// Which of the two bitmaps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bitmap {
    /// Bitmap 1: the page frame exists in the input (not a hole).
    Valid,
    /// Bitmap 2: the page is dumped.
    Dumped,
}

/// The byte source under a [`KdumpFile`]: a plain source or a flattened stream over one.
pub enum Source<S> {
    /// The file itself.
    Plain(S),
    /// A flattened stream, indexed.
    Flat(FlatSource<S>),
}

impl<S> std::fmt::Debug for Source<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Plain(_) => f.write_str("Plain"),
            Source::Flat(x) => x.fmt(f),
        }
    }
}

impl<S: ReadAt> ReadAt for Source<S> {
    fn len(&self) -> u64 {
        match self {
            Source::Plain(s) => s.len(),
            Source::Flat(s) => s.len(),
        }
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        match self {
            Source::Plain(s) => s.read_exact_at(offset, buf),
            Source::Flat(s) => s.read_exact_at(offset, buf),
        }
    }
}

struct Scratch {
    dec: PageDecompressor,
    data: Vec<u8>,
    desc_base: u64,
    descs: Vec<u8>,
    bm_chunk: u64,
    bm: Vec<u8>,
}

/// An open kdump-compressed file.
pub struct KdumpFile<S> {
    src: Source<S>,
    header: DiskDumpHeader,
    sub: Option<KdumpSubHeader>,
    block_size: u64,
    max_mapnr: u64,
    bitmap1_off: u64,
    bitmap_len: u64,
    desc_off: u64,
    start_pfn: u64,
    end_pfn: u64,
    rank: Vec<u64>,
    rank_start: u64,
    dumped: u64,
    scratch: Mutex<Scratch>,
}

impl<S> std::fmt::Debug for KdumpFile<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KdumpFile")
            .field("header", &self.header)
            .field("sub", &self.sub)
            .field("max_mapnr", &self.max_mapnr)
            .finish_non_exhaustive()
    }
}

impl KdumpFile<FileSource> {
    /// Open a file (plain or flattened) by path, read with `pread`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ReadError> {
        let path = path.as_ref();
        let wrap = |e: ReadError| ReadError::File {
            path: path.to_owned(),
            source: Box::new(e),
        };
        let src = FileSource::open(path).map_err(|e| wrap(io_err("file", 0)(e)))?;
        KdumpFile::from_source(src).map_err(wrap)
    }
}

impl<S: ReadAt> KdumpFile<S> {
    /// Parse a kdump-compressed file (or a flattened stream of one) from any byte source.
    pub fn from_source(src: S) -> Result<Self, ReadError> {
        let mut head = [0u8; 32];
        let n = src.len().min(32) as usize;
        src.read_exact_at(0, &mut head[..n])
            .map_err(io_err("header", 0))?;
        let src = if is_flattened(&head[..n]) {
            Source::Flat(FlatSource::new(src)?)
        } else {
            Source::Plain(src)
        };
        Self::parse(src)
    }

    fn parse(src: Source<S>) -> Result<Self, ReadError> {
        let mut hb = [0u8; DiskDumpHeader::SIZE];
        src.read_exact_at(0, &mut hb)
            .map_err(io_err("disk_dump_header", 0))?;
        let header = DiskDumpHeader::parse(&hb).ok_or(ReadError::BadSignature([0; 8]))?;
        let kdump = header.signature == KDUMP_SIGNATURE;
        if !kdump && header.signature != DISKDUMP_SIGNATURE {
            return Err(ReadError::BadSignature(header.signature));
        }
        let bad = |field, value: i128, why| ReadError::BadHeader { field, value, why };
        if !(1..=6).contains(&header.header_version) && kdump {
            return Err(bad(
                "header_version",
                header.header_version.into(),
                "expected 1 to 6",
            ));
        }
        let bs = header.block_size;
        if bs < 512 || bs as u64 > MAX_BLOCK_SIZE || !(bs as u32).is_power_of_two() {
            return Err(bad(
                "block_size",
                bs.into(),
                "expected a power of two from 512 to 1 MiB",
            ));
        }
        let block_size = bs as u64;
        if header.sub_hdr_size < 0 || (kdump && header.sub_hdr_size == 0) {
            return Err(bad(
                "sub_hdr_size",
                header.sub_hdr_size.into(),
                "expected at least one block",
            ));
        }
        if header.bitmap_blocks % 2 != 0 {
            return Err(bad(
                "bitmap_blocks",
                header.bitmap_blocks.into(),
                "expected an even number (two bitmaps)",
            ));
        }
        let sub = if kdump {
            let mut sb = [0u8; KdumpSubHeader::SIZE];
            src.read_exact_at(block_size, &mut sb)
                .map_err(io_err("kdump_sub_header", block_size))?;
            KdumpSubHeader::parse_for_version(&sb, header.header_version)
        } else {
            None
        };
        let mut max_mapnr = header.max_mapnr as u64;
        if let Some(s) = &sub {
            if header.header_version >= 6 && s.max_mapnr_64 != 0 {
                max_mapnr = s.max_mapnr_64;
            }
        }
        let bitmap1_off = (1 + header.sub_hdr_size as u64) * block_size;
        let bitmap_len = (header.bitmap_blocks as u64 / 2) * block_size;
        let desc_off = bitmap1_off + 2 * bitmap_len;
        if desc_off > src.len() {
            return Err(bad(
                "bitmap_blocks",
                header.bitmap_blocks.into(),
                "bitmaps run past the end of the file",
            ));
        }
        // Frames the bitmaps can describe.
        max_mapnr = max_mapnr.min(bitmap_len.saturating_mul(8));
        let (mut start_pfn, mut end_pfn) = (0, max_mapnr);
        if let Some(s) = sub.as_ref().filter(|s| s.split != 0) {
            let (a, b) = if header.header_version >= 6 {
                (s.start_pfn_64, s.end_pfn_64)
            } else {
                (s.start_pfn, s.end_pfn)
            };
            if a > b || a > max_mapnr {
                return Err(bad(
                    "start_pfn",
                    a.into(),
                    "split range is inverted or too large",
                ));
            }
            start_pfn = a;
            end_pfn = b.min(max_mapnr);
        }
        let mut f = KdumpFile {
            src,
            header,
            sub,
            block_size,
            max_mapnr,
            bitmap1_off,
            bitmap_len,
            desc_off,
            start_pfn,
            end_pfn,
            rank: Vec::new(),
            rank_start: 0,
            dumped: 0,
            scratch: Mutex::new(Scratch {
                dec: PageDecompressor::new(),
                data: Vec::new(),
                desc_base: u64::MAX,
                descs: Vec::new(),
                bm_chunk: u64::MAX,
                bm: Vec::new(),
            }),
        };
        f.build_rank()?;
        f.rank_start = f.rank_of(f.start_pfn)?;
        f.dumped = f.rank_of(f.end_pfn)? - f.rank_start;
        Ok(f)
    }

    /// Count set bits of bitmap 2, one entry per RANK_CHUNK bytes.
    fn build_rank(&mut self) -> Result<(), ReadError> {
        let chunks = self.bitmap_len.div_ceil(RANK_CHUNK);
        let mut rank = Vec::with_capacity(chunks as usize + 1);
        let base = self.bitmap1_off + self.bitmap_len;
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        let mut off = 0u64;
        while off < self.bitmap_len {
            let n = (self.bitmap_len - off).min(buf.len() as u64) as usize;
            self.src
                .read_exact_at(base + off, &mut buf[..n])
                .map_err(io_err("bitmap 2", base + off))?;
            for c in buf[..n].chunks(RANK_CHUNK as usize) {
                rank.push(total);
                total += c.iter().map(|b| b.count_ones() as u64).sum::<u64>();
            }
            off += n as u64;
        }
        rank.push(total);
        self.rank = rank;
        Ok(())
    }

    /// Number of set bits of bitmap 2 before `pfn` (pfn ≤ max_mapnr).
    fn rank_of(&self, pfn: u64) -> Result<u64, ReadError> {
        let byte = pfn / 8;
        let chunk = byte / RANK_CHUNK;
        let mut r = *self.rank.get(chunk as usize).unwrap_or(&0);
        let chunk_start = chunk * RANK_CHUNK;
        let within = (byte - chunk_start) as usize;
        let rem_bits = (pfn % 8) as u32;
        if within == 0 && rem_bits == 0 {
            return Ok(r);
        }
        let mut sc = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let bm = self.bitmap_chunk(&mut sc, chunk)?;
        r += bm[..within.min(bm.len())]
            .iter()
            .map(|b| b.count_ones() as u64)
            .sum::<u64>();
        if rem_bits > 0 {
            if let Some(b) = bm.get(within) {
                r += (b & ((1u8 << rem_bits) - 1)).count_ones() as u64;
            }
        }
        Ok(r)
    }

    fn bitmap_chunk<'a>(&self, sc: &'a mut Scratch, chunk: u64) -> Result<&'a [u8], ReadError> {
        if sc.bm_chunk != chunk {
            let start = chunk * RANK_CHUNK;
            let n = (self.bitmap_len.saturating_sub(start)).min(RANK_CHUNK) as usize;
            sc.bm.resize(n, 0);
            let off = self.bitmap1_off + self.bitmap_len + start;
            sc.bm_chunk = u64::MAX;
            self.src
                .read_exact_at(off, &mut sc.bm)
                .map_err(io_err("bitmap 2", off))?;
            sc.bm_chunk = chunk;
        }
        Ok(&sc.bm)
    }

    /// The main header.
    pub fn header(&self) -> &DiskDumpHeader {
        &self.header
    }
    /// The sub-header (absent for DISKDUMP files); fields the version lacks are zero.
    pub fn sub_header(&self) -> Option<&KdumpSubHeader> {
        self.sub.as_ref()
    }
    /// Page (block) size in bytes.
    pub fn page_size(&self) -> usize {
        self.block_size as usize
    }
    /// Number of page frames described (`max_mapnr`, 64-bit form when present).
    pub fn max_mapnr(&self) -> u64 {
        self.max_mapnr
    }
    /// Page frames held by this file: `start..end` (a sub-range in a split file).
    pub fn pfn_range(&self) -> std::ops::Range<u64> {
        self.start_pfn..self.end_pfn
    }
    /// Number of pages with a descriptor in this file.
    pub fn dumped_pages(&self) -> u64 {
        self.dumped
    }
    /// True if the INCOMPLETE status bit is set.
    pub fn is_incomplete(&self) -> bool {
        self.header.status & DUMP_DH_COMPRESSED_INCOMPLETE != 0
    }
    /// True if the file was read from a flattened stream.
    pub fn is_flattened(&self) -> bool {
        matches!(self.src, Source::Flat(_))
    }
    /// The underlying byte source (the reassembled view for a flattened stream).
    pub fn source(&self) -> &Source<S> {
        &self.src
    }
    /// File offset of bitmap 1 and the length of one bitmap in bytes.
    pub fn bitmap_layout(&self) -> (u64, u64) {
        (self.bitmap1_off, self.bitmap_len)
    }
    /// File offset of the page descriptor array.
    pub fn descriptors_offset(&self) -> u64 {
        self.desc_off
    }

    fn blob(&self, what: &'static str, off: u64, size: u64) -> Result<Option<Vec<u8>>, ReadError> {
        if size == 0 {
            return Ok(None);
        }
        if size > MAX_BLOB || off.checked_add(size).is_none_or(|e| e > self.src.len()) {
            return Err(ReadError::BadHeader {
                field: what,
                value: size.into(),
                why: "blob is too large or runs past the end of the file",
            });
        }
        let mut v = vec![0u8; size as usize];
        self.src
            .read_exact_at(off, &mut v)
            .map_err(io_err(what, off))?;
        Ok(Some(v))
    }

    /// The VMCOREINFO text, if the file has one (header version 3+).
    pub fn vmcoreinfo(&self) -> Result<Option<Vec<u8>>, ReadError> {
        match &self.sub {
            Some(s) => self.blob("size_vmcoreinfo", s.offset_vmcoreinfo, s.size_vmcoreinfo),
            None => Ok(None),
        }
    }
    /// The ELF note blob of the crashed system (header version 4+).
    pub fn notes(&self) -> Result<Option<Vec<u8>>, ReadError> {
        match &self.sub {
            Some(s) => self.blob("size_note", s.offset_note, s.size_note),
            None => Ok(None),
        }
    }
    /// The erase information text (header version 5+).
    pub fn eraseinfo(&self) -> Result<Option<Vec<u8>>, ReadError> {
        match &self.sub {
            Some(s) => self.blob("size_eraseinfo", s.offset_eraseinfo, s.size_eraseinfo),
            None => Ok(None),
        }
    }

    /// Read `len` bytes of a bitmap starting at byte `byte_off` into `buf` (bits past
    /// `max_mapnr` are whatever the file holds).
    pub fn read_bitmap_bytes(
        &self,
        which: Bitmap,
        byte_off: u64,
        buf: &mut [u8],
    ) -> Result<(), ReadError> {
        let end = byte_off.checked_add(buf.len() as u64);
        if end.is_none_or(|e| e > self.bitmap_len) {
            return Err(ReadError::Io {
                what: "bitmap",
                offset: byte_off,
                source: crate::source::eof(),
            });
        }
        let base = match which {
            Bitmap::Valid => self.bitmap1_off,
            Bitmap::Dumped => self.bitmap1_off + self.bitmap_len,
        };
        self.src
            .read_exact_at(base + byte_off, buf)
            .map_err(io_err("bitmap", base + byte_off))
    }

    /// Whether `pfn`'s bit is set in a bitmap (false beyond `max_mapnr`).
    pub fn bit(&self, which: Bitmap, pfn: u64) -> Result<bool, ReadError> {
        if pfn >= self.max_mapnr {
            return Ok(false);
        }
        let mut b = [0u8];
        self.read_bitmap_bytes(which, pfn / 8, &mut b)?;
        Ok(b[0] >> (pfn % 8) & 1 == 1)
    }

    /// Iterate over the pfns whose bit is set in a bitmap, in increasing order, limited to
    /// this file's pfn range.
    pub fn iter_bitmap(&self, which: Bitmap) -> BitmapIter<'_, S> {
        BitmapIter {
            file: self,
            which,
            next: self.start_pfn,
            end: self.end_pfn,
            buf: Vec::new(),
            buf_pfn: 0,
            failed: false,
        }
    }

    /// The page descriptor of a dumped page: `Ok(None)` if the page has no descriptor in
    /// this file (excluded, hole, other split file), `Err` if the descriptor cannot be read
    /// (past the end of an INCOMPLETE file gives `Ok(Some(zeroed))`).
    pub fn page_desc(&self, pfn: u64) -> Result<Option<PageDesc>, ReadError> {
        if pfn < self.start_pfn || pfn >= self.end_pfn || !self.bit(Bitmap::Dumped, pfn)? {
            return Ok(None);
        }
        let idx = self.rank_of(pfn)? - self.rank_start;
        let mut sc = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        const PER: u64 = 170;
        let base = idx / PER * PER;
        if sc.desc_base != base {
            sc.desc_base = u64::MAX;
            let n = (self.dumped - base).min(PER) as usize;
            let off = self.desc_off + base * PageDesc::SIZE as u64;
            sc.descs.resize(n * PageDesc::SIZE, 0);
            let avail = self
                .src
                .len()
                .saturating_sub(off)
                .min(sc.descs.len() as u64) as usize;
            if avail < sc.descs.len() && !self.is_incomplete() {
                return Err(ReadError::BadPage {
                    pfn,
                    why: format!(
                        "page descriptor array truncated at {:#x}",
                        off + avail as u64
                    ),
                });
            }
            let (have, rest) = sc.descs.split_at_mut(avail);
            rest.fill(0);
            self.src
                .read_exact_at(off, have)
                .map_err(io_err("page descriptors", off))?;
            sc.desc_base = base;
        }
        let at = ((idx - base) as usize) * PageDesc::SIZE;
        Ok(sc.descs.get(at..).and_then(PageDesc::parse))
    }

    /// Read page frame `pfn` into `buf` (exactly one page long). Excluded pages, holes and
    /// pages lost to an INCOMPLETE dump are reported as such, never as zeros.
    pub fn read_page(&self, pfn: u64, buf: &mut [u8]) -> Result<PageState, ReadError> {
        if buf.len() as u64 != self.block_size {
            return Err(ReadError::BufferSize {
                got: buf.len(),
                page_size: self.block_size as usize,
            });
        }
        if pfn >= self.max_mapnr {
            return Ok(PageState::NotInDump);
        }
        let Some(pd) = self.page_desc(pfn)? else {
            if pfn >= self.start_pfn && pfn < self.end_pfn && self.bit(Bitmap::Valid, pfn)? {
                return Ok(PageState::Excluded);
            }
            return Ok(PageState::NotInDump);
        };
        if pd.offset == 0 && pd.size == 0 && self.is_incomplete() {
            return Ok(PageState::Lost);
        }
        if pd.offset <= 0 || pd.size == 0 || pd.size as u64 > self.block_size.max(1 << 16) * 2 {
            return Err(ReadError::BadPage {
                pfn,
                why: format!("bad descriptor: offset {:#x} size {}", pd.offset, pd.size),
            });
        }
        let off = pd.offset as u64;
        let end = off + pd.size as u64;
        if end > self.src.len() {
            if self.is_incomplete() {
                return Ok(PageState::Lost);
            }
            return Err(ReadError::BadPage {
                pfn,
                why: format!("data at {off:#x}+{} runs past the end of the file", pd.size),
            });
        }
        let mut sc = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let sc = &mut *sc;
        sc.data.resize(pd.size as usize, 0);
        self.src
            .read_exact_at(off, &mut sc.data)
            .map_err(io_err("page data", off))?;
        sc.dec
            .decompress(pd.flags, &sc.data, buf)
            .map_err(|source| ReadError::Codec { pfn, source })?;
        Ok(PageState::Data)
    }
}

/// Iterator over set bits of a bitmap, reading it 64 KiB at a time. Yields `Err` once if a
/// read fails, then ends.
pub struct BitmapIter<'a, S> {
    file: &'a KdumpFile<S>,
    which: Bitmap,
    next: u64,
    end: u64,
    buf: Vec<u8>,
    buf_pfn: u64,
    failed: bool,
}

impl<S: ReadAt> Iterator for BitmapIter<'_, S> {
    type Item = Result<u64, ReadError>;
    fn next(&mut self) -> Option<Self::Item> {
        const CHUNK: u64 = 1 << 16;
        while self.next < self.end && !self.failed {
            let byte = self.next / 8;
            let chunk_byte = byte / CHUNK * CHUNK;
            if self.buf.is_empty() || self.buf_pfn != chunk_byte * 8 {
                let n = (self.file.bitmap_len - chunk_byte).min(CHUNK) as usize;
                self.buf.resize(n, 0);
                if let Err(e) = self
                    .file
                    .read_bitmap_bytes(self.which, chunk_byte, &mut self.buf)
                {
                    self.failed = true;
                    return Some(Err(e));
                }
                self.buf_pfn = chunk_byte * 8;
            }
            let i = (byte - chunk_byte) as usize;
            let b = self.buf.get(i).copied().unwrap_or(0) >> (self.next % 8);
            if b == 0 {
                // Skip to the next byte.
                self.next = (byte + 1) * 8;
                continue;
            }
            let pfn = self.next + b.trailing_zeros() as u64;
            self.next = pfn + 1;
            if pfn < self.end {
                return Some(Ok(pfn));
            }
        }
        None
    }
}

/// A split dump (`makedumpfile --split`): several files, each holding a pfn range.
pub struct SplitSet<S> {
    files: Vec<KdumpFile<S>>,
}

impl<S> std::fmt::Debug for SplitSet<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SplitSet")
            .field("files", &self.files.len())
            .finish()
    }
}

impl<S: ReadAt> SplitSet<S> {
    /// Combine split files (any order); they must agree on page size and `max_mapnr` and
    /// their ranges must not overlap.
    pub fn new(mut files: Vec<KdumpFile<S>>) -> Result<Self, ReadError> {
        let first = files
            .first()
            .ok_or_else(|| ReadError::Split("no files".into()))?;
        let (ps, mm) = (first.page_size(), first.max_mapnr());
        if files
            .iter()
            .any(|f| f.page_size() != ps || f.max_mapnr() != mm)
        {
            return Err(ReadError::Split(
                "files differ in page size or max_mapnr".into(),
            ));
        }
        files.sort_by_key(|f| f.start_pfn);
        for w in files.windows(2) {
            if w[0].end_pfn > w[1].start_pfn {
                return Err(ReadError::Split("pfn ranges overlap".into()));
            }
        }
        Ok(SplitSet { files })
    }
    /// The files, ordered by start pfn.
    pub fn files(&self) -> &[KdumpFile<S>] {
        &self.files
    }
    /// Read a page from whichever file holds it.
    pub fn read_page(&self, pfn: u64, buf: &mut [u8]) -> Result<PageState, ReadError> {
        let i = self.files.partition_point(|f| f.end_pfn <= pfn);
        match self.files.get(i) {
            Some(f) if f.pfn_range().contains(&pfn) => f.read_page(pfn, buf),
            _ => match self.files.first() {
                Some(f) if pfn < f.max_mapnr() && f.bit(Bitmap::Valid, pfn)? => {
                    Ok(if f.bit(Bitmap::Dumped, pfn)? {
                        PageState::NotInDump
                    } else {
                        PageState::Excluded
                    })
                }
                _ => Ok(PageState::NotInDump),
            },
        }
    }
}
