//! Body of the `kdump_target` fuzz target: the parsers of `kdump load`/`kdump save`: the
//! superblock probe that finds LABEL=/UUID= targets (ext2/3/4, XFS, btrfs), the capture
//! command line editor and the /proc/cpuinfo reader. None may panic; the editor must never
//! keep a removed parameter.
//!
//! Shared by fuzz/fuzz_targets/kdump_target.rs and crates/kdump-service/tests/fuzz_regressions.rs.

use kdump_service::load::{boot_cpu_apicid, capture_cmdline, split_cmdline};
use kdump_service::target::probe;

/// Run one input; true if the superblock probe recognised a file system.
pub fn run(data: &[u8]) -> bool {
    let found = probe(data).is_some();
    let text = String::from_utf8_lossy(data);
    let _ = boot_cpu_apicid(&text);
    let mut mid = text.len() / 2;
    while !text.is_char_boundary(mid) {
        mid -= 1;
    }
    let (base, rest) = text.split_at(mid);
    let remove: Vec<String> = rest.split_whitespace().take(8).map(String::from).collect();
    let out = capture_cmdline(base, &remove, &[], None);
    for w in split_cmdline(&out) {
        let name = w.split('=').next().unwrap_or("");
        assert!(
            !remove.iter().any(|r| r.split('=').next() == Some(name)),
            "{name} kept"
        );
    }
    found
}
