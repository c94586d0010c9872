//! Unreadable /proc/vmcore pages (issue 19, item 5): a page the input cannot read is left out
//! of the dump (its bit cleared in bitmap 2, so readers report it excluded, never a zero page),
//! counted, and listed in `vmcore-unreadable.txt` beside the vmcore.
//!
//! The input is a synthetic ELF vmcore cut short: the last pages of its last PT_LOAD segment
//! lie past the end of the file, so reading them fails as a bad /proc/vmcore read does.

#[allow(dead_code)]
#[path = "../../../examples/dumpfilter/examples/sparse-core.rs"]
mod sparse_core;

use kdump_compressed::read::{KdumpFile, PageState};
use kdump_service::collector::UNREADABLE_LIST;
use kdump_service::save::{save, SaveOptions};
use std::path::{Path, PathBuf};

const PAGE: u64 = 4096;
/// Pages cut off the end of the file.
const CUT: u64 = 24;

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kdump-unreadable-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A sparse core whose file ends `CUT` pages before its last segment does; returns the
/// path and the first unreadable pfn.
fn truncated_core(dir: &Path) -> (PathBuf, u64) {
    let p = dir.join("cut.elf");
    sparse_core::write_sparse_core(&p, 4).unwrap();
    let elf = vmcore::ElfDump::parse(vmcore::PreadFile::open(&p).unwrap()).unwrap();
    let last = elf
        .loads()
        .iter()
        .filter(|l| l.filesz >= CUT * PAGE)
        .max_by_key(|l| l.offset + l.filesz)
        .copied()
        .unwrap();
    assert_eq!(
        last.offset + last.filesz,
        std::fs::metadata(&p).unwrap().len(),
        "the segment chosen must end the file"
    );
    assert_eq!(last.paddr % PAGE, 0);
    let cut_at = last.offset + last.filesz - CUT * PAGE;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(cut_at)
        .unwrap();
    (p, (last.paddr + last.filesz) / PAGE - CUT)
}

#[test]
fn unreadable_pages_are_excluded_counted_and_listed() {
    let dir = scratch("save");
    let (core, first_bad) = truncated_core(&dir);
    let root = dir.join("root");
    let c = kdump_conf::check("path /var/crash\ncore_collector makedumpfile -l -d 0\n");
    assert!(c.is_valid(), "{:?}", c.diagnostics);
    let r = save(
        &kdump_conf::plan(&c.config),
        &SaveOptions {
            vmcore: core.clone(),
            target_root: Some(root.clone()),
            no_action: true,
            host: Some("127.0.0.1".into()),
            dmesg: false,
            ..SaveOptions::default()
        },
    );
    // Unreadable pages are not a failed dump: the rest is saved and complete.
    assert_eq!(r.error, None, "{r:?}");
    let out = r.outcome.as_ref().expect("the collector ran in-process");
    assert_eq!(out.write.read_errors, CUT);
    assert_eq!(out.write.unreadable, vec![(first_bad, CUT)]);
    let d = std::fs::read_dir(root.join("var/crash"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut names: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["vmcore", UNREADABLE_LIST]);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(d.join(UNREADABLE_LIST))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    // The list names the run, in frames and in physical addresses.
    let list = std::fs::read_to_string(d.join(UNREADABLE_LIST)).unwrap();
    let line = format!(
        "{:#x} {:#x} {CUT} {:#x} {:#x}",
        first_bad,
        first_bad + CUT - 1,
        first_bad * PAGE,
        (first_bad + CUT) * PAGE - 1
    );
    assert!(list.lines().any(|l| l == line), "{line} not in\n{list}");
    assert!(list.contains(&format!("# total {CUT} frame(s); 0 not listed")));
    // The dump: those frames are excluded, their neighbours are there.
    let f = KdumpFile::open(d.join("vmcore")).unwrap();
    assert!(!f.is_incomplete());
    let mut buf = vec![0u8; PAGE as usize];
    for pfn in first_bad..first_bad + CUT {
        assert_eq!(f.read_page(pfn, &mut buf).unwrap(), PageState::Excluded);
    }
    assert_ne!(
        f.read_page(first_bad - 1, &mut buf).unwrap(),
        PageState::Excluded
    );
    let _ = std::fs::remove_dir_all(&dir);
}
