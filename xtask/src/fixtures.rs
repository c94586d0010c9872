//! `cargo xtask fixtures`: real vmcores and makedumpfile's reference outputs, cached in
//! `~/.cache/kdump-rs/fixtures/` (`KDUMP_RS_FIXTURES` overrides) with a `manifest.json`.
//!
//! Each fixture lives in `<root>/<name>/` with a `fixture.json` (its manifest entry). It is
//! rebuilt only when that file is missing, names another kernel ABI or another
//! [`RECIPE_VERSION`], or a file it lists is gone.

use crate::elf;
use crate::initramfs;
use crate::kernel::{Kernel, Series};
use crate::makedumpfile::{self, Reference};
use crate::qemu::{Disk, Guest, GuestSpec};
use crate::util::{fixtures_dir, secs, sparse_copy_truncate};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Bump when a recipe (guest setup, workload, makedumpfile variants) changes: every fixture is
/// rebuilt.
pub const RECIPE_VERSION: u32 = 1;

/// How the vmcore was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// /proc/vmcore in a kdump capture kernel after sysrq-c.
    Kdump,
    /// QMP `dump-guest-memory` (ELF, paging=false) of a running guest.
    Qmp,
}

/// A fixture recipe.
#[derive(Debug, Clone, Copy)]
pub struct Recipe {
    /// Directory and manifest name.
    pub name: &'static str,
    /// Kernel series.
    pub series: Series,
    /// kdump or QMP.
    pub source: Source,
    /// Guest memory.
    pub mem_mb: u32,
    /// Extra kernel command line.
    pub append: &'static str,
    /// Huge pages the workload maps (of those reserved by hugepages=).
    pub huge_mapped: u32,
    /// Anonymous memory the workload holds, MiB.
    pub anon_mb: u32,
}

/// The fixtures `cargo xtask fixtures` builds.
pub const RECIPES: &[Recipe] = &[
    Recipe {
        name: "kdump-6.1",
        series: Series::V6_1,
        source: Source::Kdump,
        mem_mb: 1024,
        append: "crashkernel=192M hugepages=8",
        huge_mapped: 4,
        anon_mb: 30,
    },
    Recipe {
        name: "kdump-6.12",
        series: Series::V6_12,
        source: Source::Kdump,
        mem_mb: 1024,
        append: "crashkernel=192M hugepages=8",
        huge_mapped: 4,
        anon_mb: 30,
    },
    Recipe {
        name: "qmp-6.1-l4-huge",
        series: Series::V6_1,
        source: Source::Qmp,
        mem_mb: 512,
        append: "no5lvl hugepages=16",
        huge_mapped: 8,
        anon_mb: 30,
    },
];

/// One fixture as listed in manifest.json. Paths are relative to the manifest's directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fixture {
    /// Fixture name (its directory).
    pub name: String,
    /// Kernel series, "6.1" or "6.12".
    pub series: String,
    /// Kernel ABI, e.g. "6.1.0-56-amd64".
    pub kernel_abi: String,
    /// OSRELEASE from the dump's VMCOREINFO.
    pub osrelease: String,
    /// 4 or 5 (from VMCOREINFO NUMBER(pgtable_l5_enabled)).
    pub paging_levels: u8,
    /// kdump or qmp.
    pub source: Source,
    /// Recipe version it was built with.
    pub recipe: u32,
    /// Guest memory, MiB.
    pub mem_mb: u32,
    /// The guest kernel's command line.
    pub cmdline: String,
    /// The vmcore (ELF) as captured.
    pub vmcore: String,
    /// Its size in bytes.
    pub vmcore_size: u64,
    /// The file makedumpfile read (a phdr-fixed copy for QMP dumps, else = vmcore).
    pub vmcore_for_makedumpfile: String,
    /// /proc/meminfo printed just before the crash or dump.
    pub meminfo: String,
    /// The guest's serial log.
    pub serial_log: String,
    /// makedumpfile's outputs, each with its command and statistics.
    pub references: Vec<Reference>,
    /// Seconds it took to build.
    pub build_seconds: f64,
}

/// manifest.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format version.
    pub format: u32,
    /// makedumpfile version line.
    pub makedumpfile: String,
    /// Every fixture.
    pub fixtures: Vec<Fixture>,
}

