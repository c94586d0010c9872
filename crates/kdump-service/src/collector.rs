//! The core collector run in-process: filter a vmcore (ELF or kdump-compressed) into a
//! kdump-compressed file or a flattened stream, through `page-filter` and `kdump-compressed`.
//!
//! This is what `dumpfilter` (and `kdump save` for a `makedumpfile`/`dumpfilter`
//! core_collector) runs; it was moved here from the `dumpfilter` binary so both share it.

use dumpfilter_options::{Compression, Options};
use kdump_compressed::codec::Codec;
use kdump_compressed::elf;
use kdump_compressed::format::Utsname;
use kdump_compressed::read::Bitmap;
use kdump_compressed::write::{
    write_kdump_durable, write_kdump_from, BackgroundSyncFile, Bitmaps, DumpInfo, DurableSink,
    FileBitmaps, LimitedSink, MemBitmaps, PageSource, Sink, WriteError, WriteOptions, WriteStats,
};
use page_filter::{DumpLevel, FilterConfig, PageFilter, Stats};
use std::io::{self, Write};
use std::path::Path;
use vmcore::PhysMemory;

/// Where the dump goes.
pub enum Output<'a> {
    /// A kdump-compressed file, created (refused when it exists unless `force`).
    File {
        /// The file.
        path: &'a Path,
        /// Overwrite an existing file.
        force: bool,
    },
    /// A file the caller created (`kdump save` creates it under the dump directory with
    /// `openat`): written, its length set and synced through this handle, so a write-back
    /// error reaches [`run`]'s result. Wrap a file in [`BackgroundSyncFile`] for
    /// write-back during the dump.
    Durable(&'a mut dyn DurableSink),
    /// A flattened stream (makedumpfile -F) written to this writer, then flushed.
    Flattened(&'a mut dyn Write),
    /// Nothing written (`--dry-run`): the pages are still filtered and compressed.
    Discard,
}

/// What to dump and how.
pub struct DumpRequest<'a> {
    /// The input: /proc/vmcore, an ELF core or a kdump-compressed file.
    pub vmcore: &'a Path,
    /// The output.
    pub output: Output<'a>,
    /// Dump levels to try in order (the next one when the disk is full); empty means 0.
    pub levels: Vec<u8>,
    /// Page compression.
    pub codec: Codec,
    /// Compression workers.
    pub threads: usize,
    /// Cap on the bytes written (`-L`).
    pub size_limit: Option<u64>,
    /// Called on the writing thread with (frames done, frames to do) after each batch.
    pub progress: Option<kdump_compressed::write::Progress>,
    /// Where bitmaps too large for memory go (`--work-dir`; default: beside the output file,
    /// else the temporary directory).
    pub work_dir: Option<&'a Path>,
}

/// The result of a successful dump.
#[derive(Debug, Clone)]
pub struct DumpOutcome {
    /// The dump level used.
    pub level: u8,
    /// The page classes.
    pub stats: Stats,
    /// What was written.
    pub write: WriteStats,
    /// The dump's page size (for [`WriteStats::unreadable_list`]).
    pub page_size: u64,
}

impl DumpOutcome {
    /// The text of [`UNREADABLE_LIST`] ([`WriteStats::unreadable_list`]), or None when every
    /// page could be read.
    pub fn unreadable_list(&self) -> Option<String> {
        (self.write.read_errors > 0).then(|| self.write.unreadable_list(self.page_size))
    }
}

/// The file beside a saved dump that lists the frames the input could not read
/// ([`WriteStats::unreadable_list`]); written only when there were any.
pub const UNREADABLE_LIST: &str = "vmcore-unreadable.txt";

/// A failed dump, with the text to print.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CollectorError {
    /// What went wrong.
    pub message: String,
    /// The OS error behind it, when a write failed (ENOSPC, EFBIG, ...).
    pub os_error: Option<i32>,
}

impl CollectorError {
    fn new(message: impl Into<String>) -> Self {
        CollectorError {
            message: message.into(),
            os_error: None,
        }
    }
}

