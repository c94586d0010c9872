//! `cargo xtask crash-check`: the crash utility opens our dumps and says exactly what it says
//! of makedumpfile's.
//!
//! Debian's crash 8.0.2 (linked with zlib, liblzo2, libsnappy and libzstd) is given the
//! crashed kernel's debug vmlinux, taken from the matching `linux-image-ABI-dbg` package
//! (858 MB download, 630 MB vmlinux, cached under `~/.cache/kdump-rs/dbg`). The 6.1 kdump
//! fixture is written by `dumpfilter -d 31` uncompressed and with -c, -l, -p and -z; crash
//! runs `sys`, `bt`, `kmem -i`, `log` and `ps` on each, and on makedumpfile's own `-d 31`
//! reference; the outputs must be identical but for the DUMPFILE line. So crash reads every
//! codec of ours, snappy and zstd included, which makedumpfile 1.7.2 cannot write. Last, a
//! dump cut short by `-L` (as by a full disk) is reported by crash as incomplete.

use crate::fixtures;
use crate::util::{cache_dir, workspace_root};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What crash is asked on every dump.
const COMMANDS: &str = "sys\nbt\nkmem -i\nlog\nps\nquit\n";

/// The dumpfilter modes checked: (label, options).
const MODES: &[(&str, &[&str])] = &[
    ("uncompressed", &[]),
    ("zlib (-c)", &["-c"]),
    ("lzo (-l)", &["-l"]),
    ("snappy (-p)", &["-p"]),
    ("zstd (-z)", &["-z"]),
];

/// The Debian package version of the kernel that wrote `serial_log` ("Debian 6.1.192-2").
fn kernel_version(serial_log: &Path) -> Result<String> {
    let log = std::fs::read(serial_log).with_context(|| format!("{}", serial_log.display()))?;
    let text = String::from_utf8_lossy(&log);
    let line = text
        .lines()
        .find(|l| l.contains("Linux version"))
        .context("no `Linux version` banner in the fixture's serial log")?;
    let at = line
        .find(" Debian ")
        .context("the kernel banner names no Debian version")?;
    let version = line[at + 8..]
        .split_whitespace()
        .next()
        .context("empty Debian version")?;
    Ok(version.to_string())
}

/// The debug vmlinux of kernel `abi` at package version `version`, downloaded and extracted
/// once.
fn debug_vmlinux(abi: &str, version: &str) -> Result<PathBuf> {
    let dir = cache_dir().join("dbg").join(format!("{abi}_{version}"));
    let vmlinux = dir.join(format!("vmlinux-{abi}"));
    if vmlinux.exists() {
        return Ok(vmlinux);
    }
    std::fs::create_dir_all(&dir)?;
    let pkg = format!("linux-image-{abi}-dbg={version}");
    eprintln!("[crash] downloading {pkg} (about 860 MB) ...");
    crate::util::run(
        Command::new("apt-get")
            .current_dir(&dir)
            .args(["download", "-q", &pkg]),
    )
    .with_context(|| format!("{pkg} is not in the archive any more; crash cannot be checked"))?;
    let deb = std::fs::read_dir(&dir)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .context("apt-get download left no .deb")?;
    eprintln!("[crash] extracting vmlinux-{abi} ...");
    let part = dir.join("vmlinux.part");
    let script = format!(
        "dpkg-deb --fsys-tarfile '{}' | tar -xO ./usr/lib/debug/boot/vmlinux-{abi} > '{}'",
        deb.display(),
        part.display()
    );
    let r = crate::util::run(Command::new("sh").args(["-c", &script]));
    let _ = std::fs::remove_file(&deb);
    r?;
    if std::fs::metadata(&part)?.len() < 1 << 20 {
        bail!("the extracted vmlinux is too small");
    }
    std::fs::rename(&part, &vmlinux)?;
    Ok(vmlinux)
}

/// crash's answers to [`COMMANDS`] on `dump`, with the DUMPFILE line dropped.
fn crash_says(vmlinux: &Path, dump: &Path, cmds: &Path) -> Result<String> {
    let out = Command::new("crash")
        .arg("-s")
        .arg(vmlinux)
        .arg(dump)
        .arg("-i")
        .arg(cmds)
        .stdin(Stdio::null())
        .output()
        .context("cannot run crash")?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("crash failed on {}: {}", dump.display(), text.trim());
    }
    Ok(text
        .lines()
        .filter(|l| !l.trim_start().starts_with("DUMPFILE:"))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// The first differing line of two outputs, for the error message.
fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}: ours `{x}`, makedumpfile's `{y}`", i + 1);
        }
    }
    format!(
        "ours has {} lines, makedumpfile's {}",
        a.lines().count(),
        b.lines().count()
    )
}

