//! Durability of a dump (issue 19): a fault at any durable step (a write, truncating,
//! `fsync`) reaches the caller with the OS error, and the file left behind is either a
//! readable dump flagged INCOMPLETE or, when the fault hit the header itself, a file still
//! named `vmcore-incomplete`; a dump is never renamed `vmcore` unless it is complete and
//! synced. Faults are injected in a [`DurableSink`] wrapping a real file (the seam the
//! collector writes through) and, for `kdump save`, by a size limit (`-L`, a real ENOSPC
//! from the writer's point of view).

#[allow(dead_code)]
#[path = "../../../examples/dumpfilter/examples/sparse-core.rs"]
mod sparse_core;

use kdump_compressed::read::KdumpFile;
use kdump_compressed::write::{DurableSink, Sink};
use kdump_service::collector::{self, DumpRequest, Output};
use kdump_service::save::{save, SaveOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const EIO: i32 = 5;
const ENOSPC: i32 = 28;

/// A synthetic 4 GiB (sparse) ELF vmcore, built once per test run.
fn vmcore() -> &'static Path {
    static CORE: OnceLock<PathBuf> = OnceLock::new();
    CORE.get_or_init(|| {
        let dir = scratch("core");
        let p = dir.join("sparse.elf");
        sparse_core::write_sparse_core(&p, 4).unwrap();
        p
    })
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kdump-durable-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Which step fails, and how.
#[derive(Clone, Copy, Debug)]
enum Fault {
    None,
    /// The n-th write (1-based) fails with this errno.
    Write(usize, i32),
    SetLen(i32),
    Fsync(i32),
}

/// A real file with one injected fault; counts writes.
struct Faulty {
    file: std::fs::File,
    fault: Fault,
    writes: usize,
    syncs: usize,
}

impl Sink for Faulty {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.writes += 1;
        if let Fault::Write(n, errno) = self.fault {
            if self.writes == n {
                return Err(io::Error::from_raw_os_error(errno));
            }
        }
        std::os::unix::fs::FileExt::write_all_at(&self.file, data, offset)
    }
}

impl DurableSink for Faulty {
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        match self.fault {
            // The truncation to 0 before writing works; the final one fails.
            Fault::SetLen(errno) if len > 0 => Err(io::Error::from_raw_os_error(errno)),
            _ => self.file.set_len(len),
        }
    }
    fn sync(&mut self) -> io::Result<()> {
        self.syncs += 1;
        match self.fault {
            Fault::Fsync(errno) => Err(io::Error::from_raw_os_error(errno)),
            _ => self.file.sync_all(),
        }
    }
}

fn run(
    path: &Path,
    fault: Fault,
) -> (
    Result<collector::DumpOutcome, collector::CollectorError>,
    Faulty,
) {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut sink = Faulty {
        file,
        fault,
        writes: 0,
        syncs: 0,
    };
    let r = collector::run(DumpRequest {
        vmcore: vmcore(),
        output: Output::Durable(&mut sink),
        levels: vec![31],
        codec: kdump_compressed::codec::Codec::Lzo,
        threads: 1,
        size_limit: None,
        progress: None,
        work_dir: None,
    });
    (r, sink)
}

