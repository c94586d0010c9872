//! The kexec system calls. This is the only module with `unsafe`; each call is preceded,
//! immediately, by [`guard::check`](crate::guard::check).

#![allow(unsafe_code)]

use crate::guard::{self, Danger};
use crate::plan::{LoadPlan, Segment};
use crate::Error;
use std::ffi::CString;
use std::os::fd::AsRawFd;

/// kexec_load flag: load the panic (capture) kernel.
pub const KEXEC_ON_CRASH: u64 = 1;
/// kexec_load architecture field for x86_64 (EM_X86_64 << 16).
pub const KEXEC_ARCH_X86_64: u64 = 62 << 16;
/// kexec_file_load flag: unload.
pub const KEXEC_FILE_UNLOAD: u64 = 1;
/// kexec_file_load flag: panic kernel.
pub const KEXEC_FILE_ON_CRASH: u64 = 2;
/// kexec_file_load flag: no initrd.
pub const KEXEC_FILE_NO_INITRAMFS: u64 = 4;
/// reboot(2) command that boots the loaded kernel.
pub const LINUX_REBOOT_CMD_KEXEC: i32 = 0x4558_4543;

/// `struct kexec_segment` as the kernel reads it.
#[repr(C)]
struct RawSegment {
    buf: *const libc::c_void,
    bufsz: libc::size_t,
    mem: libc::c_ulong,
    memsz: libc::size_t,
}

fn lockdown() -> Option<String> {
    let t = std::fs::read_to_string("/sys/kernel/security/lockdown").ok()?;
    let sel = t
        .split_whitespace()
        .find(|w| w.starts_with('['))?
        .trim_matches(['[', ']'])
        .to_string();
    (sel != "none").then_some(sel)
}

fn syscall_error(call: &'static str, errno: i32) -> Error {
    let hint = match errno {
        libc::EPERM => match lockdown() {
            Some(mode) => format!("kernel lockdown ({mode}) forbids {call}; use -s (kexec_file_load with a signed kernel)"),
            None => "operation not permitted (need CAP_SYS_BOOT; kexec may be disabled by kernel.kexec_load_disabled)".into(),
        },
        libc::EBUSY => "another kexec operation is in progress, or the kernel is already loaded".into(),
        libc::ENOEXEC => "the kernel refused the image (unsupported format or signature verification failed)".into(),
        libc::EKEYREJECTED => "the kernel's signature was rejected".into(),
        libc::EADDRNOTAVAIL => "a segment lies outside usable memory (or outside the crash kernel range)".into(),
        libc::ENOMEM => "the crash kernel range is too small, or no memory for the segments".into(),
        libc::ENOSYS => format!("{call} is not available in this kernel"),
        libc::EINVAL => "invalid arguments (segments not page-aligned, overlapping, or too many)".into(),
        _ => String::new(),
    };
    Error::Syscall {
        call,
        errno,
        detail: std::io::Error::from_raw_os_error(errno).to_string(),
        hint,
    }
}

/// Load `plan` with kexec_load(2) (`panic`: as the crash kernel).
pub fn kexec_load(plan: &LoadPlan, panic: bool) -> Result<(), Error> {
    let raw: Vec<RawSegment> = plan
        .segments
        .iter()
        .map(|s: &Segment| RawSegment {
            buf: if s.data.is_empty() {
                std::ptr::null()
            } else {
                s.data.as_ptr().cast()
            },
            bufsz: s.data.len(),
            mem: s.mem as libc::c_ulong,
            memsz: s.memsz as libc::size_t,
        })
        .collect();
    let flags = KEXEC_ARCH_X86_64 | if panic { KEXEC_ON_CRASH } else { 0 };
    guard::check(Danger::KexecLoad)?;
    // SAFETY: `raw` holds `raw.len()` valid kexec_segment structs whose buffers (owned by
    // `plan`) outlive the call; the kernel only reads them.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kexec_load,
            plan.entry as libc::c_ulong,
            raw.len() as libc::c_ulong,
            raw.as_ptr(),
            flags as libc::c_ulong,
        )
    };
    if r != 0 {
        return Err(syscall_error(
            "kexec_load",
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ));
    }
    Ok(())
}

/// Unload with kexec_load(2): no segments.
pub fn kexec_load_unload(panic: bool) -> Result<(), Error> {
    let flags = KEXEC_ARCH_X86_64 | if panic { KEXEC_ON_CRASH } else { 0 };
    guard::check(Danger::KexecLoad)?;
    // SAFETY: zero segments and a null segment pointer is the documented unload call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kexec_load,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            std::ptr::null::<RawSegment>(),
            flags as libc::c_ulong,
        )
    };
    if r != 0 {
        return Err(syscall_error(
            "kexec_load",
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ));
    }
    Ok(())
}

/// kexec_file_load(2): the kernel parses and places the image itself. `kernel` and `initrd`
/// are open files; `flags` are the KEXEC_FILE_* bits (NO_INITRAMFS is added when `initrd` is None).
pub fn kexec_file_load(
    kernel: Option<&std::fs::File>,
    initrd: Option<&std::fs::File>,
    cmdline: &str,
    mut flags: u64,
) -> Result<(), Error> {
    let c = CString::new(cmdline)
        .map_err(|_| Error::Unsupported("command line contains a NUL byte".into()))?;
    let kfd = kernel.map(|f| f.as_raw_fd()).unwrap_or(-1);
    let ifd = match initrd {
        Some(f) => f.as_raw_fd(),
        None => {
            flags |= KEXEC_FILE_NO_INITRAMFS;
            -1
        }
    };
    let (ptr, len) = if flags & KEXEC_FILE_UNLOAD != 0 {
        (std::ptr::null(), 0usize)
    } else {
        (c.as_ptr(), c.as_bytes_with_nul().len())
    };
    guard::check(Danger::KexecFileLoad)?;
    // SAFETY: the descriptors are open (or -1 where the flags say unused); `ptr` points to a
    // NUL-terminated string of `len` bytes that outlives the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kexec_file_load,
            kfd as libc::c_long,
            ifd as libc::c_long,
            len as libc::c_ulong,
            ptr,
            flags as libc::c_ulong,
        )
    };
    if r != 0 {
        return Err(syscall_error(
            "kexec_file_load",
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ));
    }
    Ok(())
}

/// Boot the loaded kernel: sync, then reboot(LINUX_REBOOT_CMD_KEXEC). Returns only on error.
pub fn reboot_into_loaded() -> Result<(), Error> {
    // SAFETY: sync(2) has no arguments and cannot fail.
    unsafe { libc::sync() };
    guard::check(Danger::Reboot)?;
    // SAFETY: reboot(2) with the kexec command; on success it does not return.
    let r = unsafe { libc::reboot(LINUX_REBOOT_CMD_KEXEC) };
    if r != 0 {
        return Err(syscall_error(
            "reboot",
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ));
    }
    Ok(())
}
