//! kdump-compressed input (makedumpfile's KDUMP/DISKDUMP files, flattened streams, split
//! sets) through the `kdump-compressed` crate's reader, as a [`PhysMemory`].

use crate::error::{Error, Result};
use crate::io::{FileData, ReadAt};
use crate::phys::{PageState, PhysMemory};
use kdump_compressed::read::{Bitmap, KdumpFile, PageState as KState, ReadError, SplitSet};
use std::sync::Mutex;

impl kdump_compressed::source::ReadAt for FileData {
    fn len(&self) -> u64 {
        ReadAt::len(self)
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        ReadAt::read_exact_at(self, offset, buf).map_err(|e| match e {
            Error::Read { source, .. } => source,
            other => std::io::Error::other(other.to_string()),
        })
    }
}

/// Whether `head` (the first bytes of a file) starts a kdump-compressed file or a
/// flattened stream.
pub fn is_kdump_compressed(head: &[u8]) -> bool {
    head.starts_with(b"KDUMP   ")
        || head.starts_with(b"DISKDUMP")
        || kdump_compressed::flattened::is_flattened(head)
}

fn cerr(e: ReadError) -> Error {
    Error::Compressed(e.to_string())
}

enum Files {
    One(Box<KdumpFile<FileData>>),
    Split(SplitSet<FileData>),
}

const CACHE_PAGES: usize = 8;
/// Bitmap bytes read at once for `page_state` (32768 page frames).
const BITMAP_CHUNK: u64 = 4096;

struct BitmapCache {
    file: usize,
    first_byte: u64,
    valid: Vec<u8>,
    dumped: Vec<u8>,
}

struct PageCache {
    pfns: [u64; CACHE_PAGES],
    data: Vec<u8>,
    next: usize,
}

/// A kdump-compressed dump (one file or a split set) read page by page; decompressed pages
/// are kept in a small cache so that many small reads in one page decompress it once.
pub struct KdumpDump {
    files: Files,
    page_size: u64,
    max_pfn: u64,
    cache: Mutex<PageCache>,
    bitmaps: Mutex<BitmapCache>,
}

impl std::fmt::Debug for KdumpDump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KdumpDump")
            .field("page_size", &self.page_size)
            .field("max_pfn", &self.max_pfn)
            .finish_non_exhaustive()
    }
}

impl KdumpDump {
    /// Parse one kdump-compressed file (plain or flattened).
    pub fn new(data: FileData) -> Result<Self> {
        let f = KdumpFile::from_source(data).map_err(cerr)?;
        Ok(Self::with(Files::One(Box::new(f))))
    }

    /// Combine the files of a `makedumpfile --split` set.
    pub fn split(parts: Vec<FileData>) -> Result<Self> {
        let files = parts
            .into_iter()
            .map(KdumpFile::from_source)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(cerr)?;
        Ok(Self::with(Files::Split(
            SplitSet::new(files).map_err(cerr)?,
        )))
    }

    fn with(files: Files) -> Self {
        let first = match &files {
            Files::One(f) => f,
            Files::Split(s) => &s.files()[0],
        };
        let page_size = first.page_size() as u64;
        let max_pfn = first.max_mapnr();
        Self {
            files,
            page_size,
            max_pfn,
            cache: Mutex::new(PageCache {
                pfns: [u64::MAX; CACHE_PAGES],
                data: vec![0u8; CACHE_PAGES * page_size as usize],
                next: 0,
            }),
            bitmaps: Mutex::new(BitmapCache {
                file: usize::MAX,
                first_byte: 0,
                valid: Vec::new(),
                dumped: Vec::new(),
            }),
        }
    }

    /// The first (or only) file.
    pub fn file(&self) -> &KdumpFile<FileData> {
        match &self.files {
            Files::One(f) => f,
            Files::Split(s) => &s.files()[0],
        }
    }

    /// All files (one unless the dump is a split set).
    pub fn files(&self) -> &[KdumpFile<FileData>] {
        match &self.files {
            Files::One(f) => std::slice::from_ref(&**f),
            Files::Split(s) => s.files(),
        }
    }

    /// The dump's VMCOREINFO text, if any.
    pub fn vmcoreinfo(&self) -> Result<Option<Vec<u8>>> {
        self.file().vmcoreinfo().map_err(cerr)
    }

    /// The crashed system's ELF note blob, if any.
    pub fn notes(&self) -> Result<Option<Vec<u8>>> {
        self.file().notes().map_err(cerr)
    }

    fn holder(&self, pfn: u64) -> Option<(usize, &KdumpFile<FileData>)> {
        self.files()
            .iter()
            .enumerate()
            .find(|(_, f)| f.pfn_range().contains(&pfn))
    }

