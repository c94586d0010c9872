//! Quick look at a dump: `cargo run -p vmcore --example vmcore-smoke -- FILE`.
use vmcore::PhysMemory;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: vmcore-smoke FILE")?;
    let vm = vmcore::Vmcore::open(&path)?;
    println!("max_pfn {:#x} page_size {}", vm.max_pfn(), vm.page_size());
    println!("osrelease {:?}", vm.osrelease());
    println!("x86_64 {:?}", vm.x86_64());
    println!("uts release {:?}", vm.uts_release());
    for p in vm.prstatus() {
        println!(
            "cpu {} pid {} rip {:#x} rsp {:#x}",
            p.index,
            p.pid,
            p.regs.rip(),
            p.regs.rsp()
        );
    }
    let d = vmcore::printk::dmesg(&vm, &Default::default())?;
    std::io::Write::write_all(&mut std::fs::File::create("/tmp/vmc4/ours.txt")?, &d)?;
    println!("dmesg {} bytes", d.len());
    Ok(())
}
