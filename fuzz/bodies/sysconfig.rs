//! Body of the `sysconfig` fuzz target: the shell-assignment readers of /etc/sysconfig/kdump
//! and /etc/default/kdump-tools never panic and always give a plan.
//!
//! Shared by fuzz/fuzz_targets/sysconfig.rs and crates/kdump-conf/tests/fuzz_regressions.rs.

/// Run one input; true if the text parsed as shell assignments without a diagnostic.
pub fn run(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    let parsed = kdump_conf::parse_assignments(&text).1.is_empty();
    let _ = kdump_conf::parse_sysconfig(&text);
    let (plan, _) = kdump_conf::parse_kdump_tools(&text);
    let _ = plan.to_json();
    parsed
}
