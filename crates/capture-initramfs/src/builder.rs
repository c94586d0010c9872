//! [`ImageBuilder`]: collect files, modules (with firmware) and executables (with libraries),
//! each with the reason it went in; list them; write the compressed image.

use crate::compress::{decompress_file, Compression, FileCodec};
use crate::cpio::{read_archive, Archive, Node, ReadLimits};
use crate::elf::modinfo;
use crate::error::{Error, Result};
use crate::exec::{ExecFileKind, LibResolver};
use crate::manifest::{format_modules_order, LoadEntry, MODULES_ORDER};
use crate::modules::{ModuleIndex, Resolution};
use crate::sysfs::Need;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Largest host file, module or firmware (after decompression) put in an image.
pub const MAX_FILE: u64 = 256 << 20;

/// A module placed in the image, in load order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInImage {
    /// Normalised module name.
    pub name: String,
    /// Absolute path of the plain `.ko` in the image.
    pub path: String,
    /// Parameters for `finit_module` (see [`ImageBuilder::set_module_params`]).
    pub params: String,
    /// Why it is there (the first request that pulled it in).
    pub reason: String,
}

/// One member of the image, as `kdump build-initrd --list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// Absolute path in the image.
    pub path: String,
    /// `dir`, `file`, `symlink`, `chardev` or `blockdev`.
    pub kind: &'static str,
    /// Full st_mode (type and permission bits).
    pub mode: u32,
    /// Data size (file bytes, symlink target length).
    pub size: u64,
    /// Symlink target or `major:minor` of a device node.
    pub detail: Option<String>,
    /// Why it went in (empty for parent directories and images read back).
    pub reason: String,
}

/// Builds a capture initramfs. Same calls in the same order, or in any order for the same
/// set of members, give the same bytes.
///
/// Host files are read when added, so an error names the file at the call that caused it.
#[derive(Debug)]
pub struct ImageBuilder {
    archive: Archive,
    reasons: BTreeMap<String, String>,
    mtime: u32,
    root: PathBuf,
    libs: LibResolver,
    index: Option<ModuleIndex>,
    order: Vec<ModuleInImage>,
    placed: BTreeSet<String>,
    builtin: Vec<(String, String)>,
    warnings: Vec<String>,
}

impl Default for ImageBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ImageBuilder {
    /// An empty image taking executables and firmware from the running system (`/`).
    pub fn new() -> Self {
        Self::with_root("/")
    }

