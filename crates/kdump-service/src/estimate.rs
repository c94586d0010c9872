//! How much memory the capture kernel needs: the images, the filter, and the rest.
//!
//! The estimate is the sum of these parts (each printed by `kdump estimate`):
//!
//! | part | rule |
//! |---|---|
//! | capture kernel | the bzImage's `init_size` (boot protocol ≥ 2.10, offset 0x260): the memory the kernel occupies once decompressed; the file size for other images |
//! | initramfs | the file (held until unpacked) plus its unpacked size: exact for an uncompressed cpio, gzip's ISIZE for a single gzip stream, otherwise 3 × the file (assumed ratio) |
//! | runtime | 64 MiB for the capture kernel's own boot allocations with `nr_cpus=1` (the figure kdumpctl's estimate calls "Runtime reservation") |
//! | dump filter | [`filter_memory`]: the filter's bounded working memory for this RAM size |
//! | struct pages + page tables | 72 bytes per 4 KiB page of the reservation itself (64 for `struct page`, 8 for page tables) |
//! | margin | 10 % of the above |
//!
//! and the total is rounded up to a multiple of 16 MiB.
//!
//! For comparison, [`KDUMP_UTILS_X86_64`] is the table kdump-utils' `kdumpctl` uses by default
//! on x86_64 (`kdump_get_arch_recommend_crashkernel` in kdump-lib.sh: `2G-64G:256M,64G-:512M`,
//! plus 64 MiB when AMD SME/SEV memory encryption is active), and [`KEXEC_TOOLS_X86_64_OLD`]
//! is the older kexec-tools/RHEL 9 default `1G-4G:192M,4G-64G:256M,64G-:512M`.

use crate::crashkernel::{round_up, Crashkernel, SelectError, MIB};
use crate::sysinfo::{SysError, SysRoot};
use std::path::{Path, PathBuf};

/// kdump-utils' default crashkernel= for x86_64 (kdump-lib.sh, current).
pub const KDUMP_UTILS_X86_64: &str = "2G-64G:256M,64G-:512M";
/// What kdump-utils adds to every range when AMD SME/SEV is active.
pub const KDUMP_UTILS_SME_SEV_EXTRA: u64 = 64 * MIB;
/// The older kexec-tools (RHEL 9 / Fedora ≤ 38) default for x86_64.
pub const KEXEC_TOOLS_X86_64_OLD: &str = "1G-4G:192M,4G-64G:256M,64G-:512M";
/// Runtime memory of the capture kernel itself (kdumpctl's "Runtime reservation").
pub const RUNTIME_RESERVATION: u64 = 64 * MIB;
/// The dump filter's memory cap target (page-filter's design bound).
pub const FILTER_MEMORY_CAP: u64 = 64 * MIB;
/// Fixed cost of a panic-kernel load besides kernel and initrd: purgatory, boot_params,
/// command line, ELF core header, and alignment slack (2 MiB).
pub const LOAD_OVERHEAD: u64 = 2 * MIB;
/// Ratio assumed for a compressed initramfs whose unpacked size cannot be read.
pub const ASSUMED_INITRD_RATIO: u64 = 3;
/// Page size used in the arithmetic.
pub const PAGE: u64 = 4096;

/// The dump filter's working memory for a machine with `system_ram` bytes, and where the
/// figure comes from.
///
/// page-filter works on windows of page frames with a fixed memory bound; until it exports
/// its own accounting function, this returns its design cap ([`FILTER_MEMORY_CAP`], 64 MiB)
/// for every RAM size. This is the one place to change when that API exists.
pub fn filter_memory(system_ram: u64) -> (u64, &'static str) {
    let _ = system_ram;
    (
        FILTER_MEMORY_CAP,
        "page-filter design cap (its accounting API is not exported yet)",
    )
}

