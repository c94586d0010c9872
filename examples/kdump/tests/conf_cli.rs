//! Runs the built `kdump check` / `kdump show` on real files: exit codes and message format.

use std::path::PathBuf;
use std::process::Command;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/kdump-conf/tests/data")
        .join(name)
}

fn kdump(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kdump"))
        .args(args)
        .output()
        .expect("run kdump");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kdump-conf-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn check_valid_file_exits_0() {
    let f = data("kdump-utils-default.conf");
    let (code, out, err) = kdump(&["check", "--config", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.is_empty(), "{err}");
    assert!(out.ends_with(": valid (0 warning(s))\n"), "{out}");
}

#[test]
fn check_valid_with_warnings_exits_0() {
    let f = data("seed-net-nfs.conf");
    let f = f.to_str().unwrap();
    let (code, _, err) = kdump(&["check", &format!("--config={f}")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        err,
        format!("{f}:1:1: warning: `net` is the old syntax for an NFS target: write `nfs nfs.example.com:/export/vmcores`\n")
    );
}

#[test]
fn check_invalid_file_exits_1_with_every_problem() {
    let f = temp(
        "bad.conf",
        "raw /dev/sda1\ncore_collector makedumpfile -d 31 -c\nlink_delay 5\nfinal_action shell\n",
    );
    let f = f.to_str().unwrap();
    let (code, out, err) = kdump(&["check", "--config", f]);
    assert_eq!(code, 1, "{out}{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            format!("{f}:2:16: error: the `raw` target needs the collector's -F option (a flattened stream on stdout); add -F"),
            format!("{f}:3:1: error: `link_delay` was removed from kdump.conf: dracut's network module waits for the link by itself; remove the line"),
            format!("{f}:4:14: error: `final_action shell`: expected one of reboot, halt, poweroff"),
        ]
    );
    assert!(out.contains("invalid (3 error(s), 0 warning(s))"), "{out}");
}

#[test]
fn check_missing_file_and_bad_usage() {
    let (code, _, err) = kdump(&["check", "--config", "/nonexistent/kdump.conf"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot read /nonexistent/kdump.conf"), "{err}");
    let (code, _, _) = kdump(&["check", "--bogus"]);
    assert_eq!(code, 2);
}

#[test]
fn show_prints_the_plan_as_json_and_text() {
    let f = data("seed-raw.conf");
    let (code, out, err) = kdump(&["show", "--config", f.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    // checked as text: this test crate has no JSON dependency
    assert!(
        out.trim_start().starts_with('{') && out.trim_end().ends_with('}'),
        "{out}"
    );
    assert!(out.contains("\"kind\": \"raw\""), "{out}");
    assert!(out.contains("\"device\": \"/dev/sda1\""), "{out}");
    assert!(out.contains("\"-F\""), "{out}");
    let (code, out, _) = kdump(&["show", "--config", f.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("raw device /dev/sda1"), "{out}");
    assert!(
        out.contains("makedumpfile -l --message-level 7 -d 31 -F"),
        "{out}"
    );

    let t = data("debian-ssh.kdump-tools");
    let (code, out, err) = kdump(&["show", "--kdump-tools", t.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ssh kdump@crash.example.com"), "{out}");

    let s = data("fedora.sysconfig");
    let (code, out, err) = kdump(&[
        "show",
        "--config",
        f.to_str().unwrap(),
        "--sysconfig",
        s.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("kexec args:      -s"), "{out}");
}

#[test]
fn show_refuses_an_invalid_config() {
    let f = temp("bad-show.conf", "ssh nobody\n");
    let (code, out, err) = kdump(&["show", "--config", f.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains(":1:5: error: `ssh nobody`: expected USER@HOST"),
        "{err}"
    );
}
