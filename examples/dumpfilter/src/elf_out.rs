//! `-E`: an ELF dump in makedumpfile's layout (PT_NOTE, then the input's PT_LOADs cut where
//! 256 or more pages in a row are excluded), through page-filter and kdump-compressed's ELF
//! writer.
//!
//! From a kdump-compressed input (which makedumpfile 1.7.2 refuses with `-E`) there are no
//! input program headers: each run of frames in the input's bitmap 1 (memory present)
//! becomes a PT_LOAD of the direct map (`p_vaddr = page_offset + p_paddr`), and pages the
//! input excluded are written as zeros where a segment spans them.

use crate::progress::Indicator;
use crate::NullSink;
use kdump_compressed::elf::{self, Phdr};
use kdump_compressed::flattened::FlatWriter;
use kdump_compressed::read::Bitmap;
use kdump_compressed::source::{FileSource, ReadAt};
use kdump_compressed::write::{Bitmaps, LimitedSink, Sink, WriteError};
use kdump_service::collector;
use page_filter::{DumpLevel, FilterConfig, Stats};
use std::io;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use vmcore::PhysMemory;

/// Where the ELF dump goes.
pub enum Target<'a> {
    /// A file, created (an existing one only with `force`).
    File(&'a Path),
    /// A flattened stream (`-E -F`), for `-R` to rebuild.
    Flattened(&'a mut dyn io::Write),
    /// Nowhere (`--dry-run`).
    Discard,
}

/// What was written.
pub struct ElfOutcome {
    pub stats: Stats,
    pub pages: u64,
    pub file_size: u64,
}

/// What the ELF writer copies: header, notes and PT_LOADs, and where their bytes come from.
struct Input {
    ehdr: [u8; 64],
    note: Phdr,
    notes: Vec<u8>,
    /// The input's PT_LOADs; `p_offset` is what `read` takes.
    loads: Vec<Phdr>,
}

/// Header, notes and PT_LOADs of an ELF input, as they are.
fn elf_input(vmcore: &Path, src: &FileSource) -> Result<Input, String> {
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", vmcore.display());
    let mut ehdr = [0u8; 64];
    src.read_exact_at(0, &mut ehdr).map_err(|e| err(&e))?;
    let phdrs = elf::program_headers(src).map_err(|e| err(&e))?;
    let note = phdrs
        .iter()
        .find(|p| p.p_type == elf::PT_NOTE)
        .copied()
        .ok_or_else(|| format!("{}: no PT_NOTE", vmcore.display()))?;
    let mut notes = vec![0u8; note.p_filesz.min(elf::MAX_NOTES) as usize];
    src.read_exact_at(note.p_offset, &mut notes)
        .map_err(|e| err(&e))?;
    Ok(Input {
        ehdr,
        note,
        notes,
        loads: phdrs,
    })
}

/// An ELF64 x86_64 core header (e_phoff and e_phnum are filled in by the writer).
fn core_ehdr() -> [u8; 64] {
    let mut h = [0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // ELFCLASS64
    h[5] = 1; // little-endian
    h[6] = 1; // EV_CURRENT
    h[16..18].copy_from_slice(&4u16.to_le_bytes()); // ET_CORE
    h[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    h[54..56].copy_from_slice(&(Phdr::SIZE as u16).to_le_bytes());
    h
}

/// Header, notes and direct-map PT_LOADs for a kdump-compressed input: one PT_LOAD per run of
/// frames present in its bitmap 1, with `p_offset` = `p_paddr` (reads go to physical memory).
fn kdump_input(vm: &vmcore::Vmcore, kd: &vmcore::KdumpDump) -> Result<Input, String> {
    let f = kd.file();
    let notes = f
        .notes()
        .map_err(|e| e.to_string())?
        .ok_or("the kdump-compressed input has no ELF notes to copy into an ELF dump")?;
    let x = vm.x86_64().map_err(|e| e.to_string())?;
    let page_offset = x.page_offset.unwrap_or_else(|| x.default_page_offset());
    let ps = vm.dump().page_size();
    let mut loads: Vec<Phdr> = Vec::new();
    let mut run: Option<(u64, u64)> = None;
    let push = |(a, b): (u64, u64), loads: &mut Vec<Phdr>| {
        let paddr = a * ps;
        let size = (b - a) * ps;
        loads.push(Phdr {
            p_type: elf::PT_LOAD,
            p_flags: 7,
            p_offset: paddr,
            p_vaddr: page_offset.wrapping_add(paddr),
            p_paddr: paddr,
            p_filesz: size,
            p_memsz: size,
            p_align: 0,
        });
    };
    for pfn in f.iter_bitmap(Bitmap::Valid) {
        let pfn = pfn.map_err(|e| e.to_string())?;
        run = match run {
            Some((a, b)) if b == pfn => Some((a, pfn + 1)),
            Some(r) => {
                push(r, &mut loads);
                Some((pfn, pfn + 1))
            }
            None => Some((pfn, pfn + 1)),
        };
    }
    if let Some(r) = run {
        push(r, &mut loads);
    }
    let len = notes.len() as u64;
    Ok(Input {
        ehdr: core_ehdr(),
        note: Phdr {
            p_type: elf::PT_NOTE,
            p_flags: 0,
            p_offset: 0,
            p_vaddr: 0,
            p_paddr: 0,
            p_filesz: len,
            p_memsz: len,
            p_align: 0,
        },
        notes,
        loads,
    })
}

/// Write `vmcore` filtered at `level` as an ELF dump to `out`.
pub fn run(
    vmcore: &Path,
    out: Target<'_>,
    level: u8,
    force: bool,
    size_limit: Option<u64>,
    work_dir: Option<&Path>,
    progress: Option<Arc<Indicator>>,
) -> Result<ElfOutcome, String> {
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", vmcore.display());
    let vm = vmcore::Vmcore::open_with(vmcore, vmcore::Access::Pread).map_err(|e| err(&e))?;
    // Zero pages are decided while classifying, as makedumpfile does for ELF output.
    let mut config = FilterConfig::new(DumpLevel::new(level).map_err(|e| err(&e))?);
    config.exclude_zero_pages = level & 1 != 0;
    // Bitmaps in bounded memory (a scratch file in --work-dir or beside the output when
    // large); what a kdump-compressed input excluded stays excluded.
    let scratch = collector::scratch_dir(
        work_dir,
        match out {
            Target::File(p) => Some(p),
            _ => None,
        },
    );
    let (bm, stats, max) =
        collector::classify_with(&vm, config, &scratch, collector::BITMAP_MEMORY)
            .map_err(|e| err(&e))?;
    let ps = vm.dump().page_size();
    let input = match vm.kdump() {
        Some(kd) => kdump_input(&vm, kd)?,
        None => elf_input(vmcore, &FileSource::open(vmcore).map_err(|e| err(&e))?)?,
    };
    // Bitmap 2 read 64 KiB at a time (it may be in a scratch file).
    let mut chunk = vec![0u8; 1 << 16];
    let mut chunk_at = u64::MAX;
    let loads = elf::plan_elf_loads(&input.loads, ps, |pfn| {
        // Frames beyond mem_map (firmware ranges in QEMU dumps) have no struct page to
        // classify: left out.
        if pfn >= max {
            return false;
        }
        let byte = pfn / 8;
        let start = byte - byte % chunk.len() as u64;
        if start != chunk_at {
            if bm.read_bytes(Bitmap::Dumped, start, &mut chunk).is_err() {
                return false;
            }
            chunk_at = start;
        }
        chunk[(byte - start) as usize] >> (pfn % 8) & 1 == 1
    });
    // The output is created once the input has been read and classified, so a bad input
    // leaves no empty file behind (which would need -f on the next run).
    let mut file = match out {
        Target::File(p) => Some(collector::open_output(p, force).map_err(|e| e.message)?),
        _ => None,
    };
    let total: u64 = loads.iter().map(|(l, _)| l.p_filesz).sum();
    let mut done = 0u64;
    let mut counted = |n: usize| {
        done += n as u64;
        if let Some(p) = &progress {
            p.report(done, total);
        }
    };
    let src = match vm.kdump() {
        Some(_) => None,
        None => Some(FileSource::open(vmcore).map_err(|e| err(&e))?),
    };
    let read = |off: u64, buf: &mut [u8]| -> io::Result<()> {
        match &src {
            Some(s) => s.read_exact_at(off, buf)?,
            None => read_phys_or_zero(vm.dump(), off, buf, ps),
        }
        counted(buf.len());
        Ok(())
    };
    let limit = size_limit.unwrap_or(u64::MAX);
    let write = |sink: &mut dyn Sink, read| {
        elf::write_elf(
            &mut LimitedSink::new(sink, limit),
            &input.ehdr,
            &input.note,
            &input.notes,
            &loads,
            read,
        )
    };
    let written = match (file.as_mut(), out) {
        (Some(f), _) => write(f, read),
        (None, Target::Flattened(w)) => {
            let bw = io::BufWriter::with_capacity(1 << 20, w);
            match FlatWriter::new(bw) {
                Ok(mut flat) => match write(&mut flat, read) {
                    Ok(n) => flat
                        .finish()
                        .and_then(|mut bw| bw.flush())
                        .map(|_| n)
                        .map_err(|e| WriteError::Io {
                            what: "flattened stream",
                            offset: n,
                            source: e,
                        }),
                    Err(e) => Err(e),
                },
                Err(e) => Err(WriteError::Io {
                    what: "flattened stream",
                    offset: 0,
                    source: e,
                }),
            }
        }
        (None, _) => write(&mut NullSink, read),
    };
    if let Some(p) = &progress {
        p.close();
    }
    let size = written.map_err(|e| format!("writing the ELF dump: {e}"))?;
    if let Some(f) = file.as_mut() {
        f.set_len(size)
            .and_then(|_| f.sync_all())
            .map_err(|e| format!("the ELF dump is not durable: {e}"))?;
    }
    Ok(ElfOutcome {
        stats,
        pages: loads.iter().map(|(l, _)| l.p_filesz / ps).sum(),
        file_size: size,
    })
}

/// Read physical memory at `paddr`; pages the dump does not hold (excluded by a previous
/// filter) read as zeros.
fn read_phys_or_zero(mem: &vmcore::Dump, paddr: u64, buf: &mut [u8], ps: u64) {
    if mem.read_phys(paddr, buf).is_ok() {
        return;
    }
    let ps = ps.max(1) as usize;
    let mut at = 0usize;
    while at < buf.len() {
        let a = paddr + at as u64;
        let n = (ps - (a % ps as u64) as usize).min(buf.len() - at);
        let chunk = &mut buf[at..at + n];
        if mem.read_phys(a, chunk).is_err() {
            chunk.fill(0);
        }
        at += n;
    }
}
