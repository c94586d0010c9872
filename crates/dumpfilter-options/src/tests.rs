use super::*;

fn ok(args: &[&str]) -> Options {
    match parse(args) {
        Ok(o) => {
            assert_eq!(
                parse(&o.to_args()).as_ref(),
                Ok(&o),
                "round trip of {args:?}"
            );
            o
        }
        Err(e) => panic!("{args:?}: {e}"),
    }
}

fn err(args: &[&str]) -> String {
    match parse(args) {
        Ok(o) => panic!("{args:?} parsed: {o:?}"),
        Err(e) => e.to_string(),
    }
}

fn dump(v: &str, d: &str) -> Mode {
    Mode::Dump {
        vmcore: v.into(),
        dumpfile: Some(d.into()),
    }
}

#[test]
fn short_values_attached_or_separate() {
    assert_eq!(ok(&["-d31", "a", "b"]).dump_levels, [31]);
    assert_eq!(ok(&["-d", "31", "a", "b"]).dump_levels, [31]);
    assert_eq!(ok(&["-d", "11,31", "a", "b"]).dump_levels, [11, 31]);
    assert_eq!(ok(&["-d", "0", "a", "b"]).dump_levels, [0]);
    assert_eq!(ok(&["a", "b"]).dump_level(), 0);
}

#[test]
fn clusters_and_value_at_end_of_cluster() {
    let o = ok(&["-cfd31", "a", "b"]);
    assert_eq!(o.compression, Compression::Zlib);
    assert!(o.force);
    assert_eq!(o.dump_levels, [31]);
    let o = ok(&["-fd", "1", "a", "b"]);
    assert_eq!(o.dump_levels, [1]);
}

#[test]
fn long_options_forms_and_prefixes() {
    let o = ok(&["--message-level=31", "--num-threads", "2", "a", "b"]);
    assert_eq!(o.message_level, Some(31));
    assert_eq!(o.num_threads, Some(2));
    assert_eq!(ok(&["--mess", "4", "a", "b"]).message_level, Some(4));
    assert_eq!(
        ok(&["--work-dir", "-odd", "a", "b"]).work_dir.as_deref(),
        Some("-odd")
    );
    assert!(
        err(&["--s", "a", "b"]).contains("ambiguous"),
        "split, splitblock-size, show-stats, stats-json"
    );
    assert_eq!(
        err(&["--split=3", "a", "b", "c"]),
        "option --split takes no value"
    );
    assert_eq!(
        err(&["--frobnicate", "a", "b"]),
        "unknown option --frobnicate"
    );
    assert_eq!(err(&["-q", "a", "b"]), "unknown option -q");
}

#[test]
fn operands_interleave_and_double_dash_ends_options() {
    assert_eq!(ok(&["in", "-d", "31", "out", "-l"]).mode, dump("in", "out"));
    let o = ok(&["-d", "1", "--", "-in", "-out"]);
    assert_eq!(o.mode, dump("-in", "-out"));
    assert_eq!(o.to_args(), ["-d", "1", "--", "-in", "-out"]);
    assert_eq!(ok(&["-", "out"]).mode, dump("-", "out"));
}

#[test]
fn missing_and_invalid_values_name_the_option() {
    assert_eq!(
        err(&["a", "b", "-d"]),
        "option -d needs a value: a dump level 0-31 or a comma-separated list of them"
    );
    assert_eq!(
        err(&["-d", "32", "a", "b"]),
        "option -d: expected a dump level 0-31 or a comma-separated list of them, got `32`"
    );
    for bad in ["", "3x", "-1", "1,,2", "1,", " 1"] {
        assert!(
            err(&["-d", bad, "a", "b"]).starts_with("option -d: expected"),
            "{bad:?}"
        );
    }
    assert!(err(&["--message-level", "32", "a", "b"]).contains("0-31"));
    assert!(err(&["--num-threads", "x", "a", "b"]).contains("--num-threads"));
    assert!(err(&["--num-threads", "5000", "a", "b"]).contains("up to 4096"));
    assert!(err(&["--vtop", "0xzz", "a", "b"]).contains("--vtop"));
}

