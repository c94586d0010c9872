//! Reading the running system's state through an injectable root directory.
//!
//! Every path is taken relative to a [`SysRoot`], so tests point it at a fake `/proc`, `/sys`,
//! `/boot` and `/etc` tree in a temporary directory. Only reads happen here; every read is
//! bounded in size.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Largest /proc/cmdline we read (the x86_64 limit is 2048; leave room).
pub const MAX_CMDLINE: u64 = 64 * 1024;
/// Largest /proc/iomem we read.
pub const MAX_IOMEM: u64 = 4 * 1024 * 1024;
/// Largest small text file (sysfs values, sysconfig files) we read.
pub const MAX_SMALL: u64 = 1024 * 1024;

/// An error reading system state, naming the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SysError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file (as seen under the root).
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The file was read but its content is not what was expected.
    #[error("{path}:{line}: {what}")]
    Format {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 if not line-based).
        line: usize,
        /// What was expected.
        what: String,
    },
}

/// A root directory under which `/proc`, `/sys`, `/boot` and `/etc` are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysRoot {
    root: PathBuf,
}

impl Default for SysRoot {
    fn default() -> Self {
        Self::host()
    }
}

/// One line of /proc/iomem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IomemEntry {
    /// Nesting depth (two spaces of indentation per level).
    pub depth: usize,
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive, as printed).
    pub end: u64,
    /// The resource name, e.g. `System RAM`, `Crash kernel`.
    pub name: String,
}

impl IomemEntry {
    /// Length in bytes (`end - start + 1`, 0 if malformed).
    pub fn len(&self) -> u64 {
        self.end
            .checked_sub(self.start)
            .and_then(|d| d.checked_add(1))
            .unwrap_or(0)
    }

    /// True when the entry covers no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The parsed /proc/iomem.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Iomem {
    /// All lines in order.
    pub entries: Vec<IomemEntry>,
}

impl Iomem {
    /// Parse the text of /proc/iomem. `path` is used in errors only.
    pub fn parse(text: &str, path: &Path) -> Result<Self, SysError> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let indent = line.len() - line.trim_start_matches(' ').len();
            let bad = |what: &str| SysError::Format {
                path: path.to_path_buf(),
                line: n + 1,
                what: what.to_string(),
            };
            let body = &line[indent..];
            let (range, name) = body
                .split_once(" : ")
                .ok_or_else(|| bad("expected `START-END : NAME`"))?;
            let (s, e) = range
                .split_once('-')
                .ok_or_else(|| bad("expected `START-END`"))?;
            let start = u64::from_str_radix(s.trim(), 16).map_err(|_| bad("bad hex start"))?;
            let end = u64::from_str_radix(e.trim(), 16).map_err(|_| bad("bad hex end"))?;
            entries.push(IomemEntry {
                depth: indent / 2,
                start,
                end,
                name: name.trim_end().to_string(),
            });
        }
        Ok(Iomem { entries })
    }

    /// Sum of the top-level "System RAM" ranges: what userspace can see of the kernel's
    /// `memblock_phys_mem_size()` (the same sum kdump-utils' `get_system_size` uses).
    pub fn system_ram(&self) -> u64 {
        self.entries
            .iter()
            .filter(|e| e.depth == 0 && e.name == "System RAM")
            .fold(0u64, |a, e| a.saturating_add(e.len()))
    }

    /// The "Crash kernel" ranges (the main one and, with `,high`, the low one).
    pub fn crash_kernel(&self) -> Vec<&IomemEntry> {
        self.entries
            .iter()
            .filter(|e| e.name == "Crash kernel")
            .collect()
    }

    /// True when every address reads as zero: the kernel hides addresses from non-root.
    pub fn addresses_hidden(&self) -> bool {
        !self.entries.is_empty() && self.entries.iter().all(|e| e.start == 0 && e.end == 0)
    }
}