    /// An empty image taking executables (and their libraries, ld.so.conf) and firmware
    /// (`lib/firmware`) from below `root`.
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        ImageBuilder {
            archive: Archive::new(),
            reasons: BTreeMap::new(),
            mtime: 0,
            libs: LibResolver::new(&root),
            root,
            index: None,
            order: Vec::new(),
            placed: BTreeSet::new(),
            builtin: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Use this kernel's module index for [`add_module`](Self::add_module) and
    /// [`add_need`](Self::add_need).
    pub fn with_modules(mut self, index: ModuleIndex) -> Self {
        self.index = Some(index);
        self
    }

    /// The mtime of every member (default 0; a SOURCE_DATE_EPOCH-like value otherwise).
    pub fn mtime(mut self, mtime: u32) -> Self {
        self.mtime = mtime;
        self
    }

    /// The module index in use.
    pub fn modules(&self) -> Option<&ModuleIndex> {
        self.index.as_ref()
    }

    fn note(&mut self, path: String, reason: &str) {
        self.reasons
            .entry(path)
            .or_insert_with(|| reason.to_string());
    }

    fn put(&mut self, path: &str, perm: u32, node: Node, reason: &str) -> Result<String> {
        let first = self
            .reasons
            .get(&crate::cpio::normalize_path(path)?)
            .cloned();
        let p = self
            .archive
            .insert(path, perm, node)
            .map_err(|e| match (e, first) {
                (
                    Error::Conflict {
                        path,
                        first: f,
                        second,
                    },
                    Some(r),
                ) => Error::Conflict {
                    path,
                    first: format!("{f}: {r}"),
                    second: format!("{second}: {reason}"),
                },
                (e, _) => e,
            })?;
        self.note(p.clone(), reason);
        Ok(p)
    }

    /// What every capture image needs before devtmpfs is mounted: `/dev/console` (c 5 1),
    /// `/dev/null` (c 1 3) and the directories proc, sys, dev, run, tmp, etc/kdump, root.
    pub fn add_base(&mut self) -> Result<()> {
        for d in [
            "dev",
            "proc",
            "sys",
            "run",
            "tmp",
            "etc",
            "etc/kdump",
            "root",
            "mnt",
        ] {
            let perm = if d == "tmp" {
                0o1777
            } else if d == "root" {
                0o700
            } else {
                0o755
            };
            self.put(d, perm, Node::Dir, "base layout")?;
        }
        self.put(
            "dev/console",
            0o600,
            Node::CharDevice { major: 5, minor: 1 },
            "console before devtmpfs is mounted",
        )?;
        self.put(
            "dev/null",
            0o666,
            Node::CharDevice { major: 1, minor: 3 },
            "/dev/null before devtmpfs is mounted",
        )?;
        Ok(())
    }

    /// A directory.
    pub fn add_dir(&mut self, path: &str, mode: u32, reason: &str) -> Result<()> {
        self.put(path, mode, Node::Dir, reason).map(|_| ())
    }

    /// A regular file with these bytes.
    pub fn add_bytes(
        &mut self,
        path: &str,
        mode: u32,
        data: impl Into<Vec<u8>>,
        reason: &str,
    ) -> Result<()> {
        self.put(path, mode, Node::File(data.into()), reason)
            .map(|_| ())
    }

    /// A regular file read from the host path `host` (symlinks followed).
    pub fn add_file(&mut self, path: &str, mode: u32, host: &Path, reason: &str) -> Result<()> {
        let data = read_bounded(host)?;
        self.add_bytes(path, mode, data, reason)
    }

    /// A symbolic link.
    pub fn add_symlink(&mut self, path: &str, target: &str, reason: &str) -> Result<()> {
        if target.is_empty() || target.contains('\0') || target.len() > crate::cpio::MAX_PATH {
            return Err(Error::BadPath {
                path: target.chars().take(200).collect(),
                why: "is not a usable symlink target",
            });
        }
        self.put(path, 0o777, Node::Symlink(target.to_string()), reason)
            .map(|_| ())
    }

    /// A character device node.
    pub fn add_char_device(
        &mut self,
        path: &str,
        major: u32,
        minor: u32,
        mode: u32,
        reason: &str,
    ) -> Result<()> {
        self.put(path, mode, Node::CharDevice { major, minor }, reason)
            .map(|_| ())
    }

    /// A block device node.
    pub fn add_block_device(
        &mut self,
        path: &str,
        major: u32,
        minor: u32,
        mode: u32,
        reason: &str,
    ) -> Result<()> {
        self.put(path, mode, Node::BlockDevice { major, minor }, reason)
            .map(|_| ())
    }

    /// An executable from the host (below the builder's root) at the same absolute path, with
    /// its interpreter and every shared library it needs (recursively), and each symlink on
    /// the way. A static executable is just the file.
    pub fn add_executable(&mut self, host_path: &str, reason: &str) -> Result<()> {
        for f in self.libs.resolve(host_path, reason)? {
            let why = if f.path == host_path {
                reason.to_string()
            } else {
                f.reason.clone()
            };
            match f.kind {
                ExecFileKind::Symlink(t) => self.add_symlink(&f.path, &t, &why)?,
                ExecFileKind::File(h) => {
                    let mode = std::fs::metadata(&h)
                        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777)
                        .unwrap_or(0o755);
                    self.add_file(&f.path, mode, &h, &why)?
                }
            }
        }
        Ok(())
    }

    /// A module by name or modalias, with everything it needs, in load order (modules
    /// already in the image stay where they are). Returns the names newly placed; built-in
    /// modules add nothing. An error when the index has no such module.
    pub fn add_module(&mut self, query: &str, reason: &str) -> Result<Vec<String>> {
        let idx = self
            .index
            .as_ref()
            .ok_or_else(|| Error::NoModuleIndex(query.to_string()))?;
        let mut r = Resolution::default();
        let mut done = self.placed.clone();
        idx.resolve_into(query, reason, &mut r, &mut done)?;
        let requested = match idx.lookup(query) {
            crate::modules::Lookup::Modules(m) => m,
            _ => Vec::new(),
        };
        self.place(r, reason, &requested)
    }