/// Run the check; returns a one-line summary.
pub fn crash_check() -> Result<String> {
    let fx = fixtures::kdump_fixture("6.1")?;
    let vmcore = fixtures::abs(&fx.vmcore);
    let reference = vmcore
        .parent()
        .context("fixture path")?
        .join("ref/d31.kdump");
    let version = kernel_version(&fixtures::abs(&fx.serial_log))?;
    let vmlinux = debug_vmlinux(&fx.kernel_abi, &version)?;
    crate::util::run(
        Command::new(env!("CARGO"))
            .current_dir(workspace_root())
            .args(["build", "--quiet", "-p", "dumpfilter"]),
    )?;
    let dumpfilter = workspace_root().join("target/debug/dumpfilter");
    let scratch = workspace_root().join("target/xtask/crash");
    std::fs::create_dir_all(&scratch)?;
    let cmds = scratch.join("commands");
    std::fs::write(&cmds, COMMANDS)?;

    let expected = crash_says(&vmlinux, &reference, &cmds)?;
    for want in [
        format!("RELEASE: {}", fx.kernel_abi),
        "PANIC: \"Kernel panic - not syncing: sysrq triggered crash\"".to_string(),
        "sysrq_handle_crash".to_string(),
    ] {
        if !expected.contains(&want) {
            bail!("crash on makedumpfile's dump does not show `{want}`: is the vmlinux right?");
        }
    }
    for (label, args) in MODES {
        let out = scratch.join("ours.kdump");
        let _ = std::fs::remove_file(&out);
        crate::util::run(
            Command::new(&dumpfilter)
                .args(["-d", "31"])
                .args(*args)
                .arg(&vmcore)
                .arg(&out)
                .stdout(Stdio::null()),
        )?;
        let ours = crash_says(&vmlinux, &out, &cmds)?;
        if ours != expected {
            bail!(
                "crash says something else of our {label} dump: {}",
                first_difference(&ours, &expected)
            );
        }
        eprintln!(
            "[crash] {label}: identical to makedumpfile's ({} lines)",
            ours.lines().count()
        );
        let _ = std::fs::remove_file(&out);
    }
    // A dump cut short by a full disk (-L): crash must see the INCOMPLETE flag.
    let out = scratch.join("incomplete.kdump");
    let _ = std::fs::remove_file(&out);
    let st = Command::new(&dumpfilter)
        .args(["-d", "31", "-l", "-L", "20000000"])
        .arg(&vmcore)
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if st.success() {
        bail!("dumpfilter -L 20000000 succeeded: the dump should not fit");
    }
    std::fs::write(&cmds, "quit\n")?;
    let said = Command::new("crash")
        .arg("-s")
        .arg(&vmlinux)
        .arg(&out)
        .arg("-i")
        .arg(&cmds)
        .stdin(Stdio::null())
        .output()?;
    let said =
        String::from_utf8_lossy(&said.stdout).into_owned() + &String::from_utf8_lossy(&said.stderr);
    if !said.contains("This dumpfile is incomplete") {
        bail!(
            "crash did not report our INCOMPLETE dump as incomplete: {}",
            said.trim()
        );
    }
    eprintln!("[crash] a dump cut at 20 MB (-L): crash reports it incomplete");
    let _ = std::fs::remove_file(&out);
    Ok(format!(
        "crash {} lines identical on 5 codecs; INCOMPLETE recognized",
        expected.lines().count()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_version_is_read_from_the_banner() {
        let dir = std::env::temp_dir().join(format!("xtask-crash-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("serial.log");
        std::fs::write(
            &log,
            "noise\n[    0.000000] Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) \
             (gcc-12) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)\n",
        )
        .unwrap();
        assert_eq!(kernel_version(&log).unwrap(), "6.1.192-2");
        std::fs::write(&log, "no banner\n").unwrap();
        assert!(kernel_version(&log).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn differences_are_located() {
        assert_eq!(
            first_difference("a\nb\nc", "a\nx\nc"),
            "line 2: ours `b`, makedumpfile's `x`"
        );
        assert_eq!(
            first_difference("a", "a\nb"),
            "ours has 1 lines, makedumpfile's 2"
        );
    }
}
