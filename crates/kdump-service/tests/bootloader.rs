//! Boot-loader edits on fixture files of each format: exact output, idempotent, untouched
//! entries and comments, and the atomic apply with backups.

mod common;

use common::{fixture, TempRoot};
use kdump_service::bootloader::{self, BootConfigKind};
use kdump_service::crashkernel::Crashkernel;
use kdump_service::sysinfo::SysRoot;
use std::path::Path;

/// (input fixture, kind, value, expected fixture)
const CASES: &[(&str, BootConfigKind, &str, &str)] = &[
    (
        "grub-legacy-seed.conf",
        BootConfigKind::GrubLegacy,
        "256M",
        "grub-legacy-seed.conf.256M",
    ),
    (
        "grub-legacy-multi.conf",
        BootConfigKind::GrubLegacy,
        "256M",
        "grub-legacy-multi.conf.256M",
    ),
    (
        "default-grub-debian",
        BootConfigKind::DefaultGrub,
        "2G-64G:256M,64G-:512M",
        "default-grub-debian.default",
    ),
    (
        "default-grub-fedora",
        BootConfigKind::DefaultGrub,
        "512M",
        "default-grub-fedora.512M",
    ),
    (
        "default-grub-none",
        BootConfigKind::DefaultGrub,
        "256M",
        "default-grub-none.256M",
    ),
    (
        "grub.d-kdump-tools.cfg",
        BootConfigKind::GrubDropIn,
        "256M",
        "grub.d-kdump-tools.cfg.removed",
    ),
    (
        "bls-fedora.conf",
        BootConfigKind::Bls,
        "512M",
        "bls-fedora.conf.512M",
    ),
    (
        "bls-nooptions.conf",
        BootConfigKind::Bls,
        "512M",
        "bls-nooptions.conf.512M",
    ),
];

#[test]
fn each_format_gives_the_exact_expected_file() {
    for &(input, kind, value, expected) in CASES {
        let got = bootloader::edit(kind, Path::new(input), &fixture(input), value).unwrap();
        assert_eq!(got, fixture(expected), "{input} with crashkernel={value}");
    }
}

#[test]
fn applying_twice_is_applying_once() {
    for &(input, kind, value, _) in CASES {
        let once = bootloader::edit(kind, Path::new(input), &fixture(input), value).unwrap();
        let twice = bootloader::edit(kind, Path::new(input), &once, value).unwrap();
        assert_eq!(once, twice, "{input}");
    }
}

#[test]
fn only_the_target_line_changes() {
    for &(input, kind, value, _) in CASES {
        let old = fixture(input);
        let new = bootloader::edit(kind, Path::new(input), &old, value).unwrap();
        let (ol, nl): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
        let changed = ol.iter().zip(&nl).filter(|(a, b)| a != b).count();
        let added = nl.len() - ol.len();
        // Either exactly one line appended, or at most two lines changed in place
        // (/etc/default/grub: _DEFAULT loses its crashkernel=, LINUX gets the new one).
        assert!(
            (added == 1 && changed == 0) || (added == 0 && (1..=2).contains(&changed)),
            "{input}: {changed} changed, {added} added"
        );
        for l in ol.iter().filter(|l| l.trim_start().starts_with('#')) {
            assert!(nl.contains(l), "{input}: comment {l:?} lost");
        }
    }
}

#[test]
fn grub_legacy_other_entries_untouched() {
    let old = fixture("grub-legacy-multi.conf");
    let new = bootloader::edit_grub_legacy(Path::new("g"), &old, "256M").unwrap();
    assert!(new.contains("kernel /vmlinuz-2.6.18-8.el5 ro root=LABEL=/ crashkernel=64M@16M\n"));
    assert!(new.contains("\tchainloader +1\n"));
    assert!(new.contains("# A comment mentioning crashkernel=64M that must stay.\n"));
}

#[test]
fn grub_legacy_bad_default_is_an_error_naming_the_file() {
    let text = fixture("grub-legacy-seed.conf").replace("default=0", "default=3");
    let e = bootloader::edit_grub_legacy(Path::new("/boot/grub/grub.conf"), &text, "1G")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/boot/grub/grub.conf") && e.contains("default=3"),
        "{e}"
    );
    let no_kernel = "default=0\ntitle x\n\troot (hd0,0)\n";
    let e = bootloader::edit_grub_legacy(Path::new("g"), no_kernel, "1G").unwrap_err();
    assert!(e.to_string().contains("no `kernel` line"), "{e}");
}

#[test]
fn default_grub_refuses_shell_expansion() {
    let text = "GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX quiet\"\n";
    let e = bootloader::edit_default_grub(Path::new("/etc/default/grub"), text, "1G").unwrap_err();
    assert!(e.to_string().contains("/etc/default/grub:1"), "{e}");
    // Unquoted single word becomes quoted when it gains a second word.
    let got =
        bootloader::edit_default_grub(Path::new("g"), "GRUB_CMDLINE_LINUX=quiet\n", "1G").unwrap();
    assert_eq!(got, "GRUB_CMDLINE_LINUX=\"quiet crashkernel=1G\"\n");
    // Single quotes are kept.
    let got =
        bootloader::edit_default_grub(Path::new("g"), "GRUB_CMDLINE_LINUX='a'\n", "1G").unwrap();
    assert_eq!(got, "GRUB_CMDLINE_LINUX='a crashkernel=1G'\n");
}

