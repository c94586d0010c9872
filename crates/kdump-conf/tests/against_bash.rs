//! Differential test of the shell-assignment reader against bash: for generated files that we
//! accept without a diagnostic, bash must assign the same values. Only such files are given to
//! bash (assignments of words built from letters, quotes, blanks and escapes, no `/`), in an
//! empty environment. Skipped with a reason when bash is missing.

use std::process::Command;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9_.,:=+%@]{1,4}",
        "[a-z \t'#\\\\\"$`]{0,5}".prop_map(|s| format!("\"{s}\"")),
        "[a-z \t\"#\\\\$]{0,5}".prop_map(|s| format!("'{s}'")),
        "[a-z \"'#]".prop_map(|s| format!("\\{s}")),
        Just("\\\n".to_string()),
    ]
}

fn assignment() -> impl Strategy<Value = (String, String)> {
    (
        prop::sample::select(vec!["KDUMP_COMMANDLINE", "KEXEC_ARGS", "KDUMP_IMG", "X_1"]),
        prop::collection::vec(piece(), 0..4),
        prop_oneof![Just(""), Just("  # trailing"), Just(" ")],
    )
        .prop_map(|(n, v, c)| (n.to_string(), format!("{n}={}{c}", v.concat())))
}

#[test]
fn accepted_assignments_mean_what_bash_assigns() {
    if Command::new("bash").arg("-c").arg("true").output().is_err() {
        return test_skip::skip(
            "accepted_assignments_mean_what_bash_assigns",
            "bash not found",
        );
    }
    let dir = std::env::temp_dir().join(format!("kdump-conf-vs-bash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let compared = std::cell::Cell::new(0u32);
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
        .run(&prop::collection::vec(assignment(), 1..5), |lines| {
            let text: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
            let (vars, diags) = kdump_conf::parse_assignments(&text);
            if !diags.is_empty() {
                return Ok(());
            }
            compared.set(compared.get() + 1);
            let file = dir.join("vars.sh");
            std::fs::write(&file, &text).unwrap();
            let names: Vec<&str> = lines.iter().map(|(n, _)| n.as_str()).collect();
            let script = names
                .iter()
                .map(|n| format!("printf '%s\\0' \"${n}\"; "))
                .collect::<String>();
            let out = Command::new("bash")
                .arg("--norc")
                .arg("--noprofile")
                .arg("-c")
                .arg(format!(". \"$1\" && {{ {script} }}"))
                .arg("_")
                .arg(&file)
                .env_clear()
                .current_dir(&dir)
                .output()
                .unwrap();
            prop_assert!(out.status.success(), "bash failed on {:?}", text);
            let bash: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .split('\0')
                .map(String::from)
                .take(names.len())
                .collect();
            let ours: Vec<String> = names
                .iter()
                .map(|n| {
                    vars.iter()
                        .rev()
                        .find(|a| a.name == *n)
                        .map(|a| a.value.clone())
                        .unwrap_or_default()
                })
                .collect();
            prop_assert_eq!(ours, bash, "{:?}", text);
            Ok(())
        })
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("compared {} files with bash", compared.get());
    assert!(
        compared.get() > 50,
        "too few accepted files: {}",
        compared.get()
    );
}
