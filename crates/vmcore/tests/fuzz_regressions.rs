//! The fuzz targets' properties (fuzz/fuzz_targets/{elf_core,vmcoreinfo,pagetable_walk}.rs)
//! over every input that once failed (fuzz/regressions/<target>/) and the committed seeds
//! (fuzz/corpus/<target>/): no panic, and the seeds made from real dumps parse.

use vmcore::testutil::MemImage;
use vmcore::PhysMemory;

#[path = "../../../fuzz/regression_inputs.rs"]
mod regression_inputs;
use regression_inputs::inputs;

#[test]
fn elf_core() {
    let mut parsed = 0;
    for (_, data) in inputs("elf_core") {
        let Ok(vm) = vmcore::Vmcore::from_bytes(data.to_vec()) else {
            continue;
        };
        parsed += 1;
        let mut page = vec![0u8; 4096];
        for pfn in 0..vm.max_pfn().min(32) {
            let _ = vm.page_state(pfn);
            let _ = vm.read_page(pfn, &mut page);
        }
        let _ = vm.prstatus();
        let _ = vm.uts_release();
        let _ = vmcore::printk::dmesg(&vm, &Default::default());
        let _ = vmcore::info::write_info(&vm, &mut std::io::sink());
        let _ = vmcore::info::write_vtop(&vm, 0xffff_ffff_8100_0000, &mut std::io::sink());
    }
    assert!(parsed >= 1, "no elf_core seed parsed");
}

#[test]
fn vmcoreinfo() {
    let mut versions = 0;
    for (_, data) in inputs("vmcoreinfo") {
        let info = vmcore::VmcoreInfo::parse(&data);
        if info.kernel_version().is_some() {
            versions += 1;
        }
        for (k, _) in info.entries() {
            let _ = info.get(k);
        }
        let _ = vmcore::x86_64::X86_64::new(&info, &[]);
    }
    assert!(versions >= 1, "no vmcoreinfo seed has a kernel version");
}

#[test]
fn pagetable_walk() {
    for (_, data) in inputs("pagetable_walk") {
        if data.len() < 9 {
            continue;
        }
        let vaddr = u64::from_le_bytes(data[..8].try_into().unwrap());
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
    }
}
