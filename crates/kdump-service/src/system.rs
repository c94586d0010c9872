//! Every act of `kdump` that changes the machine goes through one interface, [`System`]:
//! mounting and unmounting, opening a block device for writing, loading a kernel module,
//! rebooting / halting / powering off, triggering sysrq and running an action command
//! (failure_action's command or the emergency shell).
//!
//! [`HostSystem`] carries the acts out with system calls (no `mount`, `reboot` or `sync`
//! program is needed, so it works in a capture initramfs that has no shell), and asks the host
//! guard ([`kexec_image::guard::check`]) before each one: under a test harness or CI, outside
//! the QEMU lab guest, every act is refused. Tests and other embedders can pass their own
//! [`System`] (a fake that records what would have happened) through
//! [`crate::save::SaveOptions::system`].
//!
//! ```
//! use kdump_service::system::{Act, HostSystem, System};
//!
//! // Under `cargo test` on a development machine the guard refuses every act.
//! let sys = HostSystem;
//! if !kexec_image::guard::in_lab_guest() {
//!     let err = sys.unmount(std::path::Path::new("/nonexistent")).unwrap_err();
//!     assert!(err.to_string().contains("refusing"), "{err}");
//!     assert_eq!(Act::Unmount.danger(), kexec_image::guard::Danger::Mount);
//! }
//! ```

use std::fmt;
use std::fs::File;
use std::io;
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::Arc;

use kexec_image::guard::{self, Danger};

/// The kinds of act a [`System`] carries out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Act {
    /// mount(2).
    Mount,
    /// umount(2).
    Unmount,
    /// Opening a block device (a `raw` target) for writing.
    BlockDeviceWrite,
    /// finit_module(2).
    LoadModule,
    /// reboot(2): restart, halt or power off.
    Power,
    /// A write to /proc/sysrq-trigger.
    Sysrq,
    /// A failure_action command or the emergency shell.
    ActionCommand,
}

impl Act {
    /// The host guard's name for this act.
    pub fn danger(self) -> Danger {
        match self {
            Act::Mount | Act::Unmount => Danger::Mount,
            Act::BlockDeviceWrite => Danger::BlockDeviceWrite,
            Act::LoadModule => Danger::LoadModule,
            Act::Power => Danger::Reboot,
            Act::Sysrq => Danger::SysrqTrigger,
            Act::ActionCommand => Danger::ActionCommand,
        }
    }
}

/// How reboot(2) ends the running kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerAction {
    /// Restart the machine.
    Reboot,
    /// Stop the machine without powering it off.
    Halt,
    /// Power the machine off.
    Poweroff,
}

impl PowerAction {
    /// `reboot`, `halt` or `poweroff`.
    pub fn name(self) -> &'static str {
        match self {
            PowerAction::Reboot => "reboot",
            PowerAction::Halt => "halt",
            PowerAction::Poweroff => "poweroff",
        }
    }
}

impl fmt::Display for PowerAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A mount(2) request.
#[derive(Debug, Clone, Copy)]
pub struct MountRequest<'a> {
    /// The device, `server:/export`, a virtiofs tag, or a pseudo file system's name.
    pub source: &'a str,
    /// The mount point (must exist).
    pub target: &'a Path,
    /// The file-system type (`ext4`, `nfs`, `proc`, ...).
    pub fstype: &'a str,
    /// The file system's option string (`vers=3,addr=...`), if any.
    pub data: Option<&'a str>,
    /// Mount read-only.
    pub read_only: bool,
}

/// Carries out the acts that change the machine. Every method of [`HostSystem`] asks the host
/// guard first.
pub trait System: Send + Sync {
    /// mount(2) `req`.
    fn mount(&self, req: &MountRequest<'_>) -> io::Result<()>;
    /// umount(2) `target`.
    fn unmount(&self, target: &Path) -> io::Result<()>;
    /// Opens a `raw` dump target for writing (a block device; a plain file is no danger).
    fn open_block_device(&self, path: &Path) -> io::Result<File>;
    /// Loads the kernel module in `module` (an opened .ko) with `params`.
    fn load_module(&self, module: &File, params: &str) -> io::Result<()>;
    /// Flushes the file systems and ends the running kernel. Returns only on failure.
    fn power(&self, action: PowerAction) -> io::Result<()>;
    /// Writes `key` to /proc/sysrq-trigger (`c` crashes the kernel).
    fn sysrq(&self, key: char) -> io::Result<()>;
    /// Runs an action command (failure_action's command, the emergency shell) and waits.
    fn run_action(&self, cmd: &mut Command) -> io::Result<ExitStatus>;
}

/// A shared [`System`], as [`crate::save::SaveOptions`] carries it.
#[derive(Clone)]
pub struct SystemRef(pub Arc<dyn System>);

impl SystemRef {
    /// The real system ([`HostSystem`]).
    pub fn host() -> Self {
        SystemRef(Arc::new(HostSystem))
    }
}

impl Default for SystemRef {
    fn default() -> Self {
        Self::host()
    }
}

impl fmt::Debug for SystemRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SystemRef")
    }
}

