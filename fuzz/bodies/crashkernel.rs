//! Body of the `crashkernel` fuzz target: the crashkernel= parser, the command-line scan, and
//! the boot-loader editors.
//!
//! Input: the first 8 bytes are a RAM size; the rest is text. Parsed values must print and
//! parse back to themselves; selection and editing must never panic; a successful edit
//! applied again must change nothing.
//!
//! Shared by fuzz/fuzz_targets/crashkernel.rs and crates/kdump-service/tests/fuzz_regressions.rs.

use kdump_service::bootloader;
use kdump_service::crashkernel::{CmdlineCrashkernel, Crashkernel};
use std::path::Path;

/// Run one input; true if the text parsed as a crashkernel= value, or as a command line
/// whose crashkernel= parameters give a request for the RAM size.
pub fn run(data: &[u8]) -> bool {
    let (ram, text) = match data.split_first_chunk::<8>() {
        Some((r, t)) => (u64::from_le_bytes(*r), t),
        None => (1 << 30, data),
    };
    let text = String::from_utf8_lossy(text);
    let mut parsed = false;
    if let Ok(ck) = Crashkernel::parse(&text) {
        parsed = true;
        let printed = ck.to_string();
        assert_eq!(Crashkernel::parse(&printed).as_ref(), Ok(&ck));
        let _ = ck.select(ram);
    }
    parsed |= CmdlineCrashkernel::from_cmdline(&text).request(ram).is_ok();
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
    parsed
}
