//! VM tests of `kdump load` + `kdump save` (issue 7). Scenarios: xtask/guest/scenarios/
//! kdump-e2e.sh (first kernel: kdump.conf, /etc/sysconfig/kdump, `kdump load`, sysrq-c) and
//! kdump-e2e-capture.sh (capture kernel: `kdump save` to ext4 LABEL=kdumpfs, raw /dev/vdb and
//! ext3 /dev/vdc1, plus Debian makedumpfile's flattened stream of the same crash on /dev/vdd).
//! The disks are made on the host (mkfs.ext4 -L, an MBR written here + mkfs.ext3) and read
//! back without mounting (debugfs); pages are compared with crates/kdump-service's
//! `dump-diff` example.

use super::expect;
use crate::initramfs;
use crate::kernel::{Kernel, Series};
use crate::qemu::{Disk, Guest, GuestSpec};
use crate::util::workspace_root;
use anyhow::{bail, ensure, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;

fn sh(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("cannot run {}", crate::util::show(cmd)))?;
    ensure!(
        out.status.success(),
        "`{}` failed: {} {}",
        crate::util::show(cmd),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn sparse(path: &Path, bytes: u64) -> Result<()> {
    let _ = std::fs::remove_file(path);
    std::fs::File::create(path)?.set_len(bytes)?;
    Ok(())
}

/// An MBR with one Linux partition starting at sector 2048 and filling the disk.
fn write_mbr(path: &Path, disk_bytes: u64) -> Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let mut mbr = [0u8; 512];
    let e = &mut mbr[446..462];
    e[4] = 0x83;
    e[8..12].copy_from_slice(&2048u32.to_le_bytes());
    e[12..16].copy_from_slice(&((disk_bytes / 512 - 2048) as u32).to_le_bytes());
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.seek(SeekFrom::Start(0))?;
    f.write_all(&mbr)?;
    Ok(())
}

struct Disks {
    label: PathBuf,
    raw: PathBuf,
    parted: PathBuf,
    reference: PathBuf,
}

fn make_disks(dir: &Path) -> Result<Disks> {
    std::fs::create_dir_all(dir)?;
    let d = Disks {
        label: dir.join("e2e-label.img"),
        raw: dir.join("e2e-raw.img"),
        parted: dir.join("e2e-parted.img"),
        reference: dir.join("e2e-ref.img"),
    };
    sparse(&d.label, 256 * MIB)?;
    sh(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", "kdumpfs"])
        .arg(&d.label))?;
    sparse(&d.raw, 128 * MIB)?;
    sparse(&d.reference, 128 * MIB)?;
    // vdc: MBR + ext3 in partition 1 (the seed's `ext3 /dev/vdb1` style).
    let part = dir.join("e2e-part1.img");
    sparse(&part, 255 * MIB)?;
    sh(Command::new("mkfs.ext3").args(["-q", "-F"]).arg(&part))?;
    sparse(&d.parted, 256 * MIB)?;
    write_mbr(&d.parted, 256 * MIB)?;
    sh(Command::new("dd")
        .arg(format!("if={}", part.display()))
        .arg(format!("of={}", d.parted.display()))
        .args(["bs=1M", "seek=1", "conv=notrunc,sparse", "status=none"]))?;
    let _ = std::fs::remove_file(&part);
    Ok(d)
}

/// The per-dump directories under `dir` of an ext image (debugfs `ls`).
fn dump_dirs(image: &Path, dir: &str) -> Result<Vec<String>> {
    let out = sh(Command::new("debugfs")
        .arg("-R")
        .arg(format!("ls {dir}"))
        .arg(image))?;
    Ok(out
        .split_whitespace()
        .filter(|w| w.starts_with("127.0.0.1-"))
        .map(String::from)
        .collect())
}

fn debugfs_ls(image: &Path, dir: &str) -> Result<String> {
    sh(Command::new("debugfs")
        .arg("-R")
        .arg(format!("ls {dir}"))
        .arg(image))
}

fn debugfs_dump(image: &Path, from: &str, to: &Path) -> Result<()> {
    let _ = std::fs::remove_file(to);
    sh(Command::new("debugfs")
        .arg("-R")
        .arg(format!("dump {from} {}", to.display()))
        .arg(image))?;
    ensure!(
        to.exists(),
        "debugfs could not dump {from} from {}",
        image.display()
    );
    Ok(())
}

/// Runs the `dump-diff` example (built on first use); returns its summary line.
fn dump_diff(a: &Path, b: &Path) -> Result<(bool, String)> {
    let root = workspace_root();
    let out = Command::new("cargo")
        .current_dir(&root)
        .args([
            "run",
            "-q",
            "--release",
            "-p",
            "kdump-service",
            "--example",
            "dump-diff",
            "--",
        ])
        .arg(a)
        .arg(b)
        .stderr(Stdio::inherit())
        .output()?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match out.status.code() {
        Some(0) => Ok((true, line)),
        Some(1) => Ok((false, line)),
        _ => bail!("dump-diff {} {} failed: {line}", a.display(), b.display()),
    }
}

fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX)
}

