//! The crate's only `unsafe`: mapping a dump file read-only.
#![allow(unsafe_code)]

use crate::error::{Error, Result};
use crate::io::{past_end, ReadAt};
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// How far ahead a sequential reader's pages are mapped in one `madvise` call.
const POPULATE_WINDOW: u64 = 4 << 20;

/// A dump file mapped read-only into memory.
#[derive(Debug)]
pub struct MmapFile {
    map: memmap2::Mmap,
    /// End of the last read, to recognise sequential access.
    last_end: AtomicU64,
    /// End of the range already populated for the sequential reader.
    populated: AtomicU64,
}

impl MmapFile {
    /// Map `path` read-only. Empty files cannot be mapped and give an error.
    pub fn open(path: &Path) -> Result<Self> {
        let err = |source| Error::Open {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(err)?;
        let len = file.metadata().map_err(err)?.len();
        if len == 0 {
            return Err(err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "cannot map an empty file",
            )));
        }
        // SAFETY: the mapping is read-only (PROT_READ, MAP_PRIVATE semantics of Mmap::map).
        // Dumps are files nobody writes while they are read (a saved vmcore, /proc/vmcore,
        // a fixture); if another process truncated the file anyway, touching the lost part
        // raises SIGBUS, which is the documented limit of reading through a map. Callers
        // that cannot accept that use `Access::Pread`.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(err)?;
        // Sequential access is the common pattern (whole-dump scans); the hint only
        // affects read-ahead, so its failure is harmless and ignored.
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(Self {
            map,
            last_end: AtomicU64::new(u64::MAX),
            populated: AtomicU64::new(0),
        })
    }

    /// For sequential readers, map the next window of the file with one
    /// `MADV_POPULATE_READ` instead of taking a page fault every 16 pages. A hint only:
    /// kernels before 5.14 refuse it and nothing changes.
    fn sequential_hint(&self, offset: u64, len: u64) {
        let end = offset.saturating_add(len);
        let last = self.last_end.swap(end, Relaxed);
        let sequential = offset >= last && offset - last <= 64 << 10;
        if !sequential || end <= self.populated.load(Relaxed) {
            return;
        }
        let start = offset & !4095;
        let stop = start.saturating_add(POPULATE_WINDOW).min(self.len());
        if stop > start {
            let _ = self.map.advise_range(
                memmap2::Advice::PopulateRead,
                start as usize,
                (stop - start) as usize,
            );
            self.populated.store(stop, Relaxed);
        }
    }

    /// The mapped bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.map
    }
}

impl ReadAt for MmapFile {
    fn len(&self) -> u64 {
        self.map.len() as u64
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.sequential_hint(offset, buf.len() as u64);
        let src = self
            .slice(offset, buf.len())
            .ok_or_else(|| past_end(offset, buf.len(), self.len()))?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn slice(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(len)?;
        self.map.get(start..end)
    }
}
