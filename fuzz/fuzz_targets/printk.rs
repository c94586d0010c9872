#![no_main]
//! Printk records from fuzzed kernel memory: the bytes are physical memory from 0x10000 on,
//! visible through a 1 GiB direct-map page; VMCOREINFO (6.1's offsets) points the printk
//! ring buffer (or, if the first byte is odd, the legacy log_buf) into them.
use libfuzzer_sys::fuzz_target;
use vmcore::testutil::MemImage;

const BASE: u64 = 0xffff_8880_0000_0000;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut mem = MemImage::new();
    // PGD at 0x1000, PUD at 0x2000 mapping BASE..BASE+1G to physical 0 with a 1 GiB page.
    mem.write_u64(0x1000 + ((BASE >> 39) & 511) * 8, 0x2000 | 0x63);
    mem.write_u64(0x2000 + ((BASE >> 30) & 511) * 8, 0xe3);
    mem.write(0x10000, rest);
    let common = "SYMBOL(init_top_pgt)=ffffffff80001000\nNUMBER(phys_base)=0\n";
    let log = if mode & 1 == 0 {
        format!(
            "SYMBOL(prb)={:x}\nOFFSET(printk_ringbuffer.desc_ring)=0\nOFFSET(printk_ringbuffer.text_data_ring)=48\n\
OFFSET(prb_desc_ring.count_bits)=0\nOFFSET(prb_desc_ring.descs)=8\nOFFSET(prb_desc_ring.infos)=16\n\
OFFSET(prb_desc_ring.head_id)=24\nOFFSET(prb_desc_ring.tail_id)=32\nSIZE(prb_desc)=24\n\
OFFSET(prb_desc.state_var)=0\nOFFSET(prb_desc.text_blk_lpos)=8\nOFFSET(prb_data_blk_lpos.begin)=0\n\
OFFSET(prb_data_blk_lpos.next)=8\nSIZE(printk_info)=88\nOFFSET(printk_info.seq)=0\n\
OFFSET(printk_info.ts_nsec)=8\nOFFSET(printk_info.text_len)=16\nOFFSET(printk_info.caller_id)=20\n\
OFFSET(prb_data_ring.size_bits)=0\nOFFSET(prb_data_ring.data)=8\nOFFSET(atomic_long_t.counter)=0\n\
SYMBOL(clear_seq)={:x}\nSIZE(latched_seq)=24\nOFFSET(latched_seq.val)=8\n",
            BASE + 0x10000,
            BASE + 0x10008
        )
    } else {
        format!(
            "SYMBOL(log_buf)={:x}\nSYMBOL(log_buf_len)={:x}\nSYMBOL(log_first_idx)={:x}\n\
SYMBOL(log_next_idx)={:x}\nSIZE(printk_log)=16\nOFFSET(printk_log.ts_nsec)=0\n\
OFFSET(printk_log.len)=8\nOFFSET(printk_log.text_len)=10\n",
            BASE + 0x10000,
            BASE + 0x10008,
            BASE + 0x1000c,
            BASE + 0x10010
        )
    };
    let info = format!("{common}{log}");
    let vm = vmcore::Vmcore::from_source_with_info(Box::new(mem), info.as_bytes());
    for partial in [false, true] {
        let opts = vmcore::printk::DmesgOptions { caller_id: mode & 2 != 0, partial };
        let _ = vmcore::printk::dmesg(&vm, &opts);
    }
});