/// What we know about a kernel image file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelImage {
    /// Path on the system.
    pub path: PathBuf,
    /// File size.
    pub file_size: u64,
    /// `init_size` from the bzImage header, if it is a bzImage with protocol ≥ 2.10.
    pub init_size: Option<u32>,
    /// `kernel_alignment` from the header, if present.
    pub alignment: Option<u32>,
}

impl KernelImage {
    /// Memory the loaded kernel occupies in the reservation: `init_size` page-aligned, or
    /// the file size page-aligned when the header gives none.
    pub fn memory(&self) -> u64 {
        round_up(
            self.init_size.map(u64::from).unwrap_or(self.file_size),
            PAGE,
        )
    }
}

/// Read the bzImage setup header facts we need from the first 4 KiB of `bytes`:
/// `HdrS` at 0x202, protocol version at 0x206, `kernel_alignment` at 0x230,
/// `init_size` at 0x260 (protocol 2.10 and later). `None` if it is not a bzImage.
pub fn bzimage_sizes(bytes: &[u8]) -> Option<(u32, u32)> {
    let rd16 = |o: usize| {
        bytes
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let rd32 = |o: usize| {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if bytes.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    let version = rd16(0x206)?;
    if version < 0x020a {
        return None;
    }
    Some((rd32(0x260)?, rd32(0x230)?))
}

/// Inspect a kernel image under `root`. `Ok(None)` if the file does not exist.
pub fn kernel_image(root: &SysRoot, path: &Path) -> Result<Option<KernelImage>, SysError> {
    let Some(file_size) = root.file_size(path)? else {
        return Ok(None);
    };
    let head = root.read_head(path, 4096)?;
    let sizes = bzimage_sizes(&head);
    Ok(Some(KernelImage {
        path: path.to_path_buf(),
        file_size,
        init_size: sizes.map(|s| s.0),
        alignment: sizes.map(|s| s.1),
    }))
}

/// What we know about an initramfs file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitrdImage {
    /// Path on the system.
    pub path: PathBuf,
    /// File size.
    pub file_size: u64,
    /// Estimated unpacked size.
    pub unpacked: u64,
    /// How `unpacked` was obtained.
    pub unpacked_rule: &'static str,
}

/// Inspect an initramfs under `root`. `Ok(None)` if the file does not exist.
pub fn initrd_image(root: &SysRoot, path: &Path) -> Result<Option<InitrdImage>, SysError> {
    let Some(file_size) = root.file_size(path)? else {
        return Ok(None);
    };
    let head = root.read_head(path, 8)?;
    let tail = root.read_tail(path, 1024)?;
    let (unpacked, rule) = if head.starts_with(b"070701") || head.starts_with(b"070702") {
        if tail.windows(10).any(|w| w == b"TRAILER!!!") && !has_compressed_tail(&tail) {
            (file_size, "uncompressed cpio")
        } else {
            (
                file_size.saturating_mul(ASSUMED_INITRD_RATIO),
                "cpio with a compressed part: assumed 3x",
            )
        }
    } else if head.starts_with(&[0x1f, 0x8b]) && tail.len() >= 4 {
        let t = &tail[tail.len() - 4..];
        let isize = u64::from(u32::from_le_bytes([t[0], t[1], t[2], t[3]]));
        if isize >= file_size {
            (isize, "gzip ISIZE")
        } else {
            (
                file_size.saturating_mul(ASSUMED_INITRD_RATIO),
                "gzip (ISIZE implausible): assumed 3x",
            )
        }
    } else {
        (
            file_size.saturating_mul(ASSUMED_INITRD_RATIO),
            "compressed: assumed 3x",
        )
    };
    Ok(Some(InitrdImage {
        path: path.to_path_buf(),
        file_size,
        unpacked,
        unpacked_rule: rule,
    }))
}

fn has_compressed_tail(tail: &[u8]) -> bool {
    // A cpio archive ends with the trailer then NUL padding; anything else after the last
    // trailer means a compressed archive follows.
    match tail.windows(10).rposition(|w| w == b"TRAILER!!!") {
        Some(p) => tail[p + 10..].iter().any(|&b| b != 0),
        None => true,
    }
}

/// One named part of an estimate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Short name.
    pub name: &'static str,
    /// Bytes.
    pub bytes: u64,
    /// How it was obtained.
    pub note: String,
}

