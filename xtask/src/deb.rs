//! `cargo xtask deb`: the `kdump-rs` Debian package (cargo-deb), checked with lintian.
//!
//! The package metadata is in examples/kdump/Cargo.toml (`[package.metadata.deb]`), the
//! static files in packaging/deb/. This module stages everything else under
//! `target/xtask/deb/root/` (the tree cargo-deb takes verbatim, modes included):
//! * the systemd unit and the SysV script, from the one source the `kdump install-service`
//!   command also uses (crates/kdump-service/data/), with the binary's path changed from
//!   [`SERVICE_BIN`] to `/usr/sbin/kdump`;
//! * /etc/kdump.conf and /etc/default/kdump (conffiles: cargo-deb marks everything in /etc);
//! * man pages and bash completions when something has generated them: every
//!   `target/xtask/deb/man/NAME.SECTION` becomes `/usr/share/man/manSECTION/NAME.SECTION.gz`,
//!   every `target/xtask/deb/completions/NAME` becomes
//!   `/usr/share/bash-completion/completions/NAME`.
//!
//! Then `cargo build --release` of the three binaries, `cargo deb -p kdump --no-build` and
//! `lintian` (its report in `target/xtask/deb/lintian.txt`; any error fails the command).

use crate::util::{lab_dir, run, workspace_root};
use anyhow::{bail, ensure, Context, Result};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the service files of crates/kdump-service expect the binary (`KDUMP_BIN`).
pub const SERVICE_BIN: &str = "/usr/local/bin/kdump";
/// Where the package puts it.
pub const PACKAGE_BIN: &str = "/usr/sbin/kdump";

/// The systemd unit and SysV script, as `kdump install-service` writes them.
const UNIT: &str = include_str!("../../crates/kdump-service/data/kdump.service");
const INIT_SCRIPT: &str = include_str!("../../crates/kdump-service/data/kdump.init");

/// Options of `cargo xtask deb`.
#[derive(Debug, Default, Clone)]
pub struct Opts {
    /// The Debian revision (default: cargo-deb's, "1"); tests build a second one to upgrade to.
    pub revision: Option<String>,
    /// Skip lintian.
    pub no_lint: bool,
}

/// What was built.
#[derive(Debug, Clone)]
pub struct Built {
    /// The .deb.
    pub deb: PathBuf,
    /// Lintian's report (tags; empty when clean); None when lintian was skipped.
    pub lintian: Option<String>,
}

/// `target/xtask/deb`: the staging tree, the hooks for man pages and completions, the .debs.
pub fn deb_dir() -> PathBuf {
    lab_dir().join("deb")
}

/// The unit or script text with the packaged binary path.
pub fn packaged(text: &str, what: &str) -> Result<String> {
    ensure!(
        text.contains(SERVICE_BIN),
        "{what} (crates/kdump-service/data) no longer names {SERVICE_BIN}; update xtask/src/deb.rs"
    );
    let out = text.replace(SERVICE_BIN, PACKAGE_BIN);
    ensure!(
        !out.contains("/usr/local"),
        "{what} still refers to /usr/local after the path change"
    );
    Ok(out)
}

fn put(root: &Path, path: &str, data: &[u8], mode: u32) -> Result<()> {
    let p = root.join(path.trim_start_matches('/'));
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("mkdir {}", d.display()))?;
    }
    std::fs::write(&p, data).with_context(|| format!("write {}", p.display()))?;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// gzip -9n: no name, no time stamp (reproducible; what lintian expects of man pages).
fn gzip_n(data: &[u8]) -> Result<Vec<u8>> {
    let mut e = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    e.write_all(data)?;
    Ok(e.finish()?)
}

/// Files of `dir` (sorted; none when it does not exist).
fn files_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            for e in rd {
                let p = e?.path();
                if p.is_file() {
                    v.push(p);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("read {}", dir.display())),
    }
    v.sort();
    Ok(v)
}

