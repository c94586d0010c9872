//! crashkernel=: the documented cases, the kernel's selection rule, error columns,
//! command-line combination, and round trips (proptest).

use kdump_service::crashkernel::{
    CmdlineCrashkernel, Crashkernel, ParseErrorKind, RangeSize, RequestError, SelectError,
    Selection, GIB, MIB, X86_64_DEFAULT_LOW,
};
use proptest::prelude::*;

const TIB: u64 = 1 << 40;

fn sel(v: &str, ram: u64) -> Result<u64, SelectError> {
    Crashkernel::parse(v).unwrap().select(ram).map(|s| s.size)
}

/// Documentation/admin-guide/kdump/kdump.rst, "Extended crashkernel syntax":
/// `crashkernel=512M-2G:64M,2G-:128M` — below 512M nothing, [512M, 2G) 64M, 2G and up 128M.
/// RAM is rounded up to 128 MiB before the comparison (kernel/crash_reserve.c).
#[test]
fn kdump_rst_example_table() {
    let v = "512M-2G:64M,2G-:128M";
    let cases: &[(u64, Option<u64>)] = &[
        (256 * MIB, None),
        (384 * MIB, None),
        (400 * MIB, Some(64 * MIB)), // rounds up to 512M: inside [512M, 2G)
        (512 * MIB, Some(64 * MIB)),
        (GIB, Some(64 * MIB)),
        (2 * GIB - 128 * MIB, Some(64 * MIB)),
        (2 * GIB - 64 * MIB, Some(128 * MIB)), // rounds up to 2G: the end is exclusive
        (2 * GIB, Some(128 * MIB)),
        (64 * GIB, Some(128 * MIB)),
        (3 * TIB, Some(128 * MIB)),
    ];
    for &(ram, want) in cases {
        match (sel(v, ram), want) {
            (Ok(got), Some(w)) => assert_eq!(got, w, "ram {} MiB", ram / MIB),
            (Err(SelectError::NoRangeMatches { .. }), None) => {}
            (got, w) => panic!("ram {} MiB: got {got:?}, want {w:?}", ram / MIB),
        }
    }
}

/// kdump-utils' and older kexec-tools' x86_64 defaults, as tables of cases.
#[test]
fn distribution_default_tables() {
    let old = "1G-4G:192M,4G-64G:256M,64G-:512M";
    // On a 512 MiB machine no range matches, but the kernel checks every range it visits
    // against the RAM first, and 64G-:512M is not below 512M: "crashkernel: invalid size".
    assert!(matches!(
        sel(old, 512 * MIB),
        Err(SelectError::RangeSizeTooLarge { index: 2, .. })
    ));
    assert!(matches!(
        sel(old, 768 * MIB),
        Err(SelectError::NoRangeMatches { .. })
    ));
    assert_eq!(sel(old, GIB), Ok(192 * MIB));
    assert_eq!(sel(old, 4 * GIB - 1), Ok(256 * MIB)); // rounds to 4G
    assert_eq!(sel(old, 4 * GIB - 200 * MIB), Ok(192 * MIB));
    assert_eq!(sel(old, 16 * GIB), Ok(256 * MIB));
    assert_eq!(sel(old, 64 * GIB), Ok(512 * MIB));
    let new = "2G-64G:256M,64G-:512M";
    assert!(sel(new, GIB).is_err());
    assert_eq!(sel(new, 2 * GIB), Ok(256 * MIB));
    assert_eq!(sel(new, TIB), Ok(512 * MIB));
    // The lab guest: 1 GiB of RAM minus firmware holes, crashkernel=192M.
    assert_eq!(sel("192M", 1023 * MIB), Ok(192 * MIB));
}

