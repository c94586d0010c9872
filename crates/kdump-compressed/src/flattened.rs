//! The flattened stream (`makedumpfile -F`, QEMU's `dump-guest-memory` kdump formats): a
//! 4096-byte header, then records "write these bytes at this offset", ended by `{-1, -1}`.
//!
//! [`FlatSource`] indexes a stream held in a [`ReadAt`] so it can be read at random like the
//! reassembled file (later records win where they overlap, gaps read as zeros);
//! [`reassemble`] turns a stream from any `Read` (stdin, `-R`) into a regular file;
//! [`FlatWriter`] writes one.

use crate::format::{FlatHeader, FlatRecord, FLAT_HEADER_SIZE};
use crate::source::{eof, ReadAt};
use std::collections::BTreeMap;
use std::io::{self, Read, Write};

/// Why a flattened stream could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlatError {
    /// The stream does not start with the "makedumpfile" header.
    #[error("not a flattened stream: bad header")]
    BadHeader,
    /// A record header is invalid.
    #[error("flattened record at stream offset {at}: {what}")]
    BadRecord {
        /// Stream offset of the record header.
        at: u64,
        /// What is wrong.
        what: String,
    },
    /// Reading or writing failed.
    #[error("flattened stream I/O at stream offset {at}: {source}")]
    Io {
        /// Stream offset.
        at: u64,
        /// Cause.
        source: io::Error,
    },
}

/// Largest reassembled-file offset accepted (1 PiB): anything above is corruption.
pub const MAX_FLAT_OFFSET: u64 = 1 << 50;

/// True if `b` starts with the flattened stream signature.
pub fn is_flattened(b: &[u8]) -> bool {
    FlatHeader::parse(b).is_some()
}

#[derive(Clone, Copy, Debug)]
struct Extent {
    end: u64,
    stream_off: u64,
}

/// A flattened stream indexed for random access as the file it describes.
pub struct FlatSource<S> {
    inner: S,
    /// start -> extent, non-overlapping.
    map: BTreeMap<u64, Extent>,
    len: u64,
    complete: bool,
}

impl<S> std::fmt::Debug for FlatSource<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlatSource")
            .field("extents", &self.map.len())
            .field("len", &self.len)
            .field("complete", &self.complete)
            .finish()
    }
}

impl<S: ReadAt> FlatSource<S> {
    /// Index the stream in `inner`. A stream cut short (no end marker, or a record whose data
    /// is truncated) is accepted up to its last whole record; see [`FlatSource::is_complete`].
    pub fn new(inner: S) -> Result<Self, FlatError> {
        let mut hdr = [0u8; 32];
        inner
            .read_exact_at(0, &mut hdr)
            .map_err(|_| FlatError::BadHeader)?;
        FlatHeader::parse(&hdr).ok_or(FlatError::BadHeader)?;
        let total = inner.len();
        let mut pos = FLAT_HEADER_SIZE as u64;
        let mut map: BTreeMap<u64, Extent> = BTreeMap::new();
        let mut len = 0u64;
        let mut complete = false;
        let mut rh = [0u8; FlatRecord::SIZE];
        while pos + FlatRecord::SIZE as u64 <= total {
            inner
                .read_exact_at(pos, &mut rh)
                .map_err(|source| FlatError::Io { at: pos, source })?;
            let Some(r) = FlatRecord::parse(&rh) else {
                break;
            };
            if r.is_end() {
                complete = true;
                break;
            }
            if r.offset < 0 || r.size < 0 || r.offset as u64 > MAX_FLAT_OFFSET {
                return Err(FlatError::BadRecord {
                    at: pos,
                    what: format!("offset {} size {}", r.offset, r.size),
                });
            }
            let data = pos + FlatRecord::SIZE as u64;
            let size = r.size as u64;
            if data.checked_add(size).is_none_or(|e| e > total) {
                break; // truncated stream: keep what is whole
            }
            let start = r.offset as u64;
            let end = start + size;
            if size > 0 {
                insert(&mut map, start, end, data);
                len = len.max(end);
            }
            pos = data + size;
        }
        Ok(FlatSource {
            inner,
            map,
            len,
            complete,
        })
    }

    /// True if the stream ended with the end marker.
    pub fn is_complete(&self) -> bool {
        self.complete
    }
}

/// Insert [start, end) -> stream offset, replacing whatever it overlaps.
fn insert(map: &mut BTreeMap<u64, Extent>, start: u64, end: u64, stream_off: u64) {
    // Trim an extent starting before `start` that overlaps it.
    if let Some((&s, &e)) = map.range(..start).next_back() {
        if e.end > start {
            map.insert(
                s,
                Extent {
                    end: start,
                    stream_off: e.stream_off,
                },
            );
            if e.end > end {
                map.insert(
                    end,
                    Extent {
                        end: e.end,
                        stream_off: e.stream_off + (end - s),
                    },
                );
            }
        }
    }
    // Remove or trim extents starting inside [start, end).
    let inside: Vec<(u64, Extent)> = map.range(start..end).map(|(&s, &e)| (s, e)).collect();
    for (s, e) in inside {
        map.remove(&s);
        if e.end > end {
            map.insert(
                end,
                Extent {
                    end: e.end,
                    stream_off: e.stream_off + (end - s),
                },
            );
        }
    }
    map.insert(start, Extent { end, stream_off });
}

