//! On real 6.1 vmcores: bitmap 2 and every statistic equal makedumpfile 1.7.2's, at dump
//! levels 0, 1, 2, 4, 8, 16 and 31.
//!
//! Inputs, first found wins:
//! 1. the fixtures manifest (`$KDUMP_RS_FIXTURES/manifest.json`, default
//!    `~/.cache/kdump-rs/fixtures/manifest.json`): every 6.1 fixture's `dN-lzo` references;
//! 2. `PF_VMCORE=<elf vmcore>` and `PF_REF_DIR=<dir>`, and/or `PF_REFS=VMCORE=DIR[,VMCORE=DIR]`,
//!    each DIR holding `dN.kdump` + `dN.log` made with
//!    `makedumpfile -l -d N --message-level 31 VMCORE dN.kdump > dN.log 2>&1`.
//!
//! Without either, the test skips (`test_skip`: a failure under `KDUMP_RS_NO_SKIP=1`, as in
//! `cargo xtask test`).

use std::path::{Path, PathBuf};

use page_filter::{is_zero_page, DumpLevel, FilterConfig, PageFilter, Stats};
use vmcore::PhysMemory;

const LEVELS: [u8; 7] = [0, 1, 2, 4, 8, 16, 31];

struct Case {
    name: String,
    meminfo: Option<PathBuf>,
    vmcore: PathBuf,
    level: u8,
    kdump: PathBuf,
    log: PathBuf,
}

fn manifest_cases() -> Result<Vec<Case>, String> {
    manifest_cases_for("6.1")
}

fn manifest_cases_for(series: &str) -> Result<Vec<Case>, String> {
    let dir = match std::env::var_os("KDUMP_RS_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").ok_or("HOME unset")?)
            .join(".cache/kdump-rs/fixtures"),
    };
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("no fixtures manifest at {}: {e}", path.display()))?;
    let m: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for f in m["fixtures"].as_array().into_iter().flatten() {
        if f["series"].as_str() != Some(series) {
            continue;
        }
        let Some(vm) = f["vmcore_for_makedumpfile"].as_str() else {
            continue;
        };
        for r in f["references"].as_array().into_iter().flatten() {
            let Some(name) = r["name"].as_str() else {
                continue;
            };
            let Some(level) = name
                .strip_prefix('d')
                .and_then(|n| n.strip_suffix("-lzo"))
                .and_then(|n| n.parse::<u8>().ok())
            else {
                continue;
            };
            let (Some(p), Some(log)) = (r["path"].as_str(), r["log"].as_str()) else {
                continue;
            };
            out.push(Case {
                meminfo: f["meminfo"].as_str().map(|m| dir.join(m)),
                name: format!("{}/{name}", f["name"].as_str().unwrap_or("?")),
                vmcore: dir.join(vm),
                level,
                kdump: dir.join(p),
                log: dir.join(log),
            });
        }
    }
    if out.is_empty() {
        return Err(format!(
            "{} lists no {series} dN-lzo references",
            path.display()
        ));
    }
    Ok(out)
}

fn env_cases() -> Result<Vec<Case>, String> {
    let mut pairs: Vec<(PathBuf, PathBuf)> = Vec::new();
    if let (Some(vm), Some(dir)) = (
        std::env::var_os("PF_VMCORE"),
        std::env::var_os("PF_REF_DIR"),
    ) {
        pairs.push((vm.into(), dir.into()));
    }
    if let Some(list) = std::env::var_os("PF_REFS") {
        for item in list.to_string_lossy().split(',').filter(|s| !s.is_empty()) {
            let (vm, dir) = item
                .split_once('=')
                .ok_or_else(|| format!("PF_REFS item {item:?} is not VMCORE=DIR"))?;
            pairs.push((vm.into(), dir.into()));
        }
    }
    if pairs.is_empty() {
        return Err("neither PF_VMCORE+PF_REF_DIR nor PF_REFS set".into());
    }
    Ok(pairs
        .iter()
        .flat_map(|(vm, dir)| {
            LEVELS.iter().map(move |&l| Case {
                meminfo: None,
                name: format!(
                    "{}/d{l}",
                    dir.file_name().unwrap_or_default().to_string_lossy()
                ),
                vmcore: vm.clone(),
                level: l,
                kdump: dir.join(format!("d{l}.kdump")),
                log: dir.join(format!("d{l}.log")),
            })
        })
        .filter(|c| c.kdump.exists() && c.log.exists())
        .collect())
}

