//! VM tests of `kdump load` + `kdump save` (issue 7). Scenarios: xtask/guest/scenarios/
//! kdump-e2e.sh (first kernel: kdump.conf, /etc/sysconfig/kdump, `kdump load`, sysrq-c) and
//! kdump-e2e-capture.sh (capture kernel: `kdump save` to ext4 LABEL=kdumpfs, raw /dev/vdb and
//! ext3 /dev/vdc1, plus Debian makedumpfile's flattened stream of the same crash on /dev/vdd).
//! The disks are made on the host (mkfs.ext4 -L, an MBR written here + mkfs.ext3) and read
//! back without mounting (debugfs); pages are compared with crates/kdump-service's
//! `dump-diff` example.

mod faults;
mod nfsd;

pub use faults::faults;

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
fn run(series: Series) -> Result<(Guest, Disks, f64)> {
    let k = Kernel::get(series)?;
    let name = format!("kdump-e2e-ours-{}", series.name());
    let mut spec = GuestSpec::new(&name, &k, "kdump-e2e");
    spec.mem_mb = 1024;
    spec.append = "crashkernel=192M hugepages=8 kdumprs.huge=4".into();
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
    let (g, d, saved_s) = run(series)?;
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

/// A 256 MiB ext4 image labelled `kdumpfs` (the LABEL= target of kdump-cycle).
pub fn label_disk(path: &Path) -> Result<()> {
    sparse(path, 256 * MIB)?;
    sh(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", "kdumpfs"])
        .arg(path))?;
    Ok(())
}

/// The one dump directory under `dir` of an ext image and its listing.
pub fn only_dump_dir(image: &Path, dir: &str, host: &str) -> Result<(String, String)> {
    let out = debugfs_ls(image, dir)?;
    let dirs: Vec<&str> = out
        .split_whitespace()
        .filter(|w| w.starts_with(&format!("{host}-")))
        .collect();
    ensure!(
        dirs.len() == 1,
        "expected one {host}-* dump directory under {dir} in {}: {out}",
        image.display()
    );
    let d = format!("{dir}/{}", dirs[0]);
    let listing = debugfs_ls(image, &d)?;
    Ok((d, listing))
}

/// Copies a file out of an ext image (debugfs, never mounted).
pub fn debugfs_get(image: &Path, from: &str, to: &Path) -> Result<()> {
    debugfs_dump(image, from, to)
}

/// Host-clock times of one kdump-cycle run.
pub struct CycleTimes {
    /// sysrq-c (KDUMPRS-CRASH seen) to the capture kernel's /init running the scenario.
    pub to_capture: f64,
    /// sysrq-c to the dump complete on disk (KDUMPRS-SAVED).
    pub to_saved: f64,
    /// The capture kernel's uptime at KDUMPRS-CAPTURE and KDUMPRS-SAVED (guest clock).
    pub capture_uptimes: (f64, f64),
}

fn uptime_of(line: &str) -> f64 {
    line.split("uptime=")
        .nth(1)
        .and_then(|u| u.split_whitespace().next())
        .and_then(|u| u.parse().ok())
        .unwrap_or(f64::NAN)
}

/// One kdump-cycle guest (6.1 or 6.12, 1 GiB, crashkernel=192M, workload 30 MiB + 4 huge
/// pages) with `append` added, vda = `disk`; returns after QEMU exits.
pub fn cycle(
    series: Series,
    name: &str,
    append: &str,
    disks: Vec<Disk>,
    extra: Vec<(String, PathBuf)>,
) -> Result<(Guest, CycleTimes)> {
    cycle_with(series, name, append, disks, extra, false)
}

/// [`cycle`]; with `action_run` (kdumprs.action=run) the final/failure action ends the guest:
/// no KDUMPRS-SAVED/KDUMPRS-DONE, only QEMU's exit is awaited (the times stay NaN).
fn cycle_with(
    series: Series,
    name: &str,
    append: &str,
    disks: Vec<Disk>,
    extra: Vec<(String, PathBuf)>,
    action_run: bool,
) -> Result<(Guest, CycleTimes)> {
    let k = Kernel::get(series)?;
    let mut spec = GuestSpec::new(name, &k, "kdump-cycle");
    spec.mem_mb = 1024;
    spec.append = format!("crashkernel=192M hugepages=8 kdumprs.huge=4 {append}");
    spec.initramfs = initramfs::Spec {
        ours: true,
        kexec_payload: true,
        extra,
    };
    spec.disks = disks;
    let mut g = Guest::boot(spec)?;
    g.wait_for("KDUMPRS-CRASH", Duration::from_secs(600))?;
    let crash = Instant::now();
    let cap = g.wait_for("KDUMPRS-CAPTURE", Duration::from_secs(600))?;
    let to_capture = crash.elapsed().as_secs_f64();
    if action_run {
        g.wait_exit(Duration::from_secs(900))?;
        return Ok((
            g,
            CycleTimes {
                to_capture,
                to_saved: f64::NAN,
                capture_uptimes: (uptime_of(&cap), f64::NAN),
            },
        ));
    }
    let saved = g.wait_for("KDUMPRS-SAVED", Duration::from_secs(900))?;
    let to_saved = crash.elapsed().as_secs_f64();
    super::finish(
        &mut g,
        "kdump-cycle-capture",
        Duration::from_secs(120),
        Duration::from_secs(60),
    )?;
    Ok((
        g,
        CycleTimes {
            to_capture,
            to_saved,
            capture_uptimes: (uptime_of(&cap), uptime_of(&saved)),
        },
    ))
}

/// The dump of a kdump-cycle run on its LABEL=kdumpfs disk: complete (renamed `vmcore`, no
/// `vmcore-incomplete`), with vmcore-dmesg.txt, a kdump-compressed file. Returns its size.
fn check_label_dump(g: &Guest, image: &Path) -> Result<u64> {
    let (d, listing) =
        only_dump_dir(image, "/var/crash", "127.0.0.1").map_err(|e| g.fail(format!("{e:#}")))?;
    ensure!(
        listing.contains("vmcore-dmesg.txt") && !listing.contains("incomplete"),
        "{}",
        g.fail(format!("{d} holds: {listing}"))
    );
    let out = g.dir.join("vmcore.kdump");
    debugfs_dump(image, &format!("{d}/vmcore"), &out)?;
    let head = std::fs::read(&out)?;
    ensure!(
        head.starts_with(b"KDUMP   "),
        "{d}/vmcore is not a kdump-compressed file"
    );
    Ok(head.len() as u64)
}

/// Timing note of issue 7: the same crash-to-dump-complete interval with Debian's kexec -p +
/// makedumpfile and with `kdump load` + `kdump save`, in the same guest configuration (same
/// kernel, memory, crashkernel, workload, ext4 LABEL= target, `makedumpfile -l -d 31`), run
/// back to back in the order Debian, ours, ours, Debian so a change of host load during the
/// test weighs on both sides. Prints every run, the means and their ratio; asserts only that
/// every dump is complete.
pub fn timing(series: Series) -> Result<()> {
    let mut rows = Vec::new();
    for (i, mode) in ["debian", "ours", "ours", "debian"].into_iter().enumerate() {
        let name = format!("kdump-timing-{mode}-{}-{}", i + 1, series.name());
        let dir = crate::util::lab_dir().join("vm").join(&name);
        std::fs::create_dir_all(&dir)?;
        let disk = dir.join("kdumpfs.img");
        label_disk(&disk)?;
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let (g, t) = cycle(
            series,
            &name,
            &format!("kdumprs.mode={mode} kdumprs.conf=label"),
            vec![Disk::Existing(disk.clone())],
            Vec::new(),
        )?;
        expect(&g, "load_rc", "0")?;
        expect(&g, "save_rc", "0")?;
        let size = check_label_dump(&g, &disk)?;
        let load1 = load.split_whitespace().next().unwrap_or("?").to_string();
        rows.push((mode, t, size, load1));
    }
    eprintln!(
        "  kdump timing {} (1 GiB, crashkernel=192M, 1 vCPU TCG, `makedumpfile -l -d 31` to ext4 LABEL=kdumpfs; host clock from sysrq-c):",
        series.name()
    );
    for (mode, t, size, load) in &rows {
        let who = if *mode == "ours" {
            "ours   kdump load + kdump save "
        } else {
            "Debian kexec -p + makedumpfile "
        };
        eprintln!(
            "    {who} capture /init {:>5.1} s, dump complete {:>5.1} s (save {:>4.1} s by the capture kernel's clock), {:.1} MB, host load {load}",
            t.to_capture,
            t.to_saved,
            t.capture_uptimes.1 - t.capture_uptimes.0,
            *size as f64 / 1e6
        );
    }
    let mean = |mode: &str, f: &dyn Fn(&CycleTimes) -> f64| {
        let v: Vec<f64> = rows
            .iter()
            .filter(|r| r.0 == mode)
            .map(|r| f(&r.1))
            .collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let total = |t: &CycleTimes| t.to_saved;
    let save = |t: &CycleTimes| t.capture_uptimes.1 - t.capture_uptimes.0;
    let (dt, ot) = (mean("debian", &total), mean("ours", &total));
    let (ds, os) = (mean("debian", &save), mean("ours", &save));
    eprintln!(
        "    means: Debian {dt:.1} s (save {ds:.1} s), ours {ot:.1} s (save {os:.1} s); ratio ours/Debian: crash to dump complete {:.2}, save step {:.2}",
        ot / dt,
        os / ds
    );
    Ok(())
}

/// The modules the nfs capture needs, as extra initramfs files in /lib/modules/nfs/
/// (kdump-cycle-capture.sh insmods them in this order); `.ko.xz` (6.12) are decompressed into
/// `dir`. Modules built into the kernel, and fscache (part of netfs since 6.4), are skipped.
fn nfs_modules(series: Series, dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let k = Kernel::get(series)?;
    let builtin = std::fs::read_to_string(k.modules().join("modules.builtin")).unwrap_or_default();
    let base = k.modules().join("kernel");
    let out = dir.join("nfs-modules");
    std::fs::create_dir_all(&out)?;
    let mut v = Vec::new();
    for m in [
        "drivers/net/ethernet/intel/e1000/e1000",
        "net/sunrpc/sunrpc",
        "fs/nfs_common/grace",
        "fs/lockd/lockd",
        "fs/nfs_common/nfs_acl",
        "fs/netfs/netfs",
        "fs/fscache/fscache",
        "fs/nfs/nfs",
        "fs/nfs/nfsv3",
    ] {
        let name = m.rsplit('/').next().unwrap_or(m);
        let plain = base.join(format!("{m}.ko"));
        let xz = base.join(format!("{m}.ko.xz"));
        let file = if plain.exists() {
            plain
        } else if xz.exists() {
            let to = out.join(format!("{name}.ko"));
            let bytes = Command::new("xz").arg("-dc").arg(&xz).output()?;
            ensure!(bytes.status.success(), "xz -dc {} failed", xz.display());
            std::fs::write(&to, bytes.stdout)?;
            to
        } else if builtin.lines().any(|l| l == format!("kernel/{m}.ko")) || name == "fscache" {
            continue;
        } else {
            bail!("{m}.ko is missing in {}", k.abi);
        };
        v.push((format!("lib/modules/nfs/{name}.ko"), file));
    }
    Ok(v)
}

/// `nfs 10.0.2.2:/export`: `kdump save` mounts the export of a userspace NFSv3 server that this
/// test runs on 127.0.0.1 (an ephemeral port, a fresh export directory; QEMU's user network
/// maps 10.0.2.2 to the host's loopback) and writes
/// `/export/var/crash/10.0.2.15-DATE/{vmcore,vmcore-dmesg.txt}`.
pub fn nfs(series: Series) -> Result<()> {
    let name = format!("kdump-nfs-{}", series.name());
    let dir = crate::util::lab_dir().join("vm").join(&name);
    let export = dir.join("export");
    let _ = std::fs::remove_dir_all(&export);
    std::fs::create_dir_all(&export)?;
    let server = nfsd::start(&export)?;
    let port = server.port;
    let (g, t) = cycle(
        series,
        &name,
        &format!("kdumprs.mode=ours kdumprs.conf=nfs kdumprs.nfsport={port}"),
        Vec::new(),
        nfs_modules(series, &dir)?,
    )?;
    let calls = server.calls.lock().map(|c| c.clone()).unwrap_or_default();
    drop(server);
    expect(&g, "save_rc", "0")?;
    let crash = export.join("var/crash");
    let dirs: Vec<PathBuf> = std::fs::read_dir(&crash)
        .with_context(|| format!("{} (nothing arrived over NFS)", crash.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    ensure!(
        dirs.len() == 1
            && dirs[0]
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("10.0.2.15-")),
        "{}",
        g.fail(format!("dump directories over NFS: {dirs:?}"))
    );
    let d = &dirs[0];
    ensure!(
        !d.join("vmcore-incomplete").exists() && d.join("vmcore-dmesg.txt").exists(),
        "{}: incomplete or without vmcore-dmesg.txt",
        d.display()
    );
    let vmcore = std::fs::read(d.join("vmcore"))?;
    ensure!(
        vmcore.starts_with(b"KDUMP   ") && vmcore.len() > 1 << 20,
        "{}/vmcore is not a kdump-compressed dump",
        d.display()
    );
    let mut served: Vec<String> = calls.iter().map(|(k, v)| format!("{k} {v}")).collect();
    served.sort();
    eprintln!(
        "  kdump-nfs {}: {}/vmcore {:.1} MB over NFSv3 (sysrq-c to dump complete {:.1} s); server calls: {}",
        series.name(),
        d.display(),
        vmcore.len() as f64 / 1e6,
        t.to_saved,
        served.join(", ")
    );
    Ok(())
}

/// A target that cannot be found (`ext4 LABEL=missing`) with `failure_action dump_to_rootfs`
/// and `final_action poweroff`, run for real: the dump lands on the root file system (vda,
/// mounted on /sysroot as the capture initramfs would) and `kdump save` powers the guest off
/// (the kernel's "reboot: Power down", QEMU exits, /init never reports DONE).
pub fn rootfs_poweroff(series: Series) -> Result<()> {
    let name = format!("kdump-rootfs-{}", series.name());
    let dir = crate::util::lab_dir().join("vm").join(&name);
    std::fs::create_dir_all(&dir)?;
    let root = dir.join("rootfs.img");
    sparse(&root, 256 * MIB)?;
    sh(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", "root"])
        .arg(&root))?;
    let (g, _) = cycle_with(
        series,
        &name,
        "kdumprs.mode=ours kdumprs.conf=rootfs kdumprs.action=run",
        vec![Disk::Existing(root.clone())],
        Vec::new(),
        true,
    )?;
    let log = g.log();
    let capture = log.split("KDUMPRS-CAPTURE").nth(1).unwrap_or_default();
    for (what, needle) in [
        (
            "the missing target is reported",
            "saving vmcore failed: dump target LABEL=missing: no such device",
        ),
        (
            "dump_to_rootfs ran, then poweroff",
            "kdump: running action: dump_to_rootfs saved /sysroot/var/crash/127.0.0.1-",
        ),
        ("the kernel powered off", "reboot: Power down"),
    ] {
        ensure!(
            capture.contains(needle),
            "{}",
            g.fail(format!("{what}: `{needle}` not in the capture log"))
        );
    }
    ensure!(
        !capture.contains("KDUMPRS-DONE") && !capture.contains("kdump save returned"),
        "{}",
        g.fail("kdump save returned: the guest was powered off by /init, not by final_action")
    );
    let size = check_label_dump(&g, &root)?;
    eprintln!(
        "  kdump-rootfs {}: LABEL=missing failed, dump_to_rootfs left a complete {:.1} MB vmcore on the root fs, final_action poweroff powered the guest off",
        series.name(),
        size as f64 / 1e6
    );
    Ok(())
}