impl std::ops::Deref for SystemRef {
    type Target = dyn System;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

/// The machine this process runs on, through system calls, each asked of the host guard first.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostSystem;

fn guarded(act: Act) -> io::Result<()> {
    guard::check(act.danger()).map_err(|e| io::Error::new(io::ErrorKind::PermissionDenied, e))
}

impl System for HostSystem {
    fn mount(&self, req: &MountRequest<'_>) -> io::Result<()> {
        use rustix::mount::MountFlags;
        guarded(Act::Mount)?;
        let flags = if req.read_only {
            MountFlags::RDONLY
        } else {
            MountFlags::empty()
        };
        let data = req
            .data
            .map(std::ffi::CString::new)
            .transpose()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in mount options"))?;
        rustix::mount::mount(req.source, req.target, req.fstype, flags, data.as_deref())?;
        Ok(())
    }

    fn unmount(&self, target: &Path) -> io::Result<()> {
        guarded(Act::Unmount)?;
        rustix::mount::unmount(target, rustix::mount::UnmountFlags::empty())?;
        Ok(())
    }

    fn open_block_device(&self, path: &Path) -> io::Result<File> {
        use std::os::unix::fs::FileTypeExt;
        // A raw target that is a plain file (an image, a test) changes nothing but itself.
        let is_block = std::fs::metadata(path).is_ok_and(|m| m.file_type().is_block_device());
        if is_block {
            guarded(Act::BlockDeviceWrite)?;
        }
        std::fs::OpenOptions::new().write(true).open(path)
    }

    fn load_module(&self, module: &File, params: &str) -> io::Result<()> {
        guarded(Act::LoadModule)?;
        let params = std::ffi::CString::new(params)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in module parameters"))?;
        rustix::system::finit_module(module, &params, 0)?;
        Ok(())
    }

    fn power(&self, action: PowerAction) -> io::Result<()> {
        use rustix::system::RebootCommand;
        guarded(Act::Power)?;
        rustix::fs::sync();
        let cmd = match action {
            PowerAction::Reboot => RebootCommand::Restart,
            PowerAction::Halt => RebootCommand::Halt,
            PowerAction::Poweroff => RebootCommand::PowerOff,
        };
        rustix::system::reboot(cmd)?;
        Ok(())
    }

    fn sysrq(&self, key: char) -> io::Result<()> {
        guarded(Act::Sysrq)?;
        rustix::fs::sync();
        std::fs::write("/proc/sysrq-trigger", key.to_string())
    }

    fn run_action(&self, cmd: &mut Command) -> io::Result<ExitStatus> {
        guarded(Act::ActionCommand)?;
        cmd.status()
    }
}

/// Mount `fstype` `what` on `dir` through `sys`, creating `dir`; when a typed mount of a
/// block-device file system fails, every block file system the kernel lists in
/// /proc/filesystems is tried (an ext3 file system handled by the ext4 driver, ...), as
/// `mount` without `-t` does.
pub fn mount_target(
    sys: &dyn System,
    fstype: &str,
    what: &str,
    dir: &Path,
    data: Option<&str>,
) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let req = |fstype| MountRequest {
        source: what,
        target: dir,
        fstype,
        data,
        read_only: false,
    };
    let first = match sys.mount(&req(fstype)) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    if first.kind() == io::ErrorKind::PermissionDenied || !what.starts_with('/') {
        return Err(first);
    }
    let listed = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    for fs in block_filesystems(&listed) {
        if fs != fstype && sys.mount(&req(fs)).is_ok() {
            return Ok(());
        }
    }
    Err(first)
}

/// The file systems in /proc/filesystems text that live on block devices (no `nodev`).
pub fn block_filesystems(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter_map(|l| {
        let mut w = l.split_whitespace();
        match (w.next(), w.next()) {
            (Some("nodev"), _) => None,
            (Some(fs), None) => Some(fs),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_act_is_refused_on_the_host_under_the_test_harness() {
        if guard::in_lab_guest() {
            return;
        }
        let sys = HostSystem;
        let dir = std::env::temp_dir();
        // A block device node of our own (loop0's numbers): the guard must refuse before
        // anything opens it.
        let block_node = dir.join(format!("kdump-guard-blk-{}", std::process::id()));
        let _ = std::fs::remove_file(&block_node);
        let made = Command::new("mknod")
            .arg(&block_node)
            .args(["b", "7", "0"])
            .status()
            .expect("mknod (coreutils)");
        assert!(made.success(), "mknod {}", block_node.display());
        let checks: Vec<(Act, io::Result<()>)> = vec![
            (
                Act::Mount,
                sys.mount(&MountRequest {
                    source: "none",
                    target: &dir,
                    fstype: "tmpfs",
                    data: None,
                    read_only: false,
                }),
            ),
            (Act::Unmount, sys.unmount(&dir)),
            (
                Act::BlockDeviceWrite,
                sys.open_block_device(&block_node).map(drop),
            ),
            (
                Act::LoadModule,
                File::open("/dev/null").and_then(|f| sys.load_module(&f, "")),
            ),
            (Act::Power, sys.power(PowerAction::Reboot)),
            (Act::Sysrq, sys.sysrq('h')),
            (
                Act::ActionCommand,
                sys.run_action(&mut Command::new("true")).map(drop),
            ),
        ];
        let _ = std::fs::remove_file(&block_node);
        for (act, r) in checks {
            let e = r.expect_err("must be refused on the host");
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{act:?}: {e}");
            assert!(e.to_string().contains("refusing"), "{act:?}: {e}");
        }
    }

    #[test]
    fn block_filesystems_skips_nodev() {
        let t = "nodev\tsysfs\nnodev\ttmpfs\n\text3\n\text2\n\text4\nnodev\tnfs\n\txfs\n";
        assert_eq!(
            block_filesystems(t).collect::<Vec<_>>(),
            ["ext3", "ext2", "ext4", "xfs"]
        );
    }
}