/// Boots the e2e pair; returns the guest and the seconds from sysrq-c to the first save done.
fn run(series: Series, mode: &str) -> Result<(Guest, Disks, f64)> {
    let k = Kernel::get(series)?;
    let name = format!("kdump-e2e-{mode}-{}", series.name());
    let mut spec = GuestSpec::new(&name, &k, "kdump-e2e");
    spec.mem_mb = 1024;
    spec.append = format!("crashkernel=192M hugepages=8 kdumprs.huge=4 kdumprs.e2e={mode}");
    spec.initramfs = initramfs::Spec {
        ours: true,
        kexec_payload: true,
        ..Default::default()
    };
    let dir = crate::util::lab_dir().join("vm").join(&name);
    let disks = make_disks(&dir)?;
    spec.disks = vec![
        Disk::Existing(disks.label.clone()),
        Disk::Existing(disks.raw.clone()),
        Disk::Existing(disks.parted.clone()),
        Disk::Existing(disks.reference.clone()),
    ];
    let mut g = Guest::boot(spec)?;
    g.wait_for("KDUMPRS-CRASH", Duration::from_secs(600))?;
    let crash = Instant::now();
    g.wait_for("KDUMPRS-SAVED", Duration::from_secs(900))?;
    let saved = crash.elapsed().as_secs_f64();
    super::finish(
        &mut g,
        "kdump-e2e-capture",
        Duration::from_secs(900),
        Duration::from_secs(60),
    )?;
    Ok((g, disks, saved))
}

