//! Golden plans for the fixtures in tests/data: `<name>.<ext>` -> `<name>.<ext>.json`.
//! Regenerate with `UPDATE_GOLDEN=1 cargo test -p kdump-conf --test golden` and review the diff.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn diag_strings(diags: &[kdump_conf::Diagnostic]) -> Vec<String> {
    diags
        .iter()
        .map(|d| d.display("").to_string()[1..].to_string())
        .collect()
}

/// What a fixture produces, as JSON.
fn render(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    if name.ends_with(".conf") {
        let checked = kdump_conf::check(&text);
        assert_eq!(checked.document.to_string(), text, "{name}: lossless");
        json!({
            "valid": checked.is_valid(),
            "diagnostics": diag_strings(&checked.diagnostics),
            "plan": kdump_conf::plan(&checked.config),
        })
    } else if name.ends_with(".sysconfig") {
        let (kernel, diags) = kdump_conf::parse_sysconfig(&text);
        json!({ "diagnostics": diag_strings(&diags), "kernel": kernel })
    } else {
        let (plan, diags) = kdump_conf::parse_kdump_tools(&text);
        json!({ "diagnostics": diag_strings(&diags), "plan": plan })
    }
}

#[test]
fn fixtures_match_their_golden_plans() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "json"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 12, "fixtures missing: {inputs:?}");
    let mut failures = Vec::new();
    for input in &inputs {
        let got = render(input);
        let golden = PathBuf::from(format!("{}.json", input.display()));
        let pretty = serde_json::to_string_pretty(&got).unwrap() + "\n";
        if update {
            std::fs::write(&golden, &pretty).unwrap();
            continue;
        }
        match std::fs::read_to_string(&golden) {
            Ok(want) if want == pretty => {}
            Ok(want) => failures.push(format!(
                "{}: plan differs from {}\n--- want\n{want}\n--- got\n{pretty}",
                input.display(),
                golden.display()
            )),
            Err(e) => failures.push(format!(
                "{}: {e} (run with UPDATE_GOLDEN=1)",
                golden.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
