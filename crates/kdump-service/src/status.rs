//! `kdump status`: what is asked for, what is reserved, what is loaded, and whether it fits.
//!
//! The fit rule: the images `kdump load` would load fit when the kernel's memory (its
//! bzImage `init_size`, page-aligned, then aligned to its `kernel_alignment`) plus the initrd
//! file (page-aligned) plus [`LOAD_OVERHEAD`](crate::estimate::LOAD_OVERHEAD) (2 MiB for
//! purgatory, boot_params, command line, ELF core header and placement slack) is at most the
//! main reservation. What remains is the memory the capture kernel has to run in; it is
//! compared with the estimate's runtime, filter and struct-page parts and reported.

use crate::crashkernel::{format_mib, format_size, CmdlineCrashkernel, RequestError, Requested};
use crate::estimate::{self, InitrdImage, KernelImage};
use crate::sysinfo::{choose_images, Images, IomemEntry, SysError, SysRoot};
use std::fmt::{self, Write as _};
use std::path::Path;

/// Everything `kdump status` reports.
#[derive(Debug, Clone)]
pub struct Status {
    /// The command line's `crashkernel=` values.
    pub cmdline: CmdlineCrashkernel,
    /// System RAM from /proc/iomem (bytes).
    pub system_ram: u64,
    /// What the command line asks for on this RAM size.
    pub requested: Result<Requested, RequestError>,
    /// /sys/kernel/kexec_crash_size (`None`: no kexec support).
    pub reserved_size: Option<u64>,
    /// "Crash kernel" ranges from /proc/iomem.
    pub iomem_ranges: Vec<IomemEntry>,
    /// True when /proc/iomem hid the addresses (not root).
    pub addresses_hidden: bool,
    /// /sys/kernel/kexec_crash_loaded (`None`: no kexec support).
    pub loaded: Option<bool>,
    /// The images `kdump load` would use.
    pub images: Option<Images>,
    /// The kernel image, if found.
    pub kernel: Option<KernelImage>,
    /// The initrd, if found.
    pub initrd: Option<InitrdImage>,
    /// Problems met while gathering (reported, not fatal).
    pub notes: Vec<String>,
}

/// The verdict on the reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Nothing is reserved.
    NoReservation,
    /// The kernel image was not found, so fit cannot be judged.
    Unknown,
    /// The images fit, leaving `headroom` bytes; `enough_to_run` compares the headroom with
    /// the estimate's runtime + filter + struct-page parts.
    Fits {
        /// Bytes needed by the load.
        need: u64,
        /// Bytes left over.
        headroom: u64,
        /// What the estimate budgets for running (runtime + filter + struct pages + the
        /// unpacked initramfs).
        run_need: u64,
        /// Whether the headroom covers `run_need`.
        enough_to_run: bool,
    },
    /// The images do not fit.
    TooSmall {
        /// Bytes needed by the load.
        need: u64,
    },
}

impl Status {
    /// Gather the status from the system under `root`.
    pub fn gather(
        root: &SysRoot,
        kernel_override: Option<&Path>,
        initrd_override: Option<&Path>,
    ) -> Result<Status, SysError> {
        let mut notes = Vec::new();
        let cmdline = CmdlineCrashkernel::from_cmdline(&root.cmdline()?);
        let iomem = root.iomem()?;
        let system_ram = iomem.system_ram();
        let requested = cmdline.request(system_ram);
        let reserved_size = root.kexec_crash_size()?;
        let loaded = root.kexec_crash_loaded()?;
        let images = match choose_images(root, kernel_override, initrd_override) {
            Ok(i) => Some(i),
            Err(e) => {
                notes.push(format!("cannot choose the capture kernel: {e}"));
                None
            }
        };
        let (mut kernel, mut initrd) = (None, None);
        if let Some(img) = &images {
            kernel = estimate::kernel_image(root, &img.kernel)?;
            if kernel.is_none() {
                notes.push(format!("kernel {} not found", img.kernel.display()));
            }
            if let Some(i) = &img.initrd {
                initrd = estimate::initrd_image(root, i)?;
                if initrd.is_none() {
                    notes.push(format!("initrd {} not found", i.display()));
                }
            }
        }
        Ok(Status {
            cmdline,
            system_ram,
            requested,
            reserved_size,
            iomem_ranges: iomem.crash_kernel().into_iter().cloned().collect(),
            addresses_hidden: iomem.addresses_hidden(),
            loaded,
            images,
            kernel,
            initrd,
            notes,
        })
    }

    /// The main reservation in bytes: /sys/kernel/kexec_crash_size, or the largest
    /// "Crash kernel" range of /proc/iomem when sysfs has no answer.
    pub fn reserved(&self) -> u64 {
        match self.reserved_size {
            Some(s) if s > 0 => s,
            _ if !self.addresses_hidden => self
                .iomem_ranges
                .iter()
                .map(IomemEntry::len)
                .max()
                .unwrap_or(0),
            _ => 0,
        }
    }

