//! VM tests on the installed Debian 12 image (src/debian_image.rs, src/installed.rs).

use crate::deb;
use crate::debian_image::{self, Init};
use crate::installed::{self, Scenario};
use crate::qemu::{Disk, Guest};
use crate::sshd::{self, Sshd};
use crate::util::{lab_dir, output};
use anyhow::{ensure, Context, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

const INSTALLED_DEB: &str = include_str!("../../guest/debian/scenarios/installed-deb.sh");
const INSTALLED_KDUMP: &str = include_str!("../../guest/debian/scenarios/installed-kdump.sh");
/// What the serial log shows at sysrq-c, when our capture init starts, when the dump is saved.
const CRASH: &str = "KDUMPRS-CRASH";
const CAPTURE_UP: &str = "kdump: capture kernel init";
const SAVED: &str = "kdump: saving vmcore complete";
/// The third crash (the ssh target), the capture init's network line, the ssh dump saved.
const CRASH_SSH: &str = "KDUMPRS-CRASH step=5";
const NET_UP: &str = "kdump: network: ";
const SAVED_SSH: &str = "kdump: saving vmcore complete: root@";

fn want(g: &Guest, pairs: &[(&str, &str)]) -> Result<()> {
    let r = g.results();
    for (k, v) in pairs {
        if r.get(*k).map(String::as_str) != Some(*v) {
            return Err(g.fail(format!("expected {k}={v}, got {:?}", r.get(*k))));
        }
    }
    Ok(())
}

/// What every test on the installed image needs: the tools (setup), the cached image for
/// `init`, and a scenario whose payload holds the .deb (revision 1, lintian-checked) and its
/// upgrade (revision 2). Returns them with the seconds the two .debs took.
///
/// The VM tests run two at a time: apt (in setup) and the .debs (one staging tree) are shared,
/// so they are made once, under a lock, and later callers reuse them (0 seconds); each image
/// has a lock of its own.
fn prepare(init: Init, name: &str, steps: &str) -> Result<(debian_image::Image, Scenario, f64)> {
    static DEBS: Mutex<Option<(PathBuf, PathBuf)>> = Mutex::new(None);
    let mut debs = DEBS.lock().unwrap_or_else(|p| p.into_inner());
    let t_deb = Instant::now();
    let (d1, d2) = match &*debs {
        Some(d) => d.clone(),
        None => {
            crate::setup::setup(crate::setup::Opts {
                debian_image: true,
                deb: true,
                ..Default::default()
            })?;
            let d1 = deb::deb(&deb::Opts::default())?.deb;
            let d2 = deb::deb(&deb::Opts {
                revision: Some("2".into()),
                no_lint: true,
            })?
            .deb;
            debs.insert((d1, d2)).clone()
        }
    };
    let deb_seconds = t_deb.elapsed().as_secs_f64();
    drop(debs);
    // An image not cached yet is built once: by the first test that asks for it while the
    // others of that image wait (the two images build side by side).
    static IMAGES: [Mutex<()>; 2] = [Mutex::new(()), Mutex::new(())];
    let building = IMAGES[match init {
        Init::Systemd => 0,
        Init::SysV => 1,
    }]
    .lock()
    .unwrap_or_else(|p| p.into_inner());
    let img = debian_image::get(init, false)?;
    drop(building);
    let mut sc = Scenario::new(name, steps);
    for d in [&d1, &d2] {
        let file = d
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("kdump-rs.deb")
            .to_string();
        sc.files.push((file, d.clone()));
    }
    Ok((img, sc, deb_seconds))
}

/// `installed-deb`: the .deb on the installed image, booted through GRUB: apt install,
/// reset-crashkernel + update-grub + reboot, enable --now, status, the boot-time start,
/// reinstall, upgrade (a conffile edit survives), purge (nothing left).
pub fn installed_deb(init: Init) -> Result<()> {
    let t = Instant::now();
    let name = match init {
        Init::Systemd => "installed-deb",
        Init::SysV => "installed-deb-sysv",
    };
    let (img, sc, deb_seconds) = prepare(init, name, INSTALLED_DEB)?;
    let out = installed::run(&img, &sc)?;
    let g = &out.guest;
    let r = g.results();
    ensure!(
        r.contains_key("installed_by"),
        "{}",
        g.fail("no installed_by result")
    );
    let mut pairs = vec![
        ("bins", "3"),
        ("version", "0.1.0-1"),
        // cargo-deb marks everything in /etc, the init script too (as policy wants)
        (
            "conffiles",
            "/etc/default/kdump /etc/init.d/kdump /etc/kdump.conf",
        ),
        ("rc_links", "1"),
        ("var_lib_kdump", "700"),
        ("check_rc", "0"),
        ("reset_rc", "0"),
        ("update_grub_rc", "0"),
        ("iomem_crash", "1"),
        ("enable_rc", "0"),
        ("active", "active"),
        ("loaded", "1"),
        ("status_rc", "0"),
        ("boot3_active", "active"),
        ("boot3_loaded", "1"),
        ("boot3_status_rc", "0"),
        ("reinstall_rc", "0"),
        ("reinstall_active", "active"),
        ("upgrade_rc", "0"),
        ("upgrade_version", "0.1.0-2"),
        ("upgrade_conf_kept", "1"),
        ("upgrade_active", "active"),
        ("upgrade_loaded", "1"),
        ("purge_rc", "0"),
        ("purged_loaded", "0"),
        ("leftovers", "0"),
        ("masked", "0"),
    ];
    if init == Init::Systemd {
        pairs.push(("enabled", "enabled"));
    }
    want(g, &pairs)?;
    let ck = r.get("cmdline_crashkernel").cloned().unwrap_or_default();
    ensure!(
        ck.starts_with("crashkernel="),
        "{}",
        g.fail(format!(
            "/proc/cmdline has no crashkernel= after the reboot ({ck:?})"
        ))
    );
    let size: u64 = r
        .get("crash_size")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    ensure!(
        size > 0,
        "{}",
        g.fail("kexec_crash_size is 0 after the reboot")
    );
    ensure!(
        out.boots.len() == 3,
        "{}",
        g.fail(format!("expected 3 boots, saw {}", out.boots.len()))
    );
    let gaps: Vec<String> = out
        .boots
        .windows(2)
        .map(|w| format!("{:.0} s", w[1] - w[0]))
        .collect();
    eprintln!(
        "  {name}: image {} built in {:.0} s (mmdebstrap {:.0} s, first boot {:.0} s); debs {:.0} s; \
         QEMU start to the payload through GRUB {:.0} s, boot to boot {}, done at {:.0} s; \
         {}, crashkernel {} ({} MiB); wall {:.0} s",
        img.info.init,
        img.info.build_seconds,
        img.info.mmdebstrap_seconds,
        img.info.firstboot_seconds,
        deb_seconds,
        out.boots[0],
        gaps.join(", "),
        out.done,
        r.get("installed_by").map(String::as_str).unwrap_or("?"),
        ck,
        size >> 20,
        t.elapsed().as_secs_f64(),
    );
    Ok(())
}

/// `installed-kdump`: a whole kdump cycle on the installed image booted through GRUB, with the
/// .deb's defaults (dump to /var/crash on the root file system, final_action reboot): apt
/// install, reset-crashkernel + reboot, `systemctl enable --now kdump` (builds our capture
/// image and loads it), `kdump test --yes`; the capture kernel boots our image, whose init
/// saves the dump and reboots; back in the first kernel the dump is complete and private, and
/// makedumpfile reads its log up to the sysrq line; a second crash to xfs by UUID=; a third
/// to ssh: a real sshd on the host's loopback ([`Sshd`]), reached through QEMU's guestfwd as
/// `root@kdump-dumphost` (10.0.2.100 by the guest's /etc/hosts), the key placed and `kdump propagate`d, the capture kernel's network set
/// up from the recorded config and the flattened dump streamed over ssh, checked on the
/// host's side ([`check_ssh_dump`]); then reinstall, upgrade (a conffile edit kept) and purge
/// (nothing left), as installed-deb checks them under SysV.
pub fn installed_kdump() -> Result<()> {
    let t = Instant::now();
    let (img, mut sc, _) = prepare(Init::Systemd, "installed-kdump", INSTALLED_KDUMP)?;
    sc.marks = vec![CRASH, CAPTURE_UP, SAVED, CRASH_SSH, NET_UP, SAVED_SSH];
    // The ssh target's server: a real sshd on the host's loopback, 10.0.2.100:22 in the guest.
    let ssh = Sshd::start(&lab_dir().join("vm/installed-kdump-sshd"))?;
    let env = ssh.dir.join("ssh.env");
    std::fs::write(
        &env,
        format!(
            "SSH_SERVER=root@{}\nSSH_PATH={}\n",
            sshd::GUEST_ADDR,
            ssh.dump_root().display()
        ),
    )?;
    sc.files.push(("ssh.env".into(), env));
    sc.files
        .push(("kdump_id_rsa".into(), ssh.client_key.clone()));
    sc.files.push((
        "kdump_id_rsa.pub".into(),
        ssh.client_key.with_extension("pub"),
    ));
    sc.qemu_args = ssh.guestfwd_nic();
    // /dev/vdc: the second target, made xfs by the guest
    sc.disks.push(Disk::Blank {
        name: "xfs".into(),
        mib: 1024,
    });
    let out = installed::run(&img, &sc)?;
    let g = &out.guest;
    want(
        g,
        &[
            ("reset_rc", "0"),
            ("update_grub_rc", "0"),
            ("enable_rc", "0"),
            ("loaded", "1"),
            ("status_rc", "0"),
            ("image_rc", "0"),
            ("dmesg_sysrq", "1"),
            ("mdf_dmesg_rc", "0"),
            ("mdf_sysrq", "1"),
            ("loaded_again", "1"),
            ("enabled", "enabled"),
            ("reinstall_rc", "0"),
            ("reinstall_active", "active"),
            ("upgrade_rc", "0"),
            ("upgrade_version", "0.1.0-2"),
            ("upgrade_conf_kept", "1"),
            ("upgrade_active", "active"),
            ("upgrade_loaded", "1"),
            ("purge_rc", "0"),
            ("purged_loaded", "0"),
            ("leftovers", "0"),
            ("masked", "0"),
            ("mkfs_rc", "0"),
            ("stale_said", "1"),
            ("restart_rc", "0"),
            ("restart_loaded", "1"),
            ("image_xfs", "1"),
            ("xfs_files", "vmcore vmcore-dmesg.txt"),
            ("xfs_modes", "700 600"),
            ("xfs_mdf_rc", "0"),
            ("xfs_sysrq", "1"),
            // disk_dump_header.status: DUMP_DH_COMPRESSED_ZLIB (-c)
            ("xfs_zlib", "1"),
            ("propagate_rc", "0"),
            ("ssh_pinned", "1"),
            ("ssh_restart_rc", "0"),
            ("ssh_loaded", "1"),
            ("ssh_list_rc", "0"),
            ("ssh_img_ssh", "1"),
            ("ssh_img_key", "1"),
            ("ssh_img_known", "1"),
            ("ssh_img_nic", "1"),
            ("ssh_back", "1"),
        ],
    )?;
    let ssh_dump = check_ssh_dump(g, &ssh)?;
    // The server was given by name: the capture init mapped it to the build-time address.
    let pinned = format!("kdump-dumphost is {}", sshd::GUEST_ADDR);
    ensure!(
        g.log().contains(&pinned),
        "{}",
        g.fail(format!("no \"{pinned}\" from the capture init"))
    );
    let r = g.results();
    let files = r.get("files").cloned().unwrap_or_default();
    ensure!(
        files.split_whitespace().any(|f| f == "vmcore")
            && files.split_whitespace().any(|f| f == "vmcore-dmesg.txt")
            && !files.contains("incomplete"),
        "{}",
        g.fail(format!("the dump directory holds {files:?}"))
    );
    let modes = r.get("modes").cloned().unwrap_or_default();
    let m: Vec<&str> = modes.split_whitespace().collect();
    ensure!(
        m.len() == 4 && m[1] == "700" && m[2] == "600" && m[3] == "600",
        "{}",
        g.fail(format!(
            "modes of /var/crash, the dump dir, vmcore, vmcore-dmesg.txt: {modes}"
        ))
    );
    let log = g.log();
    let crash_at = log.lines().position(|l| l.contains(CRASH));
    let saved_at = log.lines().position(|l| l.contains(SAVED));
    ensure!(
        matches!((crash_at, saved_at), (Some(c), Some(s)) if s > c),
        "{}",
        g.fail("the capture kernel's init did not report the saved dump on the console")
    );
    let at = |m: &str| out.marks.iter().find(|(k, _)| k == m).map(|(_, t)| *t);
    let since_crash = |t: Option<f64>| match (at(CRASH), t) {
        (Some(c), Some(t)) => format!("{:.0} s", t - c),
        _ => "?".into(),
    };
    // The ssh cycle: the first of each mark after the third crash.
    let after = |m: &str, from: Option<f64>| {
        from.and_then(|f| {
            out.marks
                .iter()
                .find(|(k, t)| k == m && *t >= f)
                .map(|(_, t)| *t)
        })
    };
    let ssh_crash = at(CRASH_SSH);
    let gap = |t: Option<f64>| match (ssh_crash, t) {
        (Some(c), Some(t)) => format!("{:.0} s", t - c),
        _ => "?".into(),
    };
    eprintln!(
        "  installed-kdump ssh: sysrq-c to capture init {}, to network up {}, to dump complete \
         {}, to the first kernel's boot service {}; {} ({} bytes flattened)",
        gap(after(CAPTURE_UP, ssh_crash)),
        gap(after(NET_UP, ssh_crash)),
        gap(after(SAVED_SSH, ssh_crash)),
        gap(out.boots.get(4).copied()),
        ssh_dump.0.display(),
        ssh_dump.1,
    );
    drop(ssh);
    // The first kernel is back when boot 3's payload (the lab's boot service) runs.
    eprintln!(
        "  installed-kdump: sysrq-c to capture init {}, to dump complete {}, to the first \
         kernel's boot service {}; boots at {:?} s, done at {:.0} s; capture image {} bytes; \
         vmcore {} bytes; wall {:.0} s",
        since_crash(at(CAPTURE_UP)),
        since_crash(at(SAVED)),
        since_crash(out.boots.get(2).copied()),
        out.boots,
        out.done,
        r.get("image_size").map(String::as_str).unwrap_or("?"),
        r.get("vmcore_size").map(String::as_str).unwrap_or("?"),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The ssh dump on the host's sshd side: one `<guest address>-<date>/` directory (0700) in
/// the sshd's dump root holding `vmcore.flat` and `vmcore-dmesg.txt` (0600) and nothing
/// incomplete, as kdump-utils names them; makedumpfile -R reassembles the flattened stream
/// and Debian's makedumpfile reads its log up to the sysrq line. Returns the directory and
/// the flattened size.
fn check_ssh_dump(g: &Guest, ssh: &Sshd) -> Result<(PathBuf, u64)> {
    let root = ssh.dump_root();
    let dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .with_context(|| format!("{}", root.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    let bad = |msg: String| {
        g.fail(format!(
            "{msg}\n----- sshd log ({}) -----\n{}",
            ssh.log.display(),
            crate::util::tail(&ssh.log, 40)
        ))
    };
    let [dir] = dirs.as_slice() else {
        return Err(bad(format!(
            "expected one dump directory in {}, found {dirs:?}",
            root.display()
        )));
    };
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    ensure!(
        name.starts_with("10.0.2.15-"),
        "{}",
        bad(format!(
            "the dump directory {name} is not named after the guest's address 10.0.2.15"
        ))
    );
    let mut files: Vec<String> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    ensure!(
        files == ["vmcore-dmesg.txt", "vmcore.flat"],
        "{}",
        bad(format!("{} holds {files:?}", dir.display()))
    );
    let mode = |p: &Path| -> Result<u32> { Ok(std::fs::metadata(p)?.permissions().mode() & 0o777) };
    let flat = dir.join("vmcore.flat");
    let dmesg = dir.join("vmcore-dmesg.txt");
    let modes = (mode(dir)?, mode(&flat)?, mode(&dmesg)?);
    ensure!(
        modes == (0o700, 0o600, 0o600),
        "{}",
        bad(format!(
            "modes of the dump dir, vmcore.flat, vmcore-dmesg.txt: {:o} {:o} {:o}",
            modes.0, modes.1, modes.2
        ))
    );
    const SYSRQ: &str = "sysrq: Trigger a crash";
    let text = std::fs::read_to_string(&dmesg)?;
    ensure!(
        text.contains(SYSRQ),
        "{}",
        bad(format!("{} has no `{SYSRQ}` line", dmesg.display()))
    );
    // Reassemble outside the sshd's tree, then read the log with Debian's makedumpfile.
    let work = lab_dir().join("vm/installed-kdump/ssh-check");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let vmcore = work.join("vmcore");
    let r = Command::new("makedumpfile")
        .arg("-R")
        .arg(&vmcore)
        .stdin(std::fs::File::open(&flat)?)
        .output()
        .context("makedumpfile -R")?;
    ensure!(
        r.status.success(),
        "{}",
        bad(format!(
            "makedumpfile -R {} < vmcore.flat: {}: {}",
            vmcore.display(),
            r.status,
            String::from_utf8_lossy(&r.stderr)
        ))
    );
    let log = work.join("dmesg.txt");
    output(
        Command::new("makedumpfile")
            .arg("--dump-dmesg")
            .arg(&vmcore)
            .arg(&log),
    )
    .map_err(|e| {
        bad(format!(
            "makedumpfile --dump-dmesg of the reassembled dump: {e:#}"
        ))
    })?;
    ensure!(
        std::fs::read_to_string(&log)?.contains(SYSRQ),
        "{}",
        bad(format!(
            "the dump's log ({}, makedumpfile --dump-dmesg) has no `{SYSRQ}` line",
            log.display()
        ))
    );
    Ok((dir.clone(), flat.metadata()?.len()))
}