/// Every form of kernel-parameters.txt, parsed and printed back.
#[test]
fn documented_forms_parse_and_print() {
    let cases: &[(&str, Crashkernel, &str)] = &[
        (
            "128M",
            Crashkernel::Fixed {
                size: 128 * MIB,
                offset: None,
            },
            "128M",
        ),
        (
            "128M@16M",
            Crashkernel::Fixed {
                size: 128 * MIB,
                offset: Some(16 * MIB),
            },
            "128M@16M",
        ),
        (
            "0x8000000@0x1000000",
            Crashkernel::Fixed {
                size: 128 * MIB,
                offset: Some(16 * MIB),
            },
            "128M@16M",
        ),
        (
            "512M-2G:64M,2G-:128M",
            Crashkernel::Ranges {
                ranges: vec![
                    RangeSize {
                        start: 512 * MIB,
                        end: Some(2 * GIB),
                        size: 64 * MIB,
                    },
                    RangeSize {
                        start: 2 * GIB,
                        end: None,
                        size: 128 * MIB,
                    },
                ],
                offset: None,
            },
            "512M-2G:64M,2G-:128M",
        ),
        (
            "1G-4G:192M,4G-64G:256M,64G-:512M@16M",
            Crashkernel::Ranges {
                ranges: vec![
                    RangeSize {
                        start: GIB,
                        end: Some(4 * GIB),
                        size: 192 * MIB,
                    },
                    RangeSize {
                        start: 4 * GIB,
                        end: Some(64 * GIB),
                        size: 256 * MIB,
                    },
                    RangeSize {
                        start: 64 * GIB,
                        end: None,
                        size: 512 * MIB,
                    },
                ],
                offset: Some(16 * MIB),
            },
            "1G-4G:192M,4G-64G:256M,64G-:512M@16M",
        ),
        ("256M,high", Crashkernel::High(256 * MIB), "256M,high"),
        ("0,low", Crashkernel::Low(0), "0,low"),
        ("128m,low", Crashkernel::Low(128 * MIB), "128M,low"),
        ("1G,cma", Crashkernel::Cma(GIB), "1G,cma"),
        (
            "1024M",
            Crashkernel::Fixed {
                size: GIB,
                offset: None,
            },
            "1G",
        ),
    ];
    for (text, want, printed) in cases {
        let got = Crashkernel::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(&got, want, "{text}");
        assert_eq!(got.to_string(), *printed, "{text}");
        assert_eq!(Crashkernel::parse(printed).unwrap(), got);
    }
    let s = Crashkernel::parse("128M@16M").unwrap().select(GIB).unwrap();
    assert_eq!(
        s,
        Selection {
            size: 128 * MIB,
            offset: Some(16 * MIB),
            high: false
        }
    );
}

#[test]
fn errors_name_the_column() {
    let cases: &[(&str, usize, ParseErrorKind)] = &[
        ("", 1, ParseErrorKind::Empty),
        ("M", 1, ParseErrorKind::ExpectedNumber),
        ("128M@", 6, ParseErrorKind::ExpectedNumber),
        ("128MB", 5, ParseErrorKind::Unexpected('B')),
        ("128M@16Mx", 9, ParseErrorKind::Unexpected('x')),
        ("128M,foo", 5, ParseErrorKind::UnknownSuffix(",foo".into())),
        ("1G-4G192M:x", 6, ParseErrorKind::ExpectedColon),
        ("1G-4G192M", 6, ParseErrorKind::ExpectedColon),
        ("1G-", 4, ParseErrorKind::ExpectedNumber),
        ("1G:128M", 3, ParseErrorKind::ExpectedDash),
        ("4G-1G:128M", 4, ParseErrorKind::EndNotAfterStart),
        ("1G-:128M,", 10, ParseErrorKind::ExpectedNumber),
        ("1G-:128M,x", 10, ParseErrorKind::ExpectedNumber),
        ("1G-:", 5, ParseErrorKind::ExpectedNumber),
        ("1G-:128M;", 9, ParseErrorKind::Unexpected(';')),
        ("x,high", 1, ParseErrorKind::ExpectedNumber),
        ("1G-2G:128M,high", 3, ParseErrorKind::Unexpected('-')),
        ("99999999999999999999M", 1, ParseErrorKind::Overflow),
        ("16E", 1, ParseErrorKind::Overflow),
        ("1G-:128Mé", 9, ParseErrorKind::Unexpected('é')),
    ];
    for (text, col, kind) in cases {
        let e = Crashkernel::parse(text).unwrap_err();
        assert_eq!((e.column, &e.kind), (*col, kind), "{text:?}: {e}");
    }
    let e = Crashkernel::parse_param("crashkernel=128M@").unwrap_err();
    assert_eq!(e.column, 18);
    assert_eq!(
        e.to_string(),
        "crashkernel=: column 18: memory value expected"
    );
    assert_eq!(
        Crashkernel::parse_param("crashkernel128M")
            .unwrap_err()
            .kind,
        ParseErrorKind::NotCrashkernel
    );
}

