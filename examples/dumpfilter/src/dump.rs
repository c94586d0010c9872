//! The dump operation: filter a vmcore (ELF or kdump-compressed) into a kdump-compressed
//! file or a flattened stream, through page-filter and kdump-compressed.

use kdump_compressed::codec::Codec;
use kdump_compressed::elf;
use kdump_compressed::format::Utsname;
use kdump_compressed::read::Bitmap;
use kdump_compressed::write::{
    write_kdump, DumpInfo, LimitedSink, MemBitmaps, Sink, WriteError, WriteOptions, WriteStats,
};
use page_filter::{DumpLevel, FilterConfig, PageFilter, Stats};
use std::io;
use std::path::Path;
use vmcore::PhysMemory;

/// What the caller asked for.
pub struct DumpRequest<'a> {
    pub vmcore: &'a Path,
    /// `None`: flattened stream on stdout.
    pub dumpfile: Option<&'a Path>,
    pub levels: Vec<u8>,
    pub codec: Codec,
    pub threads: usize,
    pub force: bool,
    pub size_limit: Option<u64>,
    pub dry_run: bool,
}

/// The result of a successful dump.
pub struct DumpOutcome {
    pub level: u8,
    pub stats: Stats,
    pub write: WriteStats,
}

/// A failure, with the text to print.
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

struct NullSink;
impl Sink for NullSink {
    fn write_at(&mut self, _: u64, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

fn codec_name(c: Codec) -> &'static str {
    c.name()
}

/// The header fields of the crashed system.
fn dump_info(vm: &vmcore::Vmcore, max_mapnr: u64, level: u8) -> Result<DumpInfo, Failure> {
    let mut info = DumpInfo {
        max_mapnr,
        dump_level: level as i32,
        page_size: vm.dump().page_size() as u32,
        ..DumpInfo::default()
    };
    let vi = vm.require_vmcoreinfo()?;
    if let Some(kd) = vm.kdump() {
        // Refiltering: carry the input's header fields over unchanged.
        let f = kd.file();
        let mut from = DumpInfo::from_dump(f)?;
        from.max_mapnr = max_mapnr;
        from.dump_level = level as i32;
        return Ok(from);
    }
    let path = vm
        .path()
        .ok_or_else(|| Failure("input has no path".into()))?;
    let src = kdump_compressed::source::FileSource::open(path)?;
    let phdrs = elf::program_headers(&src)?;
    info.notes = elf::note_blob(&src, &phdrs)?;
    info.vmcoreinfo = elf::find_vmcoreinfo(&info.notes);
    info.nr_cpus = elf::count_prstatus(&info.notes) as i32;
    info.timestamp = (
        vi.get("CRASHTIME")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
        0,
    );
    info.phys_base = vi.number("phys_base").unwrap_or(0) as u64;
    // utsname: struct new_utsname inside init_uts_ns, read through the page tables.
    let mut uts = [0u8; 6 * 65];
    if let Some(sym) = vi.symbol("init_uts_ns") {
        let off = vi.offset("uts_namespace.name").unwrap_or(0).max(0) as u64;
        if vm.read_virt(sym.wrapping_add(off), &mut uts).is_ok() {
            let mut u = Utsname::default();
            for (i, f) in u.fields.iter_mut().enumerate() {
                f.copy_from_slice(&uts[i * 65..(i + 1) * 65]);
            }
            info.utsname = u;
        }
    }
    if info.utsname.release().is_empty() {
        if let Some(r) = vm.osrelease() {
            info.utsname.set_field(2, r);
        }
    }
    Ok(info)
}

/// Run the filter and collect both bitmaps.
fn classify(vm: &vmcore::Vmcore, level: u8) -> Result<(MemBitmaps, Stats, u64), Failure> {
    let mut filter = PageFilter::from_vmcore(vm, FilterConfig::new(DumpLevel::new(level)?))?;
    let max = filter.max_pfn();
    let ps = vm.dump().page_size();
    let mut bm = MemBitmaps::new(max, ps);
    while let Some(w) = filter.next_window()? {
        for pfn in w.start_pfn..w.end_pfn.min(max) {
            if w.is_present(pfn) {
                bm.set_valid(pfn);
            }
            if w.is_dumped(pfn) {
                bm.set_dumped(pfn);
            }
        }
    }
    // A kdump-compressed input: what it excluded cannot come back.
    if let Some(kd) = vm.kdump() {
        let f = kd.file();
        for pfn in 0..max {
            if !f.bit(Bitmap::Dumped, pfn).unwrap_or(false) {
                bm.clear_dumped(pfn);
            }
        }
    }
    Ok((bm, *filter.stats(), max))
}

fn open_output(path: &Path, force: bool) -> Result<std::fs::File, Failure> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).read(true);
    if force {
        o.create(true).truncate(true);
    } else {
        o.create_new(true);
    }
    o.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            Failure(format!(
                "{} already exists (use -f to overwrite it)",
                path.display()
            ))
        } else {
            Failure(format!("cannot create {}: {e}", path.display()))
        }
    })
}

