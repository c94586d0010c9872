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
#[derive(Debug)]
pub struct PreadFile {
    file: File,
    len: u64,
}

impl PreadFile {
    /// Open `path` read-only.
    pub fn open(path: &Path) -> Result<Self> {
        let err = |source| Error::Open {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(err)?;
        let len = file.metadata().map_err(err)?.len();
        Ok(Self { file, len })
    }

    /// Wrap an already open file.
    pub fn from_file(file: File) -> std::io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(Self { file, len })
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
