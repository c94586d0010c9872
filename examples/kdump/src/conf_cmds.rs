//! `kdump check` and `kdump show`.

use std::process::ExitCode;

/// `kdump check [--config FILE]`.
pub fn check(_args: &[String]) -> ExitCode {
    eprintln!("kdump check: not implemented yet");
    ExitCode::from(2)
}

/// `kdump show [--config FILE] [--json]`.
pub fn show(_args: &[String]) -> ExitCode {
    eprintln!("kdump show: not implemented yet");
    ExitCode::from(2)
}
