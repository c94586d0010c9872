//! `kdump save` against real I/O faults in a capture kernel (issue 19): one crash cycle per
//! fault, the target an ext4 disk labelled `faulty` (kdump-cycle-capture.sh,
//! kdumprs.conf=faulty), the failure action run for real.
//!
//! | fault | injected by | failure_action |
//! |---|---|---|
//! | EIO on write | QEMU blkdebug: `inject-error` on `pwritev`, `iotype=write`, `once=off`, at sectors spread over the file system's free blocks past the first 2 MiB (where the dump directory and vmcore-dmesg.txt go), so the vmcore's data writes fail | dump_to_rootfs (vda, healthy), then poweroff |
//! | EIO on flush | QEMU blkdebug: `set-state` rules on `flush_to_disk` count the first [`FLUSHES_BEFORE_FAULT`] flushes, then `inject-error` on `flush_to_disk`, `iotype=flush`, `once=off` fails every later one | poweroff |
//! | ENOSPC | a 16 MiB target for a ~40 MB dump | reboot |
//!
//! Each run must show `kdump save: saving vmcore failed: ...` naming the error, never
//! "saving vmcore complete"; the target (read on the host with debugfs) holds no `vmcore`,
//! only nothing or a readable `vmcore-incomplete`; and the configured action ran (its
//! `kdump: running action:` line and the kernel's power-off or restart message).

use super::{check_label_dump, cycle_with, sh, sparse, MIB};
use crate::kernel::Series;
use crate::qemu::{Disk, Guest};
use anyhow::{ensure, Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Flushes (with writes before them) that pass before every later one fails. Counted by
/// QEMU on the target only after a write, so the first kernel (which never writes it) does
/// not count. The mount, the dump directory's three levels and vmcore-dmesg.txt take fewer,
/// the vmcore's write-back (an fdatasync every 4 MiB) many more: measured, flush 17 fails
/// once 9,000-11,000 pages (12-13 MB) of the vmcore are written.
const FLUSHES_BEFORE_FAULT: u32 = 16;

/// One fault of the test.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fault {
    Write,
    Flush,
    Enospc,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Write => "eio-write",
            Fault::Flush => "eio-flush",
            Fault::Enospc => "enospc",
        }
    }
}

/// A new sparse ext4 image, 4 KiB blocks (one block group: allocation starts at the first
/// free block), inode tables and journal written by mkfs (no lazy init writing in the
/// background of the capture kernel).
fn ext4(path: &Path, mib: u64, label: &str) -> Result<()> {
    sparse(path, mib * MIB)?;
    sh(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-b", "4096", "-L", label])
        .args(["-E", "lazy_itable_init=0,lazy_journal_init=0"])
        .arg(path))?;
    Ok(())
}

/// The free block ranges of an ext image (dumpe2fs), in bytes.
fn free_ranges(image: &Path) -> Result<Vec<(u64, u64)>> {
    let out = sh(Command::new("dumpe2fs").arg(image))?;
    let bs: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("Block size:"))
        .and_then(|v| v.trim().parse().ok())
        .context("dumpe2fs: no block size")?;
    let mut v = Vec::new();
    for l in out.lines() {
        // Per group, indented (the header's "Free blocks:" is a count).
        let Some(list) = l.strip_prefix("  Free blocks: ") else {
            continue;
        };
        for r in list.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            let (a, b) = r.split_once('-').unwrap_or((r, r));
            let a: u64 = a.parse().with_context(|| format!("dumpe2fs range {r}"))?;
            let b: u64 = b.parse().with_context(|| format!("dumpe2fs range {r}"))?;
            v.push((a * bs, (b + 1) * bs));
        }
    }
    ensure!(
        !v.is_empty(),
        "dumpe2fs lists no free blocks in {}",
        image.display()
    );
    v.sort_unstable();
    Ok(v)
}

