//! The rule table compiled against real and hand-made VMCOREINFO notes.

use page_filter::synthetic::Flavor;
use page_filter::{
    DumpLevel, Error, HugetlbTest, KernelRules, NextField, OrderSource, PageClass, TypeMatch,
    Verdict, VmcoreInfo,
};

fn real_6_1() -> VmcoreInfo {
    VmcoreInfo::parse(include_str!("data/vmcoreinfo-6.1.0-56-amd64.txt"))
}

#[test]
fn debian_6_1_selects_the_pre_6_3_encodings() {
    let r = KernelRules::from_vmcoreinfo(&real_6_1()).unwrap();
    assert_eq!(r.page_size, 4096);
    assert_eq!(r.offsets.size, 64);
    assert_eq!(r.offsets.mapcount, Some(48));
    assert_eq!(r.lru, 1 << 4);
    assert_eq!(r.slab_flag, 1 << 9);
    assert_eq!(r.slab_type, None);
    assert_eq!(
        r.buddy_type,
        Some(TypeMatch {
            value: -129i32 as u32,
            mask: u32::MAX
        })
    );
    assert_eq!(r.unaccepted, None);
    assert_eq!(
        r.hugetlb,
        HugetlbTest::Dtor {
            field: NextField {
                offset: 16,
                width: 1
            },
            values: vec![2]
        }
    );
    assert_eq!(
        r.order,
        OrderSource::Field(NextField {
            offset: 17,
            width: 1
        })
    );
    assert_eq!(r.free_area_len, Some(11));
    let notes: Vec<&str> = r.selected().map(|row| row.note).collect();
    assert!(notes.contains(&"4.16-6.2: u8 compound_dtor in the first tail page"));
    assert!(notes.contains(&"before 6.10: PG_slab"));
}

#[test]
fn synthetic_6_12_uses_page_types_and_top_byte_compares() {
    let r = KernelRules::from_vmcoreinfo(&Flavor::Linux6_12.vmcoreinfo()).unwrap();
    let slab = r.slab_type.unwrap();
    assert_eq!(slab.mask, 0xff00_0000);
    assert!(slab.matches(0xf500_0000));
    assert!(slab.matches(0xf512_3456));
    assert!(!slab.matches(0xf400_0000));
    assert_eq!(r.slab_flag, 0);
    assert!(matches!(r.hugetlb, HugetlbTest::PageType(t) if t.value == 0xf400_0000));
    assert_eq!(r.order, OrderSource::NextFlagsLowByte);
    assert!(r.unaccepted.is_some());
}

#[test]
fn kernel_6_6_takes_pg_hugetlb_from_the_next_page() {
    let mut i = real_6_1();
    i.insert("OSRELEASE", "6.6.0");
    i.insert("NUMBER(PG_hugetlb)", "22");
    let r = KernelRules::from_vmcoreinfo(&i).unwrap();
    assert_eq!(r.hugetlb, HugetlbTest::NextFlag(1 << 22));
    assert_eq!(r.order, OrderSource::NextFlagsLowByte);
    // A head whose next struct page says PG_hugetlb and order 9 is user data, 512 pages.
    let mut head = [0u8; 64];
    head[..8].copy_from_slice(&(1u64 << 16).to_le_bytes());
    head[48..52].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut next = [0u8; 64];
    next[..8].copy_from_slice(&((1u64 << 22) | 9).to_le_bytes());
    let v = r.classify(DumpLevel::new(8).unwrap(), 512, &head, Some(&next));
    assert_eq!(
        v,
        Verdict::Exclude {
            class: PageClass::User,
            nr_pages: 512
        }
    );
    // Misaligned: the order is ignored (makedumpfile's check), the hugetlb mark is not.
    let v = r.classify(DumpLevel::new(8).unwrap(), 513, &head, Some(&next));
    assert_eq!(
        v,
        Verdict::Exclude {
            class: PageClass::User,
            nr_pages: 1
        }
    );
    // Without the next struct page (last of a 512 block) nothing is known about the compound.
    assert_eq!(
        r.classify(DumpLevel::new(8).unwrap(), 512, &head, None),
        Verdict::Keep
    );
}

#[test]
fn kernel_6_3_reads_folio_offsets() {
    let mut i = real_6_1();
    i.insert("OSRELEASE", "6.3.0");
    i.insert("OFFSET(folio._folio_dtor)", "80");
    i.insert("OFFSET(folio._folio_order)", "81");
    let r = KernelRules::from_vmcoreinfo(&i).unwrap();
    let f = |offset| NextField { offset, width: 1 };
    assert_eq!(r.order, OrderSource::Field(f(17)));
    assert!(matches!(r.hugetlb, HugetlbTest::Dtor { field, .. } if field == f(16)));
}

#[test]
fn missing_or_absurd_layouts_are_errors() {
    let mut i = real_6_1();
    i.insert("OFFSET(page.mapping)", "60");
    assert!(matches!(
        KernelRules::from_vmcoreinfo(&i),
        Err(Error::BadVmcoreinfo {
            key: "OFFSET(page.mapping)",
            ..
        })
    ));
    let i = VmcoreInfo::parse("PAGESIZE=4096\nOFFSET(page.flags)=0\n");
    assert!(matches!(
        KernelRules::from_vmcoreinfo(&i),
        Err(Error::MissingVmcoreinfo { key: "SIZE(page)" })
    ));
    let mut i = real_6_1();
    i.insert("PAGESIZE", "4097");
    assert!(KernelRules::from_vmcoreinfo(&i).is_err());
    // A flag number out of range disables that test instead of shifting by it.
    let mut i = real_6_1();
    i.insert("NUMBER(PG_lru)", "99");
    assert_eq!(KernelRules::from_vmcoreinfo(&i).unwrap().lru, 0);
}

#[test]
fn buddy_with_an_impossible_order_is_kept() {
    let r = KernelRules::from_vmcoreinfo(&real_6_1()).unwrap();
    let mut p = [0u8; 64];
    p[48..52].copy_from_slice(&(-129i32).to_le_bytes());
    p[40..48].copy_from_slice(&11u64.to_le_bytes());
    assert_eq!(
        r.classify(DumpLevel::new(16).unwrap(), 0, &p, None),
        Verdict::Keep
    );
    p[40..48].copy_from_slice(&10u64.to_le_bytes());
    assert_eq!(
        r.classify(DumpLevel::new(16).unwrap(), 0, &p, None),
        Verdict::Exclude {
            class: PageClass::Free,
            nr_pages: 1024
        }
    );
    // Free pages are only free at levels with bit 16.
    assert_eq!(
        r.classify(DumpLevel::new(15).unwrap(), 0, &p, None),
        Verdict::Keep
    );
}