/// Shell-style `KEY=VALUE` lines (as in /etc/sysconfig/kdump, /etc/default/kdump-tools):
/// the last assignment of `key`, with one level of surrounding quotes removed.
pub fn shell_var(text: &str, key: &str) -> Option<String> {
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line);
        if line.starts_with('#') {
            continue;
        }
        if let Some(v) = line.strip_prefix(key).and_then(|r| r.strip_prefix('=')) {
            let v = v.trim();
            let v = if v.len() >= 2
                && ((v.starts_with('"') && v.ends_with('"'))
                    || (v.starts_with('\'') && v.ends_with('\'')))
            {
                &v[1..v.len() - 1]
            } else {
                v.split('#').next().unwrap_or("").trim()
            };
            found = Some(v.to_string());
        }
    }
    found
}

impl SysRoot {
    /// The real system (`/`).
    pub fn host() -> Self {
        SysRoot {
            root: PathBuf::from("/"),
        }
    }

    /// A fake system under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        SysRoot { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Map an absolute system path (`/proc/iomem`) to the path under the root.
    pub fn path(&self, abs: impl AsRef<Path>) -> PathBuf {
        let abs = abs.as_ref();
        let rel = abs.strip_prefix("/").unwrap_or(abs);
        self.root.join(rel)
    }

    /// Read at most `limit` bytes of a text file under the root (lossy UTF-8).
    pub fn read_text(&self, abs: impl AsRef<Path>, limit: u64) -> Result<String, SysError> {
        let path = self.path(abs.as_ref());
        let io = |source| SysError::Io {
            path: abs.as_ref().to_path_buf(),
            source,
        };
        let f = File::open(&path).map_err(io)?;
        let mut buf = Vec::new();
        f.take(limit).read_to_end(&mut buf).map_err(io)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    /// Like [`read_text`](Self::read_text) but `Ok(None)` when the file does not exist.
    pub fn read_optional(
        &self,
        abs: impl AsRef<Path>,
        limit: u64,
    ) -> Result<Option<String>, SysError> {
        match self.read_text(abs, limit) {
            Ok(s) => Ok(Some(s)),
            Err(SysError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// /proc/cmdline, without the trailing newline.
    pub fn cmdline(&self) -> Result<String, SysError> {
        Ok(self
            .read_text("/proc/cmdline", MAX_CMDLINE)?
            .trim_end_matches(['\n', '\0'])
            .to_string())
    }

    /// /proc/iomem, parsed.
    pub fn iomem(&self) -> Result<Iomem, SysError> {
        let text = self.read_text("/proc/iomem", MAX_IOMEM)?;
        Iomem::parse(&text, Path::new("/proc/iomem"))
    }

    fn sys_number(&self, abs: &str) -> Result<Option<u64>, SysError> {
        match self.read_optional(abs, MAX_SMALL)? {
            None => Ok(None),
            Some(t) => t
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| SysError::Format {
                    path: PathBuf::from(abs),
                    line: 1,
                    what: format!("expected a decimal number, found {:?}", t.trim()),
                }),
        }
    }

    /// /sys/kernel/kexec_crash_size (bytes reserved for the main crash region); `None` when
    /// the kernel has no kexec support (the file is absent).
    pub fn kexec_crash_size(&self) -> Result<Option<u64>, SysError> {
        self.sys_number("/sys/kernel/kexec_crash_size")
    }

    /// /sys/kernel/kexec_crash_loaded: whether a panic kernel is loaded; `None` if absent.
    pub fn kexec_crash_loaded(&self) -> Result<Option<bool>, SysError> {
        Ok(self
            .sys_number("/sys/kernel/kexec_crash_loaded")?
            .map(|v| v != 0))
    }

    /// The running kernel's release (`uname -r`), from /proc/sys/kernel/osrelease.
    pub fn osrelease(&self) -> Result<String, SysError> {
        Ok(self
            .read_text("/proc/sys/kernel/osrelease", 4096)?
            .trim()
            .to_string())
    }

    /// Size in bytes of a file under the root, `None` if it does not exist.
    pub fn file_size(&self, abs: impl AsRef<Path>) -> Result<Option<u64>, SysError> {
        match std::fs::metadata(self.path(abs.as_ref())) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SysError::Io {
                path: abs.as_ref().to_path_buf(),
                source,
            }),
        }
    }

    /// Read the first `n` bytes of a file under the root (fewer if it is shorter).
    pub fn read_head(&self, abs: impl AsRef<Path>, n: u64) -> Result<Vec<u8>, SysError> {
        let io = |source| SysError::Io {
            path: abs.as_ref().to_path_buf(),
            source,
        };
        let f = File::open(self.path(abs.as_ref())).map_err(io)?;
        let mut buf = Vec::new();
        f.take(n).read_to_end(&mut buf).map_err(io)?;
        Ok(buf)
    }

    /// Read the last `n` bytes of a file under the root.
    pub fn read_tail(&self, abs: impl AsRef<Path>, n: u64) -> Result<Vec<u8>, SysError> {
        use std::io::{Seek, SeekFrom};
        let io = |source| SysError::Io {
            path: abs.as_ref().to_path_buf(),
            source,
        };
        let mut f = File::open(self.path(abs.as_ref())).map_err(io)?;
        let len = f.metadata().map_err(io)?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(n))).map_err(io)?;
        let mut buf = Vec::new();
        f.take(n).read_to_end(&mut buf).map_err(io)?;
        Ok(buf)
    }
}