/// blkdebug rules failing every write that covers one of the sectors every 256 KiB of the
/// free space after its first 2 MiB. Returns the rules and the first failing byte.
fn write_rules(image: &Path) -> Result<(String, u64)> {
    let mut skip = 2 * MIB;
    let mut conf = String::new();
    let mut first = None;
    for (a, b) in free_ranges(image)? {
        let mut at = a;
        if skip > 0 {
            let n = skip.min(b - a);
            skip -= n;
            at += n;
        }
        while at < b {
            first.get_or_insert(at);
            writeln!(
                conf,
                "[inject-error]\nevent = \"pwritev\"\niotype = \"write\"\nerrno = \"5\"\nonce = \"off\"\nsector = \"{}\"\n",
                at / 512
            )?;
            at += 256 << 10;
        }
    }
    let first = first.context("no free space past the first 2 MiB")?;
    Ok((conf, first))
}

/// blkdebug rules: `n` flushes pass, every later one fails with EIO.
fn flush_rules(n: u32) -> String {
    let mut conf = String::new();
    for s in 1..=n {
        let _ = writeln!(
            conf,
            "[set-state]\nevent = \"flush_to_disk\"\nstate = \"{s}\"\nnew_state = \"{}\"\n",
            s + 1
        );
    }
    let _ = writeln!(
        conf,
        "[inject-error]\nevent = \"flush_to_disk\"\nstate = \"{}\"\niotype = \"flush\"\nerrno = \"5\"\nonce = \"off\"",
        n + 1
    );
    conf
}

/// One entry of `debugfs ls -p`: inode, name, size.
#[derive(Debug)]
struct Entry {
    inode: u64,
    name: String,
    size: u64,
}

/// `debugfs -R "ls -p DIR"` (None: no such directory).
fn ls(image: &Path, dir: &str) -> Result<Option<Vec<Entry>>> {
    let out = Command::new("debugfs")
        .arg("-R")
        .arg(format!("ls -p {dir}"))
        .arg(image)
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("File not found") {
        return Ok(None);
    }
    ensure!(out.status.success(), "debugfs ls -p {dir}: {err}");
    let mut v = Vec::new();
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        // /inode/mode/uid/gid/name/size/
        let f: Vec<&str> = l.trim().split('/').collect();
        if f.len() < 7 {
            continue;
        }
        let name = f[5].to_string();
        if name == "." || name == ".." {
            continue;
        }
        v.push(Entry {
            inode: f[1].parse().unwrap_or(0),
            name,
            size: f[6].parse().unwrap_or(0),
        });
    }
    Ok(Some(v))
}

/// What the failed save left on the target.
#[derive(Debug, Default)]
struct Left {
    /// `e2fsck -fn` after the journal replay: its exit status (0: clean).
    fsck: i32,
    /// The dump directory, if any reached the disk.
    dir: Option<String>,
    /// Its entries.
    names: Vec<String>,
    /// vmcore-incomplete: inode, size, header (read back with debugfs).
    incomplete: Option<(u64, u64, Header)>,
}

/// What the first bytes of vmcore-incomplete say.
#[derive(Debug, PartialEq, Eq)]
enum Header {
    /// A kdump-compressed header (`KDUMP   `) with this status word.
    Kdump { status: u32 },
    /// Anything else (zeros where the write-back of the header failed).
    Other([u8; 8]),
}

/// DUMP_DH_COMPRESSED_INCOMPLETE of the header's status word.
const INCOMPLETE: u32 = 0x8;

fn header(data: &[u8]) -> Header {
    match (data.get(..8), data.get(424..428)) {
        (Some(b"KDUMP   "), Some(s)) => Header::Kdump {
            status: u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
        },
        _ => {
            let mut h = [0u8; 8];
            for (d, s) in h.iter_mut().zip(data) {
                *d = *s;
            }
            Header::Other(h)
        }
    }
}

