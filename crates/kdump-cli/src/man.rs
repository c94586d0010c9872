//! Man pages made from the definitions `--help` uses: kdump(8) from the clap command (a
//! section per subcommand), kexec-load(8) from [`crate::kexec_load::OPTIONS`], dumpfilter(8)
//! from [`dumpfilter_options::help`], kdump.conf(5) from [`kdump_conf::DIRECTIVE_DOCS`].
//!
//! The pages carry no date, so the same sources give the same bytes.

use clap_mangen::roff::{bold, italic, roman, Inline, Roff};
use clap_mangen::Man;

/// The project name in every page's footer.
const SOURCE: &str = concat!("kdump-rs ", env!("CARGO_PKG_VERSION"));
/// The manual the pages belong to.
const MANUAL: &str = "kdump-rs";

fn title(r: &mut Roff, name: &str, section: &str) {
    r.control("TH", [name, section, "", SOURCE, MANUAL]);
}

fn section(r: &mut Roff, name: &str) {
    r.control("SH", [name]);
}

fn para(r: &mut Roff, text: &str) {
    r.control("PP", []);
    r.text([roman(text)]);
}

/// A `.TP` entry: the spellings in bold (with `VALUE` in italics), then the text.
fn entry(r: &mut Roff, spellings: &[String], value: Option<&str>, help: &str) {
    r.control("TP", []);
    let mut tag: Vec<Inline> = Vec::new();
    for (i, s) in spellings.iter().enumerate() {
        if i > 0 {
            tag.push(roman(", "));
        }
        tag.push(bold(s.as_str()));
        if let Some(v) = value {
            tag.push(roman(" "));
            tag.push(italic(v));
        }
    }
    r.text(tag);
    r.text([roman(help.replace('\n', " "))]);
}

fn see_also(r: &mut Roff, pages: &[&str]) {
    section(r, "SEE ALSO");
    let mut line: Vec<Inline> = Vec::new();
    for (i, p) in pages.iter().enumerate() {
        if i > 0 {
            line.push(roman(", "));
        }
        let (name, sect) = p.split_once('(').unwrap_or((p, ""));
        line.push(bold(name));
        if !sect.is_empty() {
            line.push(roman(format!("({sect}")));
        }
    }
    r.text(line);
}

/// The spellings of a clap argument: `-s`, `--kexec-file-syscall`, visible aliases.
fn clap_spellings(a: &clap::Arg) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(c) = a.get_short() {
        v.push(format!("-{c}"));
    }
    if let Some(l) = a.get_long() {
        v.push(format!("--{l}"));
    }
    for l in a.get_visible_aliases().unwrap_or_default() {
        v.push(format!("--{l}"));
    }
    if v.is_empty() {
        v.push(
            a.get_value_names()
                .and_then(|n| n.first())
                .map_or_else(|| a.get_id().to_string(), |n| n.to_string()),
        );
    }
    v
}

fn clap_value(a: &clap::Arg) -> Option<String> {
    if a.is_positional() || !a.get_num_args().is_some_and(|n| n.takes_values()) {
        return None;
    }
    a.get_value_names()
        .and_then(|n| n.first())
        .map(|n| n.to_string())
}

fn clap_help(a: &clap::Arg) -> String {
    let mut h = a
        .get_long_help()
        .or(a.get_help())
        .map(|s| s.to_string())
        .unwrap_or_default();
    let takes_value = a.get_num_args().is_some_and(|n| n.takes_values());
    if takes_value && !a.get_default_values().is_empty() && !h.contains("[default:") {
        let d: Vec<String> = a
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        h.push_str(&format!(" [default: {}]", d.join(",")));
    }
    let possible = a.get_possible_values();
    if a.is_positional() && !possible.is_empty() {
        let p: Vec<&str> = possible.iter().map(|v| v.get_name()).collect();
        h.push_str(&format!(" [possible values: {}]", p.join(", ")));
    }
    h
}

/// The options of `cmd` that the page documents for it: not hidden, not help/version, and
/// (for a subcommand) not the global ones, which the OPTIONS section documents once.
fn documented_args(cmd: &clap::Command, skip_global: bool) -> Vec<&clap::Arg> {
    cmd.get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter(|a| !(skip_global && a.is_global_set()))
        .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
        .collect()
}

