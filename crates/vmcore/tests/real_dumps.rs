//! Real vmcores (fixtures or the lab's files) checked against the C tools:
//! makedumpfile for the kernel log, python3-libkdumpfile for memory contents.

mod common;

use common::{all_dumps, elf_dumps, have, not_applicable, ran_on, skip};
use std::process::{Command, Stdio};
use vmcore::{Access, PageState, PhysMemory, Vmcore};

#[test]
fn dmesg_is_byte_identical_to_makedumpfile() {
    let dumps = all_dumps();
    if dumps.is_empty() {
        return skip("dmesg", "no vmcore fixture on this machine");
    }
    let mut compared = 0;
    for f in &dumps {
        let vm = Vmcore::open(&f.path).expect("open");
        let ours = vmcore::printk::dmesg(&vm, &Default::default())
            .unwrap_or_else(|e| panic!("{}: {e}", f.path.display()));
        let reference = match &f.dmesg_ref {
            Some(r) => std::fs::read(r).expect("read reference"),
            None => {
                if !have("makedumpfile", "-v") {
                    skip(
                        "dmesg",
                        "makedumpfile not installed and no reference output",
                    );
                    continue;
                }
                let out = std::env::temp_dir().join(format!(
                    "vmcore-test-dmesg-{}-{compared}.txt",
                    std::process::id()
                ));
                let _ = std::fs::remove_file(&out);
                let st = Command::new("makedumpfile")
                    .arg("--dump-dmesg")
                    .arg(&f.path)
                    .arg(&out)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .expect("run makedumpfile");
                if !st.success() {
                    // makedumpfile 1.7.2 cannot parse QEMU 10 dumps (phdrs at 192).
                    not_applicable(
                        "dmesg",
                        f.path.display(),
                        "makedumpfile cannot read it (only the banner is checked)",
                    );
                    assert!(
                        ours.starts_with(b"[    0.000000] Linux version "),
                        "{}: log does not start with the banner",
                        f.path.display()
                    );
                    continue;
                }
                let r = std::fs::read(&out).expect("makedumpfile output");
                let _ = std::fs::remove_file(&out);
                r
            }
        };
        assert!(
            ours == reference,
            "{}: our dmesg ({} bytes) differs from makedumpfile's ({} bytes)",
            f.path.display(),
            ours.len(),
            reference.len()
        );
        eprintln!(
            "dmesg identical: {} ({} bytes)",
            f.path.display(),
            ours.len()
        );
        compared += 1;
    }
    ran_on("dmesg", compared);
}

#[test]
fn init_uts_ns_translates_to_osrelease() {
    let dumps = all_dumps();
    if dumps.is_empty() {
        return skip("uts", "no vmcore fixture on this machine");
    }
    for f in &dumps {
        for access in [Access::Mmap, Access::Pread] {
            let vm = Vmcore::open_with(&f.path, access).expect("open");
            let rel = vm.osrelease().expect("OSRELEASE").to_string();
            assert_eq!(vm.uts_release().expect("translate init_uts_ns"), rel);
            eprintln!(
                "{} ({access:?}): init_uts_ns release {rel}",
                f.path.display()
            );
        }
    }
}

#[test]
fn qemu_dumps_with_phdrs_after_section_headers_read() {
    let dumps: Vec<_> = elf_dumps()
        .into_iter()
        .filter(|f| {
            Vmcore::open(&f.path)
                .ok()
                .and_then(|v| v.elf().map(|e| e.header().phoff))
                == Some(192)
        })
        .collect();
    if dumps.is_empty() {
        return skip("qemu", "no QEMU 10 ELF dump (phdrs at 192) on this machine");
    }
    for f in dumps {
        let vm = Vmcore::open(&f.path).unwrap();
        assert!(vm.vmcoreinfo().is_some(), "QEMU vmcoreinfo note read");
        assert_eq!(vm.uts_release().unwrap(), vm.osrelease().unwrap());
        let log = vmcore::printk::dmesg(&vm, &Default::default()).unwrap();
        assert!(log.starts_with(b"[    0.000000] Linux version "));
        assert!(!vm.prstatus().is_empty());
    }
}

/// Pick sample reads: pages across the whole pfn range (present ones and some holes), and
/// kernel virtual addresses from VMCOREINFO symbols.
fn sample(vm: &Vmcore) -> Vec<(char, u64, usize)> {
    let mut reads = Vec::new();
    let max = vm.max_pfn();
    // ~100 present pages spread over the dump, and ~20 pfns anywhere (holes included).
    let present: Vec<u64> = (0..max).filter(|&p| vm.is_present(p)).collect();
    let step = (present.len() / 101).max(1);
    reads.extend(present.iter().step_by(step).map(|&p| ('p', p * 4096, 4096)));
    let step = (max / 19).max(1);
    reads.extend(
        (0..max)
            .step_by(step as usize)
            .map(|p| ('p', p * 4096, 4096)),
    );
    // Cross a segment boundary and hit a hole / partial page.
    reads.push(('p', 0x9f000, 4096));
    reads.push(('p', 0xa0000, 64));
    let info = vm.vmcoreinfo().unwrap();
    for (name, &addr) in info.symbols() {
        if name.starts_with("kallsyms") {
            continue;
        }
        reads.push(('v', addr, 512));
    }
    reads
}

