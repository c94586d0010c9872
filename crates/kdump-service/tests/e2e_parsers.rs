//! Property tests for the parsers of issue 7: the capture command line editor, the
//! /proc/cpuinfo reader and the file-system superblock probe never panic, and the command line
//! edit keeps exactly the parameters it should.

use kdump_service::load::{boot_cpu_apicid, capture_cmdline, split_cmdline, ALWAYS_REMOVED};
use kdump_service::target::{probe, PROBE_LEN};
use proptest::prelude::*;

fn word() -> impl Strategy<Value = String> {
    "[a-z_.]{1,8}(=[a-z0-9,]{0,6})?"
}

proptest! {
    #[test]
    fn cmdline_edit_removes_and_appends(
        base in proptest::collection::vec(word(), 0..12),
        remove in proptest::collection::vec("[a-z_.]{1,8}", 0..4),
        append in proptest::collection::vec(word(), 0..4),
    ) {
        let out = capture_cmdline(&base.join(" "), &remove, &[append.join(" ")], Some(3));
        let words = split_cmdline(&out);
        let name = |w: &str| w.split('=').next().unwrap_or("").to_string();
        let kept: Vec<&String> = base
            .iter()
            .filter(|w| {
                let n = name(w);
                !remove.contains(&n) && !ALWAYS_REMOVED.contains(&n.as_str())
            })
            .collect();
        prop_assert_eq!(words.len(), kept.len() + append.len() + 1);
        for (a, b) in words.iter().zip(kept.iter()) {
            prop_assert_eq!(a, *b);
        }
        prop_assert_eq!(words.last().map(String::as_str), Some("disable_cpu_apicid=3"));
    }

    #[test]
    fn cmdline_never_panics(s in "\\PC{0,200}", r in "\\PC{0,40}") {
        let _ = capture_cmdline(&s, std::slice::from_ref(&r), std::slice::from_ref(&r), None);
        let _ = split_cmdline(&s);
    }

    #[test]
    fn cpuinfo_never_panics(s in "\\PC{0,300}") {
        let _ = boot_cpu_apicid(&s);
    }

    #[test]
    fn probe_never_panics(head in proptest::collection::vec(any::<u8>(), 0..PROBE_LEN + 16), magic in 0u8..4) {
        let mut h = head;
        // Plant a magic now and then so the field readers run on random bytes.
        match magic {
            1 if h.len() >= 2048 => { h[1080] = 0x53; h[1081] = 0xef; }
            2 if h.len() >= 4 => h[..4].copy_from_slice(b"XFSB"),
            3 if h.len() >= 0x10048 => h[0x10040..0x10048].copy_from_slice(b"_BHRfS_M"),
            _ => {}
        }
        let _ = probe(&h);
    }
}