impl<S: ReadAt> ReadAt for FlatSource<S> {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let end = offset.checked_add(buf.len() as u64).ok_or_else(eof)?;
        if end > self.len {
            return Err(eof());
        }
        buf.fill(0);
        let first = self
            .map
            .range(..=offset)
            .next_back()
            .map(|(&s, _)| s)
            .unwrap_or(offset);
        for (&s, e) in self.map.range(first..end) {
            let lo = s.max(offset);
            let hi = e.end.min(end);
            if lo >= hi {
                continue;
            }
            let dst = &mut buf[(lo - offset) as usize..(hi - offset) as usize];
            self.inner.read_exact_at(e.stream_off + (lo - s), dst)?;
        }
        Ok(())
    }
}

/// Reassemble a flattened stream read from `input` into `out` (written with positioned
/// writes). Returns the reassembled length. Fails if the stream has no end marker.
pub fn reassemble(mut input: impl Read, out: &std::fs::File) -> Result<u64, FlatError> {
    use std::os::unix::fs::FileExt;
    let mut hdr = vec![0u8; FLAT_HEADER_SIZE];
    input
        .read_exact(&mut hdr)
        .map_err(|_| FlatError::BadHeader)?;
    FlatHeader::parse(&hdr).ok_or(FlatError::BadHeader)?;
    let mut pos = FLAT_HEADER_SIZE as u64;
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let mut rh = [0u8; FlatRecord::SIZE];
        input
            .read_exact(&mut rh)
            .map_err(|source| FlatError::Io { at: pos, source })?;
        let r = FlatRecord::parse(&rh).ok_or(FlatError::BadHeader)?;
        if r.is_end() {
            out.set_len(len)
                .map_err(|source| FlatError::Io { at: pos, source })?;
            return Ok(len);
        }
        if r.offset < 0 || r.size < 0 || r.offset as u64 > MAX_FLAT_OFFSET {
            return Err(FlatError::BadRecord {
                at: pos,
                what: format!("offset {} size {}", r.offset, r.size),
            });
        }
        pos += FlatRecord::SIZE as u64;
        let mut left = r.size as u64;
        let mut at = r.offset as u64;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            input
                .read_exact(&mut buf[..n])
                .map_err(|source| FlatError::Io { at: pos, source })?;
            out.write_all_at(&buf[..n], at)
                .map_err(|source| FlatError::Io { at: pos, source })?;
            at += n as u64;
            left -= n as u64;
            pos += n as u64;
        }
        len = len.max(at);
    }
}

/// Writes a flattened stream: every positioned write becomes a record.
#[derive(Debug)]
pub struct FlatWriter<W: Write> {
    out: W,
}

impl<W: Write> FlatWriter<W> {
    /// Write the stream header.
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(&FlatHeader::default().to_block())?;
        Ok(FlatWriter { out })
    }
    /// One record: `data` belongs at `offset` of the reassembled file.
    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let r = FlatRecord {
            offset: i64::try_from(offset).map_err(|_| io::Error::other("offset too large"))?,
            size: data.len() as i64,
        };
        self.out.write_all(&r.to_bytes())?;
        self.out.write_all(data)
    }
    /// Write the end marker and flush; returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(
            &FlatRecord {
                offset: -1,
                size: -1,
            }
            .to_bytes(),
        )?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_records_win_and_gaps_are_zero() {
        let mut w = FlatWriter::new(Vec::new()).unwrap();
        w.write_at(0, b"hello world").unwrap();
        w.write_at(20, b"tail").unwrap();
        w.write_at(6, b"WOR").unwrap();
        w.write_at(3, b"").unwrap();
        let s = w.finish().unwrap();
        let f = FlatSource::new(s.clone()).unwrap();
        assert!(f.is_complete());
        assert_eq!(f.len(), 24);
        let mut b = vec![0u8; 24];
        f.read_exact_at(0, &mut b).unwrap();
        assert_eq!(&b, b"hello WORld\0\0\0\0\0\0\0\0\0tail");
        let mut c = [0u8; 3];
        f.read_exact_at(7, &mut c).unwrap();
        assert_eq!(&c, b"ORl");
        assert!(f.read_exact_at(22, &mut c).is_err());
        // Truncated: the last whole record is kept.
        let cut = FlatSource::new(s[..s.len() - 60].to_vec()).unwrap();
        assert!(!cut.is_complete());
        assert_eq!(cut.len(), 11);
    }

    #[test]
    fn reassemble_to_file() {
        let mut w = FlatWriter::new(Vec::new()).unwrap();
        w.write_at(4096, b"second").unwrap();
        w.write_at(0, b"first").unwrap();
        let s = w.finish().unwrap();
        let path = std::env::temp_dir().join(format!("flat-{}", std::process::id()));
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        assert_eq!(reassemble(&s[..], &f).unwrap(), 4102);
        let back = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!(&back[..5], b"first");
        assert_eq!(&back[4096..], b"second");
        assert!(reassemble(&s[..s.len() - 16], &f).is_err());
    }
}