#[test]
fn every_durable_step_reports_its_fault_and_leaves_an_incomplete_dump() {
    let dir = scratch("collector");
    // Without a fault: complete, synced once, readable.
    let clean = dir.join("clean.kdump");
    let (r, s) = run(&clean, Fault::None);
    let out = r.unwrap();
    assert!(s.syncs >= 1);
    assert!(!KdumpFile::open(&clean).unwrap().is_incomplete());
    assert!(out.write.pages > 0);
    let writes = s.writes;
    assert!(writes >= 5, "{writes} writes");
    eprintln!("fault | where | outcome");
    // Each write of the page data and descriptors (after header, sub-header and bitmaps),
    // then truncation and fsync.
    // A sample: the first writes after the bitmaps and the last two (each run rewrites the
    // whole dump).
    let points: Vec<usize> = (5..=writes.min(10))
        .chain(writes.saturating_sub(1).max(11)..=writes)
        .collect();
    let mut faults: Vec<(Fault, &str)> = points
        .into_iter()
        .flat_map(|n| {
            [
                (Fault::Write(n, EIO), "page data/descriptors"),
                (Fault::Write(n, ENOSPC), "page data/descriptors"),
            ]
        })
        .collect();
    faults.push((Fault::SetLen(EIO), "set_len at the end"));
    faults.push((Fault::Fsync(EIO), "fsync at the end"));
    faults.push((Fault::Fsync(ENOSPC), "fsync at the end"));
    for (i, (fault, place)) in faults.into_iter().enumerate() {
        let path = dir.join(format!("fault-{i}.kdump"));
        let (r, _) = run(&path, fault);
        let e = r.expect_err(&format!("{fault:?} was not reported"));
        let errno = match fault {
            Fault::Write(_, n) | Fault::SetLen(n) | Fault::Fsync(n) => n,
            Fault::None => unreachable!(),
        };
        assert_eq!(e.os_error, Some(errno), "{fault:?}: {}", e.message);
        let os = io::Error::from_raw_os_error(errno).to_string();
        let os = os.split(" (os error").next().unwrap();
        assert!(e.message.contains(os), "{fault:?}: {}", e.message);
        let f = KdumpFile::open(&path).unwrap_or_else(|e| panic!("{fault:?}: unreadable: {e}"));
        assert!(f.is_incomplete(), "{fault:?}: not flagged INCOMPLETE");
        eprintln!(
            "{fault:?} | {place} | error \"{}\"; file readable, INCOMPLETE",
            e.message
        );
    }
    // A fault in the header itself: reported; the file is no dump (the caller never
    // renames it).
    let path = dir.join("fault-header.kdump");
    let (r, _) = run(&path, Fault::Write(1, EIO));
    let e = r.unwrap_err();
    assert_eq!(e.os_error, Some(EIO), "{}", e.message);
    assert!(e.message.contains("disk_dump_header"), "{}", e.message);
    eprintln!(
        "Write(1, EIO) | header | error \"{}\"; no readable dump",
        e.message
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A flattened stream whose writer fails on write or on flush.
struct BadStream {
    fail_flush: bool,
    bytes: u64,
}

impl io::Write for BadStream {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if !self.fail_flush && self.bytes > 4096 {
            return Err(io::Error::from_raw_os_error(EIO));
        }
        self.bytes += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.fail_flush {
            Err(io::Error::from_raw_os_error(EIO))
        } else {
            Ok(())
        }
    }
}

#[test]
fn a_flattened_stream_that_fails_to_write_or_flush_is_an_error() {
    for fail_flush in [false, true] {
        let mut w = BadStream {
            fail_flush,
            bytes: 0,
        };
        let r = collector::run(DumpRequest {
            vmcore: vmcore(),
            output: Output::Flattened(&mut w),
            levels: vec![31],
            codec: kdump_compressed::codec::Codec::Lzo,
            threads: 1,
            size_limit: None,
            progress: None,
            work_dir: None,
        });
        let e = r.expect_err("a failing stream was reported saved");
        assert_eq!(e.os_error, Some(EIO), "flush {fail_flush}: {}", e.message);
        eprintln!(
            "stream (flush fails: {fail_flush}) | error \"{}\"",
            e.message
        );
    }
}

fn plan(conf: &str) -> kdump_conf::Plan {
    let c = kdump_conf::check(conf);
    assert!(c.is_valid(), "{conf}: {:?}", c.diagnostics);
    kdump_conf::plan(&c.config)
}

/// The one directory in `d`.
fn only_dir(d: &Path) -> PathBuf {
    let v: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(v.len(), 1, "{v:?}");
    v[0].clone()
}

fn names(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn save_never_names_an_incomplete_dump_vmcore() {
    let root = scratch("save");
    let opts = |r: &Path| SaveOptions {
        vmcore: vmcore().to_path_buf(),
        target_root: Some(r.to_path_buf()),
        no_action: true,
        host: Some("127.0.0.1".into()),
        dmesg: false,
        ..SaveOptions::default()
    };
    // Without a fault: vmcore, complete.
    let r3 = root.join("ok");
    let r = save(
        &plan("path /var/crash\ncore_collector makedumpfile -l -d 31\n"),
        &opts(&r3),
    );
    assert_eq!(r.error, None);
    let d = only_dir(&r3.join("var/crash"));
    assert_eq!(names(&d), ["vmcore"]);
    assert!(!KdumpFile::open(d.join("vmcore")).unwrap().is_incomplete());
    let size = std::fs::metadata(d.join("vmcore")).unwrap().len();
    // The disk fills up 100 bytes short of the end (makedumpfile's -L): ENOSPC while
    // writing the pages.
    let r1 = root.join("full");
    let conf = format!(
        "path /var/crash\ncore_collector makedumpfile -l -d 31 -L {}\nfailure_action reboot\n",
        size - 100
    );
    let r = save(&plan(&conf), &opts(&r1));
    let e = r.error.clone().expect("a full disk was reported saved");
    assert!(e.contains("No space left"), "{e}");
    assert_eq!(r.exit_code(), 1);
    assert!(r.vmcore.is_none());
    assert!(
        r.action.starts_with("reboot"),
        "failure action: {}",
        r.action
    );
    let d = only_dir(&r1.join("var/crash"));
    assert_eq!(names(&d), ["vmcore-incomplete"]);
    assert!(KdumpFile::open(d.join("vmcore-incomplete"))
        .unwrap()
        .is_incomplete());
    eprintln!(
        "save -L {} | page data | error \"{e}\"; vmcore-incomplete, INCOMPLETE; action {}",
        size - 100,
        r.action
    );
    // A collector program that fails: nothing is renamed.
    let r2 = root.join("false");
    let r = save(&plan("path /var/crash\ncore_collector false\n"), &opts(&r2));
    let e = r
        .error
        .clone()
        .expect("a failed collector was reported saved");
    assert!(e.contains("false failed"), "{e}");
    let d = only_dir(&r2.join("var/crash"));
    assert!(!d.join("vmcore").exists());
    eprintln!("save core_collector false | program | error \"{e}\"; no vmcore");
    let _ = std::fs::remove_dir_all(&root);
}
