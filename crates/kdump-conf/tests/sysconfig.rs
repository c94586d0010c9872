//! /etc/sysconfig/kdump and /etc/default/kdump-tools: shell assignments, never executed.

use kdump_conf::{
    parse_assignments, parse_kdump_tools, parse_sysconfig, HostTag, Severity, TargetPlan,
};

#[test]
fn assignments_with_quotes_escapes_and_comments() {
    let text = "A=plain\nB=\"double \\\"q\\\" \\$HOME\"\nC='single $x'  # note\nexport D=x\\ y\nE=\nF=\"multi\nline\"\n# G=commented\n";
    let (a, d) = parse_assignments(text);
    assert!(d.is_empty(), "{d:?}");
    let got: Vec<(&str, &str)> = a
        .iter()
        .map(|a| (a.name.as_str(), a.value.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("A", "plain"),
            ("B", "double \"q\" $HOME"),
            ("C", "single $x"),
            ("D", "x y"),
            ("E", ""),
            ("F", "multi\nline"),
        ]
    );
    assert_eq!((a[5].span.line, a[5].span.column), (6, 1));
    let (a, _) = parse_assignments("A=1 B=2\n");
    assert_eq!(a.len(), 2);
}

#[test]
fn shell_syntax_we_do_not_run_is_an_error_at_its_place() {
    for (text, line, column, piece) in [
        ("A=$HOME\n", 1, 3, "variable expansion"),
        ("A=\"${X:-y}\"\n", 1, 4, "variable expansion"),
        ("A=`id`\n", 1, 3, "command substitution"),
        ("A=\"$(id)\"\n", 1, 4, "command substitution"),
        ("\n  rm -rf /\n", 2, 3, "expected NAME=VALUE"),
        ("A=1; B=2\n", 1, 4, "`;`"),
        ("A=1 && reboot\n", 1, 5, "expected NAME=VALUE"),
        ("A=x|y\n", 1, 4, "`|`"),
        ("A=*.img\n", 1, 3, "would be expanded"),
        ("A=~/x\n", 1, 3, "leading `~`"),
        ("A=\"open\n", 1, 3, "unterminated double quote"),
        ("A='open\n", 1, 3, "unterminated single quote"),
        ("if true; then A=1; fi\n", 1, 1, "expected NAME=VALUE"),
        ("1A=x\n", 1, 1, "expected NAME=VALUE"),
        (". /etc/other\n", 1, 1, "expected NAME=VALUE"),
    ] {
        let (_, d) = parse_assignments(text);
        assert!(
            d.iter().any(|d| d.severity == Severity::Error
                && d.span.line == line
                && d.span.column == column
                && d.message.contains(piece)),
            "{text:?}: {d:?}"
        );
    }
}

#[test]
fn sysconfig_unknown_and_repeated_variables_warn() {
    let (k, d) = parse_sysconfig(
        "KEXEC_ARGS=\"-s\"\nKEXEC_ARGS=\"-s -d\"\nKDUMP_FOO=1\nKDUMP_IMG_EXT=\".gz\"\n",
    );
    assert_eq!(k.kexec_args, ["-s", "-d"]);
    // KDUMP_IMG_EXT goes after the version (/boot/vmlinuz-VER.gz), so it is kept apart.
    assert_eq!(k.kernel.as_deref(), Some("vmlinuz"));
    assert_eq!(k.kernel_ext.as_deref(), Some(".gz"));
    let msgs: Vec<String> = d.iter().map(|d| d.display("f").to_string()).collect();
    assert_eq!(
        msgs,
        [
            "f:2:1: warning: `KEXEC_ARGS` set again (first on line 1): the last value is used",
            "f:3:1: warning: unknown variable `KDUMP_FOO` for /etc/sysconfig/kdump",
        ]
    );
}

#[test]
fn kdump_tools_targets_and_defaults() {
    let (p, d) = parse_kdump_tools("USE_KDUMP=0\n");
    assert!(d.is_empty());
    assert_eq!(p.kernel.as_ref().unwrap().enabled, Some(false));
    assert_eq!(p.target, TargetPlan::Default);
    assert_eq!(p.host, HostTag::None);
    assert_eq!(p.collector.argv.join(" "), "makedumpfile -F -c -d 31");
    assert_eq!(p.dump_dir.as_deref(), Some("/var/crash/%Y%m%d%H%M"));

    let (p, d) = parse_kdump_tools("NFS=\"remote:/var/crash\"\nMAKEDUMP_ARGS=\"-c -d 31\"\n");
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(
        p.target,
        TargetPlan::Nfs {
            server: "remote".into(),
            export: "/var/crash".into()
        }
    );
    assert_eq!(p.host, HostTag::Address);
    assert_eq!(p.collector.argv.join(" "), "makedumpfile -c -d 31 -F");
    let t = kdump_conf::Timestamp::from_unix(1_700_000_000);
    assert_eq!(
        p.dump_dir("10.0.0.5", &t).as_deref(),
        Some("/10.0.0.5-202311142213")
    );

    let (_, d) = parse_kdump_tools("SSH=nohost\nMAKEDUMP_ARGS=\"-d 99\"\n");
    let msgs: Vec<String> = d.iter().map(|d| d.display("f").to_string()).collect();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(msgs[0].starts_with("f:1:1: error: SSH=\"nohost\": expected USER@HOST"));
    assert!(msgs[1].starts_with("f:2:1: error: MAKEDUMP_ARGS: option -d: expected a dump level"));
}

#[test]
fn dos_line_endings_warn_once() {
    let (a, d) = parse_assignments("A=1\r\nB=\"2\"\r\n");
    assert_eq!(
        a.iter().map(|a| a.value.as_str()).collect::<Vec<_>>(),
        ["1", "2"]
    );
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].span.line, d[0].span.column, d[0].severity),
        (1, 4, Severity::Warning)
    );
}
