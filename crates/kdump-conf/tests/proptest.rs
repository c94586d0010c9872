//! Property tests: never a panic, lossless printing, edits that do what they say.

use kdump_conf::{check, parse_assignments, plan, Document, LineKind};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(
            kdump_conf::DIRECTIVES
                .iter()
                .chain(&["net", "options", "link_delay", "blacklist", "bogus"])
                .copied()
                .collect::<Vec<_>>()
        )
        .prop_map(String::from),
        "[a-z_#\"]{1,8}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "/dev/sda1",
            "LABEL=/boot",
            "UUID=abc",
            "nfs.example.com:/export",
            "u@h",
            "[::1]:/x",
            "makedumpfile -l --message-level 7 -d 31",
            "makedumpfile -F -d 31 -c",
            "dumpfilter -d 32",
            "dumpfilter --lz4 -E",
            "scp",
            "reboot",
            "dump_to_rootfs",
            "0",
            "1",
            "yes",
            "no",
            "--mount \"/dev/a /a ext4\"",
            "\"quoted value\"",
            "x # comment",
            "\"",
            "#",
            "a\tb",
        ])
        .prop_map(String::from),
        "\\PC{0,12}",
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => ("[ \t]{0,2}", name(), "[ \t]{1,3}", value(), prop_oneof![Just(""), Just(" # c"), Just("\r")])
            .prop_map(|(a, n, b, v, c)| format!("{a}{n}{b}{v}{c}")),
        1 => "[ \t]{0,3}(#.{0,10})?",
    ]
}

fn config() -> impl Strategy<Value = String> {
    (prop::collection::vec(line(), 0..12), any::<bool>()).prop_map(|(lines, last_nl)| {
        let mut t = lines.join("\n");
        if last_nl && !t.is_empty() {
            t.push('\n');
        }
        t
    })
}

fn assert_spans_inside(text: &str, c: &kdump_conf::Checked) -> Result<(), TestCaseError> {
    let lines: Vec<&str> = text.split('\n').collect();
    for d in &c.diagnostics {
        prop_assert!(d.span.line >= 1 && d.span.line <= lines.len(), "{:?}", d);
        let len = lines[d.span.line - 1].chars().count();
        prop_assert!(
            d.span.column >= 1 && d.span.column <= len + 1,
            "{:?} in {:?}",
            d,
            text
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_text_never_panics_and_prints_back(text in "\\PC{0,200}") {
        let c = check(&text);
        prop_assert_eq!(c.document.to_string(), text.clone());
        assert_spans_inside(&text, &c)?;
        let _ = plan(&c.config).to_json();
    }

    #[test]
    fn configs_print_back_and_plan(text in config()) {
        let c = check(&text);
        prop_assert_eq!(c.document.to_string(), text.clone());
        assert_spans_inside(&text, &c)?;
        let p = plan(&c.config);
        let json = p.to_json();
        prop_assert!(json.starts_with('{'), "not an object: {}", json);
        // diagnostics are sorted by place
        let spans: Vec<_> = c.diagnostics.iter().map(|d| d.span).collect();
        let mut sorted = spans.clone();
        sorted.sort();
        prop_assert_eq!(spans, sorted);
    }

    #[test]
    fn set_then_get_returns_the_value(
        text in config(),
        n in prop::sample::select(vec!["path", "core_collector", "final_action", "extra_bins"]),
        v in "[ -~]{1,20}",
    ) {
        let mut doc = Document::parse(&text);
        let before: Vec<String> = doc
            .lines()
            .iter()
            .filter(|l| !matches!(&l.kind, LineKind::Directive(d) if d.name == n))
            .map(|l| l.text.clone())
            .collect();
        match doc.set(n, &v) {
            Ok(()) => {
                let got = doc.get(n).map(|d| d.value.clone());
                prop_assert_eq!(got.as_deref(), Some(v.as_str()));
                prop_assert_eq!(doc.directives().filter(|d| d.name == n).count(), 1);
                // every other line is kept, in order
                let after: Vec<String> = doc
                    .lines()
                    .iter()
                    .filter(|l| !matches!(&l.kind, LineKind::Directive(d) if d.name == n))
                    .map(|l| l.text.clone())
                    .collect();
                prop_assert_eq!(before, after);
                // and what it prints parses to the same document
                let printed = doc.to_string();
                prop_assert_eq!(Document::parse(&printed), doc.clone());
                prop_assert!(doc.remove(n) == 1);
                prop_assert!(doc.get(n).is_none());
            }
            Err(_) => prop_assert!(v.contains('#') || v.trim().is_empty()),
        }
    }

    #[test]
    fn shell_parser_never_panics(text in "\\PC{0,200}") {
        let _ = parse_assignments(&text);
        let _ = kdump_conf::parse_sysconfig(&text);
        let _ = kdump_conf::parse_kdump_tools(&text);
    }

    #[test]
    fn shell_quoting_round_trips(v in "[ -~\t]{0,30}") {
        // double quotes, escaping what a shell would treat specially inside them
        let mut q = String::from("KDUMP_COMMANDLINE=\"");
        for c in v.chars() {
            if matches!(c, '"' | '\\' | '$' | '`') {
                q.push('\\');
            }
            q.push(c);
        }
        q.push_str("\"\n");
        let (a, d) = parse_assignments(&q);
        prop_assert!(d.is_empty(), "{:?}", d);
        prop_assert_eq!(&a[0].value, &v);
        // single quotes, when the value has none
        if !v.contains('\'') {
            let (a, d) = parse_assignments(&format!("X='{v}' # c\n"));
            prop_assert!(d.is_empty());
            prop_assert_eq!(&a[0].value, &v);
        }
    }
}
