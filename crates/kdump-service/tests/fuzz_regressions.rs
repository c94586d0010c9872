//! The crashkernel fuzz target's properties (fuzz/fuzz_targets/crashkernel.rs) over every input that
//! once failed (fuzz/regressions/crashkernel/) and the committed seeds (fuzz/corpus/crashkernel/).

use kdump_service::bootloader;
use kdump_service::crashkernel::{CmdlineCrashkernel, Crashkernel};
use std::path::Path;

#[path = "../../../fuzz/regression_inputs.rs"]
mod regression_inputs;
use regression_inputs::inputs;

#[test]
fn crashkernel() {
    let all = inputs("crashkernel");
    assert!(!all.is_empty(), "no seeds in fuzz/corpus/crashkernel");
    for (_, data) in all {
        let (ram, text) = match data.split_first_chunk::<8>() {
            Some((r, t)) => (u64::from_le_bytes(*r), t),
            None => (1 << 30, &data[..]),
        };
        let text = String::from_utf8_lossy(text);
        if let Ok(ck) = Crashkernel::parse(&text) {
            let printed = ck.to_string();
            assert_eq!(Crashkernel::parse(&printed).as_ref(), Ok(&ck));
            let _ = ck.select(ram);
        }
        let _ = CmdlineCrashkernel::from_cmdline(&text).request(ram);
        let value = "2G-64G:256M,64G-:512M";
        let once = bootloader::set_in_args(&text, value);
        assert_eq!(bootloader::set_in_args(&once, value), once);
        let _ = bootloader::remove_from_args(&text);
        if let Ok(new) = bootloader::edit_grub_dropin(Path::new("f"), &text) {
            assert_eq!(
                bootloader::edit_grub_dropin(Path::new("f"), &new)
                    .ok()
                    .as_ref(),
                Some(&new)
            );
        }
        for edit in [
            bootloader::edit_grub_legacy,
            bootloader::edit_default_grub,
            bootloader::edit_bls,
        ] {
            if let Ok(new) = edit(Path::new("f"), &text, value) {
                assert_eq!(edit(Path::new("f"), &new, value).ok().as_ref(), Some(&new));
            }
        }
    }
}
