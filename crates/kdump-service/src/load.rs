//! `kdump load` / `kdump unload`: pick the capture kernel and initrd, build its command line
//! and load it as the panic kernel through `kexec-image` (kexec_file_load first, then our own
//! kexec_load with the purgatory).
//!
//! The command line follows kdumpctl's `prepare_cmdline`: start from KDUMP_COMMANDLINE or the
//! running /proc/cmdline, drop every parameter named in KDUMP_COMMANDLINE_REMOVE plus those
//! kdumpctl always drops (crashkernel, panic_on_warn, root, rd.lvm.lv, ...), append
//! KDUMP_COMMANDLINE_APPEND (kdump-utils' x86_64 defaults when there is no sysconfig file) and
//! `disable_cpu_apicid=<boot CPU's APIC id>`.

use std::path::{Path, PathBuf};

use kdump_conf::KernelPlan;
use kexec_image::{crash, machine, plan, sys, HostSystem, LoadRequest, PanicInputs, SystemView};

use crate::sysinfo::SysRoot;

/// kdump-utils' KDUMP_COMMANDLINE_REMOVE default (gen-kdump-sysconfig.sh, every arch but
/// ppc64/s390x).
pub const DEFAULT_REMOVE: &str =
    "hugepages hugepagesz slub_debug quiet log_buf_len swiotlb cma hugetlb_cma ignition.firstboot";
/// kdump-utils' KDUMP_COMMANDLINE_APPEND default for x86_64.
pub const DEFAULT_APPEND_X86_64: &str = "irqpoll nr_cpus=1 reset_devices cgroup_disable=memory mce=off numa=off udev.children-max=2 panic=10 acpi_no_memhotplug transparent_hugepage=never nokaslr hest_disable novmcoredd cma=0 hugetlb_cma=0 pcie_ports=compat";
/// Parameters kdumpctl removes whatever the configuration says.
pub const ALWAYS_REMOVED: &[&str] = &[
    "crashkernel",
    "panic_on_warn",
    "root",
    "rd.lvm.lv",
    "rd.luks.uuid",
    "rd.dm.uuid",
    "rd.md.uuid",
    "fcoe",
    "netroot",
    "rd.iscsi.initiator",
    "iscsi_initiator",
    "BOOT_IMAGE",
    "initrd",
];
/// Room for boot_params, the command line, the purgatory and the ELF core header that a panic
/// load needs besides the kernel and initrd.
pub const LOAD_OVERHEAD: u64 = 2 << 20;
/// Largest kernel or initrd file read into memory.
pub const MAX_IMAGE_SIZE: u64 = 2 << 30;

/// What went wrong while loading or unloading.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No crashkernel= reservation.
    #[error("no memory is reserved for the crash kernel (/sys/kernel/kexec_crash_size is 0): boot with crashkernel=SIZE (see `kdump estimate` and `kdump reset-crashkernel`)")]
    NoReservation,
    /// The reservation cannot hold the images.
    #[error("the crash kernel reservation is too small: {reserved} bytes reserved, the capture kernel needs about {needed} bytes ({kernel} kernel {init_size} bytes to decompress into, initrd {initrd} bytes, {overhead} bytes of boot data); raise crashkernel=")]
    TooSmall {
        /// Bytes reserved.
        reserved: u64,
        /// Bytes needed.
        needed: u64,
        /// The kernel file.
        kernel: String,
        /// Its init_size.
        init_size: u64,
        /// The initrd's size.
        initrd: u64,
        /// Boot data.
        overhead: u64,
    },
    /// No kernel image found.
    #[error("no capture kernel: {0}")]
    KernelMissing(String),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The kexec layer failed.
    #[error("{0}")]
    Kexec(#[from] kexec_image::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LoadError + '_ {
    move |source| LoadError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Splits a command line into words, keeping double-quoted values (`a="b c"`) whole.
pub fn split_cmdline(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn param_name(word: &str) -> &str {
    word.split_once('=').map_or(word, |(n, _)| n)
}

/// The capture kernel's command line: `base` minus every parameter whose name is in `remove`
/// or [`ALWAYS_REMOVED`], plus `append`, plus `disable_cpu_apicid=ID` when `boot_apicid` is
/// known. Words of `remove` may be written `name` or `name=value` (the name counts).
pub fn capture_cmdline(
    base: &str,
    remove: &[String],
    append: &[String],
    boot_apicid: Option<u32>,
) -> String {
    let removed: Vec<&str> = remove
        .iter()
        .map(|w| param_name(w))
        .chain(ALWAYS_REMOVED.iter().copied())
        .collect();
    let mut out: Vec<String> = split_cmdline(base)
        .into_iter()
        .filter(|w| !removed.contains(&param_name(w)))
        .collect();
    for a in append {
        out.extend(split_cmdline(a));
    }
    if let Some(id) = boot_apicid {
        out.push(format!("disable_cpu_apicid={id}"));
    }
    out.join(" ")
}

/// The APIC id of CPU 0 from /proc/cpuinfo text.
pub fn boot_cpu_apicid(cpuinfo: &str) -> Option<u32> {
    let mut cpu = None;
    for line in cpuinfo.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        match k.trim() {
            "processor" => cpu = v.trim().parse::<u32>().ok(),
            "apicid" if cpu == Some(0) => return v.trim().parse().ok(),
            _ => {}
        }
    }
    None
}

/// The images and command line `kdump load` will use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadSpec {
    /// The capture kernel.
    pub kernel: PathBuf,
    /// Its initrd.
    pub initrd: Option<PathBuf>,
    /// The command line.
    pub cmdline: String,
}