#[test]
fn pages_and_kernel_addresses_equal_libkdumpfile() {
    if !have("/usr/bin/python3", "-c") {
        return skip("libkdumpfile", "no /usr/bin/python3");
    }
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", "import kdumpfile"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        return skip("libkdumpfile", "python3-libkdumpfile not installed");
    }
    let dumps = all_dumps();
    if dumps.is_empty() {
        return skip("libkdumpfile", "no vmcore fixture on this machine");
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/libkdumpfile_read.py");
    let mut compared = 0;
    for f in dumps {
        let vm = Vmcore::open(&f.path).unwrap();
        let reads = sample(&vm);
        let req = serde_json::json!({
            "path": f.path,
            "reads": reads.iter().map(|(k, a, l)| serde_json::json!([k.to_string(), a, l])).collect::<Vec<_>>(),
        });
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), req.to_string().as_bytes())
            .unwrap();
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "python reader failed");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if let Some(e) = v.get("open_error") {
            not_applicable(
                "libkdumpfile",
                f.path.display(),
                format!("libkdumpfile cannot open it: {e}"),
            );
            continue;
        }
        let theirs: Vec<String> = serde_json::from_value(v).unwrap();
        assert_eq!(theirs.len(), reads.len());
        if theirs.iter().all(|t| t == "ERR") {
            // QEMU's kdump-compressed files name the machine "Unknown"; libkdumpfile
            // then has no address translation and reads nothing.
            not_applicable(
                "libkdumpfile",
                f.path.display(),
                "libkdumpfile reads nothing",
            );
            continue;
        }
        let (mut same, mut both_err) = (0, 0);
        for ((kind, addr, len), t) in reads.iter().zip(&theirs) {
            let mut buf = vec![0u8; *len];
            let r = if *kind == 'p' {
                vm.read_phys(*addr, &mut buf)
            } else {
                vm.read_virt(*addr, &mut buf)
            };
            match (r, t.as_str()) {
                (Ok(()), "ERR") => {
                    // libkdumpfile refuses; we read. Only acceptable if we know the bytes
                    // are really in the file.
                    panic!("{kind} {addr:#x}: we read it, libkdumpfile could not")
                }
                (Ok(()), hex) => {
                    let ours: String = buf.iter().map(|b| format!("{b:02x}")).collect();
                    assert_eq!(ours, hex, "{} {kind} {addr:#x}", f.path.display());
                    same += 1;
                }
                (Err(e), "ERR") => {
                    let _ = e;
                    both_err += 1;
                }
                (Err(e), hex) => {
                    // libkdumpfile zero-fills holes inside a partial page; we refuse.
                    let page = addr & !4095;
                    let state = vm.page_state(page / 4096);
                    assert!(
                        state != PageState::Present || *kind == 'v',
                        "{kind} {addr:#x}: we failed ({e}) but libkdumpfile read {}…",
                        &hex[..16.min(hex.len())]
                    );
                    eprintln!("{kind} {addr:#x}: ours {e}; libkdumpfile read it (page {state:?})");
                }
            }
        }
        eprintln!(
            "{}: {same} reads identical to libkdumpfile, {both_err} refused by both",
            f.path.display()
        );
        assert!(same > 50);
        compared += 1;
    }
    ran_on("libkdumpfile", compared);
}

#[test]
fn mmap_and_pread_read_the_same_pages() {
    let dumps = elf_dumps();
    let Some(f) = dumps.first() else {
        return skip("mmap-vs-pread", "no vmcore fixture on this machine");
    };
    let a = Vmcore::open_with(&f.path, Access::Mmap).unwrap();
    let b = Vmcore::open_with(&f.path, Access::Pread).unwrap();
    assert!(matches!(a.elf().unwrap().data(), vmcore::FileData::Mmap(_)));
    assert!(matches!(
        b.elf().unwrap().data(),
        vmcore::FileData::Pread(_)
    ));
    let (mut x, mut y) = (vec![0u8; 4096], vec![0u8; 4096]);
    let mut n = 0;
    for pfn in (0..a.max_pfn()).step_by(61) {
        let ra = a.read_page(pfn, &mut x);
        let rb = b.read_page(pfn, &mut y);
        assert_eq!(ra.is_ok(), rb.is_ok(), "pfn {pfn:#x}");
        if ra.is_ok() {
            assert_eq!(x, y, "pfn {pfn:#x}");
            n += 1;
        }
    }
    assert!(n > 100);
}

