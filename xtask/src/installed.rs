//! Scenarios on the installed Debian 12 image (src/debian_image.rs), booted through its own
//! GRUB, rebooting as often as the scenario wants inside one QEMU run.
//!
//! The guest boots a qcow2 overlay of the cached image (the image itself is never written) and
//! a payload disk (ext4, label `LABPAYLOAD`) holding `run.sh`, `lab.sh`
//! (xtask/guest/debian/lab.sh) and the scenario's files. The image's boot hook runs
//! `/payload/run.sh` on every boot; `run.sh` is the scenario's `step_N` shell functions, and
//! lab.sh runs the one named in /var/lib/lab-step on the guest's root, so a scenario is a
//! state machine over boots (`next_boot N`, `crash_into N`, `finish RC`). Results come back as
//! `KDUMPRS-RESULT key=value` lines on the serial console, as in every other VM test
//! ([`Guest::results`], [`Guest::block`]).
//!
//! ```ignore
//! let img = debian_image::get(Init::Systemd, false)?;
//! let mut sc = Scenario::new("hello-installed", "step_1() { result kernel \"$(uname -r)\"; next_boot 2; }\nstep_2() { finish 0; }\n");
//! let out = installed::run(&img, &sc)?;      // waits for KDUMPRS-DONE rc=0 and the power-off
//! assert_eq!(out.boots.len(), 2);
//! ```

use crate::debian_image::Image;
use crate::qemu::{Boot, Disk, Guest, GuestSpec};
use crate::util::lab_dir;
use anyhow::{Context, Result};
use regex::Regex;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Label of the payload disk (lab-boot looks it up with `blkid -L`).
pub const PAYLOAD_LABEL: &str = "LABPAYLOAD";
const LAB_SH: &str = include_str!("../guest/debian/lab.sh");

/// A scenario on the installed image.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name: the run directory is `target/xtask/vm/<name>`.
    pub name: String,
    /// Shell text defining `step_1`, `step_2`, ... (run by /bin/sh, with lab.sh's helpers).
    pub steps: String,
    /// Files for the payload disk: (name under /payload, host path).
    pub files: Vec<(String, PathBuf)>,
    /// Guest memory in MiB.
    pub mem_mb: u32,
    /// vCPUs.
    pub smp: u32,
    /// More disks after the root overlay and the payload (`/dev/vdc`, ...).
    pub disks: Vec<Disk>,
    /// Longest time without progress (a boot, a step) before the run fails.
    pub stall: Duration,
    /// Longest time for the whole run.
    pub total: Duration,
    /// Serial-log texts whose appearances are timed ([`Outcome::marks`]).
    pub marks: Vec<&'static str>,
    /// Extra QEMU arguments (a NIC with a guestfwd rule, ...).
    pub qemu_args: Vec<String>,
}

impl Scenario {
    /// Defaults: 2560 MiB (kdump-utils' default crashkernel= table, `2G-64G:256M,64G-:512M`,
    /// reserves nothing below 2 GiB of RAM, and `-m 2048` gives the kernel a little less),
    /// 1 vCPU (two guests run at once on 2 cores: a second vCPU per guest overcommits the
    /// host, and TCG guests then stall in RCU for minutes, seen at boot in virtio probing),
    /// 10 min without progress, 40 min in all.
    pub fn new(name: &str, steps: &str) -> Scenario {
        Scenario {
            name: name.into(),
            steps: steps.into(),
            files: Vec::new(),
            mem_mb: 2560,
            smp: 1,
            disks: Vec::new(),
            stall: Duration::from_secs(600),
            total: Duration::from_secs(2400),
            marks: Vec::new(),
            qemu_args: Vec::new(),
        }
    }
}

/// A finished run.
pub struct Outcome {
    /// The guest (powered off): serial log, results, disks.
    pub guest: Guest,
    /// Seconds from QEMU start to each boot's `KDUMPRS-LABBOOT` line (the payload about to run).
    pub boots: Vec<f64>,
    /// Host seconds since QEMU started at which each of [`Scenario::marks`] appeared in the
    /// serial log (polled every 0.5 s; one entry per line holding it), in the order seen.
    pub marks: Vec<(String, f64)>,
    /// Seconds from QEMU start to `KDUMPRS-DONE`.
    pub done: f64,
}