    /// A [`Need`] from the sysfs walkers: the first candidate that names a loadable or
    /// built-in module is used. An [`Error::ModuleMissing`] naming the device and driver
    /// when none does.
    pub fn add_need(&mut self, need: &Need) -> Result<Vec<String>> {
        let idx = self
            .index
            .as_ref()
            .ok_or_else(|| Error::NoModuleIndex(need.candidates.join(" or ")))?;
        for c in &need.candidates {
            if idx.lookup(c) != crate::modules::Lookup::NotFound {
                return self.add_module(c, &need.reason);
            }
        }
        Err(Error::ModuleMissing {
            wanted: if need.candidates.is_empty() {
                need.driver.clone()
            } else {
                need.candidates.join(" / ")
            },
            reason: need.reason.clone(),
            index: idx.dir().to_path_buf(),
        })
    }

    /// Every need in turn (see [`add_need`](Self::add_need)).
    pub fn add_needs(&mut self, needs: &[Need]) -> Result<()> {
        for n in needs {
            self.add_need(n)?;
        }
        Ok(())
    }

    /// Parameters for a module already placed, written to the manifest.
    pub fn set_module_params(&mut self, name: &str, params: &str) -> Result<()> {
        let n = crate::modules::normalize_name(name);
        if params.contains(['\n', '\0']) {
            return Err(Error::Manifest {
                line: 0,
                what: format!("parameters of {n} contain a newline or NUL"),
            });
        }
        let m = self
            .order
            .iter_mut()
            .find(|m| m.name == n)
            .ok_or_else(|| Error::NoModuleIndex(n.clone()))?;
        m.params = params.trim().to_string();
        self.write_manifest()
    }

    fn place(&mut self, r: Resolution, reason: &str, requested: &[String]) -> Result<Vec<String>> {
        for b in r.builtin {
            if !self.builtin.iter().any(|(n, _)| *n == b) {
                self.builtin.push((b, reason.to_string()));
            }
        }
        for (owner, q) in r.missing_softdeps {
            let w = format!("module {owner}: soft dependency {q} is not in the index (skipped)");
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
        }
        let mut added = Vec::new();
        for name in r.load {
            if self.placed.contains(&name) {
                continue;
            }
            let Some(idx) = self.index.as_ref() else {
                break;
            };
            let Some(entry) = idx.module(&name).cloned() else {
                continue;
            };
            let host = idx.module_path(&entry);
            let kver = idx.kver().to_string();
            let raw = read_bounded(&host)?;
            let data = decompress_file(&host.display().to_string(), raw, MAX_FILE)?;
            let rel = if Path::new(&entry.path).is_absolute() {
                format!("extra/{name}.ko")
            } else {
                FileCodec::strip(&entry.path).to_string()
            };
            let image_path = format!("/lib/modules/{kver}/{rel}");
            let why = if requested.contains(&name) {
                reason.to_string()
            } else {
                format!("{reason} (dependency {name})")
            };
            let firmware = modinfo(&data).map_err(|what| Error::Elf {
                path: host.clone(),
                what,
            })?;
            self.put(&image_path, 0o644, Node::File(data), &why)?;
            self.placed.insert(name.clone());
            self.order.push(ModuleInImage {
                name: name.clone(),
                path: image_path,
                params: String::new(),
                reason: why,
            });
            for (k, v) in firmware {
                if k == "firmware" {
                    self.add_firmware(&v, &name, &kver)?;
                }
            }
            added.push(name);
        }
        self.write_manifest()?;
        Ok(added)
    }