macro_rules! from_display {
    ($($t:ty),*) => {$(
        impl From<$t> for CollectorError {
            fn from(e: $t) -> Self {
                CollectorError::new(e.to_string())
            }
        }
    )*};
}
from_display!(
    io::Error,
    vmcore::Error,
    page_filter::Error,
    kdump_compressed::read::ReadError,
    kdump_compressed::elf::ElfError
);

/// The writer codec for a makedumpfile compression option.
pub fn codec(c: Compression) -> Codec {
    match c {
        Compression::None => Codec::None,
        Compression::Zlib => Codec::Zlib,
        Compression::Lzo => Codec::Lzo,
        Compression::Snappy => Codec::Snappy,
        Compression::Zstd => Codec::Zstd,
        Compression::Lz4 => Codec::Lz4,
    }
}

/// Why a set of collector options cannot run in-process (None: it can).
pub fn in_process_unsupported(o: &Options) -> Option<&'static str> {
    if o.elf {
        Some("ELF output (-E)")
    } else if !o.unsupported.is_empty() {
        Some("an option dumpfilter does not implement")
    } else {
        None
    }
}

/// The number of workers for `--num-threads` (default: the number of CPUs).
pub fn threads(o: &Options) -> usize {
    o.num_threads
        .map(|n| n as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

struct NullSink;
impl Sink for NullSink {
    fn write_at(&mut self, _: u64, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

/// The kdump-compressed header fields of the crashed system in `vm`, for a dump of
/// `max_mapnr` frames at dump level `level`: notes, VMCOREINFO, CPU count, crash time,
/// phys_base and utsname from an ELF input; a kdump-compressed input's fields carried over.
pub fn dump_info(
    vm: &vmcore::Vmcore,
    max_mapnr: u64,
    level: u8,
) -> Result<DumpInfo, CollectorError> {
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
        .ok_or_else(|| CollectorError::new("input has no path"))?;
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

/// Where bitmaps too large for memory go: `work_dir` (`--work-dir`), else beside `output`
/// (on the dump target, not in the capture kernel's RAM), else the temporary directory.
pub fn scratch_dir(work_dir: Option<&Path>, output: Option<&Path>) -> std::path::PathBuf {
    match (work_dir, output) {
        (Some(d), _) => d.to_path_buf(),
        (None, Some(out)) => out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| Path::new(".").to_path_buf(), Path::to_path_buf),
        (None, None) => std::env::temp_dir(),
    }
}

/// Bitmap bytes (both bitmaps) kept in memory; larger bitmaps go to a scratch file.
pub const BITMAP_MEMORY: u64 = 16 << 20;

/// The two bitmaps of one filtering pass: in memory when they are small, otherwise in an
/// unlinked scratch file, so memory stays bounded on machines with terabytes of RAM.
#[derive(Debug)]
pub enum BitmapStore {
    /// In memory.
    Mem(MemBitmaps),
    /// In a scratch file.
    File(FileBitmaps),
}

impl BitmapStore {
    /// Bitmaps for `max` frames: in memory up to `memory` bytes, else in a scratch file in
    /// `scratch_dir`.
    pub fn new(max: u64, page_size: u64, scratch_dir: &Path, memory: u64) -> io::Result<Self> {
        if max.div_ceil(8).saturating_mul(2) <= memory {
            Ok(BitmapStore::Mem(MemBitmaps::new(max, page_size)))
        } else {
            FileBitmaps::scratch(scratch_dir, max, page_size)
                .map(BitmapStore::File)
                .map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("bitmap scratch file in {}: {e}", scratch_dir.display()),
                    )
                })
        }
    }

    fn put(&mut self, which: Bitmap, byte_off: u64, data: &[u8]) -> io::Result<()> {
        match self {
            BitmapStore::Mem(m) => {
                m.put_bytes(which, byte_off, data);
                Ok(())
            }
            BitmapStore::File(f) => f.put_bytes(which, byte_off, data),
        }
    }
}

impl Bitmaps for BitmapStore {
    fn max_mapnr(&self) -> u64 {
        match self {
            BitmapStore::Mem(m) => m.max_mapnr(),
            BitmapStore::File(f) => f.max_mapnr(),
        }
    }
    fn read_bytes(&self, which: Bitmap, byte_off: u64, buf: &mut [u8]) -> io::Result<()> {
        match self {
            BitmapStore::Mem(m) => m.read_bytes(which, byte_off, buf),
            BitmapStore::File(f) => f.read_bytes(which, byte_off, buf),
        }
    }
}

/// Run the page filter at dump level `level` over `vm`, one window at a time, handing each
/// window's bitmap bytes to `put`. From a kdump-compressed input, pages it already excluded
/// stay excluded.
fn filter_windows<B>(
    vm: &vmcore::Vmcore,
    config: FilterConfig,
    make: impl FnOnce(u64, u64) -> io::Result<B>,
    mut put: impl FnMut(&mut B, Bitmap, u64, &[u8]) -> io::Result<()>,
) -> Result<(B, Stats, u64), CollectorError> {
    let mut filter = PageFilter::from_vmcore(vm, config)?;
    let max = filter.max_pfn();
    let mut store = make(max, vm.dump().page_size())?;
    let input = vm.kdump().map(|kd| kd.file());
    let mut dumped = Vec::new();
    let mut old = Vec::new();
    while let Some(w) = filter.next_window()? {
        let byte = w.start_pfn / 8;
        let n = (w.end_pfn.min(max).saturating_sub(w.start_pfn)).div_ceil(8) as usize;
        let b1 = w.bitmap1.get(..n).unwrap_or(w.bitmap1);
        let b2 = w.bitmap2.get(..n).unwrap_or(w.bitmap2);
        put(&mut store, Bitmap::Valid, byte, b1)?;
        match input {
            Some(f) => {
                // A kdump-compressed input: what it excluded cannot come back.
                dumped.clear();
                dumped.extend_from_slice(b2);
                old.resize(dumped.len(), 0);
                Bitmaps::read_bytes(f, Bitmap::Dumped, byte, &mut old)?;
                for (d, o) in dumped.iter_mut().zip(&old) {
                    *d &= *o;
                }
                put(&mut store, Bitmap::Dumped, byte, &dumped)?;
            }
            None => put(&mut store, Bitmap::Dumped, byte, b2)?,
        }
    }
    Ok((store, *filter.stats(), max))
}

/// Run the page filter at dump level `level` over `vm` and collect both bitmaps (valid and
/// dumped) in memory, with the filter's page counts and the number of frames (max_mapnr).
/// From a kdump-compressed input, pages it already excluded stay excluded.
pub fn classify(
    vm: &vmcore::Vmcore,
    level: u8,
) -> Result<(MemBitmaps, Stats, u64), CollectorError> {
    filter_windows(
        vm,
        FilterConfig::new(DumpLevel::new(level)?),
        |max, ps| Ok(MemBitmaps::new(max, ps)),
        |m, which, off, data| {
            m.put_bytes(which, off, data);
            Ok(())
        },
    )
}

/// [`classify`] with bounded memory: bitmaps larger than `memory` bytes (the collector uses
/// [`BITMAP_MEMORY`]) go to an unlinked scratch file in `scratch_dir`.
pub fn classify_bounded(
    vm: &vmcore::Vmcore,
    level: u8,
    scratch_dir: &Path,
    memory: u64,
) -> Result<(BitmapStore, Stats, u64), CollectorError> {
    classify_with(
        vm,
        FilterConfig::new(DumpLevel::new(level)?),
        scratch_dir,
        memory,
    )
}

/// [`classify_bounded`] with a filter configuration of the caller's (ELF output, say, decides
/// zero pages while classifying).
pub fn classify_with(
    vm: &vmcore::Vmcore,
    config: FilterConfig,
    scratch_dir: &Path,
    memory: u64,
) -> Result<(BitmapStore, Stats, u64), CollectorError> {
    filter_windows(
        vm,
        config,
        |max, ps| BitmapStore::new(max, ps, scratch_dir, memory),
        |s, which, off, data| s.put(which, off, data),
    )
}

/// Create the dump file `path` for reading and writing, mode 0600 whatever the umask (a
/// dump holds every secret of the crashed kernel): refused when it exists, unless `force`
/// (then it is truncated and its mode narrowed). A symbolic link at `path` is never
/// followed. The error names the file (and says to use `-f`).
pub fn open_output(path: &Path, force: bool) -> Result<std::fs::File, CollectorError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut o = std::fs::OpenOptions::new();
    o.write(true)
        .read(true)
        .mode(0o600)
        .custom_flags(O_NOFOLLOW | O_CLOEXEC);
    if force {
        o.create(true).truncate(true);
    } else {
        o.create_new(true);
    }
    let f = o.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            CollectorError::new(format!(
                "{} already exists (use -f to overwrite it)",
                path.display()
            ))
        } else {
            CollectorError {
                message: format!("cannot create {}: {e}", path.display()),
                os_error: e.raw_os_error(),
            }
        }
    })?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|e| CollectorError {
            message: format!("chmod 600 {}: {e}", path.display()),
            os_error: e.raw_os_error(),
        })?;
    Ok(f)
}

