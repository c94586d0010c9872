//! Body of the `struct_page` fuzz target: random struct page bytes (and random VMCOREINFO
//! text) through the page filter: no panic, no runaway allocation, and the counts stay
//! consistent with the bitmaps.
//!
//! Shared by fuzz/fuzz_targets/struct_page.rs and crates/page-filter/tests/fuzz_regressions.rs.

use std::sync::{Arc, OnceLock};

use page_filter::synthetic::{Flavor, SyntheticDump};
use page_filter::{DumpLevel, FilterConfig, KernelRules, PageFilter, VmcoreInfo};

/// The flavor's VMCOREINFO, parsed and as text, made once (building and parsing it took a
/// third of the time per input).
fn flavor_info(flavor: Flavor) -> &'static (VmcoreInfo, String) {
    static CACHE: [OnceLock<(VmcoreInfo, String)>; 2] = [OnceLock::new(), OnceLock::new()];
    let i = usize::from(flavor != Flavor::Linux6_1);
    CACHE[i].get_or_init(|| {
        let info = flavor.vmcoreinfo();
        let mut t = String::new();
        for (k, v) in info.iter() {
            t.push_str(k);
            t.push('=');
            t.push_str(v);
            t.push('\n');
        }
        (info, t)
    })
}

/// Run one input; true if the page filter ran over the image to the end.
pub fn run(data: &[u8]) -> bool {
    if data.len() < 4 {
        return false;
    }
    let (head, body) = data.split_at(4);
    let flavor = if head[0] & 1 == 0 {
        Flavor::Linux6_1
    } else {
        Flavor::Linux6_12
    };
    let level = DumpLevel::new(head[1] & 31).unwrap_or_default();

    if head[0] & 2 != 0 {
        // VMCOREINFO text: the flavor's, with the fuzz bytes appended as extra lines
        // (first occurrence wins, so they only add keys) or replacing it entirely.
        let text = String::from_utf8_lossy(body);
        let info = if head[0] & 4 != 0 {
            VmcoreInfo::parse(&text)
        } else {
            VmcoreInfo::parse(&(text.into_owned() + "\n" + &flavor_info(flavor).1))
        };
        if let Ok(rules) = KernelRules::from_vmcoreinfo(&info) {
            let sp = rules.offsets.size;
            let page = vec![0xa5u8; sp];
            let _ = rules.classify(level, 0, &page, Some(&page));
            let _ = rules.classify(level, 1, &page[..sp / 2], None);
        }
        return false;
    }

    // Struct pages straight from the fuzz bytes, cycled over a small image with a hole. At
    // most 272 frames: one window and one memory section whatever the count, so more frames
    // would only repeat the same struct pages (at 16 times the cost per input).
    let bytes: Arc<Vec<u8>> = Arc::new(body.to_vec());
    let frames = 1 + u64::from(head[2]) + u64::from(head[3] & 0x0f);
    let hole = u64::from(head[3]) % frames;
    let ranges = [(0, hole), (hole + (u64::from(head[2]) & 7), frames + 8)];
    let b = Arc::clone(&bytes);
    let dump = SyntheticDump::generated(
        flavor,
        &ranges,
        move |pfn, out| {
            if b.is_empty() {
                return;
            }
            // out[i] = b[(pfn * out.len() + i) % b.len()], a slice copy at a time.
            let mut at = (pfn as usize).wrapping_mul(out.len()) % b.len();
            let mut done = 0;
            while done < out.len() {
                let n = (b.len() - at).min(out.len() - done);
                out[done..done + n].copy_from_slice(&b[at..at + n]);
                done += n;
                at = 0;
            }
        },
        |pfn| pfn % 3 == 0,
    );
    let info = &flavor_info(flavor).0;
    let r = dump.ranges().to_vec();
    let mut config = FilterConfig::new(level);
    config.exclude_zero_pages = head[0] & 8 != 0;
    config.bitmap_budget = if head[0] & 16 != 0 { 1 } else { 1 << 20 };
    let Ok(mut f) = PageFilter::new(dump, info, &r, config) else {
        return false;
    };
    let mut dumped = 0u64;
    let mut present = 0u64;
    loop {
        match f.next_window() {
            Ok(Some(w)) => {
                dumped += w.dumped_count();
                present += w
                    .bitmap1
                    .iter()
                    .map(|b| u64::from(b.count_ones()))
                    .sum::<u64>();
                for (a, b) in w.bitmap1.iter().zip(w.bitmap2) {
                    assert_eq!(b & !a, 0, "bitmap 2 only where bitmap 1");
                }
            }
            Ok(None) => break,
            Err(_) => return false,
        }
    }
    let s = f.stats();
    assert_eq!(present, s.present);
    assert_eq!(present - dumped, s.excluded());
    true
}
