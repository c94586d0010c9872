//! `cargo xtask setup`: install what the lab, the tests and the demo need (Debian 12, root).
//!
//! Fast path: every package is checked through dpkg's file list and one key file, rustup
//! components through the toolchain's sysroot; apt runs only when something is missing.

use crate::util::{have_exe, output, run};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The bookworm-backports source (deb822), as the shell lab writes it.
const BACKPORTS_FILE: &str = "/etc/apt/sources.list.d/backports.sources";
const BACKPORTS: &str = "Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
";

/// Packages installed from bookworm-backports: (package, key file).
const BACKPORTS_PACKAGES: &[(&str, &str)] = &[("qemu-system-x86", "/usr/bin/qemu-system-x86_64")];

/// Packages from bookworm: (package, key file that must exist, "" = dpkg list only).
const PACKAGES: &[(&str, &str)] = &[
    ("busybox-static", "/bin/busybox"),
    ("makedumpfile", "/usr/bin/makedumpfile"),
    ("kexec-tools", "/usr/sbin/kexec"),
    ("crash", "/usr/bin/crash"),
    (
        "python3-libkdumpfile",
        "/usr/lib/python3/dist-packages/kdumpfile",
    ),
    ("libkdumpfile10", ""),
    ("cpio", "/usr/bin/cpio"),
    ("e2fsprogs", "/usr/sbin/mkfs.ext4"),
    ("xz-utils", "/usr/bin/xz"),
    ("zstd", "/usr/bin/zstd"),
    ("socat", "/usr/bin/socat"),
    ("liblzo2-dev", "/usr/include/lzo/lzo1x.h"),
    ("lzop", "/usr/bin/lzop"),
    ("python3-lzo", ""),
    ("openssh-server", "/usr/sbin/sshd"),
    ("openssh-client", "/usr/bin/ssh"),
    ("binutils", "/usr/bin/readelf"),
    // depmod and modprobe: the capture image tests index Debian's modules and use modprobe
    // as the oracle of the load order.
    ("kmod", "/usr/bin/kmod"),
];

/// Packages only `debian-image` (and the installed-system VM tests) need.
const DEBIAN_IMAGE_PACKAGES: &[(&str, &str)] = &[("mmdebstrap", "/usr/bin/mmdebstrap")];

/// Packages only `deb` needs (cargo-deb itself comes from crates.io, see [`ensure_cargo_deb`]).
const DEB_PACKAGES: &[(&str, &str)] = &[
    ("lintian", "/usr/bin/lintian"),
    ("dpkg-dev", "/usr/bin/dpkg-shlibdeps"),
];

/// rustup components the test command uses.
const COMPONENTS: &[(&str, &str)] = &[("clippy", "cargo-clippy"), ("rustfmt", "rustfmt")];

/// Is a Debian package installed? (its dpkg file list exists and its key file is present)
fn installed(pkg: &str, key: &str) -> bool {
    let info = Path::new("/var/lib/dpkg/info");
    let listed = info.join(format!("{pkg}.list")).exists()
        || info.join(format!("{pkg}:amd64.list")).exists();
    // /usr-merge: /bin and /sbin may be symlinks; Path::exists follows them.
    listed && (key.is_empty() || Path::new(key).exists() || merged(key).exists())
}

fn merged(key: &str) -> PathBuf {
    match key.strip_prefix("/usr") {
        Some(rest) => PathBuf::from(rest),
        None => PathBuf::from(format!("/usr{key}")),
    }
}

fn apt_install(extra: &[&str], pkgs: &[&str]) -> Result<()> {
    let mut cmd = Command::new("apt-get");
    cmd.env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "--no-install-recommends"])
        .args(extra)
        .args(pkgs);
    run(&mut cmd)
}

/// Options of the setup step.
#[derive(Debug, Default, Clone, Copy)]
pub struct Opts {
    /// Also make sure cargo-fuzz is installed (compiles for minutes the first time).
    pub fuzz: bool,
    /// Run apt-get update and install even when everything looks installed.
    pub force: bool,
    /// Also mmdebstrap (the cached Debian 12 image).
    pub debian_image: bool,
    /// Also lintian and cargo-deb (`cargo xtask deb`).
    pub deb: bool,
}