/// Reads the target as its next mount would see it: a copy of the image with its journal
/// replayed (`e2fsck -E journal_only`; debugfs alone reads only what was checkpointed), then
/// `e2fsck -fn` for consistency. At most one dump directory, no `vmcore` in it, a
/// `vmcore-incomplete` (if any) that debugfs can copy out whole.
fn left_on(g: &Guest, image: &Path) -> Result<Left> {
    let copy = g.dir.join("target-replayed.img");
    let _ = std::fs::remove_file(&copy);
    sh(Command::new("cp")
        .arg("--sparse=always")
        .arg(image)
        .arg(&copy))?;
    let replay = Command::new("e2fsck")
        .args(["-y", "-E", "journal_only"])
        .arg(&copy)
        .output()?;
    ensure!(
        replay.status.code().is_some_and(|c| c < 4),
        "e2fsck -E journal_only {}: {} {}",
        copy.display(),
        replay.status,
        String::from_utf8_lossy(&replay.stdout)
    );
    let check = Command::new("e2fsck").arg("-fn").arg(&copy).output()?;
    let mut left = Left {
        fsck: check.status.code().unwrap_or(-1),
        ..Left::default()
    };
    let image = copy.as_path();
    let Some(crash) = ls(image, "/var/crash")? else {
        return Ok(left);
    };
    let dirs: Vec<&Entry> = crash
        .iter()
        .filter(|e| e.name.starts_with("127.0.0.1-"))
        .collect();
    ensure!(
        dirs.len() <= 1,
        "{}",
        g.fail(format!("several dump directories: {crash:?}"))
    );
    let Some(d) = dirs.first() else {
        return Ok(left);
    };
    let dir = format!("/var/crash/{}", d.name);
    let entries = ls(image, &dir)?.unwrap_or_default();
    left.names = entries.iter().map(|e| e.name.clone()).collect();
    ensure!(
        !left.names.iter().any(|n| n == "vmcore"),
        "{}",
        g.fail(format!(
            "{dir} holds a `vmcore` after a failed save: {:?}",
            left.names
        ))
    );
    if let Some(e) = entries.iter().find(|e| e.name == "vmcore-incomplete") {
        let out = g.dir.join("vmcore-incomplete");
        super::debugfs_dump(image, &format!("{dir}/vmcore-incomplete"), &out)?;
        let data = std::fs::read(&out)?;
        ensure!(
            data.len() as u64 == e.size,
            "{dir}/vmcore-incomplete: debugfs copied {} of {} bytes",
            data.len(),
            e.size
        );
        left.incomplete = Some((e.inode, e.size, header(&data)));
        let _ = std::fs::remove_file(&out);
    }
    left.dir = Some(dir);
    let _ = std::fs::remove_file(&copy);
    Ok(left)
}

/// The inodes of ext4's "I/O error 10 writing to inode N" warnings.
fn failed_inodes(log: &str) -> Vec<u64> {
    log.lines()
        .filter_map(|l| l.split("writing to inode ").nth(1))
        .filter_map(|r| r.split_whitespace().next())
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// One line of the summary table.
struct Row {
    fault: Fault,
    injected: String,
    message: String,
    kernel: String,
    file_state: String,
    action: String,
}

fn line_with<'a>(log: &'a str, needle: &str) -> Option<&'a str> {
    log.lines().find(|l| l.contains(needle)).map(str::trim)
}

