//! Write seed inputs for the fuzz targets: `cargo run -p vmcore --example fuzz-seeds -- DIR`
//! creates DIR/elf_core/*, DIR/vmcoreinfo/* and DIR/pagetable_walk/* from synthetic dumps.
use vmcore::testutil::{lockless_ring, ElfBuilder, KernelImage};

fn main() -> std::io::Result<()> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "seeds".into()));
    for sub in ["elf_core", "vmcoreinfo", "pagetable_walk"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    for levels in [4u8, 5] {
        let mut k = KernelImage::new(levels);
        let base = if levels == 5 {
            0xff11_0000_0000_0000
        } else {
            0xffff_8880_0000_0000
        };
        let extra = lockless_ring(&mut k, base, &[(1, b"seed one", 2), (2, b"two\nlines", 2)]);
        std::fs::write(
            dir.join(format!("elf_core/ring-l{levels}")),
            k.to_elf(&extra),
        )?;
        std::fs::write(
            dir.join(format!("vmcoreinfo/ring-l{levels}")),
            k.vmcoreinfo(&extra),
        )?;
        // pagetable_walk: 8 bytes of vaddr, a mode byte, then memory from address 0 (the
        // first 64 KiB of the image, holding no tables; the walk still exercises reads).
        let mut pw = (base + 0xf000).to_le_bytes().to_vec();
        pw.push(u8::from(levels == 5));
        pw.extend(std::iter::repeat_n(0u8, 64));
        std::fs::write(dir.join(format!("pagetable_walk/l{levels}")), pw)?;
    }
    let small = ElfBuilder::new()
        .phoff(192)
        .extended_numbering()
        .load(0x1000, 0, &[1u8; 4096], 3 * 4096)
        .build();
    std::fs::write(dir.join("elf_core/xnum-phoff192"), small)?;
    let e32 = ElfBuilder::new()
        .elf32()
        .load(0, 0, &[2u8; 4096], 4096)
        .build();
    std::fs::write(dir.join("elf_core/elf32"), e32)?;
    Ok(())
}