#[test]
fn makedumpfile_outputs_hold_the_pages_of_their_input() {
    let pairs: Vec<_> = all_dumps()
        .into_iter()
        .filter_map(|f| f.original.clone().map(|o| (f.path, o)))
        .collect();
    if pairs.is_empty() {
        return skip(
            "outputs-vs-input",
            "no makedumpfile/QEMU output with its input on this machine",
        );
    }
    for (i, (out, input)) in pairs.iter().enumerate() {
        let k = Vmcore::open(out).unwrap();
        let e = Vmcore::open(input).unwrap();
        let is_elf_output = k.elf().is_some();
        // Every page for the first few files, every 7th page for the rest (time).
        let step = if i < 2 { 1 } else { 29 };
        let (mut a, mut b) = (vec![0u8; 4096], vec![0u8; 4096]);
        let (mut present, mut excluded, mut zero_filled) = (0u64, 0u64, 0u64);
        for pfn in (0..k.max_pfn()).step_by(step) {
            match k.page_state(pfn) {
                PageState::Present => {
                    k.read_page(pfn, &mut a).unwrap();
                    if e.read_page(pfn, &mut b).is_err() {
                        // QEMU's compressed output keeps ROM/VGA ranges the ELF has too;
                        // anything else must be readable in the input.
                        panic!(
                            "{}: pfn {pfn:#x} present but unreadable in {}",
                            out.display(),
                            input.display()
                        );
                    }
                    if a != b {
                        // makedumpfile -E writes excluded runs shorter than 256 pages as zeros.
                        assert!(
                            is_elf_output && a.iter().all(|&x| x == 0),
                            "{}: pfn {pfn:#x} differs from {}",
                            out.display(),
                            input.display()
                        );
                        zero_filled += 1;
                    }
                    present += 1;
                }
                PageState::Excluded => {
                    assert!(matches!(
                        k.read_page(pfn, &mut a),
                        Err(vmcore::Error::Excluded(_))
                    ));
                    excluded += 1;
                }
                PageState::Hole => {
                    assert!(matches!(
                        k.read_page(pfn, &mut a),
                        Err(vmcore::Error::Hole(_))
                    ))
                }
                PageState::Partial => {}
            }
        }
        eprintln!(
            "{}: {present} pages equal to {} ({zero_filled} zero-filled), {excluded} excluded (every {step})",
            out.display(),
            input.display()
        );
        assert!(present * step as u64 > 5000, "{present} pages sampled");
        assert_eq!(k.uts_release().unwrap(), e.osrelease().unwrap());
    }
}

