//! `dumpfilter`: makedumpfile's command line over the kdump-rs crates.
//!
//! Parses with `dumpfilter-options`, classifies pages with `page-filter`, writes with
//! `kdump-compressed`, reads dumps with `vmcore`. Whatever it cannot do yet it refuses with a
//! message and exit status 1, never silently.

mod elf_out;
mod inspect;
mod progress;
mod split;

use dumpfilter_options::{Compression, Mode, Options};
use kdump_service::collector::{self, DumpRequest, Output};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// A sink that drops what is written (`--dry-run`).
pub(crate) struct NullSink;

impl kdump_compressed::write::Sink for NullSink {
    fn write_at(&mut self, _: u64, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("dumpfilter: {msg}");
    eprintln!("dumpfilter Failed.");
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (opts, warnings) = match dumpfilter_options::parse_with_warnings(&args) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    for w in &warnings {
        eprintln!("dumpfilter: warning: {w}");
    }
    if let Err(e) = opts.check_supported() {
        return fail(e);
    }
    match &opts.mode {
        Mode::Help => {
            print!("{}", dumpfilter_options::usage("dumpfilter"));
            return ExitCode::SUCCESS;
        }
        Mode::Version => {
            println!("dumpfilter {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    if opts.check_params {
        return ExitCode::SUCCESS;
    }
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => fail(msg),
    }
}

fn run(opts: &Options) -> Result<(), String> {
    let level = opts.effective_message_level();
    match &opts.mode {
        Mode::Rearrange { dumpfile } => rearrange(Path::new(dumpfile), opts.force),
        Mode::Dmesg { vmcore, logfile } => {
            let text = collector::dmesg(Path::new(vmcore)).map_err(|e| e.to_string())?;
            let saved_to = match logfile {
                Some(out) => {
                    let mut f = collector::open_output(Path::new(out), opts.force)
                        .map_err(|e| e.message)?;
                    f.write_all(&text)
                        .and_then(|_| f.sync_all())
                        .map_err(|e| format!("writing {out}: {e}"))?;
                    out.as_str()
                }
                None => {
                    // -F: the log on stdout, as makedumpfile writes it.
                    let mut o = std::io::stdout().lock();
                    o.write_all(&text)
                        .and_then(|_| o.flush())
                        .map_err(|e| format!("writing the log to stdout: {e}"))?;
                    "STDOUT"
                }
            };
            if level & 4 != 0 {
                eprintln!("\nThe dmesg log is saved to {saved_to}.\n\ndumpfilter Completed.");
            }
            Ok(())
        }
        Mode::Vtop { vmcore } => {
            let vaddr = opts.vtop.ok_or("--vtop needs an address")?;
            let mut out = std::io::stdout().lock();
            inspect::vtop(vaddr, Path::new(vmcore), &mut out).map_err(|e| e.to_string())?;
            Ok(())
        }
        Mode::Dump { vmcore, dumpfile } => {
            if level & 8 != 0 {
                // -D: the input's header, LOAD table and VMCOREINFO before dumping, on stderr
                // (stdout may carry the flattened dump).
                inspect::print_info(Path::new(vmcore), &mut std::io::stderr().lock())
                    .map_err(|e| e.to_string())?;
            }
            if opts.elf {
                let mut stdout = std::io::stdout().lock();
                let target = match (dumpfile, opts.dry_run) {
                    (_, true) => elf_out::Target::Discard,
                    (Some(p), false) => elf_out::Target::File(Path::new(p)),
                    (None, false) => elf_out::Target::Flattened(&mut stdout),
                };
                let t = Instant::now();
                let out = elf_out::run(
                    Path::new(vmcore),
                    target,
                    opts.dump_level(),
                    opts.force,
                    opts.size_limit,
                    opts.work_dir.as_deref().map(Path::new),
                    progress::Indicator::new(level, "Copying data", 1),
                )?;
                return finish(
                    opts,
                    &Report {
                        what: "ELF",
                        level: opts.dump_level(),
                        stats: out.stats,
                        pages: out.pages,
                        file_size: out.file_size,
                        seconds: t.elapsed().as_secs_f64(),
                    },
                    dumpfile.as_slice(),
                );
            }
            if let Some(v) = opts.vtop {
                let mut out = std::io::stdout().lock();
                inspect::vtop(v, Path::new(vmcore), &mut out).map_err(|e| e.to_string())?;
            }
            let mut stdout = std::io::stdout().lock();
            if opts.compression == Compression::Lz4 {
                eprintln!(
                    "dumpfilter: warning: --lz4 is a kdump-rs extension: makedumpfile and crash cannot read this dump"
                );
            }
            let output = match (dumpfile, opts.dry_run) {
                (Some(p), false) => Output::File {
                    path: Path::new(p),
                    force: opts.force,
                },
                (None, false) => Output::Flattened(&mut stdout),
                _ => Output::Discard,
            };
            // Progress counts frames; x86_64 frames are 4 KiB.
            let indicator = progress::Indicator::new(level, "Copying data", 4096);
            let req = DumpRequest {
                vmcore: Path::new(vmcore),
                output,
                levels: opts.dump_levels.clone(),
                codec: collector::codec(opts.compression),
                threads: collector::threads(opts),
                size_limit: opts.size_limit,
                progress: indicator.as_ref().map(progress::Indicator::callback),
                work_dir: opts.work_dir.as_deref().map(Path::new),
            };
            let t = Instant::now();
            let out = collector::run(req);
            if let Some(p) = &indicator {
                p.close();
            }
            let out = out.map_err(|f| f.message)?;
            finish(
                opts,
                &Report {
                    what: "kdump-compressed",
                    level: out.level,
                    stats: out.stats,
                    pages: out.write.pages,
                    file_size: out.write.file_size,
                    seconds: t.elapsed().as_secs_f64(),
                },
                dumpfile.as_slice(),
            )
        }
        Mode::Split { vmcore, dumpfiles } => {
            let t = Instant::now();
            let out = split::run(Path::new(vmcore), dumpfiles, opts)?;
            finish(
                opts,
                &Report {
                    what: "split",
                    level: opts.dump_level(),
                    stats: out.stats,
                    pages: out.pages,
                    file_size: out.file_size,
                    seconds: t.elapsed().as_secs_f64(),
                },
                dumpfiles,
            )
        }
        Mode::Reassemble { inputs, dumpfile } => reassemble_split(
            inputs,
            Path::new(dumpfile),
            opts.force,
            collector::threads(opts),
            level,
        ),
        Mode::Collector => Err("no input and output file given".into()),
        Mode::Other { .. } => Err("this operation is not supported".into()),
        Mode::Help | Mode::Version => Ok(()),
        #[allow(unreachable_patterns)]
        _ => Err("this operation is not supported".into()),
    }
}

/// `-R DUMPFILE`: rebuild a dump from a flattened stream on stdin.
fn rearrange(path: &Path, force: bool) -> Result<(), String> {
    let f = collector::open_output(path, force).map_err(|e| e.message)?;
    let stdin = std::io::stdin().lock();
    let r = std::io::BufReader::with_capacity(1 << 20, stdin);
    kdump_compressed::flattened::reassemble(r, &f).map_err(|e| format!("-R: {e}"))?;
    f.sync_all().map_err(|e| {
        // What reached the disk says it is incomplete (when that write gets through).
        let marked = match kdump_compressed::write::mark_incomplete(&f) {
            Ok(()) => "marked INCOMPLETE".to_string(),
            Err(m) => format!("marking it INCOMPLETE failed too: {m}"),
        };
        format!(
            "{}: the dump is not durable: {e} ({marked})",
            path.display()
        )
    })
}

/// What a dump wrote, for the closing messages and `--stats-json`.
struct Report {
    /// The output format, for the closing line.
    what: &'static str,
    level: u8,
    stats: page_filter::Stats,
    pages: u64,
    file_size: u64,
    seconds: f64,
}

/// The per-class report (message level 16 or `--show-stats`), `--stats-json`, and the
/// closing lines (message level 4) naming the files written.
fn finish(opts: &Options, r: &Report, files: &[String]) -> Result<(), String> {
    let level = opts.effective_message_level();
    if level & 16 != 0 || opts.show_stats {
        eprint!("\n{}", r.stats);
    }
    if let Some(path) = &opts.stats_json {
        std::fs::write(path, stats_json(r)).map_err(|e| format!("{path}: {e}"))?;
    }
    if level & 4 != 0 {
        if !opts.dry_run && !files.is_empty() {
            eprintln!("\nThe dumpfile is saved to {}.", files.join(", "));
        }
        eprintln!(
            "\ndumpfilter Completed ({}, {} pages, {} bytes, level {}, {:.2} s).",
            r.what, r.pages, r.file_size, r.level, r.seconds
        );
    }
    Ok(())
}

fn stats_json(r: &Report) -> String {
    let s = &r.stats;
    format!(
        "{{\"dump_level\":{},\"zero\":{},\"cache\":{},\"cache_private\":{},\"user\":{},\"free\":{},\"hwpoison\":{},\"offline\":{},\"remaining\":{},\"memory_hole\":{},\"total\":{},\"pages_written\":{},\"file_size\":{},\"seconds\":{:.3}}}\n",
        r.level,
        s.zero,
        s.cache,
        s.cache_private,
        s.user,
        s.free,
        s.hwpoison,
        s.offline,
        s.remaining(),
        s.memory_hole,
        s.total,
        r.pages,
        r.file_size,
        r.seconds
    )
}

/// `--reassemble DUMPFILE1 DUMPFILE2 ... DUMPFILE`: join the files of a split dump into one
/// kdump-compressed file (pages are recompressed with the codec the inputs use).
fn reassemble_split(
    inputs: &[String],
    out: &Path,
    force: bool,
    threads: usize,
    message_level: u8,
) -> Result<(), String> {
    use kdump_compressed::codec::Codec;
    use kdump_compressed::format::COMPRESSION_MASK;
    use kdump_compressed::read::{Bitmap, KdumpFile, SplitSet};
    use kdump_compressed::write::{write_kdump, DumpInfo, MemBitmaps, WriteOptions};
    let mut files = Vec::new();
    for p in inputs {
        files.push(KdumpFile::open(p).map_err(|e| e.to_string())?);
    }
    let set = SplitSet::new(files).map_err(|e| e.to_string())?;
    let first = &set.files()[0];
    let mut info = DumpInfo::from_dump(first).map_err(|e| e.to_string())?;
    info.split = None;
    let codec = Codec::from_flags(first.header().status & COMPRESSION_MASK).unwrap_or(Codec::None);
    let mut bm = MemBitmaps::from_dump(first).map_err(|e| e.to_string())?;
    for pfn in 0..first.max_mapnr() {
        bm.clear_dumped(pfn);
    }
    for f in set.files() {
        for pfn in f.iter_bitmap(Bitmap::Dumped) {
            bm.set_dumped(pfn.map_err(|e| e.to_string())?);
        }
    }
    let mut file = collector::open_output(out, force).map_err(|e| e.message)?;
    let progress = progress::Indicator::new(message_level, "Copying data", info.page_size.into());
    let stats = write_kdump(
        &mut file,
        &info,
        &bm,
        |pfn, buf| {
            set.read_page(pfn, buf)
                .map(|_| ())
                .map_err(std::io::Error::other)
        },
        &WriteOptions {
            codec,
            threads,
            progress: progress.as_ref().map(progress::Indicator::callback),
            ..WriteOptions::default()
        },
    );
    if let Some(p) = &progress {
        p.close();
    }
    let stats = stats.map_err(|e| format!("writing {}: {e}", out.display()))?;
    file.set_len(stats.file_size)
        .and_then(|_| file.sync_all())
        .map_err(|e| format!("{}: the dump is not durable: {e}", out.display()))
}