#[test]
fn size_limit_suffixes_like_memparse() {
    assert_eq!(ok(&["-L", "4096", "a", "b"]).size_limit, Some(4096));
    assert_eq!(ok(&["-L1K", "a", "b"]).size_limit, Some(1024));
    assert_eq!(ok(&["-L", "2m", "a", "b"]).size_limit, Some(2 << 20));
    assert_eq!(ok(&["-L", "3G", "a", "b"]).size_limit, Some(3 << 30));
    assert_eq!(ok(&["-L", "0x10", "a", "b"]).size_limit, Some(16));
    assert_eq!(ok(&["-L", "010", "a", "b"]).size_limit, Some(8));
    assert!(err(&["-L", "0", "a", "b"]).contains("greater than zero"));
    assert!(err(&["-L", "1KB", "a", "b"]).contains("-L"));
    assert!(err(&["-L", "16E", "a", "b"]).contains("-L"), "overflow");
}

#[test]
fn vtop_parses_like_strtoul_base_0() {
    let o = ok(&["--vtop", "0xffffffff81000000", "vmcore"]);
    assert_eq!(o.vtop, Some(0xffff_ffff_8100_0000));
    assert_eq!(
        o.mode,
        Mode::Vtop {
            vmcore: "vmcore".into()
        }
    );
    assert_eq!(ok(&["--vtop", "4096", "a", "b"]).mode, dump("a", "b"));
}

#[test]
fn compression_last_wins_with_a_warning() {
    let (o, w) = parse_with_warnings(&["-c", "-l", "a", "b"]).unwrap();
    assert_eq!(o.compression, Compression::Lzo);
    assert_eq!(
        w,
        [OptionsWarning::CompressionOverridden {
            first: "-c".into(),
            last: "-l".into()
        }]
    );
    let (_, w) = parse_with_warnings(&["-d", "1", "-d", "31", "a", "b"]).unwrap();
    assert_eq!(
        w,
        [OptionsWarning::Repeated {
            option: "-d".into()
        }]
    );
}

#[test]
fn modes_and_operand_counts() {
    let o = ok(&["-F", "-d", "31", "/proc/vmcore"]);
    assert_eq!(
        o.mode,
        Mode::Dump {
            vmcore: "/proc/vmcore".into(),
            dumpfile: None
        }
    );
    assert!(err(&["-F", "a", "b"]).contains("VMCORE only with -F"));
    assert_eq!(
        ok(&["-R", "out"]).mode,
        Mode::Rearrange {
            dumpfile: "out".into()
        }
    );
    assert!(err(&["-R", "a", "b"]).starts_with("-R takes DUMPFILE"));
    assert_eq!(
        ok(&["--split", "-d", "31", "v", "o1", "o2"]).mode,
        Mode::Split {
            vmcore: "v".into(),
            dumpfiles: vec!["o1".into(), "o2".into()]
        }
    );
    assert!(err(&["--split", "v", "o1"]).contains("got 2"));
    assert_eq!(
        ok(&["--reassemble", "o1", "o2", "out"]).mode,
        Mode::Reassemble {
            inputs: vec!["o1".into(), "o2".into()],
            dumpfile: "out".into()
        }
    );
    assert_eq!(
        ok(&["--dump-dmesg", "v", "log"]).mode,
        Mode::Dmesg {
            vmcore: "v".into(),
            logfile: Some("log".into())
        }
    );
    assert_eq!(
        err(&["a"]),
        "a dump takes VMCORE DUMPFILE; got 1 file name(s)"
    );
    assert_eq!(err(&[]), "a dump takes VMCORE DUMPFILE; got 0 file name(s)");
    assert_eq!(ok(&["-h", "-R", "whatever", "x"]).mode, Mode::Help);
    assert_eq!(ok(&["--help"]).mode, Mode::Help);
    assert_eq!(ok(&["-v"]).mode, Mode::Version);
}