/// Write the payload directory of `sc` (emptied first).
fn payload(sc: &Scenario, dir: &std::path::Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let run = format!(
        "# run.sh of scenario {name} (written by xtask/src/installed.rs)\nSCENARIO={name}\n\n{steps}\n. /payload/lab.sh\n",
        name = sc.name,
        steps = sc.steps
    );
    std::fs::write(dir.join("run.sh"), run)?;
    std::fs::write(dir.join("lab.sh"), LAB_SH)?;
    for (name, src) in &sc.files {
        std::fs::copy(src, dir.join(name))
            .with_context(|| format!("copy {} to the payload as {name}", src.display()))?;
    }
    Ok(())
}

/// Boot `image` through GRUB with the scenario's payload and wait, bounded, for
/// `KDUMPRS-DONE scenario=<name>` with rc=0 and for the power-off.
pub fn run(image: &Image, sc: &Scenario) -> Result<Outcome> {
    let dir = lab_dir().join("vm").join(&sc.name);
    std::fs::create_dir_all(&dir)?;
    let pdir = dir.join("payload");
    payload(sc, &pdir)?;
    let payload_mib = 64
        + sc.files
            .iter()
            .map(|(_, p)| p.metadata().map(|m| m.len()).unwrap_or(0) >> 20)
            .sum::<u64>()
            * 2;
    let mut spec = GuestSpec::new(&sc.name, &image.kernel(), &sc.name);
    spec.boot = Boot::Firmware;
    spec.reboot = true;
    spec.mem_mb = sc.mem_mb;
    spec.smp = sc.smp;
    spec.disks = vec![
        Disk::Overlay {
            name: "root".into(),
            base: image.disk.clone(),
        },
        Disk::Ext4Labeled {
            name: "payload".into(),
            mib: payload_mib,
            dir: pdir,
            label: PAYLOAD_LABEL.into(),
        },
    ];
    spec.disks.extend(sc.disks.iter().cloned());
    spec.qemu_args = sc.qemu_args.clone();
    let mut g = Guest::boot(spec)?;
    let boot_re = Regex::new(r"KDUMPRS-LABBOOT n=(\d+) ")?;
    let step_re = Regex::new(&format!(r"KDUMPRS-STEP scenario={} step=", sc.name))?;
    let done_pat = format!("KDUMPRS-DONE scenario={} ", sc.name);
    let mut boots: Vec<f64> = Vec::new();
    let mut marks: Vec<(String, f64)> = Vec::new();
    let mut steps = 0;
    let mut last = Instant::now();
    loop {
        let log = g.log();
        let now = g.started.elapsed().as_secs_f64();
        let seen_boots = log.lines().filter(|l| boot_re.is_match(l)).count();
        while boots.len() < seen_boots {
            boots.push(now);
            eprintln!(
                "[vm {}] boot {} reached the payload at {now:.1} s",
                sc.name,
                boots.len()
            );
            last = Instant::now();
        }
        for m in &sc.marks {
            let seen = log.lines().filter(|l| l.contains(m)).count();
            while marks.iter().filter(|(k, _)| k == m).count() < seen {
                marks.push((m.to_string(), now));
            }
        }
        let seen_steps = log.lines().filter(|l| step_re.is_match(l)).count();
        if seen_steps > steps {
            steps = seen_steps;
            last = Instant::now();
        }
        if let Some(done) = log.lines().find(|l| l.contains(&done_pat)) {
            let done = done.to_string();
            if !done.contains(" rc=0 ") {
                return Err(g.fail(format!("scenario {} failed: {done}", sc.name)));
            }
            g.wait_exit(Duration::from_secs(180))?;
            return Ok(Outcome {
                guest: g,
                boots,
                marks,
                done: now,
            });
        }
        if !g.running() {
            return Err(g.fail(format!(
                "QEMU exited before {done_pat} (after {} boot(s))",
                boots.len()
            )));
        }
        if last.elapsed() > sc.stall {
            return Err(g.fail(format!(
                "no progress for {:?} (after {} boot(s), {steps} step(s))",
                sc.stall,
                boots.len()
            )));
        }
        if g.started.elapsed() > sc.total {
            return Err(g.fail(format!("not done within {:?}", sc.total)));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