fn usage_of(parent: &str, sub: &clap::Command) -> String {
    let mut s = format!("{parent} {}", sub.get_name());
    for a in documented_args(sub, true) {
        let spell = clap_spellings(a);
        let first = spell.first().cloned().unwrap_or_default();
        let word = match clap_value(a) {
            Some(v) => format!("{first} {v}"),
            None => first,
        };
        if a.is_positional() && a.is_required_set() {
            s.push_str(&format!(" {word}"));
        } else {
            s.push_str(&format!(" [{word}]"));
        }
    }
    s
}

/// kdump(8): clap_mangen's title, name, synopsis, description and global options, then a
/// section per subcommand with its usage, its description and each of its options.
pub fn kdump() -> Vec<u8> {
    let mut cmd = crate::kdump::command();
    cmd.build();
    let man = Man::new(cmd.clone())
        .title("KDUMP")
        .section("8")
        .source(SOURCE)
        .manual(MANUAL);
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let mut r = Roff::new();
    section(&mut r, "OPTIONS");
    para(
        &mut r,
        "These options are accepted before or after any subcommand.",
    );
    for a in documented_args(&cmd, false) {
        entry(
            &mut r,
            &clap_spellings(a),
            clap_value(a).as_deref(),
            &clap_help(a),
        );
    }
    entry(
        &mut r,
        &["-h".into(), "--help".into()],
        None,
        "Print the help (of kdump or of a subcommand)",
    );
    entry(
        &mut r,
        &["-V".into(), "--version".into()],
        None,
        "Print the version",
    );
    section(&mut r, "COMMANDS");
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        r.control("SS", [sub.get_name()]);
        r.text([bold(usage_of("kdump", sub))]);
        let about = sub
            .get_long_about()
            .or(sub.get_about())
            .map(|s| s.to_string())
            .unwrap_or_default();
        para(&mut r, &about);
        for a in documented_args(sub, true) {
            entry(
                &mut r,
                &clap_spellings(a),
                clap_value(a).as_deref(),
                &clap_help(a),
            );
        }
    }
    section(&mut r, "EXIT STATUS");
    para(
        &mut r,
        "0 on success; 1 when the command failed (the message says why); 2 for a usage error. \
status exits 0 when kdump is operational and 3 when it is not; check exits 1 when the \
configuration has errors; save exits 1 when the dump is not complete.",
    );
    section(&mut r, "FILES");
    for (file, what) in [
        (
            kdump_conf::DEFAULT_PATH,
            "the dump target, collector and actions; see kdump.conf(5)",
        ),
        (
            kdump_conf::DEFAULT_SYSCONFIG_PATH,
            "kdump-utils' capture kernel settings (KDUMP_COMMANDLINE_APPEND, KDUMP_KERNELVER, ...)",
        ),
        (
            kdump_conf::DEFAULT_KDUMP_TOOLS_PATH,
            "Debian's kdump-tools settings, read when there is no kdump.conf",
        ),
        (
            "/sys/kernel/kexec_crash_loaded",
            "1 when a capture kernel is loaded",
        ),
        (
            "/sys/kernel/kexec_crash_size",
            "the memory reserved with crashkernel=",
        ),
    ] {
        entry(&mut r, &[file.to_string()], None, what);
    }
    see_also(
        &mut r,
        &[
            "kdump.conf(5)",
            "kexec-load(8)",
            "dumpfilter(8)",
            "kdumpctl(8)",
            "kexec(8)",
        ],
    );
    out.extend_from_slice(r.render().as_bytes());
    out
}

/// kexec-load(8), from the option table its `--help` prints.
pub fn kexec_load() -> Vec<u8> {
    use crate::kexec_load::{OPTIONS, SUMMARY, SYNOPSIS};
    let mut r = Roff::new();
    title(&mut r, "KEXEC-LOAD", "8");
    section(&mut r, "NAME");
    r.text([roman(format!("kexec-load - {SUMMARY}"))]);
    section(&mut r, "SYNOPSIS");
    r.text([bold("kexec-load"), roman(" "), italic(SYNOPSIS)]);
    section(&mut r, "DESCRIPTION");
    para(
        &mut r,
        "kexec-load loads a Linux kernel (bzImage or ELF) for a later kexec reboot (-l, then -e) \
or as the panic kernel that a crash boots (-p), with the options of kexec-tools' kexec. It \
tries kexec_file_load(2) first and falls back to kexec_load(2) with its own purgatory.",
    );
    section(&mut r, "OPTIONS");
    for o in OPTIONS {
        let mut sp = Vec::new();
        if let Some(c) = o.short {
            sp.push(format!("-{c}"));
        }
        sp.extend(o.long.iter().map(|l| format!("--{l}")));
        entry(&mut r, &sp, o.value, o.help);
    }
    section(&mut r, "EXIT STATUS");
    para(
        &mut r,
        "0 on success, 1 when the operation failed (or, with -S, when no kernel is loaded), \
2 for a usage error.",
    );
    see_also(
        &mut r,
        &[
            "kexec(8)",
            "kdump(8)",
            "kexec_load(2)",
            "kexec_file_load(2)",
        ],
    );
    r.render().into_bytes()
}

