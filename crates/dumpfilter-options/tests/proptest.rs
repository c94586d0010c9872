//! Property tests: the parser never panics, and printing back round-trips.

use dumpfilter_options::{parse, parse_collector, Mode};
use proptest::prelude::*;

/// Words that look like makedumpfile options, values and file names, plus random junk.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "-d",
            "-d31",
            "-c",
            "-l",
            "-p",
            "-z",
            "--lz4",
            "-E",
            "-F",
            "-R",
            "-f",
            "-L",
            "-L1K",
            "--split",
            "--reassemble",
            "--num-threads",
            "--message-level",
            "--message-level=7",
            "--dump-dmesg",
            "--vtop",
            "--cyclic-buffer",
            "--work-dir",
            "--non-mmap",
            "--check-params",
            "--dry-run",
            "--show-stats",
            "--stats-json",
            "-D",
            "-h",
            "-v",
            "-x",
            "-i",
            "-g",
            "-b",
            "-e",
            "-X",
            "--eppic",
            "--config",
            "--mem-usage",
            "--partial-dmesg",
            "--diskset",
            "--",
            "-",
            "-cf",
            "-fd",
            "--mess",
            "--s",
            "0",
            "1",
            "31",
            "32",
            "11,31",
            "0x10",
            "4096",
            "2",
            "7",
            "/proc/vmcore",
            "out",
            "o1",
            "o2",
            "-weird",
        ])
        .prop_map(String::from),
        "\\PC{0,8}",
        "-[a-zA-Z0-9]{1,4}",
        "--[a-z-]{1,12}(=[a-z0-9]{0,4})?",
    ]
}

/// One option with a plausible value, as a group of words.
fn group() -> impl Strategy<Value = Vec<String>> {
    let v = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    prop_oneof![
        prop::collection::vec(0u8..32, 1..4).prop_map(|l| {
            let l: Vec<String> = l.iter().map(u8::to_string).collect();
            vec!["-d".to_string(), l.join(",")]
        }),
        prop::sample::select(vec![
            "-c",
            "-l",
            "-p",
            "-z",
            "--lz4",
            "-E",
            "-F",
            "-f",
            "-D",
            "--non-mmap",
            "--show-stats",
            "--split",
            "-R",
            "--reassemble",
            "--dump-dmesg",
            "-h"
        ])
        .prop_map(|f| vec![f.to_string()]),
        (1u64..1 << 40).prop_map(|n| vec!["-L".to_string(), n.to_string()]),
        (0u32..64).prop_map(|n| vec!["--num-threads".to_string(), n.to_string()]),
        (0u8..32).prop_map(|n| vec![format!("--message-level={n}")]),
        any::<u64>().prop_map(|n| vec!["--vtop".to_string(), format!("{n:#x}")]),
        (0u64..1 << 20).prop_map(|n| vec!["--cyclic-buffer".to_string(), n.to_string()]),
        "[a-z/-]{0,6}".prop_map(|d| vec!["--work-dir".to_string(), d]),
        "[a-z/-]{0,6}".prop_map(|d| vec!["--stats-json".to_string(), d]),
        "[a-z/-]{0,6}".prop_map(|d| vec!["-x".to_string(), d]),
        Just(v(&["--eppic", "m.c"])),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_and_round_trips(args in prop::collection::vec(word(), 0..10)) {
        if let Ok(o) = parse(&args) {
            let again = parse(&o.to_args());
            prop_assert_eq!(again.as_ref(), Ok(&o), "args {:?} -> {:?}", args, o.to_args());
        }
        if let Ok(o) = parse_collector(&args) {
            prop_assert_eq!(&o.mode, &Mode::Collector);
            let again = parse_collector(&o.to_args());
            prop_assert_eq!(again.as_ref(), Ok(&o), "args {:?} -> {:?}", args, o.to_args());
        }
    }

    #[test]
    fn structured_lines_round_trip(
        groups in prop::collection::vec(group(), 0..6),
        operands in prop::collection::vec("-?[a-z/]{0,5}", 0..4),
        dashdash in any::<bool>(),
    ) {
        let mut args: Vec<String> = groups.into_iter().flatten().collect();
        if dashdash {
            args.push("--".into());
        }
        args.extend(operands);
        if let Ok(o) = parse(&args) {
            let again = parse(&o.to_args());
            prop_assert_eq!(again.as_ref(), Ok(&o), "args {:?}", args);
        }
    }

    #[test]
    fn collector_lines_round_trip(groups in prop::collection::vec(group(), 0..6)) {
        let args: Vec<String> = groups.into_iter().flatten().collect();
        if let Ok(o) = parse_collector(&args) {
            let again = parse_collector(&o.to_args());
            prop_assert_eq!(again.as_ref(), Ok(&o), "args {:?}", args);
        }
    }

    #[test]
    fn never_panics_on_any_strings(args in prop::collection::vec(any::<String>(), 0..8)) {
        let _ = parse(&args);
        let _ = parse_collector(&args);
    }
}