    /// (bitmap 1, bitmap 2) bits of `pfn` in file `i`, through a cached chunk of both
    /// bitmaps so that scanning page states reads each bitmap block once.
    fn bits(&self, i: usize, f: &KdumpFile<FileData>, pfn: u64) -> Option<(bool, bool)> {
        let byte = pfn / 8;
        let first = byte / BITMAP_CHUNK * BITMAP_CHUNK;
        let mut c = self.bitmaps.lock().unwrap_or_else(|e| e.into_inner());
        if c.file != i || c.first_byte != first || c.valid.is_empty() {
            let (_, bitmap_len) = f.bitmap_layout();
            let n = bitmap_len.saturating_sub(first).min(BITMAP_CHUNK) as usize;
            if n == 0 {
                return None;
            }
            c.file = usize::MAX;
            c.valid.resize(n, 0);
            c.dumped.resize(n, 0);
            let c = &mut *c;
            f.read_bitmap_bytes(Bitmap::Valid, first, &mut c.valid)
                .ok()?;
            f.read_bitmap_bytes(Bitmap::Dumped, first, &mut c.dumped)
                .ok()?;
            c.file = i;
            c.first_byte = first;
        }
        let at = (byte - first) as usize;
        let bit = 1u8 << (pfn % 8);
        Some((c.valid.get(at)? & bit != 0, c.dumped.get(at)? & bit != 0))
    }

    /// Read page `pfn` (uncached) into `buf` (one page long).
    fn read_page_raw(&self, pfn: u64, buf: &mut [u8]) -> Result<KState> {
        match &self.files {
            Files::One(f) => f.read_page(pfn, buf).map_err(cerr),
            Files::Split(s) => s.read_page(pfn, buf).map_err(cerr),
        }
    }

    /// Call `f` with the contents of page `pfn`, through the cache.
    fn with_page<T>(&self, pfn: u64, f: impl FnOnce(&[u8]) -> T) -> Result<T> {
        let ps = self.page_size as usize;
        let mut c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = c.pfns.iter().position(|&p| p == pfn) {
            return Ok(f(&c.data[i * ps..(i + 1) * ps]));
        }
        let slot = c.next;
        c.next = (c.next + 1) % CACHE_PAGES;
        c.pfns[slot] = u64::MAX;
        let paddr = pfn.saturating_mul(self.page_size);
        let state = {
            let buf = &mut c.data[slot * ps..(slot + 1) * ps];
            self.read_page_raw(pfn, buf)?
        };
        match state {
            KState::Data => {
                c.pfns[slot] = pfn;
                Ok(f(&c.data[slot * ps..(slot + 1) * ps]))
            }
            KState::Excluded => Err(Error::Excluded(paddr)),
            KState::Lost => Err(Error::Lost(paddr)),
            _ => Err(Error::Hole(paddr)),
        }
    }
}

impl PhysMemory for KdumpDump {
    fn page_size(&self) -> u64 {
        self.page_size
    }

    fn max_pfn(&self) -> u64 {
        self.max_pfn
    }

    fn page_state(&self, pfn: u64) -> PageState {
        if pfn >= self.max_pfn {
            return PageState::Hole;
        }
        let Some((i, f)) = self.holder(pfn) else {
            return PageState::Hole;
        };
        match self.bits(i, f, pfn) {
            Some((_, true)) => PageState::Present,
            Some((true, false)) => PageState::Excluded,
            _ => PageState::Hole,
        }
    }

    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        let ps = self.page_size;
        let mut done = 0usize;
        while done < buf.len() {
            let a = paddr
                .checked_add(done as u64)
                .ok_or(Error::Hole(u64::MAX))?;
            let at = (a % ps) as usize;
            let n = (ps as usize - at).min(buf.len() - done);
            let dst = &mut buf[done..done + n];
            self.with_page(a / ps, |page| dst.copy_from_slice(&page[at..at + n]))
                .map_err(|e| match e {
                    // Name the first byte that could not be read.
                    Error::Hole(_) => Error::Hole(a),
                    Error::Excluded(_) => Error::Excluded(a),
                    Error::Lost(_) => Error::Lost(a),
                    other => other,
                })?;
            done += n;
        }
        Ok(())
    }

    fn read_page(&self, pfn: u64, buf: &mut [u8]) -> Result<()> {
        let ps = self.page_size as usize;
        if buf.len() < ps {
            return self.read_phys(pfn.saturating_mul(self.page_size), buf);
        }
        // Whole pages bypass the cache (scans would only evict useful entries).
        let paddr = pfn.saturating_mul(self.page_size);
        match self.read_page_raw(pfn, &mut buf[..ps])? {
            KState::Data => Ok(()),
            KState::Excluded => Err(Error::Excluded(paddr)),
            KState::Lost => Err(Error::Lost(paddr)),
            _ => Err(Error::Hole(paddr)),
        }
    }
}
