//! The kdump service: a systemd unit and an equivalent SysV init script.
//!
//! Both run `kdump start` on start (rebuild the capture image if stale and load it; in a
//! capture kernel that booted the whole system, save the dump) and `kdump unload`/`kdump stop`
//! on stop (the binary is expected at
//! [`KDUMP_BIN`]). [`install`] writes one of them under a root directory; it never enables or
//! starts anything, it returns the command for the user to run.

use crate::bootloader::write_atomic;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Where the unit and the script expect the `kdump` binary.
pub const KDUMP_BIN: &str = "/usr/local/bin/kdump";
/// The systemd unit (Type=oneshot, RemainAfterExit=yes, after local-fs.target).
pub const SYSTEMD_UNIT: &str = include_str!("../data/kdump.service");
/// The SysV init script (LSB header and chkconfig line; start/stop/status/restart).
pub const SYSV_SCRIPT: &str = include_str!("../data/kdump.init");
/// Install path of the unit.
pub const SYSTEMD_UNIT_PATH: &str = "/etc/systemd/system/kdump.service";
/// Install path of the init script.
pub const SYSV_SCRIPT_PATH: &str = "/etc/init.d/kdump";

/// Which flavour of service to install.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// systemd unit.
    Systemd,
    /// SysV init script.
    SysV,
}

/// What [`install`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// System path written.
    pub path: PathBuf,
    /// Mode given to it.
    pub mode: u32,
    /// False when the file already had exactly this content (nothing written).
    pub written: bool,
    /// The command that enables and starts the service (for the user to run).
    pub enable: &'static str,
}

impl ServiceKind {
    /// File content, install path, mode and enable command.
    pub fn spec(self) -> (&'static str, &'static str, u32, &'static str) {
        match self {
            ServiceKind::Systemd => (
                SYSTEMD_UNIT,
                SYSTEMD_UNIT_PATH,
                0o644,
                "systemctl daemon-reload && systemctl enable --now kdump",
            ),
            ServiceKind::SysV => (
                SYSV_SCRIPT,
                SYSV_SCRIPT_PATH,
                0o755,
                "chkconfig kdump on; service kdump start   (Debian: update-rc.d kdump defaults; service kdump start)",
            ),
        }
    }
}

/// Write the service file of `kind` under `root` (atomically; parent directories created).
pub fn install(root: &Path, kind: ServiceKind) -> io::Result<Installed> {
    let (content, path, mode, enable) = kind.spec();
    let real = root.join(path.trim_start_matches('/'));
    if let Some(dir) = real.parent() {
        fs::create_dir_all(dir)?;
    }
    let same = fs::read(&real)
        .map(|c| c == content.as_bytes())
        .unwrap_or(false);
    if !same {
        write_atomic(&real, content.as_bytes())?;
    }
    fs::set_permissions(&real, fs::Permissions::from_mode(mode))?;
    Ok(Installed {
        path: PathBuf::from(path),
        mode,
        written: !same,
        enable,
    })
}
