//! Fuzz the shell-assignment readers of /etc/sysconfig/kdump and /etc/default/kdump-tools.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = kdump_conf::parse_assignments(&text);
    let _ = kdump_conf::parse_sysconfig(&text);
    let (plan, _) = kdump_conf::parse_kdump_tools(&text);
    let _ = plan.to_json();
});
