//! Runs the built `kdump save` on the host with `--no-action` (it never reboots: the final
//! action is only reported, and outside a capture kernel it would be refused anyway), and the
//! usage errors of load/save/propagate. `kdump load` itself is exercised in the VM tests only.

use std::path::PathBuf;
use std::process::Command;

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

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kdump-dump-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn save_with_a_spawned_collector_to_a_directory() {
    let d = dir("save");
    let conf = d.join("kdump.conf");
    std::fs::write(
        &conf,
        "path /var/crash\ncore_collector cp\nfinal_action halt\n",
    )
    .unwrap();
    let vmcore = d.join("vmcore.in");
    std::fs::write(&vmcore, b"x".repeat(5000)).unwrap();
    let root = d.join("root");
    let (code, out, err) = kdump(&[
        "save",
        "--config",
        conf.to_str().unwrap(),
        "--vmcore",
        vmcore.to_str().unwrap(),
        "--target-root",
        root.to_str().unwrap(),
        "--no-action",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("saving vmcore complete"), "{out}");
    assert!(out.contains("action: halt (not run: --no-action)"), "{out}");
    let saved: Vec<_> = std::fs::read_dir(root.join("var/crash")).unwrap().collect();
    assert_eq!(saved.len(), 1);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn save_refuses_an_invalid_config_and_bad_usage() {
    let d = dir("bad");
    let conf = d.join("kdump.conf");
    std::fs::write(
        &conf,
        "raw /dev/nonexistent\ncore_collector makedumpfile -d 31\n",
    )
    .unwrap();
    let (code, _, err) = kdump(&["save", "--config", conf.to_str().unwrap(), "--no-action"]);
    assert_eq!(code, 1);
    assert!(err.contains("-F") && err.contains("has errors"), "{err}");
    let (code, _, err) = kdump(&["save", "--bogus"]);
    assert_eq!(code, 2);
    assert!(err.contains("--bogus"), "{err}");
    let (code, _, err) = kdump(&["propagate", "--config", conf.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    let _ = std::fs::remove_dir_all(&d);
}