/// Build what is missing, write the manifest, return it.
pub fn fixtures(only: Option<&str>, force: bool) -> Result<Manifest> {
    let root = fixtures_dir();
    std::fs::create_dir_all(&root).with_context(|| format!("mkdir {}", root.display()))?;
    let mut out = Vec::new();
    for r in RECIPES {
        if only.is_some_and(|o| o != r.name) {
            if let Some(f) = load_cached(&root, r, None) {
                out.push(f);
            }
            continue;
        }
        let kernel = Kernel::get(r.series)?;
        if !force {
            if let Some(f) = load_cached(&root, r, Some(&kernel.abi)) {
                eprintln!("[fixtures] {}: cached ({})", r.name, kernel.abi);
                out.push(f);
                continue;
            }
        }
        let t = Instant::now();
        eprintln!("[fixtures] {}: building with {} ...", r.name, kernel.abi);
        let f = build(&root, r, &kernel).with_context(|| format!("building fixture {}", r.name))?;
        eprintln!("[fixtures] {}: built in {}", r.name, secs(t.elapsed()));
        out.push(f);
    }
    let manifest = Manifest {
        format: 1,
        makedumpfile: makedumpfile_version(),
        fixtures: out,
    };
    let path = root.join("manifest.json");
    std::fs::write(&path, serde_json::to_string_pretty(&manifest)? + "\n")?;
    eprintln!("[fixtures] manifest: {}", path.display());
    Ok(manifest)
}

/// The kdump (/proc/vmcore) fixture of kernel `series` ("6.1" or "6.12"), built if missing.
pub fn kdump_fixture(series: &str) -> Result<Fixture> {
    fixtures(None, false)?
        .fixtures
        .into_iter()
        .find(|f| f.source == Source::Kdump && f.series == series)
        .with_context(|| format!("no {series} kdump fixture in the manifest"))
}

/// Read the manifest (None when absent).
pub fn load_manifest() -> Result<Option<Manifest>> {
    let path = fixtures_dir().join("manifest.json");
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)?;
    Ok(Some(
        serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))?,
    ))
}

