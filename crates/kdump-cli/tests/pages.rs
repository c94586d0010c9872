//! The generated pages document everything the parsers accept, and the completions are valid
//! bash.

use clap::CommandFactory;
use kdump_cli::kdump::Cli;

fn page(path: &str) -> String {
    let p = kdump_cli::pages()
        .into_iter()
        .find(|p| p.path == path)
        .unwrap_or_else(|| panic!("no page {path}"));
    String::from_utf8(p.bytes).expect("UTF-8 page")
}

/// How roff writes text: `-` is escaped as `\-`, `'` as `\*(Aq`.
fn roff(word: &str) -> String {
    word.replace('-', "\\-").replace('\'', "\\*(Aq")
}

#[test]
fn kdump_8_has_every_subcommand_and_option() {
    let man = page("man/kdump.8");
    assert!(man.contains("\n.TH KDUMP 8 "), "{man}");
    let cmd = Cli::command();
    let mut seen = 0;
    for a in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        if let Some(l) = a.get_long() {
            assert!(man.contains(&roff(&format!("--{l}"))), "global --{l}");
        }
    }
    for sub in cmd.get_subcommands() {
        let name = sub.get_name();
        assert!(
            man.contains(&format!(".SS {name}\n")),
            "no section for {name}"
        );
        for a in sub.get_arguments().filter(|a| !a.is_hide_set()) {
            if let Some(l) = a.get_long() {
                assert!(man.contains(&roff(&format!("--{l}"))), "{name} --{l}");
                seen += 1;
            }
            if let Some(c) = a.get_short() {
                assert!(man.contains(&roff(&format!("-{c}"))), "{name} -{c}");
            }
            for alias in a.get_visible_aliases().unwrap_or_default() {
                assert!(
                    man.contains(&roff(&format!("--{alias}"))),
                    "{name} --{alias}"
                );
            }
        }
    }
    assert!(seen > 30, "only {seen} options checked");
    for sub in [
        "start",
        "get-default-crashkernel",
        "showmem",
        "test",
        "install-service",
    ] {
        assert!(man.contains(&format!(".SS {sub}\n")), "{sub}");
    }
    // the section of `load` lists its own options and not the global ones again
    let load = &man[man.find(".SS load").unwrap()..];
    let load = &load[..load[4..].find(".SS").unwrap()];
    assert!(load.contains(&roff("--kexec-file-syscall")), "{load}");
    assert!(!load.contains(&roff("--sysconfig")), "{load}");
}

#[test]
fn kdump_conf_5_has_every_directive() {
    let man = page("man/kdump.conf.5");
    for d in kdump_conf::DIRECTIVES {
        assert!(man.contains(&format!(".TP\n\\fB{}\\fR", roff(d))), "{d}");
    }
    for (d, _) in kdump_conf::REMOVED_DIRECTIVES {
        assert!(man.contains(&format!("\\fB{}\\fR", roff(d))), "removed {d}");
    }
}

#[test]
fn kexec_load_8_and_dumpfilter_8_follow_their_help_tables() {
    let man = page("man/kexec-load.8");
    let help = kdump_cli::kexec_load::usage();
    for o in kdump_cli::kexec_load::OPTIONS {
        for l in o.long {
            assert!(man.contains(&roff(&format!("--{l}"))), "--{l}");
            assert!(help.contains(&format!("--{l}")), "--{l}");
        }
        if let Some(c) = o.short {
            assert!(man.contains(&format!("\\fB\\-{c}\\fR")), "-{c}");
        }
        assert!(man.contains(&roff(o.help)), "{}", o.help);
    }
    let man = page("man/dumpfilter.8");
    let help = dumpfilter_options::usage("dumpfilter");
    for s in dumpfilter_options::help::SECTIONS {
        for o in s.options {
            for f in o.flags.split(", ") {
                assert!(man.contains(&format!("\\fB{}\\fR", roff(f))), "{f}");
                assert!(help.contains(f), "{f}");
            }
        }
    }
    for r in dumpfilter_options::help::REFUSED {
        assert!(man.contains(&roff(r)), "{r}");
    }
}

#[test]
fn completions_are_bash_and_name_every_subcommand() {
    let dir = std::env::temp_dir().join(format!("kdump-cli-compl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for p in kdump_cli::pages() {
        let Some(name) = p.path.strip_prefix("completions/") else {
            continue;
        };
        let f = dir.join(name);
        std::fs::write(&f, &p.bytes).unwrap();
        let out = std::process::Command::new("bash")
            .arg("-n")
            .arg(&f)
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&p.bytes);
        let fun = format!("complete -F _{} ", name.replace('-', "__"));
        assert!(
            text.contains(&fun) && text.trim_end().ends_with(&format!(" {name}\nfi")),
            "{name}: no `{fun}... {name}`"
        );
    }
    let k = String::from_utf8(kdump_cli::completions::kdump()).unwrap();
    for sub in [
        "get-default-crashkernel",
        "showmem",
        "--kexec-file-syscall",
        "--kdump-tools",
    ] {
        assert!(k.contains(sub), "{sub}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn same_sources_same_bytes() {
    assert_eq!(kdump_cli::pages(), kdump_cli::pages());
}
