//! Human-readable reports in makedumpfile's words: the dump header, the LOAD table and
//! VMCOREINFO (`--message-level 31`), and `--vtop`.

use crate::elf::{Class, EM_X86_64};
use crate::error::{Error, Result};
use crate::phys::PhysMemory;
use crate::vmcore::{Dump, Vmcore};
use std::io::Write;

fn werr(source: std::io::Error) -> Error {
    Error::Write {
        what: "report".into(),
        source,
    }
}

/// Write the dump header, the PT_LOAD table and VMCOREINFO, with the lines makedumpfile
/// prints for them at `--message-level 31` (`LOAD[ 0] ...`, `VMCOREINFO   :`,
/// `page_size    :`, `phys_base    :`, `max_mapnr    :`, `page_offset  :`).
pub fn write_info(vm: &Vmcore, w: &mut impl Write) -> Result<()> {
    write_info_inner(vm, w).map_err(werr)
}

fn write_info_inner(vm: &Vmcore, w: &mut impl Write) -> std::io::Result<()> {
    match vm.dump() {
        Dump::Elf(e) => {
            let h = e.header();
            let class = match h.class {
                Class::Elf32 => "ELF32",
                Class::Elf64 => "ELF64",
            };
            let machine = if h.machine == EM_X86_64 {
                "x86_64".to_string()
            } else {
                format!("e_machine {}", h.machine)
            };
            writeln!(
                w,
                "dump format  : {class} core ({machine}), {} program headers at offset {}, {} notes",
                h.phnum,
                h.phoff,
                vm.notes().len()
            )?;
            for (i, l) in e.loads().iter().enumerate() {
                if i == 0 {
                    writeln!(
                        w,
                        "{:8} {:>16} {:>16} {:>16} {:>16}",
                        "", "phys_start", "phys_end", "virt_start", "virt_end"
                    )?;
                }
                writeln!(
                    w,
                    "LOAD[{i:2}] {:16x} {:16x} {:16x} {:16x}",
                    l.paddr,
                    l.paddr.wrapping_add(l.memsz),
                    l.vaddr,
                    l.vaddr.wrapping_add(l.memsz)
                )?;
                if l.filesz < l.memsz {
                    writeln!(
                        w,
                        "         not dumped: {:x}-{:x} (p_filesz {:#x} < p_memsz {:#x})",
                        l.paddr + l.filesz,
                        l.paddr + l.memsz,
                        l.filesz,
                        l.memsz
                    )?;
                }
            }
        }
        Dump::Kdump(k) => {
            let f = k.file();
            let h = f.header();
            writeln!(
                w,
                "dump format  : {} header version {}{}{}, {} file(s)",
                String::from_utf8_lossy(&h.signature).trim_end(),
                h.header_version,
                if f.is_flattened() { ", flattened" } else { "" },
                if f.is_incomplete() {
                    ", INCOMPLETE"
                } else {
                    ""
                },
                k.files().len()
            )?;
            writeln!(
                w,
                "utsname      : {} {} {} {}",
                h.utsname.field(0),
                h.utsname.field(2),
                h.utsname.field(3),
                h.utsname.field(4)
            )?;
            writeln!(
                w,
                "status       : {:#x}  block_size {}  sub_hdr_size {}  bitmap_blocks {}  nr_cpus {}  current_cpu {}",
                h.status, h.block_size, h.sub_hdr_size, h.bitmap_blocks, h.nr_cpus, h.current_cpu
            )?;
            if let Some(s) = f.sub_header() {
                writeln!(
                    w,
                    "sub header   : phys_base {:#x}  dump_level {}  split {}  start_pfn {:#x}  end_pfn {:#x}",
                    s.phys_base, s.dump_level, s.split, s.start_pfn_64, s.end_pfn_64
                )?;
            }
            writeln!(
                w,
                "dumped pages : {}",
                k.files().iter().map(|f| f.dumped_pages()).sum::<u64>()
            )?;
        }
        Dump::Other(_) => writeln!(w, "dump format  : page source")?,
    }
    let cpus = vm.prstatus();
    if !cpus.is_empty() {
        writeln!(w, "NT_PRSTATUS  : {} CPUs", cpus.len())?;
        for p in &cpus {
            writeln!(
                w,
                "  cpu {:3} pid {:7} rip {:016x} rsp {:016x}",
                p.index,
                p.pid,
                p.regs.rip(),
                p.regs.rsp()
            )?;
        }
    }
    writeln!(w, "Linux kdump")?;
    if let Some(info) = vm.vmcoreinfo() {
        writeln!(w, "VMCOREINFO   :")?;
        for (k, v) in info.entries() {
            writeln!(w, "  {k}={v}")?;
            if k == "PAGESIZE" {
                if let Some(ps) = info.page_size {
                    writeln!(w, "page_size    : {ps}")?;
                }
            }
        }
    } else {
        writeln!(w, "VMCOREINFO   : (none)")?;
    }
    if let Ok(x) = vm.x86_64() {
        writeln!(w)?;
        writeln!(
            w,
            "phys_base    : {:x} ({})",
            x.phys_base,
            x.phys_base_origin.as_str()
        )?;
    }
    writeln!(w)?;
    writeln!(w, "max_mapnr    : {:x}", vm.max_pfn())?;
    if let Ok(x) = vm.x86_64() {
        let (po, origin) = match x.page_offset {
            Some(po) => (po, x.page_offset_origin.as_str()),
            None => (x.default_page_offset(), "constant"),
        };
        writeln!(w, "page_offset  : {po:x} ({origin})")?;
        writeln!(w, "paging       : {}-level", x.levels)?;
    }
    Ok(())
}

/// Translate `vaddr` and print it as `makedumpfile --vtop` does: the entries read at each
/// level (`  PGD : <entry address> => <entry>`), then `VIRTUAL  PHYSICAL` and the result.
/// A failed walk prints the levels read so far and returns the error.
pub fn write_vtop(vm: &Vmcore, vaddr: u64, w: &mut impl Write) -> Result<u64> {
    let mut out = Vec::new();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Translating virtual address {vaddr:x} to physical address."
    );
    let x = vm.x86_64()?;
    let (steps, result) = x.walk_trace(vm.dump(), vaddr);
    for s in &steps {
        let _ = writeln!(
            out,
            "  {} : {:16x} => {:16x}",
            s.level, s.entry_addr, s.entry
        );
    }
    if let Ok(t) = &result {
        let _ = writeln!(out, "VIRTUAL           PHYSICAL");
        let _ = writeln!(out, "{:16x}  {:x}", vaddr, t.paddr);
        let _ = writeln!(out);
    }
    w.write_all(&out).map_err(werr)?;
    result.map(|t| t.paddr)
}
