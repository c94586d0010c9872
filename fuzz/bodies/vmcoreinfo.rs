//! Body of the `vmcoreinfo` fuzz target: any bytes as VMCOREINFO text, and the x86-64
//! translation set up from it.
//!
//! Shared by fuzz/fuzz_targets/vmcoreinfo.rs and crates/vmcore/tests/fuzz_regressions.rs.

/// Run one input; true if the text names a kernel version.
pub fn run(data: &[u8]) -> bool {
    let info = vmcore::VmcoreInfo::parse(data);
    let version = info.kernel_version().is_some();
    for (k, _) in info.entries() {
        let _ = info.get(k);
    }
    let _ = vmcore::x86_64::X86_64::new(&info, &[]);
    version
}
