//! Byte sources a dump is read from: a file through `pread`, a memory map, or bytes in memory.

use crate::error::{Error, Result};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Random-access bytes: what every dump format reads its file through.
///
/// Implemented by [`PreadFile`] (positioned reads, works on pipes-free files of any size,
/// including `/proc/vmcore`), [`MmapFile`](crate::MmapFile) (a read-only memory map) and
/// [`Bytes`] (an in-memory buffer, for tests and fuzzing).
pub trait ReadAt: Send + Sync {
    /// Size of the source in bytes.
    fn len(&self) -> u64;

    /// Whether the source is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fill `buf` from `offset`; running past the end is an error.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()>;

    /// The bytes `offset..offset + len` without copying, when the source is in memory.
    fn slice(&self, _offset: u64, _len: usize) -> Option<&[u8]> {
        None
    }
}

pub(crate) fn past_end(offset: u64, len: usize, file_len: u64) -> Error {
    Error::Read {
        offset,
        len: len as u64,
        source: std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("the source is only {file_len:#x} bytes long"),
        ),
    }
}

/// A file read with positioned reads (`pread(2)`).
///
/// Holes of a sparse file (a vmcore copied with `cp --sparse`, a synthetic core) read as
/// zeros without a read: the file's layout is asked with `lseek(SEEK_DATA / SEEK_HOLE)` and
/// the last extent found is remembered, so a file that is all data (or `/proc/vmcore`, which
/// reports itself as one data extent) costs two `lseek` calls in all.
#[derive(Debug)]
pub struct PreadFile {
    file: File,
    len: u64,
    /// The last extent found: (start, end, is a hole); `None` once the file system has no
    /// SEEK_DATA (every read is then a plain `pread`).
    extent: std::sync::Mutex<Option<(u64, u64, bool)>>,
}

impl PreadFile {
    /// Open `path` read-only.
    pub fn open(path: &Path) -> Result<Self> {
        let err = |source| Error::Open {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(err)?;
        Self::from_file(file).map_err(err)
    }

    /// Wrap an already open file.
    pub fn from_file(file: File) -> std::io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(Self {
            file,
            len,
            extent: std::sync::Mutex::new(Some((0, 0, false))),
        })
    }

    /// Whether `offset..end` lies in a hole of the file (reads as zeros).
    fn in_hole(&self, offset: u64, end: u64) -> bool {
        let Ok(mut cached) = self.extent.lock() else {
            return false;
        };
        match *cached {
            None => return false,
            Some((s, e, hole)) if s <= offset && end <= e => return hole,
            _ => {}
        }
        use rustix::fs::{seek, SeekFrom};
        // The extent at `offset`: a hole up to the next data, or data up to the next hole.
        let found = match seek(&self.file, SeekFrom::Data(offset)) {
            Ok(d) if d > offset => Some((offset, d, true)),
            Ok(_) => seek(&self.file, SeekFrom::Hole(offset))
                .ok()
                .filter(|&h| h > offset)
                .map(|h| (offset, h, false)),
            // No data at or after `offset`: a hole up to the end.
            Err(e) if e == rustix::io::Errno::NXIO => Some((offset, self.len, true)),
            // No SEEK_DATA here (EINVAL): read everything.
            Err(_) => None,
        };
        *cached = found;
        matches!(found, Some((_, e, true)) if end <= e)
    }
}

impl ReadAt for PreadFile {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        match offset.checked_add(buf.len() as u64) {
            Some(end) if end <= self.len => {}
            _ => return Err(past_end(offset, buf.len(), self.len)),
        }
        if buf.len() >= 4096 && self.in_hole(offset, offset + buf.len() as u64) {
            buf.fill(0);
            return Ok(());
        }
        self.file
            .read_exact_at(buf, offset)
            .map_err(|source| Error::Read {
                offset,
                len: buf.len() as u64,
                source,
            })
    }
}

/// Bytes held in memory (a `Vec<u8>`, a `&'static [u8]`, ...).
#[derive(Debug, Clone)]
pub struct Bytes<T>(pub T);

impl<T: AsRef<[u8]> + Send + Sync> ReadAt for Bytes<T> {
    fn len(&self) -> u64 {
        self.0.as_ref().len() as u64
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let src = self
            .slice(offset, buf.len())
            .ok_or_else(|| past_end(offset, buf.len(), self.len()))?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn slice(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let data = self.0.as_ref();
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(len)?;
        data.get(start..end)
    }
}

/// How to read a dump file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    /// Memory-map the file (fastest; falls back to `pread` if mapping fails).
    #[default]
    Mmap,
    /// Positioned reads, no mapping.
    Pread,
}