#[test]
fn selection_rejections_follow_the_kernel() {
    // A size not below RAM reserves nothing.
    assert_eq!(
        sel("2G", GIB),
        Err(SelectError::NotBelowRam {
            size: 2 * GIB,
            ram: GIB
        })
    );
    assert_eq!(sel("0", GIB), Err(SelectError::Zero));
    // A range visited before the match whose size is not below the rounded RAM rejects all.
    assert!(matches!(
        sel("0-:1G,2G-:128M", 512 * MIB),
        Err(SelectError::RangeSizeTooLarge { index: 0, .. })
    ));
    // ...but ranges after the match are not looked at.
    assert_eq!(sel("0-1G:128M,1G-:64G", 512 * MIB), Ok(128 * MIB));
    // The first match wins even when ranges overlap.
    assert_eq!(sel("0-:128M,0-:256M", GIB), Ok(128 * MIB));
    assert_eq!(
        Crashkernel::parse("1G,low").unwrap().select(GIB),
        Err(SelectError::NotAMainReservation)
    );
}

#[test]
fn command_line_combination() {
    // The seed's grub.conf command line.
    let c = CmdlineCrashkernel::from_cmdline(
        "ro root=/dev/VolGroup00/LogVol00 rhgb quiet crashkernel=128M@16M\n",
    );
    assert_eq!(c.main.as_deref(), Some("128M@16M"));
    let r = c.request(2 * GIB).unwrap();
    assert_eq!((r.main.size, r.main.offset), (128 * MIB, Some(16 * MIB)));

    // The last plain one wins; ,high/,low/,cma are separate kinds.
    let c = CmdlineCrashkernel::from_cmdline(
        "crashkernel=64M quiet crashkernel=256M,high crashkernel=192M crashkernel=32M,cma",
    );
    assert_eq!(c.count, 4);
    let r = c.request(8 * GIB).unwrap();
    assert_eq!(r.main.size, 192 * MIB);
    assert!(!r.main.high);
    assert_eq!(r.low, None);
    assert_eq!(r.cma, Some(32 * MIB));

    // A malformed ,cma is ignored, as the kernel ignores it.
    let r = CmdlineCrashkernel::from_cmdline("crashkernel=192M crashkernel=x,cma")
        .request(GIB)
        .unwrap();
    assert_eq!((r.main.size, r.cma), (192 * MIB, None));

    // ,high alone: low defaults to 256 MiB on x86_64; an explicit ,low wins.
    let r = CmdlineCrashkernel::from_cmdline("crashkernel=1G,high")
        .request(16 * GIB)
        .unwrap();
    assert!(r.main.high);
    assert_eq!(r.low, Some(X86_64_DEFAULT_LOW));
    let r = CmdlineCrashkernel::from_cmdline("crashkernel=1G,high crashkernel=0,low")
        .request(16 * GIB)
        .unwrap();
    assert_eq!(r.low, Some(0));

    // Like the kernel's strstr(), any text ending in crashkernel= counts.
    let c = CmdlineCrashkernel::from_cmdline("foo.crashkernel=96M");
    assert_eq!(c.main.as_deref(), Some("96M"));

    assert_eq!(
        CmdlineCrashkernel::from_cmdline("ro quiet").request(GIB),
        Err(RequestError::Absent)
    );
    match CmdlineCrashkernel::from_cmdline("crashkernel=12X").request(GIB) {
        Err(RequestError::Syntax { value, error }) => {
            assert_eq!(value, "12X");
            assert_eq!(error.column, 3);
        }
        other => panic!("{other:?}"),
    }
}

