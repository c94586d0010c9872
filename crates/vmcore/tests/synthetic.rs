//! Synthetic dumps: every ELF layout the reader must accept, malformed input, page-table
//! walks and both kernel log formats, built in memory.

use proptest::prelude::*;
use vmcore::testutil::{ElfBuilder, MemImage};
use vmcore::{Error, PageState, PhysMemory, Vmcore};

fn pages(n: usize, seed: u8) -> Vec<u8> {
    (0..n * 4096)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn phdrs_after_section_headers_like_qemu_10() {
    let img = ElfBuilder::new()
        .phoff(192)
        .load(0, 0, &pages(2, 1), 8192)
        .build();
    let vm = Vmcore::from_bytes(img).unwrap();
    assert_eq!(vm.elf().unwrap().header().phoff, 192);
    let mut b = [0u8; 16];
    vm.read_phys(4096 + 8, &mut b).unwrap();
    assert_eq!(b[..], pages(2, 1)[4096 + 8..4096 + 24]);
}

#[test]
fn extended_numbering_elf64_and_elf32() {
    for elf32 in [false, true] {
        let mut b = ElfBuilder::new()
            .extended_numbering()
            .vmcoreinfo(b"PAGESIZE=4096\n");
        if elf32 {
            b = b.elf32();
        }
        let img = b
            .load(0x2000, 0, &pages(1, 2), 4096)
            .load(0x5000, 0, &pages(1, 3), 4096)
            .build();
        let vm = Vmcore::from_bytes(img).unwrap();
        let e = vm.elf().unwrap();
        assert_eq!(e.header().phnum, 3, "elf32={elf32}");
        assert_eq!(e.loads().len(), 2);
        assert_eq!(vm.max_pfn(), 6);
        assert_eq!(vm.page_state(5), PageState::Present);
        assert_eq!(vm.page_state(3), PageState::Hole);
        assert!(vm.vmcoreinfo().is_some());
    }
}

#[test]
fn memsz_tail_is_excluded_not_zero() {
    let img = ElfBuilder::new()
        .load(0x10000, 0, &pages(2, 4), 5 * 4096)
        .build();
    let vm = Vmcore::from_bytes(img).unwrap();
    assert_eq!(vm.max_pfn(), 0x15);
    assert_eq!(vm.page_state(0x11), PageState::Present);
    assert_eq!(vm.page_state(0x12), PageState::Excluded);
    assert_eq!(vm.page_state(0x14), PageState::Excluded);
    assert_eq!(vm.page_state(0x15), PageState::Hole);
    let mut b = vec![0u8; 4096];
    assert!(matches!(
        vm.read_page(0x12, &mut b),
        Err(Error::Excluded(0x12000))
    ));
    // A read that starts in dumped memory and runs into the tail fails at the boundary.
    let mut b = vec![0u8; 8];
    assert!(matches!(
        vm.read_phys(0x11ffc, &mut b),
        Err(Error::Excluded(0x12000))
    ));
    assert!(matches!(
        vm.read_phys(0x15000, &mut b),
        Err(Error::Hole(0x15000))
    ));
}

#[test]
fn reads_cross_adjacent_segments_and_stop_at_holes() {
    let img = ElfBuilder::new()
        .load(0x1000, 0, &pages(1, 5), 4096)
        .load(0x2000, 0, &pages(1, 6), 4096)
        .load(0x4000, 0, &pages(1, 7), 4096)
        .build();
    let vm = Vmcore::from_bytes(img).unwrap();
    let mut b = vec![0u8; 4096];
    vm.read_phys(0x1800, &mut b).unwrap();
    assert_eq!(b[..2048], pages(1, 5)[2048..]);
    assert_eq!(b[2048..], pages(1, 6)[..2048]);
    assert!(matches!(
        vm.read_phys(0x2800, &mut b),
        Err(Error::Hole(0x3000))
    ));
}

#[test]
fn kernel_text_segment_overlapping_the_direct_map() {
    // /proc/vmcore: kernel text PT_LOAD first (paddr inside RAM), then the RAM PT_LOAD.
    let ram = pages(8, 9);
    let text = ram[3 * 4096..5 * 4096].to_vec();
    let img = ElfBuilder::new()
        .load(0x3000, 0xffff_ffff_8100_0000, &text, text.len() as u64)
        .load(0, 0xffff_8880_0000_0000, &ram, ram.len() as u64)
        .build();
    let vm = Vmcore::from_bytes(img).unwrap();
    let r = vm.elf().unwrap().ranges();
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(vm.max_pfn(), 8);
    let mut b = vec![0u8; 8 * 4096];
    vm.read_phys(0, &mut b).unwrap();
    assert_eq!(b, ram);
}

#[test]
fn truncated_files_give_errors_not_panics() {
    let img = ElfBuilder::new()
        .vmcoreinfo(b"OSRELEASE=6.1.0\nPAGESIZE=4096\n")
        .load(0, 0, &pages(2, 1), 8192)
        .build();
    for cut in 0..img.len() {
        let t = img[..cut].to_vec();
        if let Ok(vm) = Vmcore::from_bytes(t) {
            let mut b = vec![0u8; 4096];
            for pfn in 0..3 {
                let _ = vm.read_page(pfn, &mut b);
            }
            // A truncated data area is a read error, not zeros.
            if cut < img.len() - 4096 {
                assert!(vm.read_page(1, &mut b).is_err(), "cut {cut}");
            }
        }
    }
}

#[test]
fn absurd_headers_are_rejected() {
    let img = ElfBuilder::new()
        .extended_numbering()
        .load(0, 0, &pages(1, 1), 4096)
        .build();
    // sh_info of section 0 (at 64 + 44) = 0xffffffff program headers.
    let mut bad = img.clone();
    bad[64 + 44..64 + 48].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        Vmcore::from_bytes(bad),
        Err(Error::MalformedElf { .. })
    ));
    // e_phoff far past the end.
    let mut bad = img.clone();
    bad[32..40].copy_from_slice(&(u64::MAX - 10).to_le_bytes());
    assert!(matches!(
        Vmcore::from_bytes(bad),
        Err(Error::Truncated { .. })
    ));
    // p_filesz > p_memsz.
    let img = ElfBuilder::new().load(0, 0, &pages(1, 1), 4096).build();
    let mut bad = img.clone();
    bad[64 + 40..64 + 48].copy_from_slice(&1u64.to_le_bytes());
    assert!(matches!(
        Vmcore::from_bytes(bad),
        Err(Error::MalformedElf { .. })
    ));
    // Not an ELF file at all.
    assert!(matches!(
        Vmcore::from_bytes(b"NOTADUMPxxxxxxxx".to_vec()),
        Err(Error::UnknownFormat(_))
    ));
    // A kdump-compressed signature with a truncated header: the backend's error.
    assert!(matches!(
        Vmcore::from_bytes(b"KDUMP   xxxxxxxx".to_vec()),
        Err(Error::Compressed(_))
    ));
    assert!(Vmcore::from_bytes(Vec::new()).is_err());
}

