//! Body of the `pagetable_walk` fuzz target: page-table walks over a fuzzed physical memory
//! image. The first 9 bytes choose the virtual address and the paging mode (bit 0: 5-level,
//! bit 1: SME mask), the rest is physical memory from address 0 (the top-level table at 0).
//! Walks end with a translation or an error, never loop or panic.
//!
//! Shared by fuzz/fuzz_targets/pagetable_walk.rs and crates/vmcore/tests/fuzz_regressions.rs.

use vmcore::testutil::MemImage;

/// Run one input; true if the address translated.
pub fn run(data: &[u8]) -> bool {
    let Some((head, memory)) = data.split_first_chunk::<9>() else {
        return false;
    };
    let vaddr = u64::from_le_bytes([
        head[0], head[1], head[2], head[3], head[4], head[5], head[6], head[7],
    ]);
    let l5 = head[8] & 1;
    let sme = if head[8] & 2 != 0 { 1u64 << 47 } else { 0 };
    let mut mem = MemImage::new();
    mem.write(0, memory);
    let info = format!(
        "SYMBOL(init_top_pgt)=ffffffff80000000\nNUMBER(phys_base)=0\nNUMBER(pgtable_l5_enabled)={l5}\nNUMBER(sme_mask)={sme}\n"
    );
    let vm = vmcore::Vmcore::from_source_with_info(Box::new(mem), info.as_bytes());
    let translated = vm.walk(vaddr).is_ok();
    let mut buf = [0u8; 64];
    let _ = vm.read_virt(vaddr, &mut buf);
    let mut r = vm.reader();
    let _ = r.read_virt(vaddr, &mut buf);
    let _ = r.read_virt(vaddr.wrapping_add(4000), &mut buf);
    translated
}