#[test]
fn conflicts_makedumpfile_refuses() {
    assert_eq!(
        err(&["-c", "-E", "a", "b"]),
        "-c cannot be used with -E: the ELF format cannot hold compressed pages"
    );
    assert!(err(&["--lz4", "-E", "a", "b"]).starts_with("--lz4 cannot be used with -E"));
    assert!(err(&["-F", "--split", "a", "b", "c"]).starts_with("-F cannot be used with --split"));
    assert!(err(&["-E", "--split", "a", "b", "c"]).starts_with("--split cannot be used with -E"));
    assert!(err(&["-R", "-c", "out"]).starts_with("-R cannot be used with -c"));
    assert!(err(&["-R", "-d", "31", "out"]).starts_with("-R cannot be used with -d"));
    assert_eq!(ok(&["-R", "-d", "0", "out"]).dump_levels, [0]);
    assert!(err(&["-R", "-F", "out"]).starts_with("-R cannot be used with -F"));
    assert!(
        err(&["--reassemble", "-E", "a", "b"]).starts_with("--reassemble cannot be used with -E")
    );
    assert!(err(&["--num-threads", "2", "-E", "a", "b"])
        .starts_with("--num-threads cannot be used with -E"));
    assert!(
        err(&["--num-threads", "2", "--split", "a", "b", "c"]).starts_with("--num-threads cannot")
    );
    assert_eq!(
        ok(&["--num-threads", "0", "-E", "a", "b"]).num_threads,
        Some(0)
    );
    assert!(err(&["--dry-run", "--dump-dmesg", "a", "b"]).starts_with("--dry-run cannot"));
    assert!(err(&["--dry-run", "--reassemble", "a", "b"]).starts_with("--dry-run cannot"));
    assert!(err(&["--split", "--reassemble", "a", "b", "c"]).contains("different operations"));
    // found by the fuzzer: a repeated mode option hid a third, different one
    assert_eq!(
        err(&["--split", "--split", "-g", "x", "-l", "a", "b", "c"]),
        "--split cannot be used with -g: they select different operations"
    );
    assert!(
        err(&["-x", "vmlinux", "-i", "info", "a", "b"]).starts_with("-x cannot be used with -i")
    );
    assert_eq!(err(&["-e", "a", "b"]), "-e requires --work-dir");
    // makedumpfile 1.7.2 --check-params verdicts: -e needs --work-dir only where a dump is
    // created or read, not in the copying modes or -g.
    assert_eq!(
        err(&["-e", "--dump-dmesg", "a", "b"]),
        "-e requires --work-dir"
    );
    assert_eq!(
        err(&["-e", "--split", "a", "b", "c"]),
        "-e requires --work-dir"
    );
    assert!(parse(&["-e", "--reassemble", "a", "b"]).is_ok());
    assert!(parse(&["-e", "-R", "b"]).is_ok());
    assert_eq!(
        err(&["--partial-dmesg", "a", "b"]),
        "--partial-dmesg requires --dump-dmesg"
    );
}

#[test]
fn unsupported_options_are_kept_not_ignored() {
    let o = ok(&["-x", "vmlinux", "--eppic=m.c", "-d", "31", "a", "b"]);
    assert_eq!(
        o.unsupported,
        [
            Unsupported {
                option: "-x".into(),
                value: Some("vmlinux".into())
            },
            Unsupported {
                option: "--eppic".into(),
                value: Some("m.c".into())
            }
        ]
    );
    assert!(o.unsupported[0].to_string().starts_with("-x: "));
    let o = ok(&["-g", "info", "-x", "vmlinux"]);
    assert_eq!(o.mode, Mode::Other { operands: vec![] });
    assert_eq!(
        ok(&["--mem-usage", "/proc/kcore"]).unsupported[0].option,
        "--mem-usage"
    );
}

#[test]
fn collector_lines() {
    let o = parse_collector(&["-l", "--message-level", "7", "-d", "31"]).unwrap();
    assert_eq!(o.mode, Mode::Collector);
    assert_eq!(parse_collector(&o.to_args()).unwrap(), o);
    assert_eq!(parse_collector::<&str>(&[]).unwrap(), Options::default());
    let e = |a: &[&str]| parse_collector(a).unwrap_err().to_string();
    assert_eq!(
        e(&["-d", "31", "/proc/vmcore"]),
        "unexpected `/proc/vmcore` in a core_collector line: kdump appends VMCORE and DUMPFILE itself"
    );
    assert!(e(&["--split"]).starts_with("--split cannot be used in a core_collector line"));
    assert!(e(&["-h"]).starts_with("-h cannot be used in a core_collector line"));
    assert!(e(&["--dry-run"]).starts_with("--dry-run cannot"));
    assert!(e(&["-E", "-l"]).starts_with("-l cannot be used with -E"));
}