#[test]
fn prstatus_registers() {
    let mut desc = vec![0u8; 336];
    desc[32..36].copy_from_slice(&1234i32.to_le_bytes());
    for i in 0..27u64 {
        let at = 112 + 8 * i as usize;
        desc[at..at + 8].copy_from_slice(&(0x1000 + i).to_le_bytes());
    }
    let img = ElfBuilder::new()
        .note(b"CORE", 1, &desc)
        .note(b"CORE", 1, &desc)
        .build();
    let vm = Vmcore::from_bytes(img).unwrap();
    let p = vm.prstatus();
    assert_eq!(p.len(), 2);
    assert_eq!(p[1].index, 1);
    assert_eq!(p[0].pid, 1234);
    assert_eq!(p[0].regs.get("r15"), Some(0x1000));
    assert_eq!(p[0].regs.rip(), 0x1010);
    assert_eq!(p[0].regs.rsp(), 0x1013);
    assert_eq!(p[0].regs.get("gs"), Some(0x1000 + 26));
}

// ---- page tables ----------------------------------------------------------------------

const ROOT: u64 = vmcore::testutil::KERNEL_ROOT;
type Tables = vmcore::testutil::KernelImage;

#[test]
fn walks_4k_2m_1g_pages_in_both_paging_modes() {
    for levels in [4u8, 5] {
        let mut t = Tables::new(levels);
        let base = if levels == 5 {
            0xff11_0000_0000_0000
        } else {
            0xffff_8880_0000_0000
        };
        t.map(base + 0x1000, 0x7000, 4096);
        t.map(base + 0x4020_0000, 0x0060_0000, 2 << 20);
        t.map(base + 0x8000_0000, 0x4000_0000, 1 << 30);
        t.mem.write(0x7000 + 0x10, b"hello");
        t.mem.write(0x0060_0000 + 0x1234, b"two meg");
        t.mem.write(0x4000_0000 + 0x12_3456, b"one gig");
        let vm = t.vmcore("");
        let x = vm.x86_64().unwrap();
        assert_eq!(x.levels, levels);
        assert_eq!(vm.vtop(base + 0x1010).unwrap(), 0x7010);
        let w = vm.walk(base + 0x4020_1234).unwrap();
        assert_eq!((w.paddr, w.page_size), (0x0060_1234, 2 << 20));
        assert_eq!(w.steps().len(), levels as usize - 1);
        let w = vm.walk(base + 0x8012_3456).unwrap();
        assert_eq!((w.paddr, w.page_size), (0x4012_3456, 1 << 30));
        let mut b = [0u8; 7];
        vm.read_virt(base + 0x4020_1234, &mut b).unwrap();
        assert_eq!(&b, b"two meg");
        vm.read_virt(base + 0x8012_3456, &mut b).unwrap();
        assert_eq!(&b, b"one gig");
        let mut r = vm.reader();
        let mut b = [0u8; 5];
        r.read_virt(base + 0x1010, &mut b).unwrap();
        r.read_virt(base + 0x1010, &mut b).unwrap();
        assert_eq!(&b, b"hello");
        assert_eq!(r.cache_stats(), (1, 1));
        // Unmapped address: the error names the address and the level.
        let e = vm.vtop(base + 0x2000).unwrap_err();
        assert!(
            matches!(e, Error::NotPresent { vaddr, level: "PTE", .. } if vaddr == base + 0x2000),
            "{e}"
        );
        assert!(e.to_string().contains(&format!("{:#x}", base + 0x2000)));
        // The trace keeps every entry read, the non-present PTE included.
        let (steps, r) = x.walk_trace(vm.dump(), base + 0x2000);
        assert!(r.is_err());
        assert_eq!(steps.len(), levels as usize);
        assert_eq!(steps.last().unwrap().level, "PTE");
        let mut out = Vec::new();
        assert!(vmcore::info::write_vtop(&vm, base + 0x2000, &mut out).is_err());
        assert_eq!(
            String::from_utf8_lossy(&out).matches(" => ").count(),
            levels as usize
        );
        // Non-canonical.
        assert!(matches!(
            vm.vtop(0x8000_0000_0000_0000),
            Err(Error::NonCanonical(_))
        ));
    }
}

