//! `dumpfilter`'s read-only modes, thin over the `vmcore` crate:
//! `--dump-dmesg VMCORE OUTFILE`, `--vtop VIRTADDR VMCORE` and the dump report that
//! makedumpfile prints at `--message-level 31`.
//!
//! main.rs calls these after parsing options; each returns an error naming the file.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

pub use vmcore::printk::DmesgOptions;

/// Write the kernel log of `vmcore` to `out` exactly as `makedumpfile --dump-dmesg` does
/// (makedumpfile 1.7.2 format; see [`DmesgOptions`] for the caller-id and partial variants).
pub fn dump_dmesg(vmcore: &Path, out: &Path) -> Result<(), vmcore::Error> {
    dump_dmesg_with(vmcore, out, &DmesgOptions::default())
}

/// [`dump_dmesg`] with options (`--partial-dmesg`, caller ids).
pub fn dump_dmesg_with(
    vmcore: &Path,
    out: &Path,
    opts: &DmesgOptions,
) -> Result<(), vmcore::Error> {
    let vm = vmcore::Vmcore::open(vmcore)?;
    let text = vmcore::printk::dmesg(&vm, opts)?;
    std::fs::write(out, text).map_err(|source| vmcore::Error::Write {
        what: out.display().to_string(),
        source,
    })
}

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