#[test]
fn seed_diff_is_exact() {
    let old = fixture("grub-legacy-seed.conf");
    let new = fixture("grub-legacy-seed.conf.256M");
    let d = kdump_service::diff::unified("/boot/grub/grub.conf", &old, &new);
    assert_eq!(
        d,
        "--- a/boot/grub/grub.conf\n+++ b/boot/grub/grub.conf\n@@ -6,5 +6,5 @@\n hiddenmenu\n \
         title Red Hat Enterprise Linux Server (2.6.18-8.el5)\n \troot (hd0,0)\n\
         -\tkernel /vmlinuz-2.6.18-8.el5 ro root=/dev/VolGroup00/LogVol00 rhgb quiet crashkernel=128M@16M\n\
         +\tkernel /vmlinuz-2.6.18-8.el5 ro root=/dev/VolGroup00/LogVol00 rhgb quiet crashkernel=256M\n \
         \tinitrd /initrd-2.6.18-8.el5.img\n"
    );
}

fn fake_boot_root() -> TempRoot {
    let t = TempRoot::new("boot");
    t.put("/boot/grub/grub.conf", fixture("grub-legacy-seed.conf"));
    t.put("/etc/default/grub", fixture("default-grub-fedora"));
    t.put("/boot/grub2/grub.cfg", "# generated\n");
    t.put("/boot/loader/entries/a.conf", fixture("bls-fedora.conf"));
    t.put("/boot/loader/entries/b.conf", fixture("bls-nooptions.conf"));
    t.put("/boot/loader/entries/README", "not an entry\n");
    t
}

#[test]
fn plan_changes_nothing_on_disk() {
    let t = fake_boot_root();
    let root = SysRoot::new(t.path());
    let ck = Crashkernel::parse("512M").unwrap();
    let plan = bootloader::plan(&root, &ck).unwrap();
    let paths: Vec<String> = plan.iter().map(|c| c.path.display().to_string()).collect();
    assert_eq!(
        paths,
        [
            "/boot/grub/grub.conf",
            "/etc/default/grub",
            "/boot/loader/entries/a.conf",
            "/boot/loader/entries/b.conf"
        ]
    );
    assert!(plan.iter().all(|c| c.changes()));
    assert_eq!(t.read("/etc/default/grub"), fixture("default-grub-fedora"));
    assert!(!t.path().join("etc/default/grub.kdump-bak").exists());
}

#[test]
fn apply_writes_atomically_keeps_backups_and_is_idempotent() {
    let t = fake_boot_root();
    let root = SysRoot::new(t.path());
    let ck = Crashkernel::parse("512M").unwrap();
    let plan = bootloader::plan(&root, &ck).unwrap();
    let done = bootloader::apply(&root, &plan).unwrap();
    assert!(done.iter().all(|a| a.backup.is_some()));
    assert_eq!(
        t.read("/etc/default/grub"),
        fixture("default-grub-fedora.512M")
    );
    assert_eq!(
        t.read("/etc/default/grub.kdump-bak"),
        fixture("default-grub-fedora")
    );
    assert_eq!(
        t.read("/boot/loader/entries/a.conf"),
        fixture("bls-fedora.conf.512M")
    );
    assert_eq!(
        t.read("/boot/loader/entries/b.conf"),
        fixture("bls-nooptions.conf.512M")
    );
    assert_eq!(t.read("/boot/loader/entries/README"), "not an entry\n");
    let seed512 =
        fixture("grub-legacy-seed.conf").replace("crashkernel=128M@16M", "crashkernel=512M");
    assert_eq!(t.read("/boot/grub/grub.conf"), seed512);
    // No temporary files left behind.
    for dir in ["etc/default", "boot/grub", "boot/loader/entries"] {
        for e in std::fs::read_dir(t.path().join(dir)).unwrap() {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!n.contains("kdump-tmp"), "{dir}/{n} left behind");
        }
    }
    // The second run plans no change and writes nothing (backups keep the original).
    let again = bootloader::plan(&root, &ck).unwrap();
    assert!(again.iter().all(|c| !c.changes()));
    let done = bootloader::apply(&root, &again).unwrap();
    assert!(done.iter().all(|a| a.backup.is_none()));
    assert_eq!(
        t.read("/etc/default/grub.kdump-bak"),
        fixture("default-grub-fedora")
    );
    // What to run afterwards: grub2-mkconfig for this Fedora-like tree, nothing for the others.
    assert_eq!(
        BootConfigKind::DefaultGrub.followup(&root).as_deref(),
        Some("grub2-mkconfig -o /boot/grub2/grub.cfg")
    );
    assert_eq!(BootConfigKind::GrubLegacy.followup(&root), None);
}