#[test]
fn page_table_loop_is_an_error() {
    let mut t = Tables::new(4);
    // PGD entry 0x110 points back at the PGD itself; PUD entry (index from the same
    // table) then points at the same page again.
    let v = 0xffff_8880_0000_0000u64;
    let idx = (v >> 39) & 0x1ff;
    t.mem.write_u64(ROOT + idx * 8, ROOT | 0x63);
    let vm = t.vmcore("");
    let e = vm.vtop(v).unwrap_err();
    assert!(matches!(e, Error::PageTableLoop { table: ROOT, .. }), "{e}");
}

#[test]
fn sme_mask_is_removed_from_entries() {
    let mut t = Tables::new(4);
    let v = 0xffff_8880_0000_5000u64;
    t.map(v, 0x9000, 4096);
    // Set the C-bit (bit 47) in every entry on the path.
    let sme = 1u64 << 47;
    let mut table = ROOT;
    for s in [39u32, 30, 21, 12] {
        let (addr, e) = t.entry(table, (v >> s) & 0x1ff);
        t.mem.write_u64(addr, e | sme);
        table = e & 0x000f_ffff_ffff_f000;
    }
    let vm = t.vmcore(&format!("NUMBER(sme_mask)={sme}\n"));
    assert_eq!(vm.vtop(v).unwrap(), 0x9000);
}