/// O_NOFOLLOW and O_CLOEXEC as this target defines them (rustix knows every architecture's
/// values; they differ between x86_64 and arm64).
const O_NOFOLLOW: i32 = rustix::fs::OFlags::NOFOLLOW.bits() as i32;
const O_CLOEXEC: i32 = rustix::fs::OFlags::CLOEXEC.bits() as i32;

const ENOSPC: i32 = 28;

/// Start write-back of the output every this many bytes. Measured on the 6.1 fixture
/// (`-d 31 -l`, 25 MB out, median of 9): 16 MiB 131 ms, 8 MiB 135 ms, 4 MiB 122 ms,
/// 2 MiB 125 ms, 1 MiB 117 ms; below 4 MiB the background thread syncs almost constantly
/// for no clear gain.
const SYNC_EVERY: u64 = 4 << 20;

/// Frames of the dump's physical memory, read for the writer's workers: a run of
/// consecutive frames is one read.
#[derive(Clone, Copy)]
struct PhysPages<'a> {
    vm: &'a vmcore::Vmcore,
    page_size: u64,
}

impl PageSource for PhysPages<'_> {
    fn read_page(&self, pfn: u64, buf: &mut [u8]) -> io::Result<()> {
        self.read_pages(pfn, buf.len(), buf)
    }

    fn read_pages(&self, pfn: u64, _page_size: usize, buf: &mut [u8]) -> io::Result<()> {
        let paddr = pfn
            .checked_mul(self.page_size)
            .ok_or_else(|| io::Error::other(format!("pfn {pfn:#x} out of range")))?;
        self.vm
            .dump()
            .read_phys(paddr, buf)
            .map_err(io::Error::other)
    }
}

