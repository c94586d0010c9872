//! The checks kdumpctl and mkdumprd make, as a table of invalid configurations with the line
//! and column of the expected error, plus facts about the seed's examples.

use kdump_conf::{check, plan, Severity, TargetPlan};

/// (config text, line, column, severity, a piece of the message)
const INVALID: &[(&str, usize, usize, Severity, &str)] = &[
    (
        "frobnicate yes\n",
        1,
        1,
        Severity::Error,
        "unknown directive `frobnicate`",
    ),
    (
        "path /var/crash\n  bogus 1\n",
        2,
        3,
        Severity::Error,
        "unknown directive `bogus`",
    ),
    ("path\n", 1, 1, Severity::Error, "`path` needs a value"),
    (
        "path # only a comment\n",
        1,
        1,
        Severity::Error,
        "`path` needs a value",
    ),
    ("path \"\"\n", 1, 1, Severity::Error, "`path` needs a value"),
    (
        "path /a\npath /b\n",
        2,
        1,
        Severity::Error,
        "`path` given twice (first on line 1)",
    ),
    (
        "failure_action reboot\ndefault halt\n",
        2,
        1,
        Severity::Error,
        "`default` given twice: `failure_action` on line 1",
    ),
    (
        "raw /dev/sdb1\next4 /dev/sdc1\n",
        2,
        1,
        Severity::Error,
        "more than one dump target: `raw` on line 1",
    ),
    (
        "nfs a:/x\nssh u@h\n",
        2,
        1,
        Severity::Error,
        "more than one dump target",
    ),
    (
        "ext4 UUID=1234\ndracut_args --mount \"/dev/sdb1 /mnt xfs defaults\"\n",
        2,
        1,
        Severity::Error,
        "more than one dump target",
    ),
    (
        "dracut_args --mount \"/dev/a /a ext4\" --mount \"/dev/b /b ext4\"\n",
        1,
        13,
        Severity::Error,
        "more than one --mount",
    ),
    (
        "dracut_args --mount \"/dev/a\"\n",
        1,
        13,
        Severity::Error,
        "DEVICE MOUNTPOINT FSTYPE",
    ),
    (
        "failure_action explode\n",
        1,
        16,
        Severity::Error,
        "expected one of reboot, halt, poweroff, shell, dump_to_rootfs",
    ),
    (
        "final_action shell\n",
        1,
        14,
        Severity::Error,
        "expected one of reboot, halt, poweroff",
    ),
    (
        "ssh crash.example.com\n",
        1,
        5,
        Severity::Error,
        "expected USER@HOST",
    ),
    ("ssh @host\n", 1, 5, Severity::Error, "expected USER@HOST"),
    (
        "nfs server-without-export\n",
        1,
        5,
        Severity::Error,
        "expected HOST:/EXPORT",
    ),
    (
        "net justahost\n",
        1,
        5,
        Severity::Error,
        "expected HOST:/EXPORT (NFS) or USER@HOST (SSH)",
    ),
    (
        "ext4 sda1\n",
        1,
        6,
        Severity::Error,
        "expected a device node",
    ),
    (
        "xfs LABEL=\n",
        1,
        5,
        Severity::Error,
        "expected a device node",
    ),
    (
        "raw /dev/sda1 /dev/sdb1\n",
        1,
        15,
        Severity::Error,
        "takes one block device",
    ),
    (
        "force_rebuild 1\nforce_no_rebuild 1\n",
        2,
        1,
        Severity::Error,
        "force_rebuild and force_no_rebuild cannot both be 1",
    ),
    (
        "force_rebuild yes\n",
        1,
        15,
        Severity::Error,
        "expected 0 or 1",
    ),
    (
        "ext4 /dev/sdb1\ncore_collector makedumpfile -F -l -d 31\n",
        2,
        16,
        Severity::Error,
        "remove -F (it is only for raw and ssh targets)",
    ),
    (
        "core_collector dumpfilter -F -d 31\n",
        1,
        16,
        Severity::Error,
        "this target saves a dump file",
    ),
    (
        "raw /dev/sda1\ncore_collector makedumpfile -d 31 -c\n",
        2,
        16,
        Severity::Error,
        "the `raw` target needs the collector's -F option",
    ),
    (
        "ssh kdump@h\ncore_collector makedumpfile -l -d 31\n",
        2,
        16,
        Severity::Error,
        "the `ssh` target needs the collector's -F option",
    ),
    (
        "net kdump@h\ncore_collector dumpfilter -l -d 31\n",
        2,
        16,
        Severity::Error,
        "the `net` target needs the collector's -F option",
    ),
    (
        "core_collector makedumpfile -d 32\n",
        1,
        32,
        Severity::Error,
        "option -d: expected a dump level 0-31",
    ),
    (
        "core_collector makedumpfile -l --message-level 7 -d31x\n",
        1,
        50,
        Severity::Error,
        "option -d: expected a dump level",
    ),
    (
        "core_collector makedumpfile -l --frobnicate\n",
        1,
        32,
        Severity::Error,
        "unknown option --frobnicate",
    ),
    (
        "core_collector makedumpfile -c -E -d 31\n",
        1,
        32,
        Severity::Error,
        "-c cannot be used with -E",
    ),
    (
        "core_collector makedumpfile -d 31 /proc/vmcore\n",
        1,
        35,
        Severity::Error,
        "kdump appends VMCORE and DUMPFILE",
    ),
    (
        "core_collector makedumpfile --split -d 31\n",
        1,
        29,
        Severity::Error,
        "--split cannot be used in a core_collector line",
    ),
    (
        "core_collector makedumpfile -d\n",
        1,
        29,
        Severity::Error,
        "option -d needs a value",
    ),
    (
        "core_collector makedumpfile --lz4 -d 31\n",
        1,
        29,
        Severity::Error,
        "--lz4 is a dumpfilter extension",
    ),
    (
        "core_collector dumpfilter -x vmlinux -d 31\n",
        1,
        27,
        Severity::Error,
        "-x is not supported",
    ),
    (
        "options loop max_loop=1\n",
        1,
        1,
        Severity::Error,
        "KDUMP_COMMANDLINE_APPEND",
    ),
    (
        "link_delay 10\n",
        1,
        1,
        Severity::Error,
        "`link_delay` was removed",
    ),
    (
        "disk_timeout 30\n",
        1,
        1,
        Severity::Error,
        "`disk_timeout` was removed",
    ),
    ("debug_mem_level 2\n", 1, 1, Severity::Error, "rd.memdebug"),
    (
        "blacklist nouveau\n",
        1,
        1,
        Severity::Error,
        "rd.driver.blacklist",
    ),
];

