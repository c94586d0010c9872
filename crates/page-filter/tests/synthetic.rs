//! Property tests on synthetic memory images: struct page arrays built from page objects with
//! chosen flags, mapping and page_type, for 6.1 and 6.12 encodings, against the classes the
//! objects are meant to have (PageKind::expected, written from makedumpfile's rules, not from
//! the classifier).

use page_filter::synthetic::{place, Flavor, Object, PageKind, Placed, SyntheticDump};
use page_filter::{DumpLevel, FilterConfig, PageClass, PageFilter, Stats};
use proptest::prelude::*;

fn kind_strategy() -> impl Strategy<Value = PageKind> {
    prop_oneof![
        4 => Just(PageKind::Kernel),
        1 => (1u64..40).prop_map(|pages| PageKind::Hole { pages }),
        3 => (0u8..=10).prop_map(|order| PageKind::Free { order }),
        2 => any::<bool>().prop_map(|private| PageKind::Cache { private }),
        1 => (1u8..=4).prop_map(|order| PageKind::CacheFolio { order }),
        1 => Just(PageKind::SwapCache),
        2 => Just(PageKind::Anon),
        1 => prop_oneof![Just(1u8), Just(4), Just(9)].prop_map(|order| PageKind::AnonThp { order }),
        1 => prop_oneof![4 => Just(1u8), 4 => Just(9), 1 => Just(16)]
            .prop_map(|order| PageKind::Hugetlb { order }),
        1 => Just(PageKind::Slab),
        1 => Just(PageKind::SlabBuddyLookalike),
        1 => Just(PageKind::Hwpoison),
        1 => Just(PageKind::Offline),
        1 => Just(PageKind::Unaccepted),
    ]
}

fn objects_strategy() -> impl Strategy<Value = Vec<Object>> {
    prop::collection::vec(
        (kind_strategy(), any::<bool>()).prop_map(|(kind, zero)| Object { kind, zero }),
        1..40,
    )
    .prop_map(|mut v| {
        // The image must not end in a hole (max pfn is the end of the last range).
        v.push(Object {
            kind: PageKind::Kernel,
            zero: false,
        });
        v
    })
}

struct Expected {
    bitmap1: Vec<u8>,
    bitmap2: Vec<u8>,
    stats: Stats,
}

fn expected(placed: &[Placed], flavor: Flavor, level: DumpLevel, zero: bool) -> Expected {
    let max = placed
        .last()
        .map_or(0, |p| p.first_pfn + p.object.kind.pages());
    let n = max.div_ceil(8) as usize;
    let mut e = Expected {
        bitmap1: vec![0; n],
        bitmap2: vec![0; n],
        stats: Stats::default(),
    };
    let mut holes = 0;
    for p in placed {
        let pages = p.object.kind.pages();
        if let PageKind::Hole { .. } = p.object.kind {
            holes += pages;
            continue;
        }
        let class = p.object.kind.expected(flavor, level).or_else(|| {
            (zero && p.object.zero && level.has(DumpLevel::ZERO)).then_some(PageClass::Zero)
        });
        for pfn in p.first_pfn..p.first_pfn + pages {
            let (i, b) = ((pfn / 8) as usize, 1u8 << (pfn % 8));
            e.bitmap1[i] |= b;
            if class.is_none() {
                e.bitmap2[i] |= b;
            }
        }
        if let Some(c) = class {
            e.stats.add(c, pages);
        }
    }
    e.stats.total = max;
    e.stats.memory_hole = holes;
    e.stats.present = max - holes;
    e
}