/// Filter and write; with several levels, retry with the next one when the disk is full.
/// On a write error the file keeps what was written, with the INCOMPLETE flag in its header.
pub fn run(req: DumpRequest<'_>) -> Result<DumpOutcome, CollectorError> {
    let vm = vmcore::Vmcore::open_with(req.vmcore, vmcore::Access::Pread)
        .map_err(|e| CollectorError::new(format!("{}: {e}", req.vmcore.display())))?;
    let levels = if req.levels.is_empty() {
        vec![0]
    } else {
        req.levels.clone()
    };
    let mut output = req.output;
    let scratch_dir = scratch_dir(
        req.work_dir,
        match &output {
            Output::File { path, .. } => Some(path),
            _ => None,
        },
    );
    // Refuse an existing file at once, but create it only once the input has been read
    // and classified: a bad input leaves no empty file behind.
    if let Output::File { path, force: false } = &output {
        if path.exists() {
            return Err(CollectorError::new(format!(
                "{} already exists (use -f to overwrite it)",
                path.display()
            )));
        }
    }
    let mut file: Option<BackgroundSyncFile> = None;
    for (i, &level) in levels.iter().enumerate() {
        let named = |e: CollectorError| CollectorError {
            message: format!("{}: {}", req.vmcore.display(), e.message),
            os_error: e.os_error,
        };
        let (bitmaps, mut stats, max) =
            classify_bounded(&vm, level, &scratch_dir, BITMAP_MEMORY).map_err(named)?;
        let info = dump_info(&vm, max, level).map_err(named)?;
        if let (Output::File { path, force }, None) = (&output, &file) {
            let f = open_output(path, *force)?;
            file = Some(BackgroundSyncFile::new(f, SYNC_EVERY)?);
        }
        let opts = WriteOptions {
            codec: req.codec,
            threads: req.threads.max(1),
            progress: req.progress.clone(),
            ..WriteOptions::default()
        };
        let pages = PhysPages {
            vm: &vm,
            page_size: info.page_size as u64,
        };
        let limit = req.size_limit.unwrap_or(u64::MAX);
        let durable = |sink: &mut dyn DurableSink| -> Result<WriteStats, WriteError> {
            sink.set_len(0).map_err(|source| WriteError::Io {
                what: "truncating the output",
                offset: 0,
                source,
            })?;
            let mut sink = LimitedSink::new(sink, limit);
            write_kdump_durable(&mut sink, &info, &bitmaps, pages, &opts)
        };
        let result = match (&mut output, file.as_mut()) {
            (_, Some(bg)) => durable(bg),
            (Output::Durable(sink), None) => durable(&mut **sink),
            (Output::Flattened(w), None) => {
                let bw = io::BufWriter::with_capacity(1 << 20, &mut **w);
                let mut flat = kdump_compressed::flattened::FlatWriter::new(bw)?;
                let r = {
                    let mut sink = LimitedSink::new(&mut flat, limit);
                    write_kdump_from(&mut sink, &info, &bitmaps, pages, &opts)
                };
                match (r, flat.finish()) {
                    (Ok(w), Ok(_)) => Ok(w),
                    (Ok(_), Err(e)) => {
                        return Err(CollectorError {
                            message: format!("writing the flattened stream: {e}"),
                            os_error: e.raw_os_error(),
                        })
                    }
                    (Err(e), _) => Err(e),
                }
            }
            _ => write_kdump_from(&mut NullSink, &info, &bitmaps, pages, &opts),
        };
        match result {
            Ok(w) => {
                stats.zero = w.zero_pages;
                if w.read_errors > 0 {
                    eprintln!(
                        "warning: {} page(s) could not be read and were left out of the dump \
                         (excluded, not zero; first error: {}; {} run(s) listed for {UNREADABLE_LIST})",
                        w.read_errors,
                        w.first_read_error.as_deref().unwrap_or(""),
                        w.unreadable.len()
                    );
                }
                return Ok(DumpOutcome {
                    level,
                    stats,
                    write: w,
                    page_size: info.page_size as u64,
                });
            }
            Err(WriteError::Incomplete { source, .. } | WriteError::NotDurable { source, .. })
                if source.raw_os_error() == Some(ENOSPC) && i + 1 < levels.len() =>
            {
                eprintln!(
                    "no space left at dump level {level}; retrying with level {}",
                    levels[i + 1]
                );
                continue;
            }
            Err(e) => {
                let os_error = match &e {
                    WriteError::Incomplete { source, .. }
                    | WriteError::NotDurable { source, .. }
                    | WriteError::Io { source, .. } => source.raw_os_error(),
                    _ => None,
                };
                return Err(CollectorError {
                    message: format!("writing the dump ({}): {e}", req.codec.name()),
                    os_error,
                });
            }
        }
    }
    Err(CollectorError::new("no dump level left to try"))
}

/// Write the kernel log of `vmcore` as `makedumpfile --dump-dmesg` does.
pub fn dmesg(vmcore: &Path) -> Result<Vec<u8>, vmcore::Error> {
    let vm = vmcore::Vmcore::open(vmcore)?;
    vmcore::printk::dmesg(&vm, &vmcore::printk::DmesgOptions::default())
}
