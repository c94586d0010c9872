//! `kdump status`, `kdump estimate`, `kdump reset-crashkernel`, `kdump install-service`.

use std::process::ExitCode;

fn todo(what: &str) -> ExitCode {
    eprintln!("kdump {what}: not implemented yet in this version (tracked in the project's issues)");
    ExitCode::from(2)
}

/// `kdump status`.
pub fn status(_args: &[String]) -> ExitCode {
    todo("status")
}

/// `kdump estimate`.
pub fn estimate(_args: &[String]) -> ExitCode {
    todo("estimate")
}

/// `kdump reset-crashkernel [--size S] [--apply]`.
pub fn reset_crashkernel(_args: &[String]) -> ExitCode {
    todo("reset-crashkernel")
}

/// `kdump install-service`.
pub fn install_service(_args: &[String]) -> ExitCode {
    todo("install-service")
}