/// The capture kernel and initrd `kdump load` would use, and where that choice came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    /// Kernel path (absolute, as on the system).
    pub kernel: PathBuf,
    /// Initrd path, if one was found or configured.
    pub initrd: Option<PathBuf>,
    /// Human-readable origin of the choice.
    pub source: String,
}

/// Initrds looked for, in this order, when none is configured (`{r}`: the kernel release):
/// kdump-utils' and Debian kdump-tools' kdump initrds, then the system's own.
pub const INITRD_CANDIDATES: [&str; 5] = [
    "/boot/initramfs-{r}kdump.img",
    "/var/lib/kdump/initramfs-{r}kdump.img",
    "/var/lib/kdump/initrd.img-{r}",
    "/boot/initrd.img-{r}",
    "/boot/initramfs-{r}.img",
];

/// The images for the capture kernel settings `kplan` (from /etc/sysconfig/kdump or
/// /etc/default/kdump-tools; `None`: neither file), as system paths: the one rule that
/// `kdump load` ([`crate::load::resolve`]) and `kdump status` ([`choose_images`]) share.
///
/// - Release: `KDUMP_KERNELVER`, else the running kernel's.
/// - Kernel: `KDUMP_KERNEL` (a path); else `/boot/${KDUMP_IMG}-${release}${KDUMP_IMG_EXT}`
///   (or the same name under `/`); else `/boot/vmlinuz-${release}`. When no candidate
///   exists the first is returned, for the caller to report.
/// - Initrd: `KDUMP_INITRD`, else the first existing of [`INITRD_CANDIDATES`].
pub fn images_for(
    root: &SysRoot,
    kplan: Option<&kdump_conf::KernelPlan>,
    source: &str,
) -> Result<Images, SysError> {
    let release = match kplan.and_then(|k| k.kernel_version.clone()) {
        Some(v) => v,
        None => root.osrelease()?,
    };
    let first_existing = |cands: &[PathBuf]| -> Result<Option<PathBuf>, SysError> {
        for c in cands {
            if root.file_size(c)?.is_some() {
                return Ok(Some(c.clone()));
            }
        }
        Ok(None)
    };
    let kernels: Vec<PathBuf> = match kplan.and_then(|k| k.kernel.as_deref()) {
        Some(p) if p.starts_with('/') => vec![PathBuf::from(p)],
        Some(img) => {
            let ext = kplan.and_then(|k| k.kernel_ext.as_deref()).unwrap_or("");
            vec![
                PathBuf::from(format!("/boot/{img}-{release}{ext}")),
                PathBuf::from(format!("/{img}-{release}{ext}")),
            ]
        }
        None => vec![PathBuf::from(format!("/boot/vmlinuz-{release}"))],
    };
    let kernel = match first_existing(&kernels)? {
        Some(k) => k,
        None => kernels[0].clone(),
    };
    let initrd = match kplan.and_then(|k| k.initrd.as_deref()) {
        Some(i) => Some(PathBuf::from(i)),
        None => {
            let cands: Vec<PathBuf> = INITRD_CANDIDATES
                .iter()
                .map(|c| PathBuf::from(c.replace("{r}", &release)))
                .collect();
            first_existing(&cands)?
        }
    };
    Ok(Images {
        kernel,
        initrd,
        source: source.to_string(),
    })
}

