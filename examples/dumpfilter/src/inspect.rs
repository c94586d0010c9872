//! `dumpfilter`'s read-only modes, thin over the `vmcore` crate: `--vtop VIRTADDR VMCORE`
//! and the dump report that makedumpfile prints at `--message-level 31` (`--dump-dmesg` is
//! kdump-service's `collector::dmesg`).
//!
//! main.rs calls these after parsing options; each returns an error naming the file.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

/// Translate `vaddr` in `vmcore` and print it like `makedumpfile --vtop`; returns the
/// physical address.
pub fn vtop(vaddr: u64, vmcore: &Path, w: &mut impl Write) -> Result<u64, vmcore::Error> {
    let vm = vmcore::Vmcore::open(vmcore)?;
    vmcore::info::write_vtop(&vm, vaddr, w)
}

/// Print the dump header, the LOAD table and VMCOREINFO of `vmcore` (main.rs: with `-D`,
/// before a dump).
pub fn print_info(vmcore: &Path, w: &mut impl Write) -> Result<(), vmcore::Error> {
    let vm = vmcore::Vmcore::open(vmcore)?;
    vmcore::info::write_info(&vm, w)
}

/// Parse a `--vtop` argument: hexadecimal with or without `0x`, as makedumpfile accepts.
pub fn parse_vaddr(s: &str) -> Option<u64> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    u64::from_str_radix(t, 16).ok()
}
