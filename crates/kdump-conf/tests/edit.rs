//! The edit API: set or remove a directive, everything else printed as it was.

use kdump_conf::{Document, EditError};

const TEXT: &str = "# my config\n  path /var/crash   # local\n\ncore_collector makedumpfile -l -d 31\npath /dup\n#raw /dev/sdb1\nfinal_action reboot";

#[test]
fn set_replaces_the_first_keeps_indent_and_comment_and_drops_repeats() {
    let mut doc = Document::parse(TEXT);
    assert_eq!(doc.to_string(), TEXT);
    doc.set("path", "/srv/crash").unwrap();
    assert_eq!(
        doc.to_string(),
        "# my config\n  path /srv/crash # local\n\ncore_collector makedumpfile -l -d 31\n#raw /dev/sdb1\nfinal_action reboot"
    );
    // line numbers and spans are those of the new text
    let p = doc.get("path").unwrap();
    assert_eq!((p.value_span.line, p.value_span.column), (2, 8));
    assert_eq!(doc.get("final_action").unwrap().name_span.line, 6);
}

#[test]
fn set_appends_a_missing_directive_and_quotes_when_needed() {
    let mut doc = Document::parse(TEXT);
    doc.set("raw", "/dev/sdb1").unwrap();
    assert!(doc
        .to_string()
        .ends_with("final_action reboot\nraw /dev/sdb1\n"));
    doc.set("kdump_post", " /x ").unwrap();
    assert!(doc
        .to_string()
        .ends_with("raw /dev/sdb1\nkdump_post \" /x \"\n"));
    assert_eq!(doc.get("kdump_post").unwrap().value, " /x ");
    doc.set("core_collector", "\"odd\"").unwrap();
    assert_eq!(doc.get("core_collector").unwrap().value, "\"odd\"");
}

#[test]
fn set_refuses_what_kdumpctl_could_not_read_back() {
    let mut doc = Document::parse(TEXT);
    assert!(matches!(
        doc.set("path", "/a#b"),
        Err(EditError::BadValue { .. })
    ));
    assert!(matches!(
        doc.set("path", ""),
        Err(EditError::BadValue { .. })
    ));
    assert!(matches!(
        doc.set("path", "a\nb"),
        Err(EditError::BadValue { .. })
    ));
    assert!(matches!(
        doc.set("two words", "x"),
        Err(EditError::BadName(_))
    ));
    assert!(matches!(doc.set("#path", "x"), Err(EditError::BadName(_))));
    assert_eq!(doc.to_string(), TEXT, "a refused edit changes nothing");
}

#[test]
fn remove_deletes_every_line_of_the_directive_only() {
    let mut doc = Document::parse(TEXT);
    assert_eq!(doc.remove("path"), 2);
    assert_eq!(
        doc.to_string(),
        "# my config\n\ncore_collector makedumpfile -l -d 31\n#raw /dev/sdb1\nfinal_action reboot"
    );
    assert_eq!(doc.remove("raw"), 0, "comments are not directives");
    let checked = kdump_conf::check(&doc.to_string());
    assert!(checked.is_valid());
}