/// makedumpfile's report, parsed from its log.
fn parse_report(log: &str) -> Stats {
    let get = |label: &str| -> u64 {
        log.split(['\n', '\r'])
            .filter_map(|l| l.trim().strip_prefix(label))
            .filter_map(|r| r.trim_start().strip_prefix(':'))
            .filter_map(|v| u64::from_str_radix(v.trim().trim_start_matches("0x"), 16).ok())
            .next()
            .unwrap_or_else(|| panic!("no '{label}' in makedumpfile's log"))
    };
    Stats {
        zero: get("Pages filled with zero"),
        cache: get("Non-private cache pages"),
        cache_private: get("Private cache pages"),
        user: get("User process data pages"),
        free: get("Free pages"),
        hwpoison: get("Hwpoison pages"),
        offline: get("Offline pages"),
        memory_hole: get("Memory Hole"),
        total: get("Total pages"),
        ..Stats::default()
    }
}

/// Bitmap 2 of a kdump-compressed file and its max_mapnr.
fn reference_bitmap2(path: &Path) -> (Vec<u8>, u64) {
    let data = std::fs::read(path).expect("reference file");
    let i32_at = |o: usize| i32::from_le_bytes(data[o..o + 4].try_into().unwrap());
    let u32_at = |o: usize| u32::from_le_bytes(data[o..o + 4].try_into().unwrap());
    assert_eq!(&data[..8], b"KDUMP   ");
    let bs = i32_at(428) as usize;
    let sub = i32_at(432) as usize;
    let blocks = u32_at(436) as usize;
    let max_mapnr = u64::from(u32_at(440));
    let start = (1 + sub) * bs + blocks * bs / 2;
    (data[start..start + blocks * bs / 2].to_vec(), max_mapnr)
}

#[test]
fn bitmaps_and_stats_equal_makedumpfile_on_6_1() {
    let cases = match manifest_cases() {
        Ok(c) => c,
        Err(why) => match env_cases() {
            Ok(c) if !c.is_empty() => c,
            Ok(_) => {
                return test_skip::skip(
                    "bitmaps_and_stats_equal_makedumpfile_on_6_1",
                    format!("{why}; PF_REF_DIR has no dN.kdump/dN.log pairs"),
                );
            }
            Err(why2) => {
                return test_skip::skip(
                    "bitmaps_and_stats_equal_makedumpfile_on_6_1",
                    format!("{why}; and {why2}"),
                );
            }
        },
    };
    println!(
        "{:<28} {:>5} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>9} {:>7} {:>8}  bitmap2",
        "case",
        "level",
        "zero",
        "cache",
        "private",
        "user",
        "free",
        "hwpoison+off",
        "remaining",
        "holes",
        "total"
    );
    let mut opened: Option<(PathBuf, vmcore::Vmcore)> = None;
    for c in &cases {
        if opened.as_ref().is_none_or(|(p, _)| p != &c.vmcore) {
            let v = vmcore::Vmcore::open(&c.vmcore).expect("open vmcore");
            opened = Some((c.vmcore.clone(), v));
        }
        let Some((_, dump)) = opened.as_ref() else {
            unreachable!()
        };
        let level = DumpLevel::new(c.level).unwrap();
        let mut f = PageFilter::from_vmcore(dump, FilterConfig::new(level)).expect("filter");
        let mut ours = Vec::new();
        let mut zero = 0u64;
        let mut page = vec![0u8; 4096];
        while let Some(w) = f.next_window().expect("window") {
            ours.extend_from_slice(w.bitmap2);
            if level.has(DumpLevel::ZERO) {
                // What the writer does while copying: test every dumped page's content.
                for pfn in w.dumped_pfns() {
                    if dump.read_page(pfn, &mut page).is_ok() && is_zero_page(&page) {
                        zero += 1;
                    }
                }
            }
        }
        let mut stats = *f.stats();
        stats.zero = zero;
        let (theirs, max_mapnr) = reference_bitmap2(&c.kdump);
        assert_eq!(f.max_pfn(), max_mapnr, "{}: max pfn", c.name);
        let n = ours.len();
        let differing = ours
            .iter()
            .zip(&theirs[..n])
            .filter(|(a, b)| a != b)
            .count();
        assert!(
            theirs[n..].iter().all(|&b| b == 0),
            "{}: reference bitmap has bits past max pfn",
            c.name
        );
        let want = parse_report(&std::fs::read_to_string(&c.log).expect("log"));
        println!(
            "{:<28} {:>5} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>9} {:>7} {:>8}  {}",
            c.name,
            c.level,
            stats.zero,
            stats.cache,
            stats.cache_private,
            stats.user,
            stats.free,
            stats.hwpoison + stats.offline,
            stats.remaining(),
            stats.memory_hole,
            stats.total,
            if differing == 0 {
                "identical".to_string()
            } else {
                format!("{differing} bytes differ")
            }
        );
        assert_eq!(differing, 0, "{}: bitmap 2 differs", c.name);
        let mut want_cmp = want;
        want_cmp.present = stats.present;
        want_cmp.unreadable_struct_pages = 0;
        assert_eq!(stats, want_cmp, "{}: statistics", c.name);
    }
}