/// dumpfilter(8), from the tables its `-h` prints.
pub fn dumpfilter() -> Vec<u8> {
    use dumpfilter_options::help::{FORMS, REFUSED, SECTIONS, SUMMARY};
    let mut r = Roff::new();
    title(&mut r, "DUMPFILTER", "8");
    section(&mut r, "NAME");
    r.text([roman(format!("dumpfilter - {SUMMARY}"))]);
    section(&mut r, "SYNOPSIS");
    for (i, f) in FORMS.iter().enumerate() {
        if i > 0 {
            r.control("br", []);
        }
        r.text([bold("dumpfilter"), roman(" "), roman(f.args)]);
    }
    section(&mut r, "DESCRIPTION");
    para(
        &mut r,
        "dumpfilter reads a kernel crash dump (/proc/vmcore, an ELF vmcore or a kdump-compressed \
file), leaves out the pages the dump level names, and writes makedumpfile's formats with \
makedumpfile's options, so a kdump.conf core_collector line written for makedumpfile works \
verbatim. The forms of the command:",
    );
    for f in FORMS {
        entry(&mut r, &[format!("dumpfilter {}", f.args)], None, f.does);
    }
    for sec in SECTIONS {
        section(&mut r, &sec.title.to_uppercase());
        if let Some(n) = sec.note {
            para(&mut r, &format!("({n})"));
        }
        for (bit, what) in sec.table {
            entry(&mut r, &[bit.to_string()], None, what);
        }
        for o in sec.options {
            let sp: Vec<String> = o.flags.split(", ").map(String::from).collect();
            entry(&mut r, &sp, o.value, o.help);
        }
    }
    section(&mut r, "REFUSED OPTIONS");
    para(
        &mut r,
        &format!(
            "makedumpfile options that are accepted and refused with a message, because \
dumpfilter does not implement them: {}.",
            REFUSED.join(" ")
        ),
    );
    section(&mut r, "EXIT STATUS");
    para(&mut r, "0 on success, 1 on failure (as makedumpfile).");
    see_also(&mut r, &["makedumpfile(8)", "kdump(8)", "kdump.conf(5)"]);
    r.render().into_bytes()
}

/// kdump.conf(5), from the directive list and its one-line descriptions.
pub fn kdump_conf() -> Vec<u8> {
    let mut r = Roff::new();
    title(&mut r, "KDUMP.CONF", "5");
    section(&mut r, "NAME");
    r.text([roman("kdump.conf - where and how kdump saves a crash dump")]);
    section(&mut r, "SYNOPSIS");
    r.text([roman(kdump_conf::DEFAULT_PATH)]);
    section(&mut r, "DESCRIPTION");
    para(
        &mut r,
        "One directive per line, its arguments after it; # starts a comment. At most one dump \
target (raw, nfs, ssh, virtiofs or a file system type) may be given; without one the dump is \
saved under path on the root file system. kdump check validates the file and reports each \
problem at its line and column; kdump show prints what kdump will do with it.",
    );
    section(&mut r, "DIRECTIVES");
    for (name, args, what) in kdump_conf::DIRECTIVE_DOCS {
        entry(&mut r, &[name.to_string()], Some(args), what);
    }
    section(&mut r, "DEPRECATED DIRECTIVES");
    entry(
        &mut r,
        &["net".to_string()],
        Some("HOST:/EXPORT | USER@HOST"),
        "the old form of nfs and ssh; still read",
    );
    for (name, instead) in kdump_conf::REMOVED_DIRECTIVES {
        entry(
            &mut r,
            &[name.to_string()],
            None,
            &format!("removed (an error): {instead}"),
        );
    }
    section(&mut r, "EXAMPLE");
    r.control("nf", []);
    r.text([roman(
        "ext4 LABEL=kdumpfs\npath /var/crash\ncore_collector makedumpfile -l --message-level 7 -d 31\nfinal_action reboot",
    )]);
    r.control("fi", []);
    see_also(&mut r, &["kdump(8)", "dumpfilter(8)", "makedumpfile(8)"]);
    r.render().into_bytes()
}
