//! Write a sparse ELF64 core that claims `GIB` GiB of RAM (default 64), for bounded-memory
//! benchmarks (`cargo xtask bench`): `sparse-core OUT [GIB]`.
//!
//! Built from the test builders the crates already have: vmcore's [`KernelImage`] (5-level
//! page tables, VMCOREINFO naming them), its [`ElfBuilder`] (header, VMCOREINFO note) and
//! page-filter's Linux 6.1 VMCOREINFO keys and mem_section layout
//! ([`page_filter::synthetic`]). Memory is one PT_LOAD over the whole range; only the page
//! tables, the mem_section roots and `init_uts_ns` have data, everything else (struct pages
//! included) is a hole of the file, so every frame is a zero page: at `-d 31` nothing but
//! those few pages is dumped (makedumpfile reads the whole range; `vmcore::PreadFile` skips
//! the holes).

use page_filter::synthetic::{Flavor, MEM_SECTION, VMEMMAP};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use vmcore::testutil::{ElfBuilder, KernelImage};

const PAGE: u64 = 4096;
/// Frames per memory section (SECTION_SIZE_BITS 27).
const PAGES_PER_SECTION: u64 = 1 << 15;
/// `struct mem_section` entries per root page.
const SECTIONS_PER_ROOT: u64 = PAGE / 32;
/// 5-level direct map base: the PT_LOAD's p_vaddr is `PAGE_OFFSET + p_paddr`.
const PAGE_OFFSET: u64 = 0xff11_0000_0000_0000;
/// `init_uts_ns` in the kernel image mapping (physical 0x1800000 with phys_base 0).
const INIT_UTS_NS: u64 = 0xffff_ffff_8180_0000;
const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// Where the struct pages live physically (1 GiB pages; must be a hole of the file).
const VMEMMAP_PHYS_GIB: u64 = 2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or("usage: sparse-core OUT [GIB]")?;
    let gib: u64 = match args.next() {
        Some(g) => g.parse()?,
        None => 64,
    };
    let on_disk = write_sparse_core(Path::new(&out), gib)?;
    println!("{out}: {gib} GiB claimed, {on_disk} bytes of data");
    Ok(())
}

/// Write the core to `out`, claiming `gib` GiB (4..=4096); returns the bytes of data it
/// holds (the rest of the file is a hole).
pub fn write_sparse_core(out: &Path, gib: u64) -> Result<u64, Box<dyn std::error::Error>> {
    if !(4..=4096).contains(&gib) {
        return Err("GIB must be 4..=4096".into());
    }
    let size = gib << 30;
    let frames = size / PAGE;
    let sections = frames.div_ceil(PAGES_PER_SECTION);
    let roots = sections.div_ceil(SECTIONS_PER_ROOT);

    let mut k = KernelImage::new(5);
    // mem_section: the root array in the direct map, each root a page of struct mem_section
    // whose section_mem_map encodes the vmemmap base with PRESENT | HAS_MEM_MAP.
    let root_array = MEM_SECTION - PAGE_OFFSET;
    let roots_phys = 0x2000_0000u64;
    k.map(MEM_SECTION, root_array, PAGE);
    for r in 0..roots {
        let page = roots_phys + r * PAGE;
        k.mem.write_u64(root_array + r * 8, PAGE_OFFSET + page);
        k.map(PAGE_OFFSET + page, page, PAGE);
        for i in 0..SECTIONS_PER_ROOT.min(sections - r * SECTIONS_PER_ROOT) {
            k.mem.write_u64(page + i * 32, VMEMMAP | 0x3);
        }
    }
    // The struct pages (64 bytes a frame) mapped with 1 GiB pages onto a hole: all zero.
    let vmemmap_bytes = frames * 64;
    for g in 0..vmemmap_bytes.div_ceil(1 << 30) {
        k.map(VMEMMAP + (g << 30), (VMEMMAP_PHYS_GIB + g) << 30, 1 << 30);
    }
    // init_uts_ns: makedumpfile checks the release against OSRELEASE.
    let flavor = Flavor::Linux6_1;
    let info = flavor.vmcoreinfo();
    let release = info.get("OSRELEASE").unwrap_or("6.1.0");
    let mut uts = vec![0u8; 6 * 65];
    for (i, f) in ["Linux", "sparse", release, "#1", "x86_64", "(none)"]
        .iter()
        .enumerate()
    {
        uts[i * 65..i * 65 + f.len()].copy_from_slice(f.as_bytes());
    }
    k.mem.write(INIT_UTS_NS - START_KERNEL_MAP, &uts);
    // makedumpfile reads kernel image addresses through the page tables.
    k.map(INIT_UTS_NS, INIT_UTS_NS - START_KERNEL_MAP, PAGE);

    // VMCOREINFO: the page tables (KernelImage) and the 6.1 struct page keys (page-filter).
    let mut extra = String::new();
    for (key, value) in info.iter() {
        if key != "OSRELEASE" && key != "PAGESIZE" {
            extra.push_str(&format!("{key}={value}\n"));
        }
    }
    extra.push_str(&format!(
        "SYMBOL(init_uts_ns)={INIT_UTS_NS:x}\nOFFSET(uts_namespace.name)=0\n"
    ));
    let text =
        k.vmcoreinfo(&extra)
            .replacen("OSRELEASE=6.1.0\n", &format!("OSRELEASE={release}\n"), 1);

    // One PT_LOAD without data from the builder, then given the whole range as file bytes.
    let mut head = ElfBuilder::new()
        .vmcoreinfo(text.as_bytes())
        .load(0, PAGE_OFFSET, &[], size)
        .build();
    let data_off = (head.len() as u64).div_ceil(PAGE) * PAGE;
    let load_ph = 64 + 56; // the PT_NOTE comes first
    head[load_ph + 8..load_ph + 16].copy_from_slice(&data_off.to_le_bytes());
    head[load_ph + 32..load_ph + 40].copy_from_slice(&size.to_le_bytes());
    let mut f = std::fs::File::create(out)?;
    f.write_all(&head)?;
    let mut on_disk = head.len() as u64;
    for (pfn, bytes) in k.mem.runs() {
        f.seek(SeekFrom::Start(data_off + pfn * PAGE))?;
        f.write_all(&bytes)?;
        on_disk += bytes.len() as u64;
    }
    f.set_len(data_off + size)?;
    f.sync_all()?;
    Ok(on_disk)
}
