//! `path` values that climb out of the dump target (`..` components) are refused, at the
//! line and column of the value (issue 19: a dump must not land in /etc).

use kdump_conf::{check, Severity};

#[test]
fn parent_components_in_path_are_errors_at_their_place() {
    for (text, line, column) in [
        ("path ../../etc\n", 1, 6),
        ("ext4 LABEL=kdump\n  path /var/crash/../../etc\n", 2, 8),
        ("path /var/crash/..\n", 1, 6),
    ] {
        let c = check(text);
        assert!(!c.is_valid(), "{text:?} was accepted");
        let d = c
            .diagnostics
            .iter()
            .find(|d| d.message.contains("`..`"))
            .unwrap_or_else(|| panic!("{text:?}: {:?}", c.diagnostics));
        assert_eq!(d.severity, Severity::Error);
        assert_eq!((d.span.line, d.span.column), (line, column), "{text:?}");
        assert!(
            d.message.contains("outside the dump target"),
            "{}",
            d.message
        );
    }
    // Names that only contain dots are directories like any other.
    for ok in ["path /var/crash\n", "path /var/..crash/x..y/...\n"] {
        let c = check(ok);
        assert!(c.is_valid(), "{ok:?}: {:?}", c.diagnostics);
    }
}
