//! `cargo xtask`: setup, lab, fixtures, test, bench, fuzz, demo. See xtask/README.md.

mod bench;
mod crashcheck;
mod deb;
mod debian_image;
mod demo;
mod elf;
mod fixtures;
mod fuzz;
mod initramfs;
mod installed;
mod kernel;
mod makedumpfile;
mod man;
mod qemu;
mod qmp;
mod setup;
mod sshd;
mod test;
mod util;
mod vmtests;

use anyhow::{bail, Context, Result};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: cargo xtask <command> [options]
  setup [--fuzz] [--force]       install what everything needs (apt, rustup; --fuzz: cargo-fuzz;
                                 --force: run apt even when everything looks installed)
  lab [--kernel 6.1|6.12] [--mem MiB] [--smp N] [--append ARGS] [--ours] [--kexec] SCENARIO
                                 boot a guest, run xtask/guest/scenarios/SCENARIO.sh, print results
  lab --list                     list scenarios and VM tests
  lab --test NAME                run one VM test (exact name; no fixtures stage)
  fixtures [--only NAME] [--force]  build missing fixtures, write manifest.json, print stats
  test [--quick] [--fuzz SECONDS] [--vm FILTER] [--vm-jobs N]
                                 fmt, clippy, cargo test, VM tests (not with --quick; 2 guests
                                 at a time, or N, or $KDUMP_RS_VM_JOBS), fuzz smoke
  demo                           kdump cycle in a 6.1 guest: crash, capture, filter, page table
  bench                          dumpfilter vs makedumpfile on the 6.1 fixture
  man                            man pages and bash completions into target/xtask/deb/
  crash-check                    crash (with the debug vmlinux) reads our dumps of every codec as
                                 it reads makedumpfile's (860 MB download once)
  deb [--revision N] [--no-lint]  the kdump-rs .deb (cargo-deb) in target/xtask/deb, checked by
                                 lintian (errors fail; the report is in target/xtask/deb/lintian.txt)
  debian-image [--sysv] [--force]
                                 the cached Debian 12 disk image (systemd, or sysvinit-core with
                                 --sysv) that the installed-system VM tests boot through GRUB
  fuzz [TARGET] [--seconds N] [--runs N] [--jobs N]
                                 cargo fuzz run each target (default 60 s, or N executions;
                                 N targets at a time, default 1)";

fn flag(args: &mut Vec<String>, name: &str) -> bool {
    match args.iter().position(|a| a == name) {
        Some(i) => {
            args.remove(i);
            true
        }
        None => false,
    }
}

fn value(args: &mut Vec<String>, name: &str) -> Result<Option<String>> {
    match args.iter().position(|a| a == name) {
        Some(i) => {
            if i + 1 >= args.len() {
                bail!("{name} needs a value");
            }
            let v = args.remove(i + 1);
            args.remove(i);
            Ok(Some(v))
        }
        None => Ok(None),
    }
}

