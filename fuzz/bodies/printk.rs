//! Body of the `printk` fuzz target: kernel log records from fuzzed kernel memory.
//!
//! The first input byte is a mode (bit 0: legacy `log_buf` instead of the lockless ring
//! buffer, bit 1: print caller ids); the rest is physical memory from 0x10000 on, visible at
//! [`BASE`] + physical address through a 1 GiB direct-map page. VMCOREINFO with Linux 6.1's
//! structure offsets ([`VMCOREINFO_RING`], or [`VMCOREINFO_LEGACY`]) puts the symbols at the
//! start of that memory:
//!
//! - ring buffer: `prb` (a pointer to the `struct printk_ringbuffer`) at 0x10000, `clear_seq`
//!   (a `struct latched_seq`, 24 bytes) at 0x10008;
//! - legacy: `log_buf` (pointer) at 0x10000, `log_buf_len` (u32) at 0x10008, `log_first_idx`
//!   at 0x1000c, `log_next_idx` at 0x10010.
//!
//! The kernel log is read in full and from `clear_seq` (`--partial-dmesg`).
//!
//! Shared by fuzz/fuzz_targets/printk.rs, crates/vmcore/tests/fuzz_regressions.rs and the seed
//! generator fuzz/examples/seeds.rs (which lays real ring buffers out this way).

use vmcore::testutil::MemImage;

/// Kernel virtual address of physical 0 (the x86-64 4-level direct map).
pub const BASE: u64 = 0xffff_8880_0000_0000;
/// Physical address of the first fuzzed byte (after the mode byte).
pub const PHYS: u64 = 0x10000;

/// The lockless ring buffer's VMCOREINFO entries (Linux 6.1's offsets and sizes, as the
/// 6.1 and 6.12 fixtures have them), `prb` at [`PHYS`], `clear_seq` at [`PHYS`] + 8.
pub const VMCOREINFO_RING: &str = "SYMBOL(prb)=ffff888000010000
SYMBOL(clear_seq)=ffff888000010008
OFFSET(printk_ringbuffer.desc_ring)=0
OFFSET(printk_ringbuffer.text_data_ring)=48
OFFSET(prb_desc_ring.count_bits)=0
OFFSET(prb_desc_ring.descs)=8
OFFSET(prb_desc_ring.infos)=16
OFFSET(prb_desc_ring.head_id)=24
OFFSET(prb_desc_ring.tail_id)=32
SIZE(prb_desc)=24
OFFSET(prb_desc.state_var)=0
OFFSET(prb_desc.text_blk_lpos)=8
OFFSET(prb_data_blk_lpos.begin)=0
OFFSET(prb_data_blk_lpos.next)=8
SIZE(printk_info)=88
OFFSET(printk_info.seq)=0
OFFSET(printk_info.ts_nsec)=8
OFFSET(printk_info.text_len)=16
OFFSET(printk_info.caller_id)=20
OFFSET(prb_data_ring.size_bits)=0
OFFSET(prb_data_ring.data)=8
OFFSET(atomic_long_t.counter)=0
SIZE(latched_seq)=24
OFFSET(latched_seq.val)=8
";

/// The legacy `log_buf` VMCOREINFO entries (`struct printk_log` of 3.5 to 5.9).
pub const VMCOREINFO_LEGACY: &str = "SYMBOL(log_buf)=ffff888000010000
SYMBOL(log_buf_len)=ffff888000010008
SYMBOL(log_first_idx)=ffff88800001000c
SYMBOL(log_next_idx)=ffff888000010010
SIZE(printk_log)=16
OFFSET(printk_log.ts_nsec)=0
OFFSET(printk_log.len)=8
OFFSET(printk_log.text_len)=10
";

/// The dump the target reads: `memory` at [`PHYS`], mapped at [`BASE`] + physical address,
/// with VMCOREINFO for the ring buffer or (if `legacy`) `log_buf`.
pub fn vmcore(memory: &[u8], legacy: bool) -> vmcore::Vmcore {
    let mut mem = MemImage::new();
    // PGD at 0x1000, PUD at 0x2000 mapping BASE..BASE+1G to physical 0 with a 1 GiB page.
    mem.write_u64(0x1000 + ((BASE >> 39) & 511) * 8, 0x2000 | 0x63);
    mem.write_u64(0x2000 + ((BASE >> 30) & 511) * 8, 0xe3);
    mem.write(PHYS, memory);
    let log = if legacy {
        VMCOREINFO_LEGACY
    } else {
        VMCOREINFO_RING
    };
    let info = format!("SYMBOL(init_top_pgt)=ffffffff80001000\nNUMBER(phys_base)=0\n{log}");
    vmcore::Vmcore::from_source_with_info(Box::new(mem), info.as_bytes())
}

/// Run one input; true if the whole kernel log was read and held at least one record.
pub fn run(data: &[u8]) -> bool {
    let Some((&mode, rest)) = data.split_first() else {
        return false;
    };
    let vm = vmcore(rest, mode & 1 != 0);
    let mut full = false;
    for partial in [false, true] {
        let opts = vmcore::printk::DmesgOptions {
            caller_id: mode & 2 != 0,
            partial,
        };
        if let Ok(log) = vmcore::printk::dmesg(&vm, &opts) {
            full |= !partial && !log.is_empty();
        }
    }
    full
}