/// Fill `root` (emptied first) with everything but the binaries. Returns the man pages and
/// completions it found.
pub fn stage(root: &Path) -> Result<(usize, usize)> {
    match std::fs::remove_dir_all(root) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("remove {}", root.display())),
    }
    std::fs::create_dir_all(root)?;
    let pkg = workspace_root().join("packaging/deb");
    let read = |name: &str| {
        std::fs::read(pkg.join(name)).with_context(|| format!("read packaging/deb/{name}"))
    };
    put(
        root,
        "/lib/systemd/system/kdump.service",
        packaged(UNIT, "kdump.service")?.as_bytes(),
        0o644,
    )?;
    put(
        root,
        "/etc/init.d/kdump",
        packaged(INIT_SCRIPT, "kdump.init")?.as_bytes(),
        0o755,
    )?;
    put(root, "/etc/kdump.conf", &read("kdump.conf")?, 0o644)?;
    put(root, "/etc/default/kdump", &read("default-kdump")?, 0o644)?;
    let hooks = deb_dir();
    let mut man = 0;
    for p in files_in(&hooks.join("man"))? {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .context("man page name")?
            .to_string();
        let section = name
            .rsplit_once('.')
            .map(|(_, s)| s)
            .filter(|s| s.len() == 1 && s.chars().all(|c| ('1'..='9').contains(&c)))
            .with_context(|| format!("{}: expected NAME.SECTION (e.g. kdump.8)", p.display()))?;
        let gz = gzip_n(&std::fs::read(&p)?)?;
        put(
            root,
            &format!("/usr/share/man/man{section}/{name}.gz"),
            &gz,
            0o644,
        )?;
        man += 1;
    }
    let mut comp = 0;
    for p in files_in(&hooks.join("completions"))? {
        let name = p.file_name().and_then(|n| n.to_str()).context("name")?;
        put(
            root,
            &format!("/usr/share/bash-completion/completions/{name}"),
            &std::fs::read(&p)?,
            0o644,
        )?;
        comp += 1;
    }
    Ok((man, comp))
}

/// Build the .deb (and lint it unless told not to).
pub fn deb(opts: &Opts) -> Result<Built> {
    let dir = deb_dir();
    std::fs::create_dir_all(&dir)?;
    // kdump(8), kexec-load(8), dumpfilter(8), kdump.conf(5) and the completions, from the
    // definitions --help uses, into the hooks stage() reads.
    crate::man::man()?;
    let (man, comp) = stage(&dir.join("root"))?;
    eprintln!(
        "deb: staged {} ({man} man pages, {comp} completions from {}/man and /completions)",
        dir.join("root").display(),
        dir.display()
    );
    let root = workspace_root();
    run(Command::new("cargo")
        .current_dir(&root)
        .args(["build", "--release", "--locked"])
        .args(["-p", "kdump", "-p", "kexec-load", "-p", "dumpfilter"]))?;
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    let mut cmd = Command::new("cargo");
    cmd.current_dir(&root)
        .args(["deb", "-p", "kdump", "--no-build", "--strip", "-o"])
        .arg(&out);
    if let Some(r) = &opts.revision {
        cmd.args(["--deb-revision", r]);
    }
    run(&mut cmd)?;
    let debs = files_in(&out)?;
    let [deb] = debs.as_slice() else {
        bail!(
            "cargo deb made {debs:?} in {}, expected one .deb",
            out.display()
        );
    };
    let name = deb.file_name().context("deb name")?;
    let final_path = dir.join(name);
    std::fs::rename(deb, &final_path)?;
    let lintian = if opts.no_lint {
        None
    } else {
        Some(lint(&final_path)?)
    };
    Ok(Built {
        deb: final_path,
        lintian,
    })
}

/// Run lintian; fail when it reports an error. Returns its report.
pub fn lint(deb: &Path) -> Result<String> {
    let o = Command::new("lintian")
        .args(["--tag-display-limit", "0", "--display-info"])
        .arg(deb)
        .stdin(Stdio::null())
        .output()
        .context("start lintian (cargo xtask setup installs it for `deb`)")?;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let path = deb_dir().join("lintian.txt");
    std::fs::write(&path, &report)?;
    let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("E:")).collect();
    if !errors.is_empty() {
        bail!(
            "lintian: {} error(s) in {} (report {}):\n{}",
            errors.len(),
            deb.display(),
            path.display(),
            errors.join("\n")
        );
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_files_get_the_packaged_path() {
        let unit = packaged(UNIT, "unit").unwrap();
        assert!(unit.contains("ExecStart=/usr/sbin/kdump start"));
        let script = packaged(INIT_SCRIPT, "script").unwrap();
        assert!(script.contains("/usr/sbin/kdump"));
        assert!(packaged("ExecStart=/bin/true", "x").is_err());
        assert!(packaged("/usr/local/bin/kdump /usr/local/x", "x").is_err());
    }

    #[test]
    fn gzip_is_reproducible() {
        let a = gzip_n(b".TH KDUMP 8\n").unwrap();
        assert_eq!(a, gzip_n(b".TH KDUMP 8\n").unwrap());
        assert_eq!(&a[4..8], &[0, 0, 0, 0], "mtime must be 0");
        let mut d = flate2::read::GzDecoder::new(&a[..]);
        let mut s = String::new();
        std::io::Read::read_to_string(&mut d, &mut s).unwrap();
        assert_eq!(s, ".TH KDUMP 8\n");
    }
}
