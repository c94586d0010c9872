#![no_main]
//! Page-table walks over a fuzzed physical memory image: the first 9 bytes choose the
//! virtual address and the paging mode, the rest is physical memory from address 0 (the
//! top-level table at 0). Walks end with a translation or an error, never loop or panic.
use libfuzzer_sys::fuzz_target;
use vmcore::testutil::MemImage;

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let vaddr = u64::from_le_bytes(data[..8].try_into().unwrap_or([0; 8]));
    let l5 = data[8] & 1;
    let sme = if data[8] & 2 != 0 { 1u64 << 47 } else { 0 };
    let mut mem = MemImage::new();
    mem.write(0, &data[9..]);
    let info = format!(
        "SYMBOL(init_top_pgt)=ffffffff80000000\nNUMBER(phys_base)=0\nNUMBER(pgtable_l5_enabled)={l5}\nNUMBER(sme_mask)={sme}\n"
    );
    let vm = vmcore::Vmcore::from_source_with_info(Box::new(mem), info.as_bytes());
    let _ = vm.walk(vaddr);
    let mut buf = [0u8; 64];
    let _ = vm.read_virt(vaddr, &mut buf);
    let mut r = vm.reader();
    let _ = r.read_virt(vaddr, &mut buf);
    let _ = r.read_virt(vaddr.wrapping_add(4000), &mut buf);
});