/// Choices from the command line of `kdump load`.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--kernel FILE`.
    pub kernel: Option<PathBuf>,
    /// `--initrd FILE`.
    pub initrd: Option<PathBuf>,
    /// `--no-initrd`.
    pub no_initrd: bool,
    /// `--dry-run`: build the plan, make no system call.
    pub dry_run: bool,
    /// Only kexec_file_load (`-s`) or only kexec_load (`-c`); None: file load, then kexec_load.
    pub syscall: Option<char>,
}

/// Picks the kernel and initrd and builds the command line, reading the running system's
/// files under `root` (uname from /proc/sys/kernel/osrelease, /proc/cmdline, /proc/cpuinfo,
/// /boot, /var/lib/kdump). `kplan` is the sysconfig / kdump-tools settings, None when there is
/// no such file (then kdump-utils' defaults apply).
pub fn resolve(
    root: &SysRoot,
    kplan: Option<&KernelPlan>,
    opts: &LoadOptions,
) -> Result<LoadSpec, LoadError> {
    let missing = |e: crate::sysinfo::SysError| LoadError::KernelMissing(e.to_string());
    let images = crate::sysinfo::images_for(root, kplan, "").map_err(missing)?;
    let kernel = match &opts.kernel {
        Some(k) => k.clone(),
        None => root.path(&images.kernel),
    };
    if !kernel.is_file() {
        return Err(LoadError::KernelMissing(format!(
            "{} does not exist{}",
            kernel.display(),
            if opts.kernel.is_some() {
                ""
            } else {
                " (set KDUMP_KERNELVER/KDUMP_IMG, KDUMP_KERNEL or --kernel)"
            }
        )));
    }
    let initrd = if opts.no_initrd {
        None
    } else if let Some(i) = &opts.initrd {
        Some(i.clone())
    } else {
        images.initrd.map(|i| root.path(&i))
    };
    let base = match kplan.and_then(|k| k.commandline.clone()) {
        Some(c) => c,
        None => root
            .cmdline()
            .map_err(|e| LoadError::KernelMissing(e.to_string()))?,
    };
    let (remove, append) = match kplan {
        Some(k) => (k.commandline_remove.clone(), k.commandline_append.clone()),
        None => (
            DEFAULT_REMOVE
                .split_whitespace()
                .map(String::from)
                .collect(),
            vec![DEFAULT_APPEND_X86_64.to_string()],
        ),
    };
    let cpuinfo = std::fs::read_to_string(root.path("/proc/cpuinfo")).unwrap_or_default();
    let cmdline = capture_cmdline(&base, &remove, &append, boot_cpu_apicid(&cpuinfo));
    Ok(LoadSpec {
        kernel,
        initrd,
        cmdline,
    })
}

fn read_image(path: &Path) -> Result<Vec<u8>, LoadError> {
    let len = std::fs::metadata(path).map_err(io(path))?.len();
    if len > MAX_IMAGE_SIZE {
        return Err(LoadError::KernelMissing(format!(
            "{}: {len} bytes is larger than {MAX_IMAGE_SIZE}",
            path.display()
        )));
    }
    std::fs::read(path).map_err(io(path))
}

/// Checks that `reserved` bytes can hold the images: the kernel's `init_size` (or its file
/// size for a non-bzImage), the initrd and [`LOAD_OVERHEAD`].
pub fn check_fit(
    reserved: u64,
    kernel_path: &Path,
    kernel: &[u8],
    initrd_len: u64,
) -> Result<u64, LoadError> {
    if reserved == 0 {
        return Err(LoadError::NoReservation);
    }
    let init_size = kexec_image::bzimage::parse(kernel)
        .map(|b| u64::from(b.header.init_size).max(kernel.len() as u64))
        .unwrap_or(kernel.len() as u64);
    let needed = init_size + initrd_len + LOAD_OVERHEAD;
    if needed > reserved {
        return Err(LoadError::TooSmall {
            reserved,
            needed,
            kernel: kernel_path.display().to_string(),
            init_size,
            initrd: initrd_len,
            overhead: LOAD_OVERHEAD,
        });
    }
    Ok(needed)
}

/// How the panic kernel was loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// By kexec_file_load(2).
    FileLoad,
    /// By kexec_load(2) with our purgatory; the reason kexec_file_load was not used.
    KexecLoad(Option<String>),
    /// `--dry-run`: the segment table that would be loaded.
    DryRun(String),
}

