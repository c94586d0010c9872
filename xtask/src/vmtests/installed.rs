//! VM tests on the installed Debian 12 image (src/debian_image.rs, src/installed.rs).

use crate::deb;
use crate::debian_image::{self, Init};
use crate::installed::{self, Scenario};
use crate::qemu::{Disk, Guest};
use anyhow::{ensure, Result};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

const INSTALLED_DEB: &str = include_str!("../../guest/debian/scenarios/installed-deb.sh");
const INSTALLED_KDUMP: &str = include_str!("../../guest/debian/scenarios/installed-kdump.sh");
/// What the serial log shows at sysrq-c, when our capture init starts, when the dump is saved.
const CRASH: &str = "KDUMPRS-CRASH";
const CAPTURE_UP: &str = "kdump: capture kernel init";
const SAVED: &str = "kdump: saving vmcore complete";

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
/// makedumpfile reads its log up to the sysrq line; then reinstall, upgrade (a conffile edit
/// kept) and purge (nothing left), as installed-deb checks them under SysV.
pub fn installed_kdump() -> Result<()> {
    let t = Instant::now();
    let (img, mut sc, _) = prepare(Init::Systemd, "installed-kdump", INSTALLED_KDUMP)?;
    sc.marks = vec![CRASH, CAPTURE_UP, SAVED];
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
        ],
    )?;
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