#[test]
fn to_args_is_canonical() {
    let o = ok(&["b", "--show-stats", "-fE", "a"]);
    assert_eq!(o.to_args(), ["-E", "-f", "--show-stats", "b", "a"]);
    let o = ok(&["-cd", "1,31", "-L", "1k", "--vtop=0x10", "x", "y"]);
    assert_eq!(
        o.to_args(),
        ["-d", "1,31", "-c", "-L", "1024", "--vtop", "0x10", "x", "y"]
    );
}

#[test]
fn usage_mentions_every_supported_option() {
    let u = usage("dumpfilter");
    for o in [
        "-d ",
        "-c ",
        "-l ",
        "-p ",
        "-z ",
        "--lz4",
        "-E ",
        "-F ",
        "-R ",
        "-f ",
        "-L ",
        "--split",
        "--reassemble",
        "--num-threads",
        "--message-level",
        "--dump-dmesg",
        "--vtop",
        "--cyclic-buffer",
        "--work-dir",
        "--non-mmap",
        "--check-params",
        "--dry-run",
        "--show-stats",
        "--stats-json",
        "-D ",
        "-h",
        "-v",
    ] {
        assert!(u.contains(o), "{o}");
    }
}

#[test]
fn message_level_and_unsupported_helpers() {
    assert_eq!(ok(&["a", "b"]).effective_message_level(), 7);
    assert_eq!(
        ok(&["-D", "--show-stats", "--message-level", "1", "a", "b"]).effective_message_level(),
        25
    );
    assert_eq!(
        ok(&["--check-params", "--message-level", "31", "a", "b"]).effective_message_level(),
        7
    );
    assert_eq!(ok(&["a", "b"]).check_supported(), Ok(()));
    assert_eq!(
        ok(&["-i", "info", "a", "b"])
            .check_supported()
            .unwrap_err()
            .to_string(),
        "-i is not supported by dumpfilter: dumpfilter reads VMCOREINFO from the dump itself"
    );
}

/// Every option of the parser's table is in the help data exactly once: documented (with a
/// value exactly when it takes one) or listed as refused. The man page reads the same data.
#[test]
fn help_data_matches_the_option_table() {
    use crate::getopt::Arg;
    let documented: Vec<(String, bool)> = help::SECTIONS
        .iter()
        .flat_map(|s| s.options)
        .flat_map(|o| {
            o.flags
                .split(", ")
                .map(move |f| (f.to_string(), o.value.is_some()))
        })
        .collect();
    for spec in parse::SPECS {
        let name = match (spec.short, spec.long) {
            (Some(c), _) => format!("-{c}"),
            (None, Some(l)) => format!("--{l}"),
            (None, None) => unreachable!("a spec without a name"),
        };
        let doc = documented.iter().filter(|(f, _)| *f == name).count();
        let refused = help::REFUSED.iter().filter(|r| **r == name).count();
        assert_eq!(
            doc + refused,
            1,
            "{name}: documented {doc}, refused {refused}"
        );
        if let Some((_, takes_value)) = documented.iter().find(|(f, _)| *f == name) {
            assert_eq!(*takes_value, spec.arg == Arg::Required, "{name}'s value");
        }
    }
    // and nothing is documented that the parser does not know
    for (flag, _) in &documented {
        let known = parse::SPECS.iter().any(|s| {
            flag.strip_prefix("--").map_or_else(
                || flag.strip_prefix('-').and_then(|c| c.chars().next()) == s.short,
                |l| Some(l) == s.long,
            )
        });
        assert!(known, "{flag} is documented but not parsed");
    }
    let u = usage("dumpfilter");
    assert!(u.contains("  16 free pages"), "{u}");
    assert!(
        u.contains("  --stats-json FILE    write that report as JSON"),
        "{u}"
    );
}
