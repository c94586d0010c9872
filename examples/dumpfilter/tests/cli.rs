//! `dumpfilter` against makedumpfile 1.7.2 on the real fixtures (a skip when there is none,
//! which fails under `KDUMP_RS_NO_SKIP=1`): `-d 31`, refiltering a `-d 0` dump to `-d 31`,
//! `-E -d 31` and `--split` byte-identical; `--reassemble` of makedumpfile's `--split` files identical to its
//! `--reassemble`; `-F` then `-R` and `-E -F` then `-R` identical; our `-l` output refiltered by
//! makedumpfile identical. From a kdump-compressed (`-d 0`) input: `--split` byte-identical,
//! and `-E` (which makedumpfile refuses) checked by makedumpfile reading it back.
//! `--dump-dmesg -F` identical to makedumpfile's stdout; `--stats-json` equal to its report;
//! progress lines on a pipe and on a terminal, none without the progress bit of
//! `--message-level`; `-D` prints the dump report; refusals exit 1 with a message.

#[path = "../../../crates/kdump-compressed/tests/common/mod.rs"]
mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Stdio};

fn dumpfilter() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dumpfilter"))
}

fn run_ok(cmd: &mut Command) {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `makedumpfile -d 31 INPUT OUT`, which must succeed.
fn makedumpfile_refilter_d31(input: &Path, out: &Path) {
    run_ok(
        Command::new("makedumpfile")
            .args(["-d", "31"])
            .arg(input)
            .arg(out),
    );
}

/// The fixtures makedumpfile is run on here, captured by kdump (QEMU dumps differ in their
/// firmware ranges); none, after a skip, without makedumpfile.
fn kdump_oracles(test: &str) -> Vec<Fixture> {
    if !have_makedumpfile() {
        skip(test, "makedumpfile not installed");
        return Vec::new();
    }
    kdump_captures(test, oracle_fixtures_or_skip(test), "QEMU dump")
}

/// The fixtures captured by kdump; QEMU dumps (whose program headers makedumpfile needs
/// moved) are reported N/A with `why`.
fn kdump_captures(test: &str, fixtures: Vec<Fixture>, why: &str) -> Vec<Fixture> {
    applicable(test, fixtures, |fx| {
        (fx.vmcore != fx.vmcore_mk).then(|| why.to_string())
    })
}

/// The fixtures of 6.1 guests (the kernel the check's expectations were measured on).
fn series_6_1(test: &str, fixtures: Vec<Fixture>) -> Vec<Fixture> {
    applicable(test, fixtures, |fx| {
        (fx.series != "6.1").then(|| format!("kernel {}, the check is for 6.1", fx.series))
    })
}

/// `dumpfilter ARGS INPUT > FLAT`, which must succeed.
fn flatten_to(args: &[&str], input: &Path, flat: &Path) {
    let o = dumpfilter()
        .args(args)
        .arg(input)
        .stdout(std::fs::File::create(flat).unwrap())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `PROGRAM -R OUT < FLAT`, which must succeed.
fn rearrange(mut program: Command, flat: &Path, out: &Path) {
    run_ok(
        program
            .arg("-R")
            .arg(out)
            .stdin(std::fs::File::open(flat).unwrap()),
    );
}

fn fresh(dir: &Path, name: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn d31_uncompressed_is_byte_identical_to_makedumpfile() {
    for fx in oracle_fixtures_or_skip("dumpfilter -d 31") {
        let Some(d31) = reference(&fx, "d31", &["-d", "31"]) else {
            continue;
        };
        let dir = scratch(&format!("cli-d31-{}", fx.name));
        for threads in ["1", "2"] {
            let out = fresh(&dir, &format!("d31-t{threads}.kdump"));
            run_ok(
                dumpfilter()
                    .args(["-d", "31", "--num-threads", threads])
                    .arg(&fx.vmcore)
                    .arg(&out),
            );
            assert_same_file(&out, &d31);
        }
    }
}

#[test]
fn refilter_d0_to_d31_is_byte_identical() {
    for fx in oracle_fixtures_or_skip("dumpfilter refilter") {
        let (Some(d0), Some(d31)) = (
            reference(&fx, "d0-lzo", &["-l", "-d", "0"]),
            reference(&fx, "d31", &["-d", "31"]),
        ) else {
            continue;
        };
        let dir = scratch(&format!("cli-refilter-{}", fx.name));
        let out = fresh(&dir, "refilter.kdump");
        run_ok(dumpfilter().args(["-d", "31"]).arg(&d0).arg(&out));
        assert_same_file(&out, &d31);
    }
}

#[test]
fn flattened_then_rearranged_and_lzo_read_by_makedumpfile() {
    for fx in oracle_fixtures_or_skip("dumpfilter -F/-R") {
        let Some(d31) = reference(&fx, "d31", &["-d", "31"]) else {
            continue;
        };
        let dir = scratch(&format!("cli-flat-{}", fx.name));
        let flat = fresh(&dir, "s.flat");
        flatten_to(&["-F", "-d", "31"], &fx.vmcore, &flat);
        let re = fresh(&dir, "re.kdump");
        rearrange(dumpfilter(), &flat, &re);
        assert_same_file(&re, &d31);

        let lzo = fresh(&dir, "ours-l.kdump");
        run_ok(
            dumpfilter()
                .args(["-d", "31", "-l"])
                .arg(&fx.vmcore)
                .arg(&lzo),
        );
        if have_makedumpfile() {
            let back = fresh(&dir, "back.kdump");
            makedumpfile_refilter_d31(&lzo, &back);
            assert_same_file(&back, &d31);
        }
    }
}

#[test]
fn elf_output_is_byte_identical_to_makedumpfile() {
    // QEMU dumps: makedumpfile 1.7.2 keeps an arbitrary part of the firmware ranges above
    // mem_map in ELF output; we leave frames without a struct page out.
    let test = "dumpfilter -E";
    for fx in kdump_captures(
        test,
        oracle_fixtures_or_skip(test),
        "QEMU dump (frames above mem_map differ)",
    ) {
        let Some(elf) = reference(&fx, "d31-elf", &["-E", "-d", "31"]) else {
            continue;
        };
        let dir = scratch(&format!("cli-elf-{}", fx.name));
        let out = fresh(&dir, "d31.elf");
        run_ok(
            dumpfilter()
                .args(["-E", "-d", "31"])
                .arg(&fx.vmcore_mk)
                .arg(&out),
        );
        assert_same_file(&out, &elf);
    }
}

/// `--split -d LEVEL INPUT` into three files, ours and makedumpfile's: byte-identical.
fn assert_split_identical(dir: &Path, input: &Path, level: &str) {
    let theirs: Vec<_> = (1..=3).map(|i| fresh(dir, &format!("mk{i}"))).collect();
    let ours: Vec<_> = (1..=3).map(|i| fresh(dir, &format!("ours{i}"))).collect();
    run_ok(
        Command::new("makedumpfile")
            .args(["--split", "-d", level])
            .arg(input)
            .args(&theirs),
    );
    run_ok(
        dumpfilter()
            .args(["--split", "-d", level])
            .arg(input)
            .args(&ours),
    );
    for (a, b) in ours.iter().zip(&theirs) {
        assert_same_file(a, b);
    }
}

#[test]
fn split_is_byte_identical_to_makedumpfile() {
    for fx in kdump_oracles("dumpfilter --split") {
        let dir = scratch(&format!("cli-split2-{}", fx.name));
        assert_split_identical(&dir, &fx.vmcore, "17");
    }
}

#[test]
fn reassemble_of_makedumpfile_split_equals_its_reassemble() {
    if !have_makedumpfile() {
        return skip("dumpfilter --reassemble", "makedumpfile not installed");
    }
    for fx in oracle_fixtures_or_skip("dumpfilter --reassemble") {
        let dir = scratch(&format!("cli-split-{}", fx.name));
        let parts: Vec<_> = (1..=3).map(|i| fresh(&dir, &format!("part{i}"))).collect();
        run_ok(
            Command::new("makedumpfile")
                .args(["--split", "-d", "17"])
                .arg(&fx.vmcore_mk)
                .args(&parts),
        );
        let theirs = fresh(&dir, "mk-reassembled.kdump");
        run_ok(
            Command::new("makedumpfile")
                .arg("--reassemble")
                .args(&parts)
                .arg(&theirs),
        );
        let ours = fresh(&dir, "ours-reassembled.kdump");
        run_ok(dumpfilter().arg("--reassemble").args(&parts).arg(&ours));
        assert_same_file(&ours, &theirs);
        for p in parts.iter().chain([&theirs, &ours]) {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[test]
fn refusals_exit_1_with_a_message() {
    let dir = scratch("cli-refusals");
    let existing = dir.join("exists.kdump");
    std::fs::write(&existing, b"keep me").unwrap();
    let o = dumpfilter()
        .args(["-d", "31", "/nonexistent/vmcore"])
        .arg(&existing)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");

    let o = dumpfilter()
        .args(["--mem-usage", "/proc/kcore"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--mem-usage"));

    let o = dumpfilter().args(["-d", "99", "a", "b"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("-d"));

    let o = dumpfilter().arg("-h").output().unwrap();
    assert!(o.status.success());
}

#[test]
fn debug_prints_the_dump_report_before_dumping() {
    let test = "dumpfilter -D report";
    for fx in series_6_1(test, fixtures_or_skip(test)) {
        let dir = scratch(&format!("cli-debug-{}", fx.name));
        let out = fresh(&dir, "dry.kdump");
        let o = dumpfilter()
            .args(["-D", "-d", "31", "--dry-run"])
            .arg(&fx.vmcore)
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "dumpfilter -D failed: {err}");
        assert!(err.contains("LOAD[ 0] "), "no LOAD table in: {err}");
        // The 6.1 guests ran with 4- or 5-level paging (manifest: paging_levels).
        assert!(
            err.lines()
                .any(|l| l == "paging       : 4-level" || l == "paging       : 5-level"),
            "no paging line in: {err}"
        );
        assert!(err.contains("VMCOREINFO   :"), "no VMCOREINFO in: {err}");
        assert!(!out.exists(), "--dry-run wrote {}", out.display());
    }
}

#[test]
fn split_from_a_kdump_compressed_input_is_byte_identical() {
    if !have_makedumpfile() {
        return skip(
            "dumpfilter --split from kdump",
            "makedumpfile not installed",
        );
    }
    for fx in oracle_fixtures_or_skip("dumpfilter --split from kdump") {
        let Some(d0) = reference(&fx, "d0-lzo", &["-l", "-d", "0"]) else {
            continue;
        };
        let dir = scratch(&format!("cli-split-kdump-{}", fx.name));
        assert_split_identical(&dir, &d0, "31");
    }
}

#[test]
fn elf_from_a_kdump_compressed_input_reads_back_in_makedumpfile() {
    for fx in kdump_oracles("dumpfilter -E from kdump") {
        let (Some(d0), Some(mk_elf)) = (
            reference(&fx, "d0-lzo", &["-l", "-d", "0"]),
            reference(&fx, "d31-elf", &["-E", "-d", "31"]),
        ) else {
            continue;
        };
        let dir = scratch(&format!("cli-elf-kdump-{}", fx.name));
        // makedumpfile 1.7.2 refuses -E on a kdump-compressed input: no direct comparison.
        let refused = fresh(&dir, "mk-refused.elf");
        let o = Command::new("makedumpfile")
            .args(["-E", "-d", "31"])
            .arg(&d0)
            .arg(&refused)
            .output()
            .unwrap();
        assert!(!o.status.success(), "makedumpfile now takes -E from kdump");
        // Ours from the -d 0 dump, refiltered by makedumpfile, gives the same dump as
        // makedumpfile's own -E output of the ELF vmcore refiltered the same way.
        let ours = fresh(&dir, "ours.elf");
        run_ok(dumpfilter().args(["-E", "-d", "31"]).arg(&d0).arg(&ours));
        let back_ours = fresh(&dir, "back-ours.kdump");
        let back_theirs = fresh(&dir, "back-mk.kdump");
        makedumpfile_refilter_d31(&ours, &back_ours);
        makedumpfile_refilter_d31(&mk_elf, &back_theirs);
        assert_same_file(&back_ours, &back_theirs);
    }
}

#[test]
fn dump_dmesg_to_stdout_is_identical_to_makedumpfile() {
    for fx in oracle_fixtures_or_skip("dumpfilter --dump-dmesg -F") {
        let Some(log) = reference(&fx, "dmesg", &["--dump-dmesg"]) else {
            continue;
        };
        let o = dumpfilter()
            .args(["--dump-dmesg", "-F"])
            .arg(&fx.vmcore_mk)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(o.stdout, std::fs::read(&log).unwrap(), "dmesg on stdout");
        assert!(String::from_utf8_lossy(&o.stderr).contains("saved to STDOUT"));
        if have_makedumpfile() {
            let m = Command::new("makedumpfile")
                .args(["--dump-dmesg", "-F"])
                .arg(&fx.vmcore_mk)
                .output()
                .unwrap();
            assert!(m.status.success());
            assert_eq!(o.stdout, m.stdout, "makedumpfile --dump-dmesg -F");
        }
    }
}

/// The progress lines (`label: [ 42.0 %] ...`) in `stderr`.
fn progress_lines(stderr: &str) -> Vec<&str> {
    stderr
        .split(['\n', '\r'])
        .filter(|l| l.contains(" %] ") && l.contains("MB/s"))
        .collect()
}

#[test]
fn progress_lines_on_a_pipe_and_none_without_the_progress_bit() {
    let test = "dumpfilter progress";
    for fx in series_6_1(test, fixtures_or_skip(test)).iter().take(1) {
        let dir = scratch(&format!("cli-progress-{}", fx.name));
        let modes: [&[&str]; 4] = [
            &["-d", "31", "-l"],
            &["-F", "-d", "31"],
            &["-E", "-d", "31"],
            &["--split", "-d", "31"],
        ];
        for args in modes {
            for (level, want) in [(None, true), (Some("6"), false), (Some("1"), true)] {
                let outs: Vec<_> = match args[0] {
                    "--split" => vec![fresh(&dir, "s1"), fresh(&dir, "s2")],
                    // -F: the dump goes to stdout, the progress to stderr.
                    "-F" => vec![],
                    _ => vec![fresh(&dir, "out")],
                };
                let mut cmd = dumpfilter();
                cmd.args(args);
                if let Some(l) = level {
                    cmd.args(["--message-level", l]);
                }
                let o = cmd.arg(&fx.vmcore).args(&outs).output().unwrap();
                let err = String::from_utf8_lossy(&o.stderr);
                assert!(o.status.success(), "{args:?}: {err}");
                let lines = progress_lines(&err);
                if !want {
                    assert!(lines.is_empty(), "{args:?} level {level:?}: {err}");
                    continue;
                }
                // Not a terminal: plain lines, at most one per tenth and file, the last 100%.
                assert!(!err.contains('\r'), "{args:?}: carriage return on a pipe");
                assert!(
                    !lines.is_empty(),
                    "{args:?} level {level:?}: no progress in {err}"
                );
                assert!(lines.len() <= 10 * outs.len().max(1), "{lines:?}");
                assert!(lines.last().unwrap().contains("[100.0 %]"), "{lines:?}");
            }
        }
    }
}

#[test]
fn progress_is_redrawn_in_place_on_a_terminal() {
    let script = Path::new("/usr/bin/script");
    let test = "dumpfilter progress tty";
    if !script.exists() {
        return skip(test, "no script(1)");
    }
    for fx in series_6_1(test, fixtures_or_skip(test)).iter().take(1) {
        let dir = scratch(&format!("cli-progress-tty-{}", fx.name));
        let out = fresh(&dir, "out.elf");
        // script(1) gives the command a pseudo-terminal and copies what it prints.
        let line = format!(
            "{} -E -d 31 {} {}",
            env!("CARGO_BIN_EXE_dumpfilter"),
            fx.vmcore.display(),
            out.display()
        );
        let o = Command::new(script)
            .args(["-qec", &line, "/dev/null"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{text}");
        let lines = progress_lines(&text);
        assert!(!lines.is_empty(), "no progress in {text:?}");
        // Every redraw starts with a carriage return; the final one says 100% and ends the line.
        let draws = text.matches("\rCopying data").count();
        assert!(draws >= 1, "{text:?}");
        assert!(text.contains("[100.0 %]"), "{text:?}");
    }
}

/// makedumpfile's `-d 31` report for `fx`, from the fixture manifest.
fn d31_report(fx: &Fixture) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(fixtures_dir().join("manifest.json")).ok()?;
    let m: serde_json::Value = serde_json::from_str(&text).ok()?;
    let f = m["fixtures"]
        .as_array()?
        .iter()
        .find(|f| f["name"] == fx.name.as_str())?;
    let r = f["references"]
        .as_array()?
        .iter()
        .find(|r| r["name"] == "d31")?;
    Some(r["stats"].clone())
}

#[test]
fn stats_json_agrees_with_makedumpfile_in_every_mode_and_dry_run_writes_nothing() {
    let test = "dumpfilter --stats-json";
    for fx in kdump_captures(test, oracle_fixtures_or_skip(test), "QEMU dump") {
        let Some(want) = d31_report(&fx) else {
            skip(test, format!("{}: the manifest has no d31 report", fx.name));
            continue;
        };
        let dir = scratch(&format!("cli-stats-{}", fx.name));
        let modes: [(&[&str], usize); 3] = [
            (&["-d", "31"], 1),
            (&["-E", "-d", "31"], 1),
            (&["--split", "-d", "31"], 2),
        ];
        for (args, n) in modes {
            for dry in [false, true] {
                let json = fresh(&dir, "stats.json");
                let outs: Vec<_> = (0..n).map(|i| fresh(&dir, &format!("out{i}"))).collect();
                let mut cmd = dumpfilter();
                cmd.args(args).arg("--stats-json").arg(&json);
                if dry {
                    cmd.arg("--dry-run");
                }
                run_ok(cmd.arg(&fx.vmcore_mk).args(&outs));
                let got: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
                for (ours, theirs) in [
                    ("zero", "zero"),
                    ("cache", "cache"),
                    ("cache_private", "private_cache"),
                    ("user", "user"),
                    ("free", "free"),
                    ("remaining", "remaining"),
                    ("total", "total"),
                    ("memory_hole", "holes"),
                ] {
                    assert_eq!(got[ours], want[theirs], "{args:?} dry {dry}: {ours}");
                }
                for o in &outs {
                    assert_eq!(o.exists(), !dry, "{args:?} dry {dry}: {}", o.display());
                }
            }
        }
    }
}

#[test]
fn elf_flattened_rearranges_to_makedumpfile_elf() {
    let test = "dumpfilter -E -F";
    for fx in kdump_captures(test, oracle_fixtures_or_skip(test), "QEMU dump") {
        let Some(elf) = reference(&fx, "d31-elf", &["-E", "-d", "31"]) else {
            continue;
        };
        let dir = scratch(&format!("cli-elf-flat-{}", fx.name));
        let flat = fresh(&dir, "elf.flat");
        flatten_to(&["-E", "-F", "-d", "31"], &fx.vmcore_mk, &flat);
        // Our -R and makedumpfile's both rebuild makedumpfile's own -E file.
        let ours = fresh(&dir, "re.elf");
        rearrange(dumpfilter(), &flat, &ours);
        assert_same_file(&ours, &elf);
        if have_makedumpfile() {
            let theirs = fresh(&dir, "mk-re.elf");
            rearrange(Command::new("makedumpfile"), &flat, &theirs);
            assert_same_file(&theirs, &elf);
        }
    }
}

#[test]
fn an_input_that_cannot_be_filtered_leaves_no_output_file() {
    // An ELF core whose VMCOREINFO lacks what the page filter needs.
    let dir = scratch("cli-bad-input");
    let core = dir.join("bad.elf");
    let img = vmcore::testutil::ElfBuilder::new()
        .vmcoreinfo(b"OSRELEASE=6.1.0\nPAGESIZE=4096\n")
        .load(0, 0xffff_8880_0000_0000, &[1u8; 8192], 8192)
        .build();
    std::fs::write(&core, img).unwrap();
    let modes: [(&[&str], usize); 4] = [
        (&["-d", "31"], 1),
        (&["-l", "-d", "31"], 1),
        (&["-E", "-d", "31"], 1),
        (&["--split", "-d", "31"], 2),
    ];
    for (args, n) in modes {
        let outs: Vec<_> = (0..n).map(|i| fresh(&dir, &format!("out{i}"))).collect();
        let o = dumpfilter()
            .args(args)
            .arg(&core)
            .args(&outs)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("bad.elf"), "{args:?}: {err}");
        for p in &outs {
            assert!(!p.exists(), "{args:?} left {}", p.display());
        }
    }
}

#[allow(dead_code)]
#[path = "../examples/sparse-core.rs"]
mod sparse_core;

#[test]
fn sparse_6g_core_dump_and_split_are_byte_identical_to_makedumpfile() {
    // Six 1 GiB split blocks, two per file: the partition beyond the 1 GiB fixtures.
    if !have_makedumpfile() {
        return skip("sparse core", "makedumpfile not installed");
    }
    let dir = scratch("cli-sparse-6g");
    let core = dir.join("sparse-6g.elf");
    sparse_core::write_sparse_core(&core, 6).unwrap();
    let ours = fresh(&dir, "ours.kdump");
    let theirs = fresh(&dir, "mk.kdump");
    run_ok(dumpfilter().args(["-d", "31"]).arg(&core).arg(&ours));
    run_ok(
        Command::new("makedumpfile")
            .args(["-d", "31"])
            .arg(&core)
            .arg(&theirs),
    );
    assert_same_file(&ours, &theirs);
    let _ = std::fs::remove_file(&ours);
    let _ = std::fs::remove_file(&theirs);
    assert_split_identical(&dir, &core, "31");
    let _ = std::fs::remove_file(&core);
}

/// The ELF header and program headers of `path`.
fn elf_headers(path: &Path) -> Vec<u8> {
    let b = std::fs::read(path).unwrap();
    let phnum = u16::from_le_bytes([b[56], b[57]]) as usize;
    b[..64 + 56 * phnum].to_vec()
}

#[test]
fn elf_from_a_filtered_dump_keeps_its_exclusions() {
    // Refiltering a -d 31 dump at -d 1 cannot bring back what -d 31 left out: the segments
    // equal those of the -d 0 dump refiltered at -d 31 (the data of the small gaps inside
    // segments differs: zeros where the input has no page).
    for fx in oracle_fixtures_or_skip("dumpfilter -E from a -d 31 dump") {
        let (Some(d0), Some(d31)) = (
            reference(&fx, "d0-lzo", &["-l", "-d", "0"]),
            reference(&fx, "d31-lzo", &["-d", "31", "-l"]),
        ) else {
            continue;
        };
        let dir = scratch(&format!("cli-elf-refilter-{}", fx.name));
        let (a, b) = (fresh(&dir, "from-d31.elf"), fresh(&dir, "from-d0.elf"));
        run_ok(dumpfilter().args(["-E", "-d", "1"]).arg(&d31).arg(&a));
        run_ok(dumpfilter().args(["-E", "-d", "31"]).arg(&d0).arg(&b));
        assert!(
            elf_headers(&a) == elf_headers(&b),
            "program headers of {} and {} differ",
            a.display(),
            b.display()
        );
        assert_eq!(
            std::fs::metadata(&a).unwrap().len(),
            std::fs::metadata(&b).unwrap().len()
        );
    }
}