fn no_more(args: &[String]) -> Result<()> {
    if !args.is_empty() {
        bail!("unexpected arguments {args:?}\n{USAGE}");
    }
    Ok(())
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    // Everything xtask runs is under test: the host guard refuses kexec/reboot/sysrq.
    std::env::set_var("KDUMP_RS_TESTING", "1");
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        bail!("{USAGE}");
    }
    let cmd = args.remove(0);
    match cmd.as_str() {
        "setup" => {
            let fuzz = flag(&mut args, "--fuzz");
            let force = flag(&mut args, "--force");
            no_more(&args)?;
            let t = Instant::now();
            setup::setup(setup::Opts {
                fuzz,
                force,
                ..Default::default()
            })?;
            println!("setup: ok in {:.2} s", t.elapsed().as_secs_f64());
        }
        "lab" => lab(args)?,
        "fixtures" => {
            let only = value(&mut args, "--only")?;
            let force = flag(&mut args, "--force");
            no_more(&args)?;
            setup::setup(setup::Opts::default())?;
            let t = Instant::now();
            let m = fixtures::fixtures(only.as_deref(), force)?;
            fixtures::print_summary(&m);
            println!(
                "fixtures: {} in {} ({:.1} s)",
                m.fixtures.len(),
                util::fixtures_dir().display(),
                t.elapsed().as_secs_f64()
            );
        }
        "test" => {
            let quick = flag(&mut args, "--quick");
            let fuzz_seconds = value(&mut args, "--fuzz")?
                .map(|s| s.parse().context("--fuzz SECONDS"))
                .transpose()?;
            let vm_filter = value(&mut args, "--vm")?;
            let vm_jobs = value(&mut args, "--vm-jobs")?
                .map(|s| s.parse().context("--vm-jobs N"))
                .transpose()?;
            no_more(&args)?;
            test::test(test::Opts {
                quick,
                fuzz_seconds,
                vm_filter,
                vm_jobs,
            })?;
        }
        "demo" => {
            no_more(&args)?;
            setup::setup(setup::Opts::default())?;
            demo::demo()?;
        }
        "crash-check" => {
            no_more(&args)?;
            setup::setup(setup::Opts::default())?;
            println!("crash-check: {}", crashcheck::crash_check()?);
        }
        "man" => {
            no_more(&args)?;
            println!("man: written under {}", man::man()?.display());
        }
        "bench" => {
            setup::setup(setup::Opts::default())?;
            bench::bench()?;
        }
        "fuzz" => {
            let seconds = value(&mut args, "--seconds")?
                .map(|s| s.parse().context("--seconds N"))
                .transpose()?
                .unwrap_or(60);
            let runs = value(&mut args, "--runs")?
                .map(|s| s.parse().context("--runs N"))
                .transpose()?;
            let jobs = value(&mut args, "--jobs")?
                .map(|s| s.parse().context("--jobs N"))
                .transpose()?
                .unwrap_or(1);
            let target = args.pop();
            no_more(&args)?;
            setup::setup(setup::Opts {
                fuzz: true,
                ..Default::default()
            })?;
            let n = fuzz::fuzz(target.as_deref(), seconds, runs, jobs)?;
            match runs {
                Some(r) => println!("fuzz: {n} target(s) ran {seconds} s or {r} executions each"),
                None => println!("fuzz: {n} target(s) ran {seconds} s each"),
            }
        }
        "deb" => {
            let revision = value(&mut args, "--revision")?;
            let no_lint = flag(&mut args, "--no-lint");
            no_more(&args)?;
            setup::setup(setup::Opts {
                deb: true,
                ..Default::default()
            })?;
            let t = Instant::now();
            let b = deb::deb(&deb::Opts { revision, no_lint })?;
            if let Some(report) = &b.lintian {
                let tags: Vec<&str> = report
                    .lines()
                    .filter(|l| {
                        l.len() > 3
                            && l.as_bytes()[1] == b':'
                            && l.starts_with(['E', 'W', 'I', 'P', 'X'])
                    })
                    .collect();
                for l in &tags {
                    println!("  lintian: {l}");
                }
                println!("deb: lintian: {} tag(s), no errors", tags.len());
            }
            println!(
                "deb: {} ({:.1} s)",
                b.deb.display(),
                t.elapsed().as_secs_f64()
            );
        }
        "debian-image" => {
            let sysv = flag(&mut args, "--sysv");
            let force = flag(&mut args, "--force");
            no_more(&args)?;
            setup::setup(setup::Opts {
                debian_image: true,
                ..Default::default()
            })?;
            let init = if sysv {
                debian_image::Init::SysV
            } else {
                debian_image::Init::Systemd
            };
            let img = debian_image::get(init, force)?;
            println!(
                "debian-image: {} ({}, kernel {}, root UUID {}, built {} in {:.0} s: mmdebstrap {:.0} s, first boot {:.0} s)",
                img.disk.display(),
                img.info.init,
                img.info.kernel_version,
                img.info.root_uuid,
                img.info.built,
                img.info.build_seconds,
                img.info.mmdebstrap_seconds,
                img.info.firstboot_seconds
            );
        }
        "-h" | "--help" | "help" => println!("{USAGE}"),
        other => bail!("unknown command `{other}`\n{USAGE}"),
    }
    Ok(())
}

fn lab(mut args: Vec<String>) -> Result<()> {
    if let Some(name) = value(&mut args, "--test")? {
        no_more(&args)?;
        let t = vmtests::TESTS
            .iter()
            .find(|t| t.name == name)
            .with_context(|| format!("no VM test {name} (cargo xtask lab --list)"))?;
        setup::setup(setup::Opts::default())?;
        let start = Instant::now();
        (t.run)()?;
        println!(
            "lab: VM test {name} passed in {:.1} s ({})",
            start.elapsed().as_secs_f64(),
            t.about
        );
        return Ok(());
    }
    if flag(&mut args, "--list") {
        println!("scenarios (xtask/guest/scenarios):");
        let mut names: Vec<String> =
            std::fs::read_dir(initramfs::guest_assets().join("scenarios"))?
                .flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(".sh")
                        .map(String::from)
                })
                .collect();
        names.sort();
        for n in names {
            println!("  {n}");
        }
        println!("VM tests (cargo xtask test --vm NAME):");
        for t in vmtests::TESTS {
            println!("  {:<16} {}", t.name, t.about);
        }
        return Ok(());
    }
    let series = match value(&mut args, "--kernel")?.as_deref() {
        None | Some("6.1") => kernel::Series::V6_1,
        Some("6.12") => kernel::Series::V6_12,
        Some(o) => bail!("--kernel {o}: expected 6.1 or 6.12"),
    };
    let mem = value(&mut args, "--mem")?;
    let smp = value(&mut args, "--smp")?;
    let append = value(&mut args, "--append")?;
    let timeout: u64 = value(&mut args, "--timeout")?
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(600);
    let ours = flag(&mut args, "--ours");
    let kexec = flag(&mut args, "--kexec");
    let scenario = args
        .pop()
        .context("lab: which SCENARIO? (cargo xtask lab --list)")?;
    no_more(&args)?;
    setup::setup(setup::Opts::default())?;
    let k = kernel::Kernel::get(series)?;
    let mut spec = qemu::GuestSpec::new(&format!("lab-{scenario}"), &k, &scenario);
    if let Some(m) = mem {
        spec.mem_mb = m.parse().context("--mem")?;
    }
    if let Some(s) = smp {
        spec.smp = s.parse().context("--smp")?;
    }
    spec.append = append.unwrap_or_default();
    spec.initramfs = initramfs::Spec {
        ours,
        kexec_payload: kexec,
        extra: Vec::new(),
    };
    spec.disks = vec![qemu::Disk::Blank {
        name: "vda".into(),
        mib: 256,
    }];
    let g = vmtests::run_scenario(spec, Duration::from_secs(timeout))?;
    for (k, v) in g.results() {
        println!("{k} = {v}");
    }
    println!(
        "lab: scenario {scenario} passed; serial log {}",
        g.serial.display()
    );
    Ok(())
}