#[test]
fn walk_into_a_hole_names_the_level() {
    let mut t = Tables::new(4);
    let v = 0xffff_8880_0000_5000u64;
    let idx = (v >> 39) & 0x1ff;
    t.mem.write_u64(ROOT + idx * 8, 0x7777_0000 | 0x63); // PUD table not in the dump
    let vm = t.vmcore("");
    let e = vm.vtop(v).unwrap_err();
    assert!(matches!(&e, Error::Walk { level: "PUD", .. }), "{e}");
}

// ---- kernel log ---------------------------------------------------------------------

use vmcore::testutil::lockless_ring;

#[test]
fn lockless_ring_formats_like_makedumpfile() {
    let mut t = Tables::new(4);
    let base = 0xffff_8880_0000_0000;
    let extra = lockless_ring(
        &mut t,
        base,
        &[
            (0, b"Linux version 6.1", 2),
            (1_500_000_000, b"two\nlines\tand tab", 2),
            (2_000_000, b"skipped: reserved", 0),
            (
                12_345_678_901,
                b"bad \x01 byte \xc3 high and a long enough text to wrap the ring",
                1,
            ),
        ],
    );
    let vm = t.vmcore(&extra);
    let out = vmcore::printk::dmesg(&vm, &Default::default()).unwrap();
    let want = "[    0.000000] Linux version 6.1\n\
[    1.500000] two\n               lines\tand tab\n\
[   12.345678] bad \\x01 byte \\xffffffc3 high and a long enough text to wrap the ring\n";
    assert_eq!(String::from_utf8_lossy(&out), want);
    let opts = vmcore::printk::DmesgOptions {
        caller_id: true,
        partial: false,
    };
    let out = vmcore::printk::dmesg(&vm, &opts).unwrap();
    assert!(
        String::from_utf8_lossy(&out).starts_with("[    0.000000] [     C42] Linux"),
        "{}",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn partial_dmesg_starts_at_clear_seq() {
    let mut t = Tables::new(4);
    let base = 0xffff_8880_0000_0000;
    let extra = lockless_ring(
        &mut t,
        base,
        &[
            (1_000, b"cleared", 2),
            (2_000_000, b"kept", 2),
            (3_000_000, b"kept too", 2),
        ],
    );
    // latched_seq at 0x10040: sequence counter 0 selects val[0] = 1 (the second record).
    t.mem.write_u64(0x10040, 0);
    t.mem.write_u64(0x10048, 1);
    let info = format!(
        "{extra}SYMBOL(clear_seq)={:x}\nSIZE(latched_seq)=24\nOFFSET(latched_seq.val)=8\n",
        base + 0x10040
    );
    let vm = t.vmcore(&info);
    let opts = vmcore::printk::DmesgOptions {
        caller_id: false,
        partial: true,
    };
    let out = vmcore::printk::dmesg(&vm, &opts).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out),
        "[    0.002000] kept\n[    0.003000] kept too\n"
    );
    let all = vmcore::printk::dmesg(&vm, &Default::default()).unwrap();
    assert!(String::from_utf8_lossy(&all).starts_with("[    0.000001] cleared\n"));
}

