#![no_main]
//! Any bytes as VMCOREINFO text.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let info = vmcore::VmcoreInfo::parse(data);
    let _ = info.kernel_version();
    for (k, _) in info.entries() {
        let _ = info.get(k);
    }
    let _ = vmcore::x86_64::X86_64::new(&info, &[]);
});