fn run(
    dump: SyntheticDump,
    level: DumpLevel,
    budget: usize,
    zero: bool,
) -> (Vec<u8>, Vec<u8>, Stats) {
    let info = dump.vmcoreinfo();
    let ranges = dump.ranges().to_vec();
    let mut config = FilterConfig::new(level);
    config.bitmap_budget = budget;
    config.exclude_zero_pages = zero;
    let mut f = PageFilter::new(dump, &info, &ranges, config).expect("filter");
    let (mut b1, mut b2) = (Vec::new(), Vec::new());
    let mut next = 0;
    while let Some(w) = f.next_window().expect("window") {
        assert_eq!(w.start_pfn, next, "windows are contiguous");
        assert_eq!(w.start_pfn % 8, 0);
        next = w.end_pfn;
        b1.extend_from_slice(w.bitmap1);
        b2.extend_from_slice(w.bitmap2);
    }
    (b1, b2, *f.stats())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn classes_match_the_objects(
        objects in objects_strategy(),
        level in 0u8..=31,
        new_kernel in any::<bool>(),
        small_window in any::<bool>(),
        zero in any::<bool>(),
    ) {
        let flavor = if new_kernel { Flavor::Linux6_12 } else { Flavor::Linux6_1 };
        let level = DumpLevel::new(level).unwrap();
        let placed = place(&objects);
        let want = expected(&placed, flavor, level, zero);
        // 8 KiB of bitmaps: 32768-frame windows, so large hugetlb pages cross windows.
        let budget = if small_window { 8192 } else { 16 << 20 };
        let (b1, b2, stats) = run(SyntheticDump::from_placed(flavor, &placed), level, budget, zero);
        prop_assert_eq!(&b1, &want.bitmap1);
        prop_assert_eq!(&b2, &want.bitmap2);
        prop_assert_eq!(stats, want.stats);
    }
}

#[test]
fn hugetlb_across_windows_is_user_data_in_both_windows() {
    for flavor in [Flavor::Linux6_1, Flavor::Linux6_12] {
        let objects = [
            Object {
                kind: PageKind::Kernel,
                zero: false,
            },
            Object {
                kind: PageKind::Hugetlb { order: 16 },
                zero: false,
            },
            Object {
                kind: PageKind::Kernel,
                zero: false,
            },
        ];
        let placed = place(&objects);
        let level = DumpLevel::new(DumpLevel::USER).unwrap();
        let (_, b2, stats) = run(
            SyntheticDump::from_placed(flavor, &placed),
            level,
            8192,
            false,
        );
        assert_eq!(stats.user, 65536, "{flavor:?}");
        // Frames 0..65536 are kernel pages (alignment), 65536..131072 hugetlb, 131072 kernel.
        assert!(b2[..8192].iter().all(|&b| b == 0xff));
        assert!(b2[8192..16384].iter().all(|&b| b == 0));
        assert_eq!(b2[16384], 1);
    }
}

#[test]
fn level_31_on_6_12_keeps_slab_that_looks_anonymous() {
    let objects = [
        Object {
            kind: PageKind::Slab,
            zero: false,
        },
        Object {
            kind: PageKind::Anon,
            zero: false,
        },
    ];
    let placed = place(&objects);
    let level = DumpLevel::new(31).unwrap();
    let (_, b2, stats) = run(
        SyntheticDump::from_placed(Flavor::Linux6_12, &placed),
        level,
        16 << 20,
        false,
    );
    assert_eq!(b2, vec![0b01]);
    assert_eq!(stats.user, 1);
}

#[test]
fn unreadable_struct_pages_are_kept_and_counted() {
    // A dump whose vmemmap covers only the first section, though memory spans two.
    let flavor = Flavor::Linux6_1;
    let ranges = [(0u64, 1 << 15), ((1 << 15) + 100, (1 << 15) + 200)];
    let dump = SyntheticDump::generated(
        flavor,
        &ranges,
        move |pfn, out| {
            let kind = PageKind::Free { order: 0 };
            flavor.struct_page(kind, pfn, pfn, out);
        },
        |_| false,
    );
    // Same image, but a source that fails every read above the first section's vmemmap.
    struct Failing(SyntheticDump);
    impl page_filter::MemorySource for Failing {
        fn read_virtual(
            &mut self,
            vaddr: u64,
            buf: &mut [u8],
        ) -> Result<(), page_filter::SourceError> {
            if vaddr >= page_filter::synthetic::VMEMMAP + (1 << 15) * 64 {
                return Err("not in dump".into());
            }
            self.0.read_virtual(vaddr, buf)
        }
        fn read_physical(
            &mut self,
            paddr: u64,
            buf: &mut [u8],
        ) -> Result<(), page_filter::SourceError> {
            self.0.read_physical(paddr, buf)
        }
    }
    let info = dump.vmcoreinfo();
    let r = dump.ranges().to_vec();
    let mut f = PageFilter::new(
        Failing(dump),
        &info,
        &r,
        FilterConfig::new(DumpLevel::new(16).unwrap()),
    )
    .unwrap();
    let s = f.run_all().unwrap();
    assert_eq!(s.free, 1 << 15);
    assert_eq!(s.unreadable_struct_pages, 100);
    assert_eq!(s.remaining(), 100);
}

