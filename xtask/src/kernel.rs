//! Debian kernels for the guests: `apt-get download` + `dpkg -x` into
//! `~/.cache/kdump-rs/kernels/<abi>/`; never installed on the host.

use crate::util::{cache_dir, output, run};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A kernel series the lab tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    /// Debian 12's default kernel (linux-image-amd64 → 6.1.0-NN-amd64).
    V6_1,
    /// The 6.12 LTS kernel that bookworm also carries (6.12.NNN+deb12-amd64).
    V6_12,
}

impl Series {
    /// "6.1" or "6.12".
    pub fn name(self) -> &'static str {
        match self {
            Series::V6_1 => "6.1",
            Series::V6_12 => "6.12",
        }
    }

    /// Environment variable that pins the ABI.
    fn pin_env(self) -> &'static str {
        match self {
            Series::V6_1 => "KDUMP_RS_KABI_61",
            Series::V6_12 => "KDUMP_RS_KABI_612",
        }
    }

    /// The metapackage whose dependency names the current ABI.
    fn metapackage(self) -> &'static str {
        match self {
            Series::V6_1 => "linux-image-amd64",
            Series::V6_12 => "linux-image-6.12-amd64",
        }
    }

    fn matches(self, abi: &str) -> bool {
        match self {
            Series::V6_1 => abi.starts_with("6.1.0-") && abi.ends_with("-amd64"),
            Series::V6_12 => abi.starts_with("6.12.") && abi.ends_with("+deb12-amd64"),
        }
    }
}

/// An extracted kernel.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// Which series.
    pub series: Series,
    /// The ABI, e.g. `6.1.0-56-amd64`.
    pub abi: String,
    /// The extracted package root.
    pub dir: PathBuf,
}

impl Kernel {
    /// The bzImage.
    pub fn vmlinuz(&self) -> PathBuf {
        self.dir.join(format!("boot/vmlinuz-{}", self.abi))
    }

    /// `lib/modules/<abi>`.
    pub fn modules(&self) -> PathBuf {
        self.dir.join(format!("lib/modules/{}", self.abi))
    }

    /// Resolve the ABI (pin, apt metadata, or cached) and make sure it is extracted.
    pub fn get(series: Series) -> Result<Kernel> {
        let abi = resolve_abi(series)?;
        let root = cache_dir().join("kernels");
        let dir = root.join(&abi);
        let k = Kernel {
            series,
            abi: abi.clone(),
            dir: dir.clone(),
        };
        if k.vmlinuz().exists() && k.modules().exists() {
            return Ok(k);
        }
        eprintln!("kernel: downloading linux-image-{abi}");
        // A download directory that apt's unprivileged _apt user can write to.
        let dl = std::env::temp_dir().join(format!("kdump-rs-deb-{}", std::process::id()));
        std::fs::create_dir_all(&dl).with_context(|| format!("mkdir {}", dl.display()))?;
        std::fs::set_permissions(&dl, std::os::unix::fs::PermissionsExt::from_mode(0o777))?;
        let fetched = run(Command::new("apt-get")
            .current_dir(&dl)
            .args(["download", &format!("linux-image-{abi}")]));
        let deb = fetched.and_then(|_| {
            std::fs::read_dir(&dl)?
                .flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|e| e == "deb"))
                .with_context(|| format!("apt-get download left no linux-image-{abi}_*.deb"))
        });
        let deb = match deb {
            Ok(d) => d,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dl);
                return Err(e);
            }
        };
        std::fs::create_dir_all(&root)?;
        let tmp = root.join(format!(".{abi}.partial"));
        let mut extracted = Ok(());
        for _attempt in 0..2 {
            let _ = std::fs::remove_dir_all(&tmp);
            extracted = run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tmp));
            if extracted.is_ok() {
                break;
            }
        }
        let _ = std::fs::remove_dir_all(&dl);
        extracted?;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&tmp, &dir)?;
        if !k.vmlinuz().exists() {
            bail!(
                "{} missing after extracting {}",
                k.vmlinuz().display(),
                deb.display()
            );
        }
        Ok(k)
    }
}

/// Pinned by env, else the metapackage's dependency (cached per apt list state), else the
/// newest ABI of that series already in the cache (offline fallback).
fn resolve_abi(series: Series) -> Result<String> {
    if let Ok(pin) = std::env::var(series.pin_env()) {
        if !pin.is_empty() {
            return Ok(pin);
        }
    }
    let root = cache_dir().join("kernels");
    let stamp = apt_lists_stamp();
    let memo = root.join(format!("resolved-{}.txt", series.name()));
    if let Ok(s) = std::fs::read_to_string(&memo) {
        if let Some((st, abi)) = s.trim().split_once(' ') {
            if st == stamp && series.matches(abi) {
                return Ok(abi.to_string());
            }
        }
    }
    let deps = output(Command::new("apt-cache").args(["depends", series.metapackage()]))
        .unwrap_or_default();
    let found = deps
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: linux-image-"))
        .find(|abi| series.matches(abi))
        .map(str::to_string);
    match found {
        Some(abi) => {
            let _ = std::fs::create_dir_all(&root);
            let _ = std::fs::write(&memo, format!("{stamp} {abi}\n"));
            Ok(abi)
        }
        None => newest_cached(&root, series).with_context(|| {
            format!(
                "cannot find the {} kernel ABI (apt-cache depends {}); set {}",
                series.name(),
                series.metapackage(),
                series.pin_env()
            )
        }),
    }
}

/// Identity of the apt lists (mtime of the lists directory): resolution is redone after an update.
fn apt_lists_stamp() -> String {
    std::fs::metadata("/var/lib/apt/lists")
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos().to_string())
        .unwrap_or_else(|| "none".into())
}

fn newest_cached(root: &Path, series: Series) -> Option<String> {
    let mut abis: Vec<String> = std::fs::read_dir(root)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| series.matches(n))
        .collect();
    abis.sort_by_key(|a| {
        a.split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse::<u64>().ok())
            .collect::<Vec<_>>()
    });
    abis.pop()
}
