//! The one parser: kdumpctl's commands (start, stop, restart, status, showmem,
//! get-default-crashkernel, test) and the spellings kept for scripts, run through the built
//! binary on the host. Nothing here loads a kernel or crashes anything: on the host the
//! capture kernel is not loaded and the guard refuses kexec and sysrq (KDUMP_RS_TESTING=1).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn kdump_with_stdin(args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_kdump"))
        .args(args)
        .env("KDUMP_RS_TESTING", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kdump");
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output().expect("wait for kdump");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn kdump(args: &[&str]) -> (i32, String, String) {
    kdump_with_stdin(args, "")
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kdump-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn put(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A fake /proc and /sys of a 1 GiB machine with crashkernel=192M; `loaded` is
/// /sys/kernel/kexec_crash_loaded.
fn fake_root(tag: &str, loaded: bool) -> PathBuf {
    let d = tmpdir(tag);
    put(&d, "/proc/cmdline", "root=/dev/vda ro crashkernel=192M\n");
    put(
        &d,
        "/proc/iomem",
        "00001000-0009fbff : System RAM\n00100000-3ffdffff : System RAM\n  2f000000-3affffff : Crash kernel\n",
    );
    put(&d, "/proc/sys/kernel/osrelease", "6.1.0-56-amd64\n");
    put(&d, "/sys/kernel/kexec_crash_size", "201326592\n");
    put(
        &d,
        "/sys/kernel/kexec_crash_loaded",
        if loaded { "1\n" } else { "0\n" },
    );
    d
}

fn conf(tag: &str) -> PathBuf {
    let d = tmpdir(tag);
    let f = d.join("kdump.conf");
    std::fs::write(
        &f,
        "path /var/crash\ncore_collector makedumpfile -l -d 31\n",
    )
    .unwrap();
    f
}

#[test]
fn status_speaks_kdumpctl() {
    let r = fake_root("status-on", true);
    let (code, out, err) = kdump(&["status", "--root", r.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Kdump is operational\n"), "{out}");
    assert!(out.contains("reserved:         192.0 MiB"), "{out}");
    let r = fake_root("status-off", false);
    let (code, out, _) = kdump(&["status", "--root", r.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(out.starts_with("Kdump is not operational\n"), "{out}");
    assert!(out.contains("panic kernel:     not loaded"), "{out}");
}

#[test]
fn showmem_and_default_crashkernel() {
    let r = fake_root("showmem", false);
    let (code, out, err) = kdump(&["showmem", "--root", r.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "Reserved 192MB memory for crash kernel\n");
    let empty = tmpdir("showmem-none");
    let (code, _, err) = kdump(&["showmem", "--root", empty.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("kexec_crash_size is absent"), "{err}");

    let (code, out, _) = kdump(&["get-default-crashkernel"]);
    assert_eq!((code, out.as_str()), (0, "2G-64G:256M,64G-:512M\n"));
    let (code, out, _) = kdump(&["get-default-crashkernel", "kdump", "--sme-sev"]);
    assert_eq!((code, out.as_str()), (0, "2G-64G:320M,64G-:576M\n"));
    let (code, _, err) = kdump(&["get-default-crashkernel", "fadump"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn test_is_refused_on_the_host() {
    let loaded =
        std::fs::read_to_string("/sys/kernel/kexec_crash_loaded").is_ok_and(|s| s.trim() == "1");
    for (args, stdin) in [(&["test", "--yes"][..], ""), (&["test"][..], "y\n")] {
        let (code, out, err) = kdump_with_stdin(args, stdin);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        if loaded {
            // a capture kernel is loaded here: the host guard is what refuses
            assert!(
                err.contains("refusing writing /proc/sysrq-trigger"),
                "{err}"
            );
        } else {
            assert!(err.contains("Kdump is not operational"), "{err}");
            assert!(!err.contains("DANGER"), "asked before refusing: {err}");
        }
    }
}

#[test]
fn start_stop_restart_report_as_kdumpctl() {
    let f = conf("start");
    let c = f.to_str().unwrap();
    // Not loaded here, and the kernel does not exist: start fails after checking the config.
    let (code, _, err) = kdump(&["start", "--config", c, "--kernel", "/nonexistent/vmlinuz"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/vmlinuz does not exist"), "{err}");
    assert!(err.contains("Starting kdump: [FAILED]"), "{err}");
    // stop: the guard refuses the unload system call under a test harness
    let (code, _, err) = kdump(&["stop"]);
    assert_eq!(code, 1);
    assert!(err.contains("refusing kexec_file_load"), "{err}");
    assert!(err.contains("Stopping kdump: [FAILED]"), "{err}");
    let (code, _, err) = kdump(&["restart", "--config", c]);
    assert_eq!(code, 1);
    assert!(err.contains("Stopping kdump: [FAILED]"), "{err}");
    // an invalid configuration stops start before anything else
    let bad = tmpdir("start-bad").join("kdump.conf");
    std::fs::write(&bad, "raw /dev/sda1\ncore_collector makedumpfile -d 31\n").unwrap();
    let (code, _, err) = kdump(&["start", "--config", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("has errors (see `kdump check`)"), "{err}");
}

#[test]
fn one_set_of_spellings() {
    let f = conf("spell");
    let c = f.to_str().unwrap();
    // global options before or after the subcommand; `-c` kept in check for old scripts
    for args in [
        vec!["check", "--config", c],
        vec!["--config", c, "check"],
        vec!["check", "-c", c],
        vec!["check", &format!("--config={c}")],
    ] {
        let (code, out, err) = kdump(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert_eq!(out, format!("{c}: valid (0 warning(s))\n"), "{args:?}");
    }
    // load: -s/-c/-a are kexec(8)'s; --file-load and --kexec-load are their long aliases
    for sys in [
        "-s",
        "-c",
        "-a",
        "--file-load",
        "--kexec-load",
        "--kexec-syscall",
    ] {
        let (code, _, err) = kdump(&["load", sys, "--config", c, "--kernel", "/nonexistent/k"]);
        assert_eq!(code, 1, "{sys}: {err}");
        assert!(
            err.contains("/nonexistent/k does not exist"),
            "{sys}: {err}"
        );
    }
    for args in [
        vec!["load", "-s", "-c"],
        vec!["load", "--initrd", "x", "--no-initrd"],
        vec!["--kdump-tools", c, "--config", c, "show"],
        vec!["status", "--json"],
        vec!["save", "--kernel", "x"],
    ] {
        let (code, _, err) = kdump(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("error:"), "{args:?}: {err}");
    }
    let (code, out, _) = kdump(&["--help"]);
    assert_eq!(code, 0);
    for sub in [
        "check",
        "show",
        "start",
        "stop",
        "restart",
        "status",
        "load",
        "unload",
        "save",
        "propagate",
        "showmem",
        "estimate",
        "get-default-crashkernel",
        "reset-crashkernel",
        "install-service",
        "test",
    ] {
        assert!(
            out.contains(&format!("\n  {sub} ")),
            "{sub} missing from --help:\n{out}"
        );
    }
    let (code, _, err) = kdump(&[]);
    assert_eq!(code, 2);
    assert!(err.contains("Usage: kdump"), "{err}");
}
