//! `dump-diff A B`: compare the pages of two kdump-compressed dumps (plain or flattened).
//! Prints one line `both=N only_a=N only_b=N differ=N incomplete_a=0|1 incomplete_b=0|1` and
//! exits 0 when no page present in both differs, 1 when one does, 2 on an error.

use kdump_compressed::read::{Bitmap, KdumpFile, PageState};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [a, b] = args.as_slice() else {
        eprintln!("usage: dump-diff A B");
        return ExitCode::from(2);
    };
    match run(a, b) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("dump-diff: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(a: &str, b: &str) -> Result<bool, String> {
    let fa = KdumpFile::open(a).map_err(|e| format!("{a}: {e}"))?;
    let fb = KdumpFile::open(b).map_err(|e| format!("{b}: {e}"))?;
    if fa.page_size() != fb.page_size() {
        return Err("page sizes differ".into());
    }
    let ps = fa.page_size();
    let (mut both, mut only_a, mut only_b, mut differ) = (0u64, 0u64, 0u64, 0u64);
    let mut first_diff = None;
    let mut ba = vec![0u8; ps];
    let mut bb = vec![0u8; ps];
    let end = fa.max_mapnr().max(fb.max_mapnr());
    let dumped_b = |pfn: u64| fb.bit(Bitmap::Dumped, pfn).unwrap_or(false);
    for pfn in fa.iter_bitmap(Bitmap::Dumped) {
        let pfn = pfn.map_err(|e| format!("{a}: {e}"))?;
        if !dumped_b(pfn) {
            only_a += 1;
            continue;
        }
        let sa = fa
            .read_page(pfn, &mut ba)
            .map_err(|e| format!("{a}: pfn {pfn:#x}: {e}"))?;
        let sb = fb
            .read_page(pfn, &mut bb)
            .map_err(|e| format!("{b}: pfn {pfn:#x}: {e}"))?;
        if sa == PageState::Data && sb == PageState::Data {
            both += 1;
            if ba != bb {
                differ += 1;
                first_diff.get_or_insert(pfn);
            }
        }
    }
    for pfn in fb.iter_bitmap(Bitmap::Dumped) {
        let pfn = pfn.map_err(|e| format!("{b}: {e}"))?;
        if pfn < end && !fa.bit(Bitmap::Dumped, pfn).unwrap_or(false) {
            only_b += 1;
        }
    }
    println!(
        "both={both} only_a={only_a} only_b={only_b} differ={differ} incomplete_a={} incomplete_b={}{}",
        u8::from(fa.is_incomplete()),
        u8::from(fb.is_incomplete()),
        first_diff.map_or(String::new(), |p| format!(" first_diff_pfn={p:#x}"))
    );
    Ok(differ == 0)
}