/// Pick the images as `kdump load` does ([`images_for`]), reading the settings from
/// Debian's `/etc/default/kdump-tools` when it sets `KDUMP_KERNEL`, else from
/// `/etc/sysconfig/kdump` when it exists. `kernel_override` / `initrd_override` (from the
/// command line) win over both.
pub fn choose_images(
    root: &SysRoot,
    kernel_override: Option<&Path>,
    initrd_override: Option<&Path>,
) -> Result<Images, SysError> {
    let debian = root
        .read_optional("/etc/default/kdump-tools", MAX_SMALL)?
        .map(|t| kdump_conf::parse_kdump_tools(&t).0.kernel)
        .and_then(|k| k.filter(|k| k.kernel.is_some()));
    let (kplan, source) = match debian {
        Some(k) => (Some(k), "/etc/default/kdump-tools"),
        None => {
            let mut found = (None, "default (/boot/vmlinuz-$(uname -r))");
            for p in [
                kdump_conf::DEFAULT_SYSCONFIG_PATH,
                kdump_conf::DEBIAN_SYSCONFIG_PATH,
            ] {
                if let Some(t) = root.read_optional(p, MAX_SMALL)? {
                    found = (Some(kdump_conf::parse_sysconfig(&t).0), p);
                    break;
                }
            }
            found
        }
    };
    let mut images = images_for(root, kplan.as_ref(), source)?;
    if let Some(k) = kernel_override {
        images.kernel = k.to_path_buf();
        images.source = "command line".to_string();
    }
    if let Some(i) = initrd_override {
        images.initrd = Some(i.to_path_buf());
        images.source = "command line".to_string();
    }
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iomem_parse_and_sum() {
        let t = "00000000-00000fff : Reserved\n00001000-0009fbff : System RAM\n\
                 00100000-3ffdffff : System RAM\n  02000000-0dffffff : Crash kernel\n\
                 fd000000-fdffffff : PCI Bus 0000:00\n";
        let io = Iomem::parse(t, Path::new("x")).unwrap();
        assert_eq!(io.system_ram(), 0x9ec00 + 0x3fee0000);
        let ck = io.crash_kernel();
        assert_eq!(ck.len(), 1);
        assert_eq!(ck[0].len(), 192 << 20);
        assert_eq!(ck[0].depth, 1);
        assert!(!io.addresses_hidden());
        let e = Iomem::parse("zz-1 : x\n", Path::new("/proc/iomem")).unwrap_err();
        assert!(e.to_string().contains("/proc/iomem:1"), "{e}");
    }

    #[test]
    fn shell_vars() {
        let t =
            "# KDUMP_KERNEL=/no\nKDUMP_KERNEL=\"/var/lib/kdump/vmlinuz\"\nX='a b'\nY=c # note\n";
        assert_eq!(
            shell_var(t, "KDUMP_KERNEL").as_deref(),
            Some("/var/lib/kdump/vmlinuz")
        );
        assert_eq!(shell_var(t, "X").as_deref(), Some("a b"));
        assert_eq!(shell_var(t, "Y").as_deref(), Some("c"));
        assert_eq!(shell_var(t, "Z"), None);
    }
}