/// Filter and write; with several levels, retry with the next one when the disk is full.
pub fn run(req: &DumpRequest) -> Result<DumpOutcome, Failure> {
    let vm = vmcore::Vmcore::open_with(req.vmcore, vmcore::Access::Pread)
        .map_err(|e| Failure(format!("{}: {e}", req.vmcore.display())))?;
    let levels = if req.levels.is_empty() {
        vec![0]
    } else {
        req.levels.clone()
    };
    let mut file = match (req.dumpfile, req.dry_run) {
        (Some(p), false) => Some(open_output(p, req.force)?),
        _ => None,
    };
    for (i, &level) in levels.iter().enumerate() {
        let (bitmaps, mut stats, max) = classify(&vm, level)?;
        let info = dump_info(&vm, max, level)?;
        let opts = WriteOptions {
            codec: req.codec,
            threads: req.threads,
            ..WriteOptions::default()
        };
        let read = |pfn: u64, buf: &mut [u8]| {
            vm.dump()
                .read_phys(pfn * buf.len() as u64, buf)
                .map_err(io::Error::other)
        };
        let limit = req.size_limit.unwrap_or(u64::MAX);
        let result = if req.dry_run {
            write_kdump(&mut NullSink, &info, &bitmaps, read, &opts)
        } else if let Some(f) = file.as_mut() {
            f.set_len(0)?;
            let mut sink = LimitedSink::new(&mut *f, limit);
            write_kdump(&mut sink, &info, &bitmaps, read, &opts)
        } else {
            let stdout = io::stdout().lock();
            let w = io::BufWriter::with_capacity(1 << 20, stdout);
            let mut flat = kdump_compressed::flattened::FlatWriter::new(w)?;
            let r = {
                let mut sink = LimitedSink::new(&mut flat, limit);
                write_kdump(&mut sink, &info, &bitmaps, read, &opts)
            };
            flat.finish()?;
            r
        };
        match result {
            Ok(w) => {
                stats.zero = w.zero_pages;
                if let Some(f) = file.as_mut() {
                    f.set_len(w.file_size)?;
                    f.sync_all().ok();
                }
                if w.read_errors > 0 {
                    eprintln!(
                        "dumpfilter: warning: {} page(s) could not be read and were saved as zero-filled ({})",
                        w.read_errors,
                        w.first_read_error.as_deref().unwrap_or("")
                    );
                }
                return Ok(DumpOutcome {
                    level,
                    stats,
                    write: w,
                });
            }
            Err(WriteError::Incomplete { source, .. })
                if source.raw_os_error() == Some(28) && i + 1 < levels.len() =>
            {
                eprintln!(
                    "dumpfilter: no space left at dump level {level}; retrying with level {}",
                    levels[i + 1]
                );
                continue;
            }
            Err(e) => {
                return Err(Failure(format!(
                    "writing the dump ({}): {e}",
                    codec_name(req.codec)
                )))
            }
        }
    }
    Err(Failure("no dump level left to try".into()))
}
