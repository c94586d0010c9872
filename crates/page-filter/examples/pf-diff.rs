//! Explain where our bitmap 2 and a makedumpfile output's differ, frame by frame, from the
//! kernel's own struct page data.
//!
//! `pf-diff VMCORE LEVEL REFERENCE.kdump`
//!
//! Prints, for the frames only one side dumps, how many are slab, hugetlb, anonymous THP,
//! anonymous, buddy, or other (head's page_type, mapping bit 0, compound order), with a few
//! examples.

use std::collections::BTreeMap;

use page_filter::{vmcore_inputs, DumpLevel, FilterConfig, KernelRules, PageFilter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 3 {
        return Err("usage: pf-diff VMCORE LEVEL REFERENCE.kdump".into());
    }
    let dump = vmcore::Vmcore::open(&args[0])?;
    let level = DumpLevel::new(args[1].parse()?)?;
    let data = std::fs::read(&args[2])?;
    let i32_at = |o: usize| i32::from_le_bytes(data[o..o + 4].try_into().unwrap_or([0; 4]));
    let bs = i32_at(428) as usize;
    let sub = i32_at(432) as usize;
    let blocks = i32_at(436) as usize;
    let start = (1 + sub) * bs + blocks * bs / 2;
    let theirs = data
        .get(start..start + blocks * bs / 2)
        .ok_or("reference file too short")?;

    let (info, _) = vmcore_inputs(&dump)?;
    let rules = KernelRules::from_vmcoreinfo(&info)?;
    let mut f = PageFilter::from_vmcore(&dump, FilterConfig::new(level))?;
    let runs = f.mem_map_table()?;
    let mut ours = Vec::new();
    while let Some(w) = f.next_window()? {
        ours.extend_from_slice(w.bitmap2);
    }
    let mut reader = dump.reader();
    let mut read_page = |pfn: u64| -> Option<[u8; 64]> {
        let r = runs
            .iter()
            .find(|r| r.start_pfn <= pfn && pfn < r.end_pfn)?;
        let mut b = [0u8; 64];
        reader
            .read_virt(r.mem_map? + (pfn - r.start_pfn) * 64, &mut b)
            .ok()?;
        Some(b)
    };
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap_or([0; 4]));
    let slab = rules.slab_type;
    let hugetlb = match rules.hugetlb {
        page_filter::HugetlbTest::PageType(t) => Some(t),
        _ => None,
    };
    let mut cats: BTreeMap<(&str, String), u64> = BTreeMap::new();
    let mut examples: BTreeMap<(&str, String), Vec<u64>> = BTreeMap::new();
    for (i, (&a, &b)) in ours.iter().zip(theirs).enumerate() {
        if a == b {
            continue;
        }
        for j in 0..8 {
            let (x, y) = ((a >> j) & 1, (b >> j) & 1);
            if x == y {
                continue;
            }
            let pfn = (i * 8 + j) as u64;
            let side = if x == 1 {
                "kept only by us"
            } else {
                "kept only by makedumpfile"
            };
            let Some(p) = read_page(pfn) else {
                *cats.entry((side, "unreadable".into())).or_default() += 1;
                continue;
            };
            let ch = u64_at(&p, 8);
            let (head_pfn, head) = if ch & 1 != 0 {
                let hp = runs
                    .iter()
                    .find_map(|r| {
                        let m = r.mem_map?;
                        let a = ch - 1;
                        (a >= m && a < m + (r.end_pfn - r.start_pfn) * 64)
                            .then(|| r.start_pfn + (a - m) / 64)
                    })
                    .unwrap_or(pfn);
                (hp, read_page(hp).unwrap_or(p))
            } else {
                (pfn, p)
            };
            let order = if head_pfn + 1 < f.max_pfn() && u64_at(&head, 0) & rules.head_mask != 0 {
                read_page(head_pfn + 1).map_or(0, |n| u64_at(&n, 0) & 0xff)
            } else {
                0
            };
            let ptype = u32_at(&head, 48);
            let kind = if slab.is_some_and(|t| t.matches(ptype))
                || u64_at(&head, 0) & rules.slab_flag != 0
            {
                "slab"
            } else if hugetlb.is_some_and(|t| t.matches(ptype)) {
                "hugetlb"
            } else if u64_at(&head, 24) & 1 != 0 && order > 0 {
                "anonymous THP"
            } else if u64_at(&head, 24) & 1 != 0 {
                "anonymous"
            } else {
                "other"
            };
            let key = (
                side,
                format!(
                    "{kind:<14} {} page_type {ptype:#010x} mapping&1={} order {order}",
                    if head_pfn == pfn {
                        "head/single"
                    } else {
                        "tail       "
                    },
                    u64_at(&head, 24) & 1
                ),
            );
            *cats.entry(key.clone()).or_default() += 1;
            let ex = examples.entry(key).or_default();
            if ex.len() < 3 {
                ex.push(pfn);
            }
        }
    }
    if cats.is_empty() {
        println!("bitmap 2 identical at level {}", level.bits());
    }
    for (k, n) in &cats {
        println!(
            "{:<26} {:>7}  {}  e.g. {:x?}",
            k.0,
            n,
            k.1,
            examples.get(k).cloned().unwrap_or_default()
        );
    }
    Ok(())
}