#[test]
fn lockless_ring_with_absurd_ids_stops() {
    let mut t = Tables::new(4);
    let base = 0xffff_8880_0000_0000;
    let extra = lockless_ring(&mut t, base, &[(0, b"a", 2), (1, b"b", 2)]);
    t.mem.write_u64(0x10018, 0x3fff_ffff_ffff_ffff); // head_id far ahead of tail_id
    let vm = t.vmcore(&extra);
    assert!(matches!(
        vmcore::printk::dmesg(&vm, &Default::default()),
        Err(Error::Printk(_))
    ));
}

#[test]
fn legacy_log_buf() {
    let mut t = Tables::new(4);
    let base = 0xffff_8880_0000_0000u64;
    for p in 0x20..0x22u64 {
        t.mem.set_page(p, &[]);
        t.map(base + p * 4096, p * 4096, 4096);
    }
    // Variables at 0x20000: log_buf (pointer), log_buf_len, log_first_idx, log_next_idx.
    let buf = 0x21000u64;
    t.mem.write_u64(0x20000, base + buf);
    t.mem.write(0x20008, &256u32.to_le_bytes());
    // struct printk_log: ts_nsec u64, len u16, text_len u16, dict_len u16, facility, flags.
    let rec = |ts: u64, text: &[u8]| {
        let len = (16 + text.len() + 7) & !7;
        let mut r = vec![0u8; len];
        r[..8].copy_from_slice(&ts.to_le_bytes());
        r[8..10].copy_from_slice(&(len as u16).to_le_bytes());
        r[10..12].copy_from_slice(&(text.len() as u16).to_le_bytes());
        r[16..16 + text.len()].copy_from_slice(text);
        r
    };
    // Records at 200 ("late", then a wrap marker at 224) and 0 ("wrapped").
    let a = rec(3_000_000_000, b"late");
    let b = rec(4_000_000_000, b"wrapped");
    t.mem.write(buf + 200, &a);
    t.mem.write(buf, &b);
    t.mem.write(0x2000c, &200u32.to_le_bytes());
    t.mem.write(0x20010, &(b.len() as u32).to_le_bytes());
    let extra = format!(
        "SYMBOL(log_buf)={:x}\nSYMBOL(log_buf_len)={:x}\nSYMBOL(log_first_idx)={:x}\nSYMBOL(log_next_idx)={:x}\n\
SIZE(printk_log)=16\nOFFSET(printk_log.ts_nsec)=0\nOFFSET(printk_log.len)=8\nOFFSET(printk_log.text_len)=10\n",
        base + 0x20000,
        base + 0x20008,
        base + 0x2000c,
        base + 0x20010
    );
    let vm = t.vmcore(&extra);
    let out = vmcore::printk::dmesg(&vm, &Default::default()).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out),
        "[    3.000000] late\n[    4.000000] wrapped\n"
    );
}

// ---- VMCOREINFO ---------------------------------------------------------------------