#[test]
fn apply_refuses_a_file_changed_after_planning() {
    let t = fake_boot_root();
    let root = SysRoot::new(t.path());
    let plan = bootloader::plan(&root, &Crashkernel::parse("512M").unwrap()).unwrap();
    t.put("/etc/default/grub", "GRUB_TIMEOUT=1\n");
    let e = bootloader::apply(&root, &plan).unwrap_err().to_string();
    assert!(e.contains("changed since the plan"), "{e}");
}

/// A Debian system with kdump-tools: its grub.d drop-in appends crashkernel=384M-:128M to
/// GRUB_CMDLINE_LINUX_DEFAULT, which would override /etc/default/grub; it is cleaned too.
#[test]
fn debian_with_kdump_tools_dropin() {
    let t = TempRoot::new("debian");
    t.put("/etc/default/grub", fixture("default-grub-debian"));
    t.put(
        "/etc/default/grub.d/kdump-tools.cfg",
        fixture("grub.d-kdump-tools.cfg"),
    );
    t.put("/etc/default/grub.d/other.cfg", "GRUB_TIMEOUT=2\n");
    t.put("/boot/grub/grub.cfg", "# generated\n");
    let root = SysRoot::new(t.path());
    let ck = Crashkernel::parse("2G-64G:256M,64G-:512M").unwrap();
    let plan = bootloader::plan(&root, &ck).unwrap();
    let kinds: Vec<(String, BootConfigKind)> = plan
        .iter()
        .map(|c| (c.path.display().to_string(), c.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("/etc/default/grub".to_string(), BootConfigKind::DefaultGrub),
            (
                "/etc/default/grub.d/kdump-tools.cfg".to_string(),
                BootConfigKind::GrubDropIn
            )
        ]
    );
    bootloader::apply(&root, &plan).unwrap();
    assert_eq!(
        t.read("/etc/default/grub"),
        fixture("default-grub-debian.default")
    );
    assert_eq!(
        t.read("/etc/default/grub.d/kdump-tools.cfg"),
        fixture("grub.d-kdump-tools.cfg.removed")
    );
    assert_eq!(t.read("/etc/default/grub.d/other.cfg"), "GRUB_TIMEOUT=2\n");
    // The backup does not end in .cfg, so grub-mkconfig does not source it.
    assert!(t
        .path()
        .join("etc/default/grub.d/kdump-tools.cfg.kdump-bak")
        .exists());
    // Once cleaned, the drop-in no longer sets crashkernel= and is not planned again.
    let again = bootloader::plan(&root, &ck).unwrap();
    assert_eq!(again.len(), 1);
    assert!(!again[0].changes());
    assert!(BootConfigKind::GrubDropIn
        .followup(&root)
        .unwrap()
        .starts_with("update-grub"));
}

#[test]
fn nothing_to_edit_is_an_error() {
    let t = TempRoot::new("empty");
    let e = bootloader::plan(&SysRoot::new(t.path()), &Crashkernel::parse("1G").unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("/etc/default/grub"), "{e}");
}

mod prop {
    use kdump_service::bootloader;
    use proptest::prelude::*;
    use std::path::Path;

    /// Text built from the words these formats care about, so edits are often reachable.
    fn config_text() -> impl Strategy<Value = String> {
        let word = prop_oneof![
            Just("crashkernel=128M@16M".to_string()),
            Just("crashkernel=1G,high".to_string()),
            Just("kernel".to_string()),
            Just("/vmlinuz".to_string()),
            Just("title".to_string()),
            Just("default=1".to_string()),
            Just("default".to_string()),
            Just("options".to_string()),
            Just("GRUB_CMDLINE_LINUX=".to_string()),
            Just("GRUB_CMDLINE_LINUX_DEFAULT=".to_string()),
            Just("\"".to_string()),
            Just("'".to_string()),
            Just("#".to_string()),
            Just("\n".to_string()),
            Just("\r\n".to_string()),
            Just(" ".to_string()),
            Just("\t".to_string()),
            Just("\x0b".to_string()),
            "[a-z=]{1,6}",
        ];
        prop::collection::vec(word, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn edits_never_panic_and_are_idempotent(text in config_text()) {
            let v = "2G-64G:256M,64G-:512M";
            if let Ok(once) = bootloader::edit_grub_dropin(Path::new("f"), &text) {
                prop_assert_eq!(bootloader::edit_grub_dropin(Path::new("f"), &once).ok(), Some(once.clone()));
            }
            for edit in [
                bootloader::edit_grub_legacy,
                bootloader::edit_default_grub,
                bootloader::edit_bls,
            ] {
                if let Ok(once) = edit(Path::new("f"), &text, v) {
                    let twice = edit(Path::new("f"), &once, v);
                    prop_assert_eq!(twice.as_ref().ok(), Some(&once));
                }
            }
            let once = bootloader::set_in_args(&text, v);
            prop_assert_eq!(bootloader::set_in_args(&once, v), once.clone());
            prop_assert_eq!(bootloader::values_in_args(&once), vec![v.to_string()]);
        }
    }
}