/// `/proc/meminfo` values in pages (4 KiB), by field name.
fn meminfo_pages(path: &Path) -> std::collections::BTreeMap<String, u64> {
    let text = std::fs::read_to_string(path).expect("meminfo");
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let mut it = v.split_whitespace();
            let n: u64 = it.next()?.parse().ok()?;
            let pages = if it.next() == Some("kB") { n / 4 } else { n };
            Some((k.trim().to_string(), pages))
        })
        .collect()
}

fn within(ours: u64, kernel: u64, pct: u64) -> bool {
    ours.abs_diff(kernel) <= kernel * pct / 100 + 16
}

/// On 6.12, makedumpfile 1.7.2 predates the page_type encodings; the kernel's struct pages and
/// /proc/meminfo decide. Every frame where our bitmap 2 differs from 1.7.2's must be explained:
/// kept only by us = slab (6.10+ page_type; 1.7.2 takes slab with mapping bit 0 for anonymous);
/// kept only by 1.7.2 = hugetlb (6.9+ page_type) or a tail of an anonymous THP (1.7.2 finds no
/// compound order on 6.12). The counts must agree with the kernel's own accounting.
#[test]
fn on_6_12_differences_from_makedumpfile_are_the_documented_ones() {
    let cases = match manifest_cases_for("6.12") {
        Ok(c) => c,
        Err(why) => {
            return test_skip::skip(
                "on_6_12_differences_from_makedumpfile_are_the_documented_ones",
                why,
            );
        }
    };
    let mut opened: Option<(PathBuf, vmcore::Vmcore)> = None;
    for c in &cases {
        if opened.as_ref().is_none_or(|(p, _)| p != &c.vmcore) {
            opened = Some((
                c.vmcore.clone(),
                vmcore::Vmcore::open(&c.vmcore).expect("open"),
            ));
        }
        let Some((_, dump)) = opened.as_ref() else {
            unreachable!()
        };
        let level = DumpLevel::new(c.level).unwrap();
        let (info, _) = page_filter::vmcore_inputs(dump).unwrap();
        let rules = page_filter::KernelRules::from_vmcoreinfo(&info).unwrap();
        let slab = rules
            .slab_type
            .expect("6.12 exports PAGE_SLAB_MAPCOUNT_VALUE");
        let page_filter::HugetlbTest::PageType(hugetlb) = rules.hugetlb else {
            panic!("6.12 exports PAGE_HUGETLB_MAPCOUNT_VALUE")
        };
        let mut f = PageFilter::from_vmcore(dump, FilterConfig::new(level)).unwrap();
        let runs = f.mem_map_table().unwrap();
        let mut ours = Vec::new();
        while let Some(w) = f.next_window().unwrap() {
            ours.extend_from_slice(w.bitmap2);
        }
        let stats = *f.stats();
        let (theirs, _) = reference_bitmap2(&c.kdump);
        let mut reader = dump.reader();
        let mut page = |pfn: u64| -> [u8; 64] {
            let r = runs
                .iter()
                .find(|r| r.start_pfn <= pfn && pfn < r.end_pfn)
                .expect("run");
            let mut b = [0u8; 64];
            reader
                .read_virt(
                    r.mem_map.expect("mem_map") + (pfn - r.start_pfn) * 64,
                    &mut b,
                )
                .expect("struct page");
            b
        };
        let u64_at = |b: &[u8; 64], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        let u32_at = |b: &[u8; 64], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        let (mut only_ours_slab, mut only_theirs_huge, mut only_theirs_thp_tail) = (0, 0, 0);
        for (i, (&a, &b)) in ours.iter().zip(&theirs).enumerate() {
            for j in 0..8 {
                let (x, y) = ((a >> j) & 1, (b >> j) & 1);
                if x == y {
                    continue;
                }
                let pfn = (i * 8 + j) as u64;
                let p = page(pfn);
                let tail = u64_at(&p, 8) & 1 != 0;
                let head_pfn = if tail {
                    let base = runs
                        .iter()
                        .find(|r| r.start_pfn <= pfn && pfn < r.end_pfn)
                        .and_then(|r| r.mem_map.map(|m| (m, r.start_pfn)))
                        .unwrap();
                    // vmemmap: struct pages are virtually contiguous across sections.
                    (u64_at(&p, 8) - 1 - base.0) / 64 + base.1
                } else {
                    pfn
                };
                let head = page(head_pfn);
                let ptype = u32_at(&head, 48);
                if x == 1 {
                    assert!(
                        slab.matches(ptype),
                        "{}: pfn {pfn:#x} kept only by us is not slab",
                        c.name
                    );
                    only_ours_slab += 1;
                } else if hugetlb.matches(ptype) {
                    only_theirs_huge += 1;
                } else {
                    assert!(
                        tail && u64_at(&head, 24) & 1 != 0,
                        "{}: pfn {pfn:#x} kept only by makedumpfile is neither hugetlb nor a THP tail",
                        c.name
                    );
                    only_theirs_thp_tail += 1;
                }
            }
        }
        let m = meminfo_pages(c.meminfo.as_deref().expect("fixture meminfo"));
        let huge = m["HugePages_Total"] * (m["Hugepagesize"]);
        println!(
            "{:<22} level {:>2}: only ours (slab) {only_ours_slab}, only 1.7.2: hugetlb {only_theirs_huge}, THP tails {only_theirs_thp_tail}; \
             ours cache {} free {} user {} | meminfo Cached {} MemFree {} AnonPages+Hugetlb {}",
            c.name,
            c.level,
            stats.cache,
            stats.free,
            stats.user,
            m["Cached"],
            m["MemFree"],
            m["AnonPages"] + huge
        );
        if level.has(DumpLevel::USER) {
            assert_eq!(
                only_theirs_huge, huge,
                "{}: every hugetlb frame is user data",
                c.name
            );
            assert!(
                within(stats.user, m["AnonPages"] + huge, 2),
                "{}: user",
                c.name
            );
            // THP tails: all of AnonHugePages except the heads 1.7.2 did catch.
            let thp = m["AnonHugePages"];
            assert!(
                within(only_theirs_thp_tail, thp - thp / 512, 2),
                "{}: THP tails",
                c.name
            );
        } else {
            assert_eq!(
                (only_ours_slab, only_theirs_huge, only_theirs_thp_tail),
                (0, 0, 0),
                "{}: without bit 8, identical to 1.7.2",
                c.name
            );
        }
        if level.bits() & (DumpLevel::CACHE | DumpLevel::CACHE_PRIVATE) != 0 {
            assert!(within(stats.cache, m["Cached"], 2), "{}: cache", c.name);
        }
        if level.has(DumpLevel::FREE) {
            assert!(within(stats.free, m["MemFree"], 2), "{}: free", c.name);
        }
    }
}