/// makedumpfile's debug output (`-D`), run with `--dump-dmesg` because that is fast.
fn makedumpfile_debug(path: &std::path::Path) -> Option<String> {
    let out = std::env::temp_dir().join(format!("vmcore-test-d-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let o = Command::new("makedumpfile")
        .args(["-D", "--message-level", "31", "--dump-dmesg"])
        .arg(path)
        .arg(&out)
        .output()
        .ok()?;
    let _ = std::fs::remove_file(&out);
    o.status.success().then(|| {
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
    })
}

#[test]
fn info_report_has_makedumpfiles_load_table_and_vmcoreinfo() {
    let Some(f) = elf_dumps()
        .into_iter()
        .find(|f| f.dmesg_ref.is_some() || f.path.ends_with("proc-vmcore.elf"))
    else {
        return skip("info", "no kdump ELF vmcore on this machine");
    };
    if !have("makedumpfile", "-v") {
        return skip("info", "makedumpfile not installed");
    }
    let Some(theirs) = makedumpfile_debug(&f.path) else {
        return skip("info", "makedumpfile -D failed");
    };
    let vm = Vmcore::open(&f.path).unwrap();
    let mut ours = Vec::new();
    vmcore::info::write_info(&vm, &mut ours).unwrap();
    let ours = String::from_utf8(ours).unwrap();
    let wanted: Vec<&str> = theirs
        .lines()
        .filter(|l| {
            l.starts_with("LOAD[")
                || l.contains("phys_start         phys_end")
                || (l.starts_with("  ") && l.as_bytes().get(2).is_some_and(u8::is_ascii_uppercase))
                || l.starts_with("VMCOREINFO   :")
                || l.starts_with("page_size    :")
                || l.starts_with("phys_base    :")
                || l.starts_with("max_mapnr    :")
                || l.starts_with("page_offset  :")
                || l == &"Linux kdump"
        })
        .collect();
    assert!(
        wanted.len() > 100,
        "makedumpfile printed {} lines",
        wanted.len()
    );
    // Same lines, same order.
    let mut rest = ours.as_str();
    for w in &wanted {
        let at = rest
            .find(&format!("{w}\n"))
            .unwrap_or_else(|| panic!("missing or out of order: {w:?}\nours:\n{ours}"));
        rest = &rest[at + w.len()..];
    }
}

#[test]
fn vtop_prints_what_makedumpfile_prints() {
    let Some(f) = elf_dumps()
        .into_iter()
        .find(|f| f.dmesg_ref.is_some() || f.path.ends_with("proc-vmcore.elf"))
    else {
        return skip("vtop", "no kdump ELF vmcore on this machine");
    };
    if !have("makedumpfile", "-v") {
        return skip("vtop", "makedumpfile not installed");
    }
    let vm = Vmcore::open(&f.path).unwrap();
    let info = vm.vmcoreinfo().unwrap();
    let addrs = [
        info.symbol("init_uts_ns").unwrap(),
        info.symbol("mem_section").unwrap(),
        info.symbol("prb").unwrap(),
    ];
    let out = std::env::temp_dir().join(format!("vmcore-test-vtop-{}.x", std::process::id()));
    for a in addrs {
        let _ = std::fs::remove_file(&out);
        let o = Command::new("makedumpfile")
            .args(["-d", "31", "--vtop", &format!("{a:#x}")])
            .arg(&f.path)
            .arg(&out)
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&out);
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        let start = text
            .find("\nTranslating virtual address")
            .expect("makedumpfile --vtop output");
        let block = &text[start..];
        let end = block
            .find("\n\n\n")
            .or_else(|| block.rfind("\n\n"))
            .unwrap();
        let theirs = &block[..end + 2];
        let mut ours = Vec::new();
        let pa = vmcore::info::write_vtop(&vm, a, &mut ours).unwrap();
        let ours = String::from_utf8(ours).unwrap();
        assert_eq!(ours, theirs, "vtop {a:#x}");
        assert_eq!(pa, vm.vtop(a).unwrap());
    }
}

#[test]
fn vmemmap_base_is_makedumpfiles_first_mem_map() {
    let Some(f) = elf_dumps()
        .into_iter()
        .find(|f| f.dmesg_ref.is_some() || f.path.ends_with("proc-vmcore.elf"))
    else {
        return skip("vmemmap", "no kdump ELF vmcore on this machine");
    };
    if !have("makedumpfile", "-v") {
        return skip("vmemmap", "makedumpfile not installed");
    }
    let Some(theirs) = makedumpfile_debug(&f.path) else {
        return skip("vmemmap", "makedumpfile -D failed");
    };
    let line = theirs
        .lines()
        .find(|l| l.starts_with("mem_map[   0] "))
        .expect("makedumpfile prints mem_map[0]");
    let want = u64::from_str_radix(line.split_whitespace().nth(2).unwrap(), 16).unwrap();
    let vm = Vmcore::open(&f.path).unwrap();
    assert_eq!(vm.vmemmap_base().unwrap(), want);
}

/// The cached reader reads the memory map (2 MiB pages) and the direct map one mapping at a
/// time, with the same bytes as the uncached page-by-page read, and walks the page tables
/// once per mapping rather than once per 4 KiB page.
#[test]
fn cached_reader_reads_whole_mappings() {
    let dumps = all_dumps();
    if dumps.is_empty() {
        return skip("cached reader", "no vmcore fixture on this machine");
    }
    let mut checked = 0;
    for f in &dumps {
        let vm = Vmcore::open(&f.path).expect("open");
        let Ok(base) = vm.vmemmap_base() else {
            not_applicable("cached reader", f.path.display(), "no vmemmap");
            continue;
        };
        // 3 MiB of struct pages starting 64 KiB below a 2 MiB boundary: crosses two.
        let start = (base + (4 << 20)) & !((2 << 20) - 1);
        let start = start - (64 << 10);
        let len = 3 << 20;
        let mut uncached = vec![0u8; len];
        vm.read_virt(start, &mut uncached).expect("uncached read");
        let mut r = vm.reader();
        let mut cached = vec![0u8; len];
        r.read_virt(start, &mut cached).expect("cached read");
        assert!(
            cached == uncached,
            "{}: cached read differs",
            f.path.display()
        );
        let (hits, misses) = r.cache_stats();
        let walk = vm.walk(start).expect("walk");
        let size = walk.page_size.max(4096);
        let mappings = ((start & (size - 1)) + len as u64 - 1) / size + 1;
        assert!(
            misses <= mappings,
            "{}: {misses} walks for {len} bytes of {} KiB pages ({hits} hits)",
            f.path.display(),
            walk.page_size >> 10
        );
        eprintln!(
            "cached reader: {}: {len} bytes in {misses} walks ({} KiB pages)",
            f.path.display(),
            walk.page_size >> 10
        );
        checked += 1;
    }
    ran_on("cached reader", checked);
}