    /// Judge whether the images fit (see the module documentation).
    pub fn fit(&self) -> Fit {
        let reserved = self.reserved();
        if reserved == 0 {
            return Fit::NoReservation;
        }
        let Some(k) = &self.kernel else {
            return Fit::Unknown;
        };
        let need = estimate::load_footprint(k, self.initrd.as_ref());
        if need > reserved {
            return Fit::TooSmall { need };
        }
        let headroom = reserved - need;
        let est = estimate::estimate(&estimate::EstimateInput {
            system_ram: self.system_ram,
            kernel: self.kernel.clone(),
            initrd: self.initrd.clone(),
        });
        let run_need: u64 = est
            .parts
            .iter()
            .filter(|p| {
                matches!(
                    p.name,
                    "runtime" | "dump filter" | "struct pages + page tables"
                )
            })
            .fold(0u64, |a, p| a.saturating_add(p.bytes))
            .saturating_add(self.initrd.as_ref().map(|i| i.unpacked).unwrap_or(0));
        Fit::Fits {
            need,
            headroom,
            run_need,
            enough_to_run: headroom >= run_need,
        }
    }

    /// Exit code for `kdump status`: 0 when a panic kernel is loaded and the reservation fits,
    /// 1 when something needs attention, 3 when nothing is reserved.
    pub fn exit_code(&self) -> u8 {
        match self.fit() {
            Fit::NoReservation => 3,
            Fit::Fits { .. } if self.loaded == Some(true) => 0,
            _ => 1,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        let ck = &self.cmdline;
        if ck.count == 0 {
            writeln!(s, "command line:     no crashkernel=")?;
        } else {
            let mut parts = Vec::new();
            for v in [&ck.main, &ck.high, &ck.low, &ck.cma].into_iter().flatten() {
                parts.push(format!("crashkernel={v}"));
            }
            writeln!(s, "command line:     {}", parts.join(" "))?;
        }
        writeln!(
            s,
            "system RAM:       {} (sum of System RAM in /proc/iomem)",
            format_mib(self.system_ram)
        )?;
        match &self.requested {
            Ok(r) => {
                write!(s, "asks for:         {}", format_size(r.main.size))?;
                if let Some(o) = r.main.offset {
                    write!(s, " at {:#x}", o)?;
                }
                if r.main.high {
                    write!(s, " (high)")?;
                }
                if let Some(l) = r.low {
                    write!(s, " + {} low", format_size(l))?;
                }
                if let Some(c) = r.cma {
                    write!(s, " + {} CMA", format_size(c))?;
                }
                writeln!(s)?;
            }
            Err(RequestError::Absent) => writeln!(s, "asks for:         nothing")?,
            Err(e) => writeln!(s, "asks for:         nothing: {e}")?,
        }
        match self.reserved_size {
            Some(v) => writeln!(
                s,
                "reserved:         {} (/sys/kernel/kexec_crash_size)",
                format_mib(v)
            )?,
            None => writeln!(
                s,
                "reserved:         unknown (/sys/kernel/kexec_crash_size absent: no kexec support)"
            )?,
        }
        if self.iomem_ranges.is_empty() {
            writeln!(s, "/proc/iomem:      no \"Crash kernel\" range")?;
        } else if self.addresses_hidden {
            writeln!(
                s,
                "/proc/iomem:      \"Crash kernel\" present (addresses hidden: run as root)"
            )?;
        } else {
            for r in &self.iomem_ranges {
                writeln!(
                    s,
                    "/proc/iomem:      Crash kernel {:#x}-{:#x} ({})",
                    r.start,
                    r.end,
                    format_mib(r.len())
                )?;
            }
        }
        match self.loaded {
            Some(true) => writeln!(s, "panic kernel:     loaded")?,
            Some(false) => writeln!(s, "panic kernel:     not loaded")?,
            None => writeln!(
                s,
                "panic kernel:     unknown (/sys/kernel/kexec_crash_loaded absent)"
            )?,
        }
        if let Some(img) = &self.images {
            match &self.kernel {
                Some(k) => writeln!(
                    s,
                    "capture kernel:   {} ({} in memory{}; from {})",
                    k.path.display(),
                    format_mib(k.memory()),
                    if k.init_size.is_some() {
                        ", bzImage init_size"
                    } else {
                        ", file size"
                    },
                    img.source
                )?,
                None => writeln!(s, "capture kernel:   {} (missing)", img.kernel.display())?,
            }
            match (&img.initrd, &self.initrd) {
                (_, Some(i)) => writeln!(
                    s,
                    "initrd:           {} ({})",
                    i.path.display(),
                    format_mib(i.file_size)
                )?,
                (Some(p), None) => writeln!(s, "initrd:           {} (missing)", p.display())?,
                (None, None) => writeln!(s, "initrd:           none")?,
            }
        }
        match self.fit() {
            Fit::NoReservation => writeln!(s, "verdict:          no memory reserved; add crashkernel= (kdump reset-crashkernel) and reboot")?,
            Fit::Unknown => writeln!(s, "verdict:          cannot judge: capture kernel not found")?,
            Fit::TooSmall { need } => writeln!(
                s,
                "verdict:          TOO SMALL: the images need {} (kernel + initrd + {} overhead), reserved {}",
                format_mib(need),
                format_mib(estimate::LOAD_OVERHEAD),
                format_mib(self.reserved())
            )?,
            Fit::Fits {
                need,
                headroom,
                run_need,
                enough_to_run,
            } => writeln!(
                s,
                "verdict:          images fit ({} of {}); {} left to run in ({} `kdump estimate` budgets {})",
                format_mib(need),
                format_mib(self.reserved()),
                format_mib(headroom),
                if enough_to_run { "at least the" } else { "less than the" },
                format_mib(run_need)
            )?,
        }
        for n in &self.notes {
            writeln!(s, "note:             {n}")?;
        }
        f.write_str(&s)
    }
}