fn run_fault(series: Series, fault: Fault) -> Result<Row> {
    let name = format!("kdump-faults-{}-{}", fault.name(), series.name());
    let dir = crate::util::lab_dir().join("vm").join(&name);
    std::fs::create_dir_all(&dir)?;
    let target = dir.join("faulty.img");
    let conf = dir.join("blkdebug.conf");
    let mut disks = Vec::new();
    let mut rootfs: Option<PathBuf> = None;
    let (injected, failure, append) = match fault {
        Fault::Write => {
            let root = dir.join("rootfs.img");
            ext4(&root, 128, "root")?;
            ext4(&target, 96, "faulty")?;
            let (rules, first) = write_rules(&target)?;
            std::fs::write(&conf, &rules)?;
            disks.push(Disk::Existing(root.clone()));
            disks.push(Disk::Blkdebug {
                image: target.clone(),
                config: conf.clone(),
            });
            rootfs = Some(root);
            (
                format!(
                    "blkdebug on vdb (96 MiB ext4): EIO on every write covering one of {} sectors, every 256 KiB from byte {first} (free space past its first 2 MiB)",
                    rules.matches("[inject-error]").count()
                ),
                "dump_to_rootfs",
                "kdumprs.sysroot=vda",
            )
        }
        Fault::Flush => {
            ext4(&target, 96, "faulty")?;
            std::fs::write(&conf, flush_rules(FLUSHES_BEFORE_FAULT))?;
            disks.push(Disk::Blkdebug {
                image: target.clone(),
                config: conf.clone(),
            });
            (
                format!(
                    "blkdebug on vda (96 MiB ext4): flush_to_disk fails with EIO from flush {} on",
                    FLUSHES_BEFORE_FAULT + 1
                ),
                "poweroff",
                "",
            )
        }
        Fault::Enospc => {
            ext4(&target, 16, "faulty")?;
            disks.push(Disk::Existing(target.clone()));
            ("vda: a 16 MiB ext4 target".to_string(), "reboot", "")
        }
    };
    let (g, _) = cycle_with(
        series,
        &name,
        &format!(
            "kdumprs.mode=ours kdumprs.conf=faulty kdumprs.action=run kdumprs.failure={failure} {append}"
        ),
        disks,
        Vec::new(),
        true,
    )?;
    let log = g.log();
    let capture = log.split("KDUMPRS-CAPTURE").nth(1).unwrap_or_default();
    let want_error = match fault {
        Fault::Enospc => "No space left on device",
        _ => "Input/output error",
    };
    let message = line_with(capture, "kdump save: saving vmcore failed: ")
        .ok_or_else(|| g.fail("no `kdump save: saving vmcore failed:` on the console"))?
        .to_string();
    ensure!(
        message.contains(want_error),
        "{}",
        g.fail(format!(
            "the failure does not name `{want_error}`: {message}"
        ))
    );
    ensure!(
        !capture.contains("saving vmcore complete"),
        "{}",
        g.fail("kdump save reported the dump complete")
    );
    ensure!(
        !capture.contains("KDUMPRS-DONE") && !capture.contains("kdump save returned"),
        "{}",
        g.fail("kdump save returned: its failure action did not end the guest")
    );
    // The fault was real: the kernel saw the device fail.
    let kernel = match fault {
        Fault::Enospc => String::new(),
        _ => line_with(capture, "I/O error, dev vd")
            .ok_or_else(|| g.fail("the kernel logged no I/O error on the target"))?
            .to_string(),
    };
    let kernel = match line_with(capture, "writing to inode") {
        Some(ext4) if fault == Fault::Write => format!("{kernel}; {ext4}"),
        _ => kernel,
    };
    // The action that ran.
    let (action_line, power) = match fault {
        Fault::Write => (
            "kdump: running action: dump_to_rootfs saved /sysroot/var/crash/127.0.0.1-",
            "reboot: Power down",
        ),
        Fault::Flush => ("kdump: running action: poweroff", "reboot: Power down"),
        Fault::Enospc => ("kdump: running action: reboot", "reboot: Restarting system"),
    };
    for needle in [action_line, power] {
        ensure!(
            capture.contains(needle),
            "{}",
            g.fail(format!("`{needle}` not in the capture log"))
        );
    }
    let mut action = line_with(capture, "kdump: running action:")
        .unwrap_or_default()
        .trim_start_matches("kdump: running action: ")
        .to_string();
    if let Some(root) = &rootfs {
        let size = check_label_dump(&g, root)?;
        action.push_str(&format!(
            " (complete, {:.1} MB, read back from vda)",
            size as f64 / 1e6
        ));
    }
    action.push_str(&format!("; kernel: {power}"));
    // What the target holds.
    let left = left_on(&g, &target)?;
    if fault == Fault::Write {
        // The failed writes were the vmcore's: ext4 names its inode.
        let inodes = failed_inodes(capture);
        if let Some((ino, _, _)) = &left.incomplete {
            ensure!(
                inodes.contains(ino),
                "{}",
                g.fail(format!(
                    "ext4's write errors name inodes {inodes:?}, vmcore-incomplete is inode {ino}"
                ))
            );
        }
    }
    // Where the file system stays writable (the data writes fail, or space runs out),
    // vmcore-incomplete is there and its header on the disk says INCOMPLETE (the writer
    // rewrites it after the failure; before that was fixed it stayed zeros after EIO). A
    // failed flush aborts the journal and ext4 turns read-only: the header cannot be
    // marked there, the file's name is the mark.
    if matches!(fault, Fault::Write | Fault::Enospc) {
        match &left.incomplete {
            Some((_, _, Header::Kdump { status })) if status & INCOMPLETE != 0 => {}
            other => {
                return Err(g.fail(format!(
                    "expected vmcore-incomplete with an INCOMPLETE kdump header on the target, found {other:?} in {:?}",
                    left.dir
                )))
            }
        }
    }
    let mut file_state = match (&left.dir, &left.incomplete) {
        (None, _) => "no dump directory on the target".to_string(),
        (Some(d), None) => format!("{d}: {:?}, no vmcore-incomplete", left.names),
        (Some(d), Some((ino, size, head))) => format!(
            "{d}: {:?}; vmcore-incomplete inode {ino}, {size} bytes, {}",
            left.names,
            match head {
                Header::Kdump { status } if status & INCOMPLETE != 0 =>
                    format!("kdump header, status {status:#x} (INCOMPLETE set)"),
                Header::Kdump { status } => format!(
                    "kdump header, status {status:#x} (INCOMPLETE not set: the file system went read-only)"
                ),
                Header::Other(b) => format!("no kdump header on the disk (starts {b:02x?})"),
            }
        ),
    };
    file_state.push_str(&format!(
        " [after journal replay; e2fsck -fn exit {}]",
        left.fsck
    ));
    Ok(Row {
        fault,
        injected,
        message,
        kernel,
        file_state,
        action,
    })
}