#[test]
fn every_invalid_config_is_reported_where_it_is() {
    let mut failures = Vec::new();
    for (text, line, column, severity, piece) in INVALID {
        let c = check(text);
        let found = c.diagnostics.iter().any(|d| {
            d.span.line == *line
                && d.span.column == *column
                && d.severity == *severity
                && d.message.contains(piece)
        });
        if !found {
            failures.push(format!(
                "{text:?}: wanted {line}:{column} {severity}: …{piece}…, got {:?}",
                c.diagnostics
                    .iter()
                    .map(|d| d.display("").to_string())
                    .collect::<Vec<_>>()
            ));
        }
        if *severity == Severity::Error {
            assert!(!c.is_valid(), "{text:?} must be invalid");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn all_problems_are_reported_not_only_the_first() {
    let text = "frobnicate 1\npath\nfailure_action boom\nlink_delay 3\nraw /dev/a\nraw /dev/b\n";
    let c = check(text);
    let lines: Vec<usize> = c
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.span.line)
        .collect();
    assert_eq!(lines, [1, 2, 3, 4, 6]);
    let shown = c.diagnostics[0].display("/etc/kdump.conf").to_string();
    assert_eq!(
        shown,
        "/etc/kdump.conf:1:1: error: unknown directive `frobnicate`"
    );
}

#[test]
fn warnings_keep_the_config_valid() {
    for (text, line, column, piece) in [
        (
            "net nfs.example.com:/export/vmcores\n",
            1,
            1,
            "write `nfs nfs.example.com:/export/vmcores`",
        ),
        (
            "net kdump@crash.example.com\n",
            1,
            1,
            "write `ssh kdump@crash.example.com`",
        ),
        ("default shell\n", 1, 1, "write `failure_action` instead"),
        (
            "raw /dev/sda1\npath /x\n",
            2,
            6,
            "`path` is ignored for a raw target",
        ),
        (
            "sshkey /root/.ssh/k\n",
            1,
            8,
            "only used with an ssh target",
        ),
        (
            "core_collector makedumpfile -c -l -d 31\n",
            1,
            16,
            "-c is overridden by -l",
        ),
        (
            "core_collector makedumpfile -x vmlinux -d 31\n",
            1,
            29,
            "dumpfilter does not support it",
        ),
        (
            "core_collector makedumpfile -d 31 | gzip\n",
            1,
            35,
            "without a shell",
        ),
        (
            "auto_reset_crashkernel maybe\n",
            1,
            24,
            "anything but `no` means yes",
        ),
        ("path /var/crash\r\n", 1, 6, "carriage return"),
        ("failure_action dump_to_rootfs\n", 1, 16, "no target is set"),
        (
            "fence_kdump_args -p 7410\n",
            1,
            1,
            "without fence_kdump_nodes",
        ),
        (
            "raw /dev/sda1\ncore_collector cat\n",
            2,
            16,
            "recovered from the device by hand",
        ),
    ] {
        let c = check(text);
        let hit = c.diagnostics.iter().any(|d| {
            d.severity == Severity::Warning
                && d.span.line == line
                && d.span.column == column
                && d.message.contains(piece)
        });
        assert!(hit, "{text:?}: {:?}", c.diagnostics);
        // "| gzip" is an error for makedumpfile's parser: an operand in a collector line
        if !text.contains('|') {
            assert!(c.is_valid(), "{text:?}: {:?}", c.diagnostics);
        }
    }
}

#[test]
fn seed_examples_plan_as_kdump_would() {
    let p = plan(&check("raw /dev/sda1\n").config);
    assert_eq!(
        p.target,
        TargetPlan::Raw {
            device: "/dev/sda1".into()
        }
    );
    assert_eq!(
        p.collector.argv.join(" "),
        "makedumpfile -l --message-level 7 -d 31 -F"
    );
    assert!(p.collector.is_default && p.collector.flattened);
    assert_eq!(p.path, None);

    let p = plan(&check("ext3 LABEL=/boot\npath /usr/local/cores\n").config);
    assert_eq!(p.path.as_deref(), Some("/usr/local/cores"));
    assert_eq!(
        p.collector.argv.join(" "),
        "makedumpfile -l --message-level 7 -d 31"
    );
    let t = kdump_conf::Timestamp::from_unix(1_700_000_000); // 2023-11-14 22:13:20 UTC
    assert_eq!(
        p.dump_dir(p.known_host().unwrap(), &t).as_deref(),
        Some("/usr/local/cores/127.0.0.1-2023-11-14-22:13:20")
    );

    let c = check("net nfs.example.com:/export/vmcores\n");
    assert!(c.is_valid());
    assert_eq!(
        plan(&c.config).target,
        TargetPlan::Nfs {
            server: "nfs.example.com".into(),
            export: "/export/vmcores".into()
        }
    );

    let c = check("net kdump@crash.example.com\n");
    let p = plan(&c.config);
    assert!(matches!(&p.target, TargetPlan::Ssh { user, host, sshkey }
        if user == "kdump" && host == "crash.example.com" && sshkey == "/root/.ssh/kdump_id_rsa"));
    assert_eq!(p.dump_file, "vmcore.flat");
    assert!(p.collector.argv.contains(&"-F".to_string()));

    let p = plan(&check("core_collector makedumpfile -d 31 -c\n").config);
    assert_eq!(p.collector.argv.join(" "), "makedumpfile -d 31 -c");
    assert_eq!(p.collector.dump_level, Some(31));
    assert_eq!(p.collector.compression, Some("zlib"));
    assert_eq!(p.target, TargetPlan::Default);
    assert_eq!(p.path.as_deref(), Some("/var/crash"));
}

#[test]
fn kdumpctl_quoting_and_comments() {
    let c = check("core_collector \"makedumpfile -l -d 31\" # fast\n");
    let d = c.document.get("core_collector").unwrap();
    assert_eq!(d.value, "makedumpfile -l -d 31");
    assert!(d.quoted);
    assert_eq!(d.comment.as_deref(), Some("# fast"));
    assert_eq!(d.value_span.column, 17);
    // a '#' inside quotes still starts a comment for kdumpctl
    let c = check("path \"/var/crash#1\"\n");
    assert_eq!(c.document.get("path").unwrap().value, "\"/var/crash");
    // only one pair of quotes is removed
    let c = check("path \"\"/x\"\"\n");
    assert_eq!(c.document.get("path").unwrap().value, "\"/x\"");
}

#[test]
fn timestamps_format_like_date() {
    let t = kdump_conf::Timestamp::from_unix(0);
    assert_eq!(
        t.format(kdump_conf::KDUMP_DIR_DATE_FORMAT),
        "1970-01-01-00:00:00"
    );
    let t = kdump_conf::Timestamp::from_unix(951_782_400); // 2000-02-29
    assert_eq!(t.format("%Y%m%d%H%M %T %%"), "200002290000 00:00:00 %");
    let t = kdump_conf::Timestamp::from_unix(-1);
    assert_eq!(t.format("%Y-%m-%d %T"), "1969-12-31 23:59:59");
}