#[test]
fn vmcoreinfo_values_as_the_kernel_writes_them() {
    let i = vmcore::VmcoreInfo::parse(
        b"OSRELEASE=6.12.57+deb12-amd64\nPAGESIZE=4096\nCRASHTIME=1795666638\nKERNELOFFSET=1d600000\n\
BUILD-ID=eb4f\nSYMBOL(init_uts_ns)=ffffffffa01fb000\nNUMBER(phys_base)=-113246208\n\
NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=0xf0000000\nSIZE(page)=64\nOFFSET(page.flags)=0\nLENGTH(mem_section)=262144\n\
garbage line\nNUMBER(bad)=12x\n\0\0\0",
    );
    assert_eq!(i.osrelease.as_deref(), Some("6.12.57+deb12-amd64"));
    assert_eq!(i.kernel_version(), Some((6, 12, 57)));
    assert_eq!(i.page_size, Some(4096));
    assert_eq!(i.crash_time, Some(1795666638));
    assert_eq!(i.kernel_offset, Some(0x1d600000));
    assert_eq!(i.build_id.as_deref(), Some("eb4f"));
    assert_eq!(i.symbol("init_uts_ns"), Some(0xffffffffa01fb000));
    assert_eq!(i.number("phys_base"), Some(-113246208));
    assert_eq!(i.number("PAGE_BUDDY_MAPCOUNT_VALUE"), Some(0xf0000000));
    assert_eq!(i.size("page"), Some(64));
    assert_eq!(i.offset("page.flags"), Some(0));
    assert_eq!(i.length("mem_section"), Some(262144));
    assert_eq!(i.number("bad"), None);
    assert_eq!(i.get("NUMBER(bad)"), Some("12x"));
    assert_eq!(i.entries().len(), 12);
}