    fn add_firmware(&mut self, fw: &str, module: &str, kver: &str) -> Result<()> {
        let Ok(rel) = crate::cpio::normalize_path(fw) else {
            self.warnings.push(format!(
                "module {module}: firmware name {fw:?} is not a usable path (skipped)"
            ));
            return Ok(());
        };
        let image_path = format!("lib/firmware/{rel}");
        if self.archive.get(&image_path).is_some() {
            return Ok(());
        }
        let base = self.root.join("lib/firmware");
        let dirs = [
            base.join("updates").join(kver),
            base.join("updates"),
            base.join(kver),
            base.clone(),
        ];
        for d in &dirs {
            for suffix in ["", ".zst", ".xz"] {
                let p = d.join(format!("{rel}{suffix}"));
                if p.is_file() {
                    let data =
                        decompress_file(&p.display().to_string(), read_bounded(&p)?, MAX_FILE)?;
                    self.put(
                        &image_path,
                        0o644,
                        Node::File(data),
                        &format!("firmware of module {module}"),
                    )?;
                    return Ok(());
                }
            }
        }
        self.warnings.push(format!(
            "module {module}: firmware {rel} not found in {} (the driver may fail without it)",
            base.display()
        ));
        Ok(())
    }

    fn write_manifest(&mut self) -> Result<()> {
        let entries: Vec<LoadEntry> = self
            .order
            .iter()
            .map(|m| LoadEntry {
                path: m.path.clone(),
                params: m.params.clone(),
            })
            .collect();
        let text = format_modules_order(&entries).into_bytes();
        self.archive.remove(MODULES_ORDER);
        self.put(
            MODULES_ORDER,
            0o644,
            Node::File(text),
            "module load order for the image's init",
        )?;
        Ok(())
    }

    /// Modules in load order, with their paths in the image.
    pub fn module_order(&self) -> &[ModuleInImage] {
        &self.order
    }

    /// Modules that were asked for (or needed) but are built into the kernel: (name, reason).
    pub fn builtin_modules(&self) -> &[(String, String)] {
        &self.builtin
    }

    /// Things that did not stop the build but may matter: firmware not found, soft
    /// dependencies not in the index.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Every member in path order with the reason it went in.
    pub fn list(&self) -> Vec<ListEntry> {
        self.archive
            .iter()
            .map(|(p, perm, node)| {
                list_entry(
                    p,
                    node.type_bits() | perm,
                    node,
                    self.reasons.get(p).cloned().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Write the image, compressed with `compression`; returns the writer.
    pub fn write<W: Write>(&self, out: W, compression: Compression) -> Result<W> {
        let cpio = self.archive.to_bytes(self.mtime)?;
        compression.compress_to(&cpio, out)
    }

    /// The image as bytes.
    pub fn to_bytes(&self, compression: Compression) -> Result<Vec<u8>> {
        self.write(Vec::new(), compression)
    }
}

fn list_entry(path: &str, mode: u32, node: &Node, reason: String) -> ListEntry {
    let detail = match node {
        Node::Symlink(t) => Some(t.clone()),
        Node::CharDevice { major, minor } | Node::BlockDevice { major, minor } => {
            Some(format!("{major}:{minor}"))
        }
        _ => None,
    };
    ListEntry {
        path: format!("/{path}"),
        kind: node.kind(),
        mode,
        size: node.data().len() as u64,
        detail,
        reason,
    }
}

/// The members of an existing image (gzip, zstd or plain), for `--list` on a built file.
/// The image is decompressed into at most `limit` bytes. Reasons are empty.
pub fn list_image(image: &[u8], limit: u64) -> Result<Vec<ListEntry>> {
    let cpio = Compression::decompress_image(image, limit)?;
    let records = read_archive(&cpio, &ReadLimits::default())?;
    Ok(records
        .iter()
        .map(|r| {
            let node = r.node().unwrap_or(Node::File(Vec::new()));
            let mut e = list_entry(r.path.trim_start_matches('/'), r.mode, &node, String::new());
            e.size = r.data.len() as u64;
            e
        })
        .collect())
}

fn read_bounded(p: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(p).map_err(|e| Error::io(p, e))?;
    if !meta.is_file() {
        return Err(Error::io(p, std::io::Error::other("not a regular file")));
    }
    if meta.len() > MAX_FILE {
        return Err(Error::limit(p.display().to_string(), meta.len(), MAX_FILE));
    }
    std::fs::read(p).map_err(|e| Error::io(p, e))
}