/// Loads `spec` as the panic kernel on the running system (reservation read from
/// /sys/kernel/kexec_crash_size). Every system call goes through `kexec_image::guard`.
pub fn load(spec: &LoadSpec, opts: &LoadOptions) -> Result<Loaded, LoadError> {
    let kernel = read_image(&spec.kernel)?;
    let initrd = spec.initrd.as_deref().map(read_image).transpose()?;
    let view = HostSystem;
    let state = kexec_image::state::read(&view)?;
    check_fit(
        state.crash_size,
        &spec.kernel,
        &kernel,
        initrd.as_ref().map_or(0, |i| i.len() as u64),
    )?;
    let mode = opts.syscall.unwrap_or('a');
    let mut file_load_error = None;
    if mode != 'c' && !opts.dry_run {
        let kf = std::fs::File::open(&spec.kernel).map_err(io(&spec.kernel))?;
        let rf = match &spec.initrd {
            Some(p) => Some(std::fs::File::open(p).map_err(io(p))?),
            None => None,
        };
        match sys::kexec_file_load(
            Some(&kf),
            rf.as_ref(),
            &spec.cmdline,
            sys::KEXEC_FILE_ON_CRASH,
        ) {
            Ok(()) => return Ok(Loaded::FileLoad),
            Err(e) if mode == 's' => return Err(e.into()),
            Err(e @ kexec_image::Error::Refused(_)) => return Err(e.into()),
            Err(e) => file_load_error = Some(e.to_string()),
        }
    }
    let t = plan::probe(&kernel, None)?;
    let m = machine::read(&view as &dyn SystemView)?;
    let mut req = LoadRequest::new(&kernel, spec.cmdline.clone());
    req.initrd = initrd.as_deref();
    req.memory = m.memory;
    req.acpi_rsdp = m.acpi_rsdp;
    req.running = m.running;
    req.panic = Some(PanicInputs {
        core: crash::gather(&view)?,
        backup: true,
    });
    let p = (t.load)(&req)?;
    if opts.dry_run {
        return Ok(Loaded::DryRun(p.describe()));
    }
    sys::kexec_load(&p, true)?;
    Ok(Loaded::KexecLoad(file_load_error))
}

/// Unloads the panic kernel (kexec_file_load UNLOAD, then kexec_load with no segments).
pub fn unload() -> Result<(), LoadError> {
    let flags = sys::KEXEC_FILE_UNLOAD | sys::KEXEC_FILE_ON_CRASH;
    match sys::kexec_file_load(None, None, "", flags) {
        Ok(()) => Ok(()),
        Err(e @ kexec_image::Error::Refused(_)) => Err(e.into()),
        Err(_) => Ok(sys::kexec_load_unload(true)?),
    }
}

/// Whether a panic kernel is loaded (/sys/kernel/kexec_crash_loaded).
pub fn is_loaded(root: &SysRoot) -> bool {
    matches!(root.kexec_crash_loaded(), Ok(Some(true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn cmdline_as_kdumpctl_prepares_it() {
        let c = capture_cmdline(
            "BOOT_IMAGE=/vmlinuz-6.1 root=/dev/sda1 ro crashkernel=256M quiet hugepages=8 console=ttyS0 a=\"x y\"",
            &w(DEFAULT_REMOVE),
            &[DEFAULT_APPEND_X86_64.to_string()],
            Some(0),
        );
        assert!(
            c.starts_with("ro console=ttyS0 a=\"x y\" irqpoll nr_cpus=1 reset_devices "),
            "{c}"
        );
        assert!(
            c.ends_with(" pcie_ports=compat disable_cpu_apicid=0"),
            "{c}"
        );
        for gone in ["crashkernel", "quiet", "hugepages", "root=", "BOOT_IMAGE"] {
            assert!(!c.contains(gone), "{gone} in {c}");
        }
    }

    #[test]
    fn remove_by_name_with_value() {
        let c = capture_cmdline("a=1 b=2 c", &w("a=9 c"), &[], None);
        assert_eq!(c, "b=2");
    }

    #[test]
    fn apicid_of_cpu0() {
        let t = "processor\t: 0\napicid\t\t: 4\n\nprocessor\t: 1\napicid\t\t: 6\n";
        assert_eq!(boot_cpu_apicid(t), Some(4));
        assert_eq!(boot_cpu_apicid("processor : 1\napicid : 2\n"), None);
    }

    #[test]
    fn reservation_errors() {
        let k = kexec_image::doc_kernel();
        assert!(matches!(
            check_fit(0, Path::new("k"), &k, 0),
            Err(LoadError::NoReservation)
        ));
        match check_fit(1 << 20, Path::new("k"), &k, 4 << 20) {
            Err(LoadError::TooSmall { needed, .. }) => assert!(needed > 6 << 20),
            other => panic!("{other:?}"),
        }
        assert!(check_fit(64 << 20, Path::new("k"), &k, 4 << 20).is_ok());
    }
}
