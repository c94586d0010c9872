//! Everything the planner needs from the running machine, read through a [`SystemView`].

use crate::bootparams::BootParams;
use crate::memmap::{system_memory_map, MemRange};
use crate::sysview::SystemView;
use crate::Error;

/// Facts about the running machine used for every load.
#[derive(Debug, Clone)]
pub struct Machine {
    /// The memory map (/sys/firmware/memmap, else /proc/iomem).
    pub memory: Vec<MemRange>,
    /// ACPI RSDP address (0 when unknown: the new kernel searches for it).
    pub acpi_rsdp: u64,
    /// The running kernel's boot_params, when /sys/kernel/boot_params/data is readable.
    pub running: Option<BootParams>,
}

/// The RSDP from /sys/firmware/efi/systab (`ACPI20=` preferred over `ACPI=`).
pub fn acpi_rsdp_from_systab(text: &str) -> Option<u64> {
    let find = |key: &str| {
        text.lines().find_map(|l| {
            let v = l.trim().strip_prefix(key)?.strip_prefix('=')?;
            u64::from_str_radix(v.trim().trim_start_matches("0x"), 16).ok()
        })
    };
    find("ACPI20").or_else(|| find("ACPI"))
}

/// Read the machine facts.
pub fn read(view: &dyn SystemView) -> Result<Machine, Error> {
    let memory = system_memory_map(view)?;
    let running = view
        .read_prefix("/sys/kernel/boot_params/data", 4096)
        .ok()
        .filter(|d| d.len() == 4096)
        .map(|d| BootParams::from_bytes(&d));
    let mut acpi_rsdp = view
        .read_text("/sys/firmware/efi/systab")
        .ok()
        .and_then(|t| acpi_rsdp_from_systab(&t))
        .unwrap_or(0);
    if acpi_rsdp == 0 {
        acpi_rsdp = running.as_ref().map(|b| b.acpi_rsdp_addr).unwrap_or(0);
    }
    Ok(Machine {
        memory,
        acpi_rsdp,
        running,
    })
}

/// The current command line without the tokens a new kernel must not inherit
/// (`BOOT_IMAGE=`, `crashkernel=`, `initrd=`), for `--reuse-cmdline`.
pub fn reusable_cmdline(proc_cmdline: &str) -> String {
    proc_cmdline
        .split_whitespace()
        .filter(|w| {
            !(w.starts_with("BOOT_IMAGE=")
                || w.starts_with("crashkernel=")
                || w.starts_with("initrd="))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systab_and_cmdline() {
        assert_eq!(
            acpi_rsdp_from_systab("SMBIOS=0x7f0\nACPI=0xf0000\nACPI20=0x7fb7e014\n"),
            Some(0x7fb7_e014)
        );
        assert_eq!(acpi_rsdp_from_systab("ACPI=0xf0000\n"), Some(0xf0000));
        assert_eq!(acpi_rsdp_from_systab("SMBIOS=0x1\n"), None);
        assert_eq!(
            reusable_cmdline("BOOT_IMAGE=/vmlinuz root=/dev/vda crashkernel=256M quiet\n"),
            "root=/dev/vda quiet"
        );
    }

    #[test]
    fn synthetic_machine() {
        let s = crate::crash::tests::synthetic_system();
        let m = read(&s).unwrap();
        assert_eq!(m.acpi_rsdp, 0);
        assert!(m.running.is_none());
        assert!(m
            .memory
            .iter()
            .any(|r| r.kind == crate::memmap::RangeKind::Ram));
    }
}
