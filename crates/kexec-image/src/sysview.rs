//! Where system facts come from: an injectable view of /proc and /sys.
//!
//! The loader reads /proc/iomem, /sys/firmware/memmap, /sys/kernel/vmcoreinfo, the per-CPU
//! crash_notes files and so on only through [`SystemView`], so host tests and `--dry-run`
//! can feed a synthetic tree ([`MemSystem`], or [`RootedSystem`] over a directory).

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::PathBuf;

/// Largest file we read through a view (the biggest real input, /proc/iomem, is a few KiB).
pub const MAX_FILE: u64 = 4 << 20;

/// Read-only access to /proc and /sys style files.
pub trait SystemView {
    /// The contents of the file at the absolute path `path` (at most `max` bytes).
    fn read_prefix(&self, path: &str, max: u64) -> io::Result<Vec<u8>>;
    /// The names of the entries of a directory, sorted.
    fn list_dir(&self, path: &str) -> io::Result<Vec<String>>;
    /// The whole file (up to [`MAX_FILE`] bytes) as text.
    fn read_text(&self, path: &str) -> io::Result<String> {
        let b = self.read_prefix(path, MAX_FILE)?;
        String::from_utf8(b)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("{path}: not UTF-8")))
    }
}

/// The running system's real files.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostSystem;

impl SystemView for HostSystem {
    fn read_prefix(&self, path: &str, max: u64) -> io::Result<Vec<u8>> {
        let f = std::fs::File::open(path)?;
        let mut v = Vec::new();
        f.take(max).read_to_end(&mut v)?;
        Ok(v)
    }
    fn list_dir(&self, path: &str) -> io::Result<Vec<String>> {
        let mut v: Vec<String> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        Ok(v)
    }
}

/// A directory tree that mirrors / (for example a copy of /proc/iomem and /sys/firmware/memmap
/// taken on another machine): `/proc/iomem` is read from `root/proc/iomem`.
#[derive(Debug, Clone)]
pub struct RootedSystem {
    /// The directory that stands for `/`.
    pub root: PathBuf,
}

impl RootedSystem {
    fn map(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }
}

impl SystemView for RootedSystem {
    fn read_prefix(&self, path: &str, max: u64) -> io::Result<Vec<u8>> {
        HostSystem.read_prefix(&self.map(path).to_string_lossy(), max)
    }
    fn list_dir(&self, path: &str) -> io::Result<Vec<String>> {
        HostSystem.list_dir(&self.map(path).to_string_lossy())
    }
}

/// An in-memory tree for tests: absolute path → contents.
#[derive(Debug, Clone, Default)]
pub struct MemSystem {
    /// The files.
    pub files: BTreeMap<String, Vec<u8>>,
}

impl MemSystem {
    /// Add or replace a file.
    pub fn insert(&mut self, path: &str, contents: impl Into<Vec<u8>>) -> &mut Self {
        self.files.insert(path.to_string(), contents.into());
        self
    }
}

impl SystemView for MemSystem {
    fn read_prefix(&self, path: &str, max: u64) -> io::Result<Vec<u8>> {
        let f = self
            .files
            .get(path)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, path.to_string()))?;
        Ok(f[..f.len().min(max as usize)].to_vec())
    }
    fn list_dir(&self, path: &str) -> io::Result<Vec<String>> {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        let mut v: Vec<String> = self
            .files
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter_map(|rest| rest.split('/').next())
            .map(str::to_string)
            .collect();
        v.dedup();
        if v.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, path.to_string()));
        }
        Ok(v)
    }
}