/// Make the machine ready; quick when everything is there.
pub fn setup(opts: Opts) -> Result<()> {
    let missing_bp: Vec<&str> = BACKPORTS_PACKAGES
        .iter()
        .filter(|(p, k)| !installed(p, k))
        .map(|(p, _)| *p)
        .collect();
    let mut wanted: Vec<(&'static str, &'static str)> = PACKAGES.to_vec();
    if opts.debian_image {
        wanted.extend_from_slice(DEBIAN_IMAGE_PACKAGES);
    }
    if opts.deb {
        wanted.extend_from_slice(DEB_PACKAGES);
    }
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(p, k)| !installed(p, k))
        .map(|(p, _)| *p)
        .collect();
    let (missing_bp, missing) = if opts.force {
        let all = |l: &[(&'static str, &str)]| l.iter().map(|(p, _)| *p).collect::<Vec<_>>();
        (all(BACKPORTS_PACKAGES), all(&wanted))
    } else {
        (missing_bp, missing)
    };
    if !missing_bp.is_empty() || !missing.is_empty() {
        eprintln!("setup: missing packages: {:?} {:?}", missing_bp, missing);
        if !is_root() {
            bail!("setup needs root to install {missing_bp:?} {missing:?} (apt-get)");
        }
        ensure_backports_source()?;
        run(Command::new("apt-get").arg("update"))?;
        if !missing_bp.is_empty() {
            apt_install(&["-t", "bookworm-backports"], &missing_bp)?;
        }
        if !missing.is_empty() {
            apt_install(&[], &missing)?;
        }
    } else if !have_apt_lists() {
        // Kernel downloads need the package lists even when nothing is missing.
        ensure_backports_source()?;
        run(Command::new("apt-get").arg("update"))?;
    }
    ensure_components()?;
    if opts.fuzz {
        ensure_cargo_fuzz()?;
    }
    if opts.deb {
        ensure_cargo_deb()?;
    }
    Ok(())
}

fn is_root() -> bool {
    // The effective uid, read from /proc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

fn have_apt_lists() -> bool {
    std::fs::read_dir("/var/lib/apt/lists")
        .map(|d| {
            d.flatten().any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .contains("bookworm-backports")
            })
        })
        .unwrap_or(false)
}

fn ensure_backports_source() -> Result<()> {
    let already = Path::new(BACKPORTS_FILE).exists()
        || std::iter::once(PathBuf::from("/etc/apt/sources.list"))
            .chain(
                std::fs::read_dir("/etc/apt/sources.list.d")
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path()),
            )
            .any(|p| {
                std::fs::read_to_string(p)
                    .map(|s| s.contains("bookworm-backports"))
                    .unwrap_or(false)
            });
    if !already {
        std::fs::write(BACKPORTS_FILE, BACKPORTS)
            .with_context(|| format!("write {BACKPORTS_FILE}"))?;
        eprintln!("setup: added {BACKPORTS_FILE}");
    }
    Ok(())
}

fn ensure_components() -> Result<()> {
    let sysroot = output(Command::new("rustc").args(["--print", "sysroot"]))?;
    let bin = PathBuf::from(sysroot.trim()).join("bin");
    for (component, exe) in COMPONENTS {
        if !bin.join(exe).exists() {
            if !have_exe("rustup") {
                bail!("{component} is missing and rustup is not installed");
            }
            run(Command::new("rustup").args(["component", "add", component]))?;
        }
    }
    Ok(())
}

/// `cargo install cargo-fuzz --locked` unless `cargo fuzz --version` works.
pub fn ensure_cargo_fuzz() -> Result<()> {
    ensure_cargo_subcommand("fuzz", "cargo-fuzz")
}

/// `cargo install cargo-deb --locked` unless `cargo deb --version` works.
pub fn ensure_cargo_deb() -> Result<()> {
    ensure_cargo_subcommand("deb", "cargo-deb")
}

fn ensure_cargo_subcommand(sub: &str, krate: &str) -> Result<()> {
    let ok = Command::new("cargo")
        .args([sub, "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("setup: installing {krate} (compiles for a few minutes)");
        run(Command::new("cargo").args(["install", krate, "--locked"]))?;
    }
    Ok(())
}