/// `kdump save` against EIO on write, EIO on flush and ENOSPC in the capture kernel.
pub fn faults(series: Series) -> Result<()> {
    let mut rows = Vec::new();
    for fault in [Fault::Write, Fault::Flush, Fault::Enospc] {
        rows.push(run_fault(series, fault)?);
    }
    eprintln!(
        "  kdump-faults {}: fault | injected | console | kernel | file state | action",
        series.name()
    );
    for r in rows {
        eprintln!(
            "    {} | {} | {} | {} | {} | {}",
            r.fault.name(),
            r.injected,
            r.message,
            r.kernel,
            r.file_state,
            r.action
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_rules_count_then_fail() {
        let c = flush_rules(2);
        assert_eq!(c.matches("[set-state]").count(), 2);
        assert!(c.contains("state = \"2\"\nnew_state = \"3\""));
        assert!(c.ends_with("state = \"3\"\niotype = \"flush\"\nerrno = \"5\"\nonce = \"off\"\n"));
    }

    #[test]
    fn kdump_header_status() {
        let mut b = vec![0u8; 4096];
        b[..8].copy_from_slice(b"KDUMP   ");
        b[424] = 0x9;
        assert_eq!(header(&b), Header::Kdump { status: 9 });
        assert_eq!(header(&[0; 3]), Header::Other([0; 8]));
    }

    #[test]
    fn inodes_of_ext4_write_errors() {
        let log = "[ 9.1] EXT4-fs warning (device vdb): ext4_end_bio:343: I/O error 10 writing to inode 14 starting block 9216)\nother\n";
        assert_eq!(failed_inodes(log), vec![14]);
    }
}
