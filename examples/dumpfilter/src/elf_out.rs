//! `-E`: an ELF dump in makedumpfile's layout (PT_NOTE, then the input's PT_LOADs cut where
//! 256 or more pages in a row are excluded), through page-filter and kdump-compressed's ELF
//! writer.

use kdump_compressed::elf;
use kdump_compressed::read::Bitmap;
use kdump_compressed::source::{FileSource, ReadAt};
use kdump_compressed::write::{LimitedSink, MemBitmaps, Sink};
use kdump_service::collector;
use page_filter::{DumpLevel, FilterConfig, PageFilter, Stats};
use std::io;
use std::path::Path;
use vmcore::PhysMemory;

struct NullSink;
impl Sink for NullSink {
    fn write_at(&mut self, _: u64, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

/// What was written.
pub struct ElfOutcome {
    pub stats: Stats,
    pub pages: u64,
    pub file_size: u64,
}

/// Write `vmcore` filtered at `level` as an ELF dump to `out` (`None`: dry run).
pub fn run(
    vmcore: &Path,
    out: Option<&Path>,
    level: u8,
    force: bool,
    size_limit: Option<u64>,
) -> Result<ElfOutcome, String> {
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", vmcore.display());
    let vm = vmcore::Vmcore::open_with(vmcore, vmcore::Access::Pread).map_err(|e| err(&e))?;
    if vm.elf().is_none() {
        return Err("ELF output (-E) from a kdump-compressed input is not implemented yet".into());
    }
    // Zero pages are decided while classifying, as makedumpfile does for ELF output.
    let mut config = FilterConfig::new(DumpLevel::new(level).map_err(|e| err(&e))?);
    config.exclude_zero_pages = level & 1 != 0;
    let mut filter = PageFilter::from_vmcore(&vm, config).map_err(|e| err(&e))?;
    let max = filter.max_pfn();
    let ps = vm.dump().page_size();
    let mut bm = MemBitmaps::new(max, ps);
    while let Some(w) = filter.next_window().map_err(|e| err(&e))? {
        for pfn in w.dumped_pfns() {
            if pfn < max {
                bm.set_dumped(pfn);
            }
        }
    }
    let stats = *filter.stats();
    let src = FileSource::open(vmcore).map_err(|e| err(&e))?;
    let mut ehdr = [0u8; 64];
    src.read_exact_at(0, &mut ehdr).map_err(|e| err(&e))?;
    let phdrs = elf::program_headers(&src).map_err(|e| err(&e))?;
    let note = phdrs
        .iter()
        .find(|p| p.p_type == elf::PT_NOTE)
        .copied()
        .ok_or_else(|| format!("{}: no PT_NOTE", vmcore.display()))?;
    let mut notes = vec![0u8; note.p_filesz.min(elf::MAX_NOTES) as usize];
    src.read_exact_at(note.p_offset, &mut notes)
        .map_err(|e| err(&e))?;
    let mut byte = [0u8; 1];
    let loads = elf::plan_elf_loads(&phdrs, ps, |pfn| {
        use kdump_compressed::write::Bitmaps;
        // Frames beyond mem_map (firmware ranges in QEMU dumps) have no struct page to
        // classify: left out.
        if pfn >= max {
            return false;
        }
        bm.read_bytes(Bitmap::Dumped, pfn / 8, &mut byte).is_ok() && byte[0] >> (pfn % 8) & 1 == 1
    });
    let read = |off: u64, buf: &mut [u8]| src.read_exact_at(off, buf);
    let size = match out {
        Some(p) => {
            let mut f = collector::open_output(p, force).map_err(|e| e.message)?;
            let mut sink = LimitedSink::new(&mut f, size_limit.unwrap_or(u64::MAX));
            let n = elf::write_elf(&mut sink, &ehdr, &note, &notes, &loads, read)
                .map_err(|e| format!("writing the ELF dump: {e}"))?;
            f.set_len(n).map_err(|e| e.to_string())?;
            f.sync_all().ok();
            n
        }
        None => elf::write_elf(&mut NullSink, &ehdr, &note, &notes, &loads, read)
            .map_err(|e| format!("ELF dump: {e}"))?,
    };
    Ok(ElfOutcome {
        stats,
        pages: loads.iter().map(|(l, _)| l.p_filesz / ps).sum(),
        file_size: size,
    })
}