/// The same image described by each memory model gives the same bitmaps.
#[test]
fn every_memory_model_finds_the_same_struct_pages() {
    use page_filter::synthetic::{MEM_SECTION, VMEMMAP};
    use page_filter::{MemoryModel, MemorySource, SourceError, VmcoreInfo};

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Model {
        Extreme,
        ExtremePointer,
        Sparse,
        Flat,
    }
    const TABLE: u64 = 0xff11_0000_6000_0000;
    struct Src {
        inner: SyntheticDump,
        model: Model,
    }
    impl MemorySource for Src {
        fn read_virtual(&mut self, vaddr: u64, buf: &mut [u8]) -> Result<(), SourceError> {
            let max = self.inner.max_pfn();
            if (TABLE..TABLE + (1 << 20)).contains(&vaddr) {
                if buf.len() != 8 || vaddr % 8 != 0 {
                    return Err("unaligned table read".into());
                }
                let off = vaddr - TABLE;
                let word = match self.model {
                    Model::Flat if off == 0 => VMEMMAP,
                    Model::ExtremePointer if off == 0 => MEM_SECTION,
                    Model::Sparse if off % 32 == 0 => {
                        let nr = off / 32;
                        if nr * (1 << 15) < max {
                            VMEMMAP | 3
                        } else {
                            0
                        }
                    }
                    Model::Sparse => 0,
                    _ => return Err("no memory".into()),
                };
                buf.copy_from_slice(&word.to_le_bytes());
                return Ok(());
            }
            self.inner.read_virtual(vaddr, buf)
        }
        fn read_physical(&mut self, paddr: u64, buf: &mut [u8]) -> Result<(), SourceError> {
            self.inner.read_physical(paddr, buf)
        }
    }

    let objects: Vec<Object> = [
        PageKind::Kernel,
        PageKind::Free { order: 10 },
        PageKind::AnonThp { order: 9 },
        PageKind::Cache { private: true },
        PageKind::Hugetlb { order: 16 },
        PageKind::Slab,
        PageKind::Free { order: 3 },
    ]
    .into_iter()
    .map(|kind| Object { kind, zero: false })
    .collect();
    let placed = place(&objects);
    let level = DumpLevel::new(31).unwrap();
    let mut results = Vec::new();
    for model in [
        Model::Extreme,
        Model::ExtremePointer,
        Model::Sparse,
        Model::Flat,
    ] {
        let inner = SyntheticDump::from_placed(Flavor::Linux6_1, &placed);
        let base = inner.vmcoreinfo();
        let mut info = VmcoreInfo::default();
        for (k, v) in base.iter() {
            let drop = match model {
                Model::Flat => k.contains("mem_section"),
                Model::ExtremePointer | Model::Sparse => k == "SYMBOL(mem_section)",
                Model::Extreme => false,
            };
            if !drop {
                info.insert(k, v);
            }
        }
        match model {
            Model::Flat => info.insert("SYMBOL(mem_map)", &format!("{TABLE:x}")),
            Model::ExtremePointer => info.insert("SYMBOL(mem_section)", &format!("{TABLE:x}")),
            Model::Sparse => {
                info.insert("SYMBOL(mem_section)", &format!("{TABLE:x}"));
                info.insert("LENGTH(mem_section)", &(1u64 << 25).to_string());
            }
            Model::Extreme => {}
        }
        let ranges = inner.ranges().to_vec();
        let mut f = PageFilter::new(
            Src { inner, model },
            &info,
            &ranges,
            FilterConfig::new(level),
        )
        .unwrap_or_else(|e| panic!("{model:?}: {e}"));
        let want_model = match model {
            Model::Flat => MemoryModel::Flatmem,
            Model::Sparse => MemoryModel::Sparsemem { extreme: false },
            _ => MemoryModel::Sparsemem { extreme: true },
        };
        assert_eq!(f.memory_model(), want_model);
        let mut b2 = Vec::new();
        while let Some(w) = f.next_window().unwrap() {
            b2.extend_from_slice(w.bitmap2);
        }
        results.push((model, b2, *f.stats()));
    }
    let want = expected(&placed, Flavor::Linux6_1, level, false);
    for (model, b2, stats) in results {
        assert_eq!(b2, want.bitmap2, "{model:?}");
        assert_eq!(stats, want.stats, "{model:?}");
    }
}