// ------------------------------------------------------------------ property tests

fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        (0u64..1 << 20).prop_map(|v| v << 20),
        (0u64..1 << 10).prop_map(|v| v << 30),
        0u64..100_000,
    ]
}

fn ranges() -> impl Strategy<Value = Vec<RangeSize>> {
    prop::collection::vec((size(), prop::option::of(1u64..1 << 44), size()), 1..6).prop_map(|v| {
        v.into_iter()
            .map(|(start, len, size)| RangeSize {
                start: start >> 1,
                end: len.map(|l| (start >> 1) + l),
                size,
            })
            .collect()
    })
}

fn crashkernel() -> impl Strategy<Value = Crashkernel> {
    prop_oneof![
        (size(), prop::option::of(size()))
            .prop_map(|(size, offset)| Crashkernel::Fixed { size, offset }),
        (ranges(), prop::option::of(size()))
            .prop_map(|(ranges, offset)| Crashkernel::Ranges { ranges, offset }),
        size().prop_map(Crashkernel::High),
        size().prop_map(Crashkernel::Low),
        size().prop_map(Crashkernel::Cma),
    ]
}

/// A reference implementation of the kernel's range rule, written separately.
fn reference_select(ranges: &[RangeSize], ram: u64) -> Option<Result<u64, ()>> {
    let total = ram.div_ceil(128 * MIB).saturating_mul(128 * MIB);
    for r in ranges {
        if r.size >= total {
            return Some(Err(()));
        }
        let below_end = match r.end {
            Some(e) => total < e,
            None => true,
        };
        if total >= r.start && below_end {
            return Some(Ok(r.size));
        }
    }
    None
}

proptest! {
    #[test]
    fn print_then_parse_is_identity(ck in crashkernel()) {
        let text = ck.to_string();
        prop_assert_eq!(Crashkernel::parse(&text), Ok(ck.clone()));
        let param = format!("crashkernel={text}");
        prop_assert_eq!(Crashkernel::parse_param(&param), Ok(ck));
    }

    #[test]
    fn parse_never_panics_and_reprints_stably(s in "[0-9a-zA-Z@:,\\-]{0,40}") {
        if let Ok(ck) = Crashkernel::parse(&s) {
            let printed = ck.to_string();
            prop_assert_eq!(Crashkernel::parse(&printed), Ok(ck));
        } else {
            let e = Crashkernel::parse(&s).unwrap_err();
            prop_assert!(e.column >= 1 && e.column <= s.len() + 1);
        }
    }

    #[test]
    fn range_selection_matches_reference(rs in ranges(), ram in size()) {
        let ck = Crashkernel::Ranges { ranges: rs.clone(), offset: None };
        let got = ck.select(ram);
        match reference_select(&rs, ram) {
            None => { let ok = matches!(got, Err(SelectError::NoRangeMatches { .. })); prop_assert!(ok, "{:?}", got) }
            Some(Err(())) => { let ok = matches!(got, Err(SelectError::RangeSizeTooLarge { .. })); prop_assert!(ok, "{:?}", got) }
            Some(Ok(0)) => prop_assert_eq!(got, Err(SelectError::Zero)),
            Some(Ok(s)) if s >= ram => { let ok = matches!(got, Err(SelectError::NotBelowRam { .. })); prop_assert!(ok, "{:?}", got) }
            Some(Ok(s)) => prop_assert_eq!(got.map(|x| x.size), Ok(s)),
        }
    }

    #[test]
    fn cmdline_scan_never_panics(s in "\\PC{0,80}", ram in size()) {
        let c = CmdlineCrashkernel::from_cmdline(&s);
        let _ = c.request(ram);
    }
}