/// The reservation estimate for a machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    /// System RAM used (bytes).
    pub system_ram: u64,
    /// The parts, in print order (the margin last).
    pub parts: Vec<Part>,
    /// Sum of the parts rounded up to 16 MiB.
    pub total: u64,
}

/// Inputs to [`estimate`].
#[derive(Debug, Clone, Default)]
pub struct EstimateInput {
    /// System RAM in bytes (sum of top-level "System RAM" in /proc/iomem).
    pub system_ram: u64,
    /// Capture kernel, if found.
    pub kernel: Option<KernelImage>,
    /// Initramfs, if found.
    pub initrd: Option<InitrdImage>,
}

/// Fallback kernel memory when no kernel image is found (a typical distribution kernel's
/// `init_size`), so that an estimate can still be printed.
pub const FALLBACK_KERNEL: u64 = 48 * MIB;

/// Compute the estimate from its inputs (pure).
pub fn estimate(input: &EstimateInput) -> Estimate {
    let mut parts = Vec::new();
    match &input.kernel {
        Some(k) => parts.push(Part {
            name: "capture kernel",
            bytes: k.memory(),
            note: match k.init_size {
                Some(_) => format!("{}: bzImage init_size", k.path.display()),
                None => format!("{}: file size (no bzImage header)", k.path.display()),
            },
        }),
        None => parts.push(Part {
            name: "capture kernel",
            bytes: FALLBACK_KERNEL,
            note: "no kernel image found: typical init_size assumed".into(),
        }),
    }
    if let Some(i) = &input.initrd {
        parts.push(Part {
            name: "initramfs",
            bytes: round_up(i.file_size, PAGE).saturating_add(round_up(i.unpacked, PAGE)),
            note: format!(
                "{}: file {} + unpacked {} ({})",
                i.path.display(),
                crate::crashkernel::format_mib(i.file_size),
                crate::crashkernel::format_mib(i.unpacked),
                i.unpacked_rule
            ),
        });
    } else {
        parts.push(Part {
            name: "initramfs",
            bytes: 0,
            note: "no initramfs found".into(),
        });
    }
    parts.push(Part {
        name: "runtime",
        bytes: RUNTIME_RESERVATION,
        note: "capture kernel's own allocations with nr_cpus=1".into(),
    });
    let (f, fnote) = filter_memory(input.system_ram);
    parts.push(Part {
        name: "dump filter",
        bytes: f,
        note: fnote.into(),
    });
    let subtotal: u64 = parts.iter().fold(0u64, |a, p| a.saturating_add(p.bytes));
    // struct page (64 B) + page tables (8 B) per 4 KiB page of the reservation; the
    // reservation includes these structures too, so solve x = (s + x) * 72 / 4096.
    let memmap = round_up(subtotal.saturating_mul(72) / (PAGE - 72).max(1) + 1, PAGE);
    parts.push(Part {
        name: "struct pages + page tables",
        bytes: memmap,
        note: "72 bytes per 4 KiB page of the reservation".into(),
    });
    let sum = subtotal.saturating_add(memmap);
    let margin = round_up(sum / 10, MIB);
    parts.push(Part {
        name: "margin",
        bytes: margin,
        note: "10%".into(),
    });
    let total = round_up(sum.saturating_add(margin), 16 * MIB);
    Estimate {
        system_ram: input.system_ram,
        parts,
        total,
    }
}

/// The size kdump-utils' default table gives for `system_ram` bytes (`sme_sev`: add the
/// 64 MiB it adds when AMD memory encryption is active). `Ok(0)` when no range matches
/// (small machines: kdump-utils then reserves nothing).
pub fn kdump_utils_default(system_ram: u64, sme_sev: bool) -> u64 {
    table_size(KDUMP_UTILS_X86_64, system_ram)
        .map(|s| {
            if sme_sev {
                s + KDUMP_UTILS_SME_SEV_EXTRA
            } else {
                s
            }
        })
        .unwrap_or(0)
}

