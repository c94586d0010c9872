//! Print a kdump-compressed file's header, sub-header and page counts; with a second file,
//! compare every page of the two.
use kdump_compressed::read::{Bitmap, KdumpFile, PageState};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: kdump-info FILE [OTHER]");
        std::process::exit(2);
    };
    let f = KdumpFile::open(path)?;
    println!("{:#?}", f.header());
    println!("{:#?}", f.sub_header());
    println!(
        "max_mapnr {} dumped {} flattened {} incomplete {}",
        f.max_mapnr(),
        f.dumped_pages(),
        f.is_flattened(),
        f.is_incomplete()
    );
    let valid = f.iter_bitmap(Bitmap::Valid).count();
    println!("bitmap1 set {valid}");
    if let Some(other) = args.get(1) {
        let g = KdumpFile::open(other)?;
        let mut a = vec![0u8; f.page_size()];
        let mut b = vec![0u8; g.page_size()];
        let (mut same, mut diff) = (0u64, 0u64);
        for pfn in 0..f.max_mapnr().max(g.max_mapnr()) {
            let sa = f.read_page(pfn, &mut a)?;
            let sb = g.read_page(pfn, &mut b)?;
            if sa != sb || (sa == PageState::Data && a != b) {
                if diff < 5 {
                    println!("pfn {pfn:#x}: {sa:?} vs {sb:?}");
                }
                diff += 1;
            } else if sa == PageState::Data {
                same += 1;
            }
        }
        println!("identical data pages {same}, differing {diff}");
    }
    Ok(())
}