/// A dump file opened either way: what [`Vmcore::open`](crate::Vmcore::open) uses.
#[derive(Debug)]
pub enum FileData {
    /// Memory-mapped.
    Mmap(crate::mmap::MmapFile),
    /// Read with `pread`.
    Pread(PreadFile),
    /// In memory.
    Memory(Bytes<Vec<u8>>),
}

impl FileData {
    /// Open `path` with the requested access; `Mmap` falls back to `pread` when the file
    /// cannot be mapped (empty files, special files without mmap support).
    pub fn open(path: &Path, access: Access) -> Result<Self> {
        match access {
            Access::Pread => Ok(Self::Pread(PreadFile::open(path)?)),
            Access::Mmap => match crate::mmap::MmapFile::open(path) {
                Ok(m) => Ok(Self::Mmap(m)),
                Err(_) => Ok(Self::Pread(PreadFile::open(path)?)),
            },
        }
    }
}

impl ReadAt for FileData {
    fn len(&self) -> u64 {
        match self {
            Self::Mmap(m) => m.len(),
            Self::Pread(p) => p.len(),
            Self::Memory(b) => b.len(),
        }
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        match self {
            Self::Mmap(m) => m.read_exact_at(offset, buf),
            Self::Pread(p) => p.read_exact_at(offset, buf),
            Self::Memory(b) => b.read_exact_at(offset, buf),
        }
    }

    fn slice(&self, offset: u64, len: usize) -> Option<&[u8]> {
        match self {
            Self::Mmap(m) => m.slice(offset, len),
            Self::Pread(_) => None,
            Self::Memory(b) => b.slice(offset, len),
        }
    }
}

impl<R: ReadAt + ?Sized> ReadAt for &R {
    fn len(&self) -> u64 {
        (**self).len()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read_exact_at(offset, buf)
    }
    fn slice(&self, offset: u64, len: usize) -> Option<&[u8]> {
        (**self).slice(offset, len)
    }
}

impl<R: ReadAt + ?Sized> ReadAt for Box<R> {
    fn len(&self) -> u64 {
        (**self).len()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read_exact_at(offset, buf)
    }
    fn slice(&self, offset: u64, len: usize) -> Option<&[u8]> {
        (**self).slice(offset, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    /// A sparse file reads the same through the hole shortcut as byte by byte: holes,
    /// data, reads across a boundary, in any order, and past-the-end reads still fail.
    #[test]
    fn sparse_file_reads_like_its_bytes() {
        const MIB: u64 = 1 << 20;
        let path = std::env::temp_dir().join(format!("vmcore-sparse-{}", std::process::id()));
        let mut f = File::create(&path).unwrap();
        f.set_len(16 * MIB).unwrap();
        // Data at 4 MiB (64 KiB of it) and in the last page; the rest are holes (on file
        // systems with holes; elsewhere every read is a plain pread and this still holds).
        let data: Vec<u8> = (0..64 * 1024u32).map(|i| (i % 251) as u8 + 1).collect();
        f.seek(SeekFrom::Start(4 * MIB)).unwrap();
        f.write_all(&data).unwrap();
        f.seek(SeekFrom::Start(16 * MIB - 4096)).unwrap();
        f.write_all(&[0xa5; 4096]).unwrap();
        f.sync_all().unwrap();
        drop(f);
        let expect = std::fs::read(&path).unwrap();
        let p = PreadFile::open(&path).unwrap();
        let sparse = {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(&path).unwrap().blocks() * 512 < 16 * MIB
        };
        if sparse {
            let mut buf = vec![1u8; 8192];
            p.read_exact_at(MIB, &mut buf).unwrap();
            assert!(buf.iter().all(|&b| b == 0));
            // The hole was found (up to the data at 4 MiB), so that read was no read.
            assert_eq!(*p.extent.lock().unwrap(), Some((MIB, 4 * MIB, true)));
        }
        let reads: [(u64, usize); 8] = [
            (0, 4096),
            (4 * MIB, 4096),
            (4 * MIB - 8192, 16384),
            (MIB, 1 << 20),
            (4 * MIB + 60 * 1024, 8192),
            (16 * MIB - 8192, 8192),
            (8 * MIB, 4096),
            (4 * MIB + 4096, 4096),
        ];
        for (off, len) in reads {
            let mut buf = vec![0xeeu8; len];
            p.read_exact_at(off, &mut buf).unwrap();
            assert!(
                buf == expect[off as usize..off as usize + len],
                "read {off:#x}+{len:#x}"
            );
        }
        let mut buf = [0u8; 4096];
        assert!(p.read_exact_at(16 * MIB - 2048, &mut buf).is_err());
        std::fs::remove_file(&path).unwrap();
    }
}