proptest! {
    #[test]
    fn vmcoreinfo_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = vmcore::VmcoreInfo::parse(&bytes);
    }

    #[test]
    fn vmcoreinfo_numbers_round_trip(v in any::<i64>(), hex in any::<u64>(), sym in any::<u64>()) {
        let text = format!("NUMBER(a)={v}\nNUMBER(b)={hex:#x}\nSYMBOL(s)={sym:x}\n");
        let i = vmcore::VmcoreInfo::parse(text.as_bytes());
        prop_assert_eq!(i.number("a"), Some(v));
        prop_assert_eq!(i.number("b"), Some(hex as i64));
        prop_assert_eq!(i.symbol("s"), Some(sym));
    }

    #[test]
    fn mutated_elf_cores_never_panic(
        edits in proptest::collection::vec((0usize..400, any::<u8>()), 1..12),
        cut in 0usize..20000,
    ) {
        let mut img = ElfBuilder::new()
            .vmcoreinfo(b"OSRELEASE=6.1.0\nPAGESIZE=4096\nSYMBOL(init_top_pgt)=ffffffff82000000\nSYMBOL(prb)=ffffffff83000000\n")
            .load(0x1000, 0xffff_8880_0000_1000, &pages(2, 3), 3 * 4096)
            .load(0x800, 0xffff_ffff_8100_0000, &pages(1, 4), 4096)
            .build();
        for (at, b) in edits {
            if at < img.len() { img[at] = b; }
        }
        img.truncate(cut.max(1).min(img.len()));
        if let Ok(vm) = Vmcore::from_bytes(img) {
            let mut b = vec![0u8; 4096];
            for pfn in 0..vm.max_pfn().min(64) {
                let _ = vm.page_state(pfn);
                let _ = vm.read_page(pfn, &mut b);
            }
            let _ = vm.uts_release();
            let _ = vmcore::printk::dmesg(&vm, &Default::default());
            let _ = vm.prstatus();
        }
    }

    #[test]
    fn page_table_walks_over_random_memory_end(
        words in proptest::collection::vec((0u64..4096, any::<u64>()), 0..200),
        vaddr in any::<u64>(),
        l5 in any::<bool>(),
    ) {
        let mut mem = MemImage::new();
        for (i, (slot, w)) in words.iter().enumerate() {
            // Scatter words over a few pages, biased to look like present entries
            // pointing into those same pages.
            let page = (i % 4) as u64 + 0x2000;
            let v = if i % 3 == 0 { (w & 0x3000) | 0x0200_0000 | 1 } else { *w };
            mem.write_u64(page * 4096 + (slot & 511) * 8, v);
        }
        let info = format!("SYMBOL(init_top_pgt)=ffffffff82000000\nNUMBER(phys_base)=0\nNUMBER(pgtable_l5_enabled)={}\n", u8::from(l5));
        let vm = Vmcore::from_source_with_info(Box::new(mem), info.as_bytes());
        let _ = vm.vtop(vaddr);
        let mut b = [0u8; 64];
        let _ = vm.read_virt(vaddr, &mut b);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn corrupted_printk_rings_give_errors_or_text(
        edits in proptest::collection::vec((0x10000u64..0x16000, any::<u64>()), 1..40),
        caller_id in any::<bool>(),
        partial in any::<bool>(),
    ) {
        let mut t = Tables::new(4);
        let base = 0xffff_8880_0000_0000;
        let extra = lockless_ring(
            &mut t,
            base,
            &[(0, b"first", 2), (5, b"second\nline", 2), (9, b"third", 1)],
        );
        for (at, v) in edits {
            t.mem.write_u64(at & !7, v);
        }
        let vm = t.vmcore(&format!("{extra}SYMBOL(clear_seq)={:x}\n", base + 0x10040));
        let opts = vmcore::printk::DmesgOptions { caller_id, partial };
        if let Ok(out) = vmcore::printk::dmesg(&vm, &opts) {
            // At most one line per descriptor (8) plus continuation lines.
            prop_assert!(out.len() < 8 * (65536 * 9 + 64));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    /// Absurd VMCOREINFO values (huge, negative, hex) for every key the log and the
    /// translation use: errors, never overflow panics.
    #[test]
    fn absurd_vmcoreinfo_values_are_errors(
        values in proptest::collection::vec(
            prop_oneof![Just(i64::MAX), Just(i64::MIN), Just(-1i64), 0i64..100, any::<i64>()],
            40,
        ),
    ) {
        let mut t = Tables::new(4);
        let base = 0xffff_8880_0000_0000;
        let extra = lockless_ring(&mut t, base, &[(0, b"x", 2)]);
        let mut info = String::new();
        for (line, v) in extra.lines().zip(&values) {
            let key = line.split('=').next().unwrap();
            if key.starts_with("SYMBOL") {
                info.push_str(&format!("{key}={:x}\n", *v as u64));
            } else {
                info.push_str(&format!("{key}={v}\n"));
            }
        }
        info.push_str(&format!(
            "SYMBOL(mem_section)={:x}\nSIZE(mem_section)={}\nOFFSET(mem_section.section_mem_map)={}\nNUMBER(MAX_PHYSMEM_BITS)={}\nNUMBER(SECTION_SIZE_BITS)={}\nLENGTH(mem_section)={}\n",
            values[30] as u64, values[31], values[32], values[33], values[34], values[35]
        ));
        let vm = t.vmcore(&info);
        let _ = vmcore::printk::dmesg(&vm, &Default::default());
        let _ = vmcore::printk::dmesg(&vm, &vmcore::printk::DmesgOptions { caller_id: true, partial: true });
        let _ = vm.vmemmap_base();
        let _ = vm.uts_release();
    }
}

#[test]
fn kernel_image_as_elf_core_reads_the_same() {
    for levels in [4u8, 5] {
        let mut t = Tables::new(levels);
        let base = if levels == 5 {
            0xff11_0000_0000_0000
        } else {
            0xffff_8880_0000_0000
        };
        let extra = lockless_ring(&mut t, base, &[(7, b"from an ELF core", 2), (8, b"two", 1)]);
        let elf = t.to_elf(&extra);
        let a = Vmcore::from_bytes(elf).unwrap();
        let b = t.vmcore(&extra);
        let la = vmcore::printk::dmesg(&a, &Default::default()).unwrap();
        assert_eq!(la, vmcore::printk::dmesg(&b, &Default::default()).unwrap());
        assert_eq!(
            String::from_utf8_lossy(&la),
            "[    0.000000] from an ELF core\n[    0.000000] two\n"
        );
        assert_eq!(a.x86_64().unwrap().levels, levels);
    }
}
