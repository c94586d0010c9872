//! Differential test of how a line is split into directive and value: our reader against
//! kdump-utils' own `kdump_read_conf` (from kdump-lib-initramfs.sh, run by bash, as kdumpctl
//! runs it). Opt-in: set KDUMP_UTILS_LIB to that file (Fedora installs it as
//! /usr/lib/kdump/kdump-lib-initramfs.sh, which is also tried); skipped with a printed reason
//! otherwise.

use std::path::PathBuf;
use std::process::Command;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn library() -> Option<PathBuf> {
    std::env::var_os("KDUMP_UTILS_LIB")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/lib/kdump/kdump-lib-initramfs.sh")))
        .filter(|p| p.is_file())
}

/// What kdump_read_conf prints for a config text: one "name value" per directive.
fn kdumpctl_view(lib: &PathBuf, text: &str, dir: &std::path::Path, n: usize) -> Vec<String> {
    let file = dir.join(format!("case-{n}.conf"));
    std::fs::write(&file, text).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#". "$1"; KDUMP_CONFIG_FILE="$2"; kdump_read_conf"#)
        .arg("_")
        .arg(lib)
        .arg(&file)
        .output()
        .expect("run bash");
    String::from_utf8_lossy(&out.stdout)
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

fn our_view(text: &str) -> Vec<String> {
    kdump_conf::Document::parse(text)
        .directives()
        // kdump_read_conf prints the value it kept, quotes removed
        .map(|d| format!("{} {}", d.name, d.value))
        .collect()
}

fn line() -> impl Strategy<Value = String> {
    let chars = prop::sample::select(vec![
        ' ', '\t', '#', '"', '\r', '\x0b', '\x0c', 'a', 'b', 'p', '/', '\\', '=', '@', ':', '-',
    ]);
    prop_oneof![
        prop::collection::vec(chars.clone(), 0..16).prop_map(|v| v.into_iter().collect()),
        (
            "[ \t]{0,2}",
            prop::sample::select(vec!["path", "core_collector", "raw", "nfs"]),
            "[ \t]{0,2}",
            prop::collection::vec(chars, 0..12).prop_map(|v| v.into_iter().collect::<String>()),
        )
            .prop_map(|(a, n, b, v)| format!("{a}{n}{b}{v}")),
    ]
}

#[test]
fn lines_split_like_kdump_read_conf() {
    let Some(lib) = library() else {
        eprintln!("SKIP: set KDUMP_UTILS_LIB to kdump-utils' kdump-lib-initramfs.sh to compare with kdumpctl");
        return;
    };
    let dir = std::env::temp_dir().join(format!("kdump-conf-vs-kdumpctl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // names that bash's echo would take as its own options are not compared
    let fixed = [
        "path  \"/var/crash\"  # c\n",
        "core_collector \"makedumpfile -l\" x\n",
        "  # comment\n\tnfs a:/b\n",
        "raw\n",
        "foo \"a#b\"\n",
        "path /x\r\n",
        "path /x #c\r\n",
        "path \"\"\n",
        "path \"\n",
        "\x0c\npath\x0b/x\n",
        "path \\#x\n",
    ];
    for (i, text) in fixed.iter().enumerate() {
        assert_eq!(
            our_view(text),
            kdumpctl_view(&lib, text, &dir, i),
            "{text:?}"
        );
    }
    let n = std::cell::Cell::new(100usize);
    let config = Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    };
    // Random on developer runs; a fixed seed under CI so a submission does not depend on luck.
    let mut runner = if std::env::var_os("CI").is_some() {
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
    } else {
        TestRunner::new(config)
    };
    runner
        .run(&prop::collection::vec(line(), 1..6), |lines| {
            let text = lines.join("\n") + "\n";
            n.set(n.get() + 1);
            let ours = our_view(&text);
            if ours.iter().any(|l| l.starts_with('-')) {
                return Ok(());
            }
            let theirs = kdumpctl_view(&lib, &text, &dir, n.get());
            prop_assert_eq!(ours, theirs, "{:?}", text);
            Ok(())
        })
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