/// `kdump load` in the first kernel, `kdump save` to ext4 LABEL=, raw and ext3 /dev/vdc1 in the
/// capture kernel; every dump complete and page-equal to Debian makedumpfile's of the same crash.
pub fn e2e(series: Series) -> Result<()> {
    let (g, d, saved_s) = run(series, "ours")?;
    for (k, v) in [
        ("check_rc", "0"),
        ("load_rc", "0"),
        ("loaded", "1"),
        ("unload_rc", "0"),
        ("unloaded", "0"),
        ("reload_rc", "0"),
        ("save_label_rc", "0"),
        ("save_raw_rc", "0"),
        ("save_dev_rc", "0"),
        ("ref_rc", "0"),
    ] {
        expect(&g, k, v)?;
    }
    let out = g.dir.join("e2e-out");
    std::fs::create_dir_all(&out)?;
    // The reference: Debian makedumpfile's flattened stream on vdd.
    let reference = d.reference.clone();
    // ext4 LABEL=kdumpfs: /var/crash/127.0.0.1-DATE/{vmcore,vmcore-dmesg.txt}, nothing incomplete.
    let dirs = dump_dirs(&d.label, "/var/crash")?;
    ensure!(
        dirs.len() == 1,
        "{}",
        g.fail(format!("dump directories on LABEL=kdumpfs: {dirs:?}"))
    );
    let ddir = format!("/var/crash/{}", dirs[0]);
    let listing = debugfs_ls(&d.label, &ddir)?;
    ensure!(
        listing.contains("vmcore-dmesg.txt") && !listing.contains("incomplete"),
        "{}",
        g.fail(format!("{ddir} holds: {listing}"))
    );
    let label_vmcore = out.join("label-vmcore");
    debugfs_dump(&d.label, &format!("{ddir}/vmcore"), &label_vmcore)?;
    let dmesg = out.join("vmcore-dmesg.txt");
    debugfs_dump(&d.label, &format!("{ddir}/vmcore-dmesg.txt"), &dmesg)?;
    let dm = std::fs::read_to_string(&dmesg)?;
    ensure!(
        dm.contains("Linux version") && dm.contains("sysrq"),
        "vmcore-dmesg.txt lacks the banner or the sysrq crash"
    );
    // ext3 on /dev/vdc1: extract the partition, then debugfs.
    let part = out.join("part1.img");
    sh(Command::new("dd")
        .arg(format!("if={}", d.parted.display()))
        .arg(format!("of={}", part.display()))
        .args(["bs=1M", "skip=1", "status=none"]))?;
    let pdirs = dump_dirs(&part, "/dumps")?;
    ensure!(pdirs.len() == 1, "dump directories on /dev/vdc1: {pdirs:?}");
    let dev_vmcore = out.join("dev-vmcore");
    debugfs_dump(&part, &format!("/dumps/{}/vmcore", pdirs[0]), &dev_vmcore)?;
    let _ = std::fs::remove_file(&part);
    // The raw disk reassembled by makedumpfile -R, as an administrator would.
    let raw_r = out.join("raw-reassembled.kdump");
    let _ = std::fs::remove_file(&raw_r);
    sh(Command::new("makedumpfile")
        .arg("-R")
        .arg(&raw_r)
        .stdin(std::fs::File::open(&d.raw)?)
        .stdout(Stdio::null()))?;
    // Compare every dump with the reference, page by page.
    let strict = series == Series::V6_1;
    let mut lines = Vec::new();
    for (what, path) in [
        ("ext4 LABEL=kdumpfs", &label_vmcore),
        ("raw /dev/vdb (flattened)", &d.raw),
        ("raw /dev/vdb after makedumpfile -R", &raw_r),
        ("ext3 /dev/vdc1 (dumpfilter)", &dev_vmcore),
    ] {
        let (same, line) = dump_diff(path, &reference)?;
        ensure!(same, "{what}: pages differ from makedumpfile's: {line}");
        ensure!(
            field(&line, "incomplete_a") == 0 && field(&line, "both") > 1000,
            "{what}: {line}"
        );
        if strict {
            ensure!(
                field(&line, "only_a") == 0 && field(&line, "only_b") == 0,
                "{what}: page set differs from makedumpfile -d 31: {line}"
            );
        }
        lines.push(format!("    {what}: {line}"));
    }
    eprintln!(
        "  kdump-e2e {}: sysrq-c to first dump complete {saved_s:.1} s (our loader + in-process makedumpfile -l -d 31); makedumpfile -F -l -d 31 alone in the same capture: {} s",
        series.name(),
        g.results().get("ref_seconds").cloned().unwrap_or_default()
    );
    for l in lines {
        eprintln!("{l}");
    }
    Ok(())
}

/// The same crash-to-dump path with Debian's kexec -p + makedumpfile (timing reference).
pub fn e2e_debian(series: Series) -> Result<()> {
    let (g, d, saved_s) = run(series, "debian")?;
    expect(&g, "load_rc", "0")?;
    expect(&g, "save_label_rc", "0")?;
    let dirs = dump_dirs(&d.label, "/var/crash")?;
    ensure!(dirs.len() == 1, "dump directories: {dirs:?}");
    eprintln!(
        "  kdump-e2e-debian {}: sysrq-c to dump complete {saved_s:.1} s (kexec -p + makedumpfile -l -d 31)",
        series.name()
    );
    Ok(())
}
