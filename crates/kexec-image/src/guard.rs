//! The host guard: dangerous operations are refused under a test harness outside the lab guest.
//!
//! This machine is shared. A test that loads a kernel, reboots, triggers sysrq, mounts, loads a
//! module or writes a block device on the host would take everyone down, so every such path in this workspace calls [`check`] first:
//!
//! * inside our QEMU lab guest (the environment variable [`GUEST_ENV`] is `1`, which only our
//!   guest init sets, **and** the kernel command line carries [`GUEST_CMDLINE_TOKEN`], which only
//!   our lab passes to the guest kernels) everything is allowed;
//! * otherwise, when the process looks like it runs under a test harness or CI (cargo's
//!   runtime variables, nextest's, `KDUMP_RS_TESTING`, `CI`), the operation is refused;
//! * otherwise (a real administrator running `kexec-load -e`) it is allowed.
//!
//! The lookups take their inputs as parameters in [`decide`] so the rule itself is unit-tested.

use std::fmt;

/// Environment variable that our guest init exports (value `1`).
pub const GUEST_ENV: &str = "KDUMP_RS_GUEST";
/// Token that the lab puts on every guest kernel command line.
pub const GUEST_CMDLINE_TOKEN: &str = "kdumprs.lab=guest";
/// Environment variable that `cargo xtask` sets for everything it runs.
pub const TESTING_ENV: &str = "KDUMP_RS_TESTING";

/// Environment variables whose presence means "a test harness or CI started this process".
/// cargo sets `CARGO` and `CARGO_MANIFEST_DIR` for `cargo test` and `cargo run`; children
/// inherit them, so a binary spawned by a test is caught too.
pub const HARNESS_ENVS: &[&str] = &[
    TESTING_ENV,
    "CI",
    "CARGO",
    "CARGO_MANIFEST_DIR",
    "CARGO_TARGET_TMPDIR",
    "NEXTEST",
    "NEXTEST_RUN_ID",
    "RUST_TEST_THREADS",
];

/// An operation that can kill the machine it runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Danger {
    /// The kexec_load(2) system call.
    KexecLoad,
    /// The kexec_file_load(2) system call.
    KexecFileLoad,
    /// reboot(2), including LINUX_REBOOT_CMD_KEXEC, halt and power-off.
    Reboot,
    /// A write to /proc/sysrq-trigger.
    SysrqTrigger,
    /// mount(2) or umount(2).
    Mount,
    /// Opening a block device for writing.
    BlockDeviceWrite,
    /// finit_module(2).
    LoadModule,
    /// A failure_action command or the emergency shell.
    ActionCommand,
}

impl fmt::Display for Danger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Danger::KexecLoad => "kexec_load",
            Danger::KexecFileLoad => "kexec_file_load",
            Danger::Reboot => "reboot",
            Danger::SysrqTrigger => "writing /proc/sysrq-trigger",
            Danger::Mount => "mount/umount",
            Danger::BlockDeviceWrite => "writing a block device",
            Danger::LoadModule => "loading a kernel module",
            Danger::ActionCommand => "running a failure_action command",
        })
    }
}

/// The guard refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing {op}: running under a test harness or CI ({reason}) outside the kdump-rs lab guest; \
         such operations only run inside a QEMU guest booted by `cargo xtask lab`"
)]
pub struct Refused {
    /// What was refused.
    pub op: Danger,
    /// The variable that identified the harness.
    pub reason: String,
}

/// The rule, on explicit inputs: `guest_env` is the value of [`GUEST_ENV`], `cmdline` the
/// contents of /proc/cmdline, `harness_var` the first of [`HARNESS_ENVS`] that is set.
pub fn decide(
    op: Danger,
    guest_env: Option<&str>,
    cmdline: Option<&str>,
    harness_var: Option<&str>,
    compiled_for_test: bool,
) -> Result<(), Refused> {
    let in_guest = guest_env == Some("1")
        && cmdline.is_some_and(|c| c.split_whitespace().any(|w| w == GUEST_CMDLINE_TOKEN));
    if in_guest {
        return Ok(());
    }
    if compiled_for_test {
        return Err(Refused {
            op,
            reason: "built with cfg(test)".into(),
        });
    }
    match harness_var {
        Some(var) => Err(Refused {
            op,
            reason: format!("{var} is set"),
        }),
        None => Ok(()),
    }
}

/// True when this process runs inside our lab guest (both markers present).
pub fn in_lab_guest() -> bool {
    let cmdline = std::fs::read_to_string("/proc/cmdline").ok();
    decide(
        Danger::Reboot,
        std::env::var(GUEST_ENV).ok().as_deref(),
        cmdline.as_deref(),
        Some("x"),
        false,
    )
    .is_ok()
}

/// Check whether `op` may run now. Call this immediately before the system call.
pub fn check(op: Danger) -> Result<(), Refused> {
    let cmdline = std::fs::read_to_string("/proc/cmdline").ok();
    let harness = HARNESS_ENVS
        .iter()
        .copied()
        .find(|v| std::env::var_os(v).is_some());
    decide(
        op,
        std::env::var(GUEST_ENV).ok().as_deref(),
        cmdline.as_deref(),
        harness,
        cfg!(test),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = "console=ttyS0 kdumprs.lab=guest panic=-1";

    #[test]
    fn guest_needs_both_markers() {
        assert!(decide(Danger::KexecLoad, Some("1"), Some(LAB), Some("CARGO"), true).is_ok());
        assert!(decide(
            Danger::KexecLoad,
            Some("1"),
            Some("console=ttyS0"),
            Some("CARGO"),
            false
        )
        .is_err());
        assert!(decide(Danger::KexecLoad, None, Some(LAB), Some("CARGO"), false).is_err());
        assert!(decide(Danger::KexecLoad, Some("0"), Some(LAB), Some("CI"), false).is_err());
        // a token that merely contains the marker does not count
        assert!(decide(
            Danger::Reboot,
            Some("1"),
            Some("xkdumprs.lab=guest"),
            Some("CI"),
            false
        )
        .is_err());
    }

    #[test]
    fn harness_is_refused_and_production_allowed() {
        let e = decide(
            Danger::SysrqTrigger,
            None,
            Some("quiet"),
            Some("NEXTEST"),
            false,
        )
        .unwrap_err();
        assert!(e.to_string().contains("NEXTEST is set"), "{e}");
        assert!(decide(Danger::Reboot, None, Some("quiet"), None, false).is_ok());
        assert!(decide(Danger::Reboot, None, Some("quiet"), None, true).is_err());
    }

    #[test]
    fn this_test_process_is_refused_on_the_host() {
        // Unit tests are compiled with cfg(test) and run by cargo: never allowed on the host.
        if !in_lab_guest() {
            for op in [
                Danger::KexecLoad,
                Danger::KexecFileLoad,
                Danger::Reboot,
                Danger::SysrqTrigger,
            ] {
                assert!(check(op).is_err());
            }
        }
    }
}