fn makedumpfile_version() -> String {
    std::process::Command::new("makedumpfile")
        .arg("-v")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

fn load_cached(root: &Path, r: &Recipe, abi: Option<&str>) -> Option<Fixture> {
    let text = std::fs::read_to_string(root.join(r.name).join("fixture.json")).ok()?;
    let f: Fixture = serde_json::from_str(&text).ok()?;
    if f.recipe != RECIPE_VERSION || abi.is_some_and(|a| a != f.kernel_abi) {
        return None;
    }
    let files = [&f.vmcore, &f.vmcore_for_makedumpfile, &f.meminfo]
        .into_iter()
        .chain(f.references.iter().map(|x| &x.path));
    for p in files {
        if !root.join(p).exists() {
            return None;
        }
    }
    Some(f)
}

fn build(root: &Path, r: &Recipe, kernel: &Kernel) -> Result<Fixture> {
    let t = Instant::now();
    let partial_name = format!("{}.partial", r.name);
    let partial = root.join(&partial_name);
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial)?;
    let append = format!(
        "{} kdumprs.huge={} kdumprs.anon_mb={}",
        r.append, r.huge_mapped, r.anon_mb
    );
    let mut spec = GuestSpec::new(r.name, kernel, "");
    spec.mem_mb = r.mem_mb;
    spec.append = append;
    spec.dir = Some(partial.join("vm"));
    let vmcore = partial.join("vmcore.elf");
    let (log, meminfo, cmdline) = match r.source {
        Source::Kdump => {
            spec.scenario = "kdump".into();
            spec.smp = 2;
            spec.disks = vec![Disk::Blank {
                name: "vda".into(),
                mib: u64::from(r.mem_mb) + 64,
            }];
            spec.initramfs = initramfs::Spec {
                kexec_payload: true,
                ..Default::default()
            };
            let cmdline = spec.cmdline();
            let mut g = Guest::boot(spec)?;
            g.wait_for("KDUMPRS-CRASH", Duration::from_secs(300))?;
            g.wait_for("KDUMPRS-CAPTURE", Duration::from_secs(300))?;
            let done = g.wait_for(
                "KDUMPRS-DONE scenario=capture-raw",
                Duration::from_secs(900),
            )?;
            if !done.contains("rc=0") {
                return Err(g.fail(format!("capture failed: {done}")));
            }
            g.wait_exit(Duration::from_secs(60))?;
            let size: u64 = g
                .result("vmcore_size")?
                .parse()
                .map_err(|e| g.fail(format!("bad vmcore_size: {e}")))?;
            let meminfo = g
                .block("MEMINFO")
                .ok_or_else(|| g.fail("no MEMINFO block"))?;
            sparse_copy_truncate(&g.disks[0], &vmcore, size)?;
            (g.log(), meminfo, cmdline)
        }
        Source::Qmp => {
            spec.scenario = "hold".into();
            spec.disks = vec![Disk::Blank {
                name: "vda".into(),
                mib: 128,
            }];
            let cmdline = spec.cmdline();
            let mut g = Guest::boot(spec)?;
            g.wait_for("KDUMPRS-READY", Duration::from_secs(300))?;
            std::thread::sleep(Duration::from_secs(1));
            let meminfo = g
                .block("MEMINFO")
                .ok_or_else(|| g.fail("no MEMINFO block"))?;
            g.qmp()?
                .dump_guest_memory_elf(&vmcore, Duration::from_secs(600))
                .map_err(|e| g.fail(format!("dump-guest-memory: {e:#}")))?;
            g.qmp()?.quit()?;
            g.wait_exit(Duration::from_secs(30))?;
            (g.log(), meminfo, cmdline)
        }
    };
    std::fs::write(partial.join("serial.log"), &log)?;
    std::fs::write(partial.join("meminfo.txt"), &meminfo)?;
    let _ = std::fs::remove_dir_all(partial.join("vm"));
    let vmcore_size = std::fs::metadata(&vmcore)?.len();
    let info = elf::vmcoreinfo(&vmcore)?
        .with_context(|| format!("{} has no VMCOREINFO note", vmcore.display()))?;
    let osrelease = elf::vmcoreinfo_value(&info, "OSRELEASE")
        .unwrap_or("")
        .to_string();
    if osrelease != kernel.abi {
        bail!("VMCOREINFO OSRELEASE {osrelease:?} is not {}", kernel.abi);
    }
    let paging_levels = if elf::vmcoreinfo_value(&info, "NUMBER(pgtable_l5_enabled)") == Some("1") {
        5
    } else {
        4
    };
    let mdf_input = match r.source {
        Source::Kdump => "vmcore.elf".to_string(),
        Source::Qmp => {
            let fixed = partial.join("vmcore-mdf.elf");
            sparse_copy_truncate(&vmcore, &fixed, vmcore_size)?;
            elf::fix_qemu_elf(&fixed)?;
            "vmcore-mdf.elf".to_string()
        }
    };
    // makedumpfile runs in the fixture directory with relative paths, so the recorded commands
    // work from there; rebase them onto the manifest directory afterwards.
    let mut refs = makedumpfile::references(&partial, &mdf_input, "ref")?;
    let rel = |p: &str| format!("{}/{p}", r.name);
    for x in &mut refs {
        x.path = rel(&x.path);
        x.log = rel(&x.log);
        x.command = format!("cd {} && {}", r.name, x.command);
    }
    let fixture = Fixture {
        name: r.name.into(),
        series: r.series.name().into(),
        kernel_abi: kernel.abi.clone(),
        osrelease,
        paging_levels,
        source: r.source,
        recipe: RECIPE_VERSION,
        mem_mb: r.mem_mb,
        cmdline,
        vmcore: rel("vmcore.elf"),
        vmcore_size,
        vmcore_for_makedumpfile: rel(&mdf_input),
        meminfo: rel("meminfo.txt"),
        serial_log: rel("serial.log"),
        references: refs,
        build_seconds: t.elapsed().as_secs_f64(),
    };
    std::fs::write(
        partial.join("fixture.json"),
        serde_json::to_string_pretty(&fixture)? + "\n",
    )?;
    let dir = root.join(r.name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&partial, &dir)?;
    Ok(fixture)
}

/// Print the -d 31 statistics of every fixture.
pub fn print_summary(m: &Manifest) {
    println!(
        "{:<18} {:<22} {:>3} {:<5} {:>10}  {}",
        "fixture",
        "kernel",
        "lvl",
        "src",
        "vmcore MB",
        makedumpfile::Stats::header()
    );
    for f in &m.fixtures {
        let st = f
            .references
            .iter()
            .find(|r| r.name == "d31")
            .and_then(|r| r.stats.clone())
            .unwrap_or_default();
        println!(
            "{:<18} {:<22} {:>3} {:<5} {:>10.1}  {}",
            f.name,
            f.kernel_abi,
            f.paging_levels,
            format!("{:?}", f.source).to_lowercase(),
            f.vmcore_size as f64 / 1e6,
            st.row()
        );
    }
}

/// The absolute path of a manifest-relative path.
pub fn abs(rel: &str) -> PathBuf {
    fixtures_dir().join(rel)
}
