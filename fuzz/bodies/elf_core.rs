//! Body of the `elf_core` fuzz target: any bytes as an ELF core (or kdump-compressed file):
//! parsing, page reads, notes, translation, the kernel log and the info report return
//! errors, never panic.
//!
//! Shared by fuzz/fuzz_targets/elf_core.rs and crates/vmcore/tests/fuzz_regressions.rs.

use vmcore::PhysMemory;

/// Run one input; true if it opened as a dump.
pub fn run(data: &[u8]) -> bool {
    let Ok(vm) = vmcore::Vmcore::from_bytes(data.to_vec()) else {
        return false;
    };
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
    true
}