/// The default crashkernel= value kdump-utils would write (with the SME/SEV extra applied to
/// every range when `sme_sev`).
pub fn kdump_utils_default_param(sme_sev: bool) -> Crashkernel {
    let mut ck = Crashkernel::parse(KDUMP_UTILS_X86_64).unwrap_or(Crashkernel::Fixed {
        size: 256 * MIB,
        offset: None,
    });
    if sme_sev {
        if let Crashkernel::Ranges { ranges, .. } = &mut ck {
            for r in ranges {
                r.size += KDUMP_UTILS_SME_SEV_EXTRA;
            }
        }
    }
    ck
}

/// The size a range table gives for `system_ram`, as the kernel would select it.
pub fn table_size(table: &str, system_ram: u64) -> Option<u64> {
    let ck = Crashkernel::parse(table).ok()?;
    match ck.select(system_ram) {
        Ok(s) => Some(s.size),
        Err(SelectError::NoRangeMatches { .. }) => Some(0),
        Err(_) => None,
    }
}

/// Memory a panic-kernel load puts in the reservation: kernel + initrd + [`LOAD_OVERHEAD`].
pub fn load_footprint(kernel: &KernelImage, initrd: Option<&InitrdImage>) -> u64 {
    let align = kernel.alignment.map(u64::from).unwrap_or(PAGE).max(PAGE);
    round_up(kernel.memory(), align)
        .saturating_add(initrd.map(|i| round_up(i.file_size, PAGE)).unwrap_or(0))
        .saturating_add(LOAD_OVERHEAD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crashkernel::GIB;

    #[test]
    fn kdump_utils_table() {
        assert_eq!(kdump_utils_default(GIB, false), 0);
        assert_eq!(kdump_utils_default(2 * GIB, false), 256 * MIB);
        assert_eq!(kdump_utils_default(2 * GIB - 64 * MIB, false), 256 * MIB); // rounds up
        assert_eq!(kdump_utils_default(64 * GIB, false), 512 * MIB);
        assert_eq!(kdump_utils_default(16 * GIB, true), 320 * MIB);
        assert_eq!(table_size(KEXEC_TOOLS_X86_64_OLD, GIB), Some(192 * MIB));
        assert_eq!(
            kdump_utils_default_param(true).to_string(),
            "2G-64G:320M,64G-:576M"
        );
    }

    #[test]
    fn bzimage_header() {
        let mut b = vec![0u8; 4096];
        b[0x202..0x206].copy_from_slice(b"HdrS");
        b[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        b[0x230..0x234].copy_from_slice(&0x200000u32.to_le_bytes());
        b[0x260..0x264].copy_from_slice(&(40u32 << 20).to_le_bytes());
        assert_eq!(bzimage_sizes(&b), Some((40 << 20, 0x200000)));
        b[0x206..0x208].copy_from_slice(&0x0209u16.to_le_bytes());
        assert_eq!(bzimage_sizes(&b), None);
        assert_eq!(bzimage_sizes(&b[..0x100]), None);
    }

    #[test]
    fn estimate_sums_parts() {
        let e = estimate(&EstimateInput {
            system_ram: GIB,
            kernel: Some(KernelImage {
                path: "/boot/vmlinuz".into(),
                file_size: 8 * MIB,
                init_size: Some(40 << 20),
                alignment: Some(2 << 20),
            }),
            initrd: None,
        });
        let sum: u64 = e.parts.iter().map(|p| p.bytes).sum();
        assert!(e.total >= sum && e.total - sum < 16 * MIB);
        assert_eq!(e.total % (16 * MIB), 0);
        // 40 + 0 + 64 + 64 = 168 MiB, + ~3 MiB memmap, + 10%: 192 MiB after rounding.
        assert_eq!(e.total, 192 * MIB);
    }
}
