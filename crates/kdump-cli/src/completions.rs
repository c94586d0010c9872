//! Bash completions: kdump's from its clap command; kexec-load's and dumpfilter's from clap
//! commands built out of the same option tables their `--help` prints.

use clap::{Arg, ArgAction, Command, ValueHint};
use clap_complete::{generate, Shell};

fn bash(mut cmd: Command, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    generate(Shell::Bash, &mut cmd, name, &mut out);
    out
}

/// The value hint for a value name: files and directories complete as paths.
fn hint(value: &str) -> ValueHint {
    match value {
        "DIR" => ValueHint::DirPath,
        "FILE" | "DUMPFILE" | "VMCORE" => ValueHint::FilePath,
        _ => ValueHint::Other,
    }
}

/// One option of a hand-parsed command line as a clap argument (for completion only).
fn arg(
    id: &'static str,
    short: Option<char>,
    long: &[&'static str],
    value: Option<&'static str>,
    help: &str,
) -> Arg {
    let mut a = Arg::new(id).help(help.replace('\n', " "));
    if let Some(c) = short {
        a = a.short(c);
    }
    if let Some((first, rest)) = long.split_first() {
        a = a.long(*first);
        for alias in rest {
            a = a.visible_alias(*alias);
        }
    }
    match value {
        Some(v) => a.value_name(v).value_hint(hint(v)).action(ArgAction::Set),
        None => a.action(ArgAction::SetTrue),
    }
}

/// kdump's completion.
pub fn kdump() -> Vec<u8> {
    bash(crate::kdump::command(), "kdump")
}

/// kexec-load's completion, from [`crate::kexec_load::OPTIONS`].
pub fn kexec_load() -> Vec<u8> {
    let mut cmd = Command::new("kexec-load")
        .disable_help_flag(true)
        .disable_version_flag(true);
    for o in crate::kexec_load::OPTIONS {
        cmd = cmd.arg(arg(
            o.long.first().copied().unwrap_or("option"),
            o.short,
            o.long,
            o.value,
            o.help,
        ));
    }
    cmd = cmd.arg(
        Arg::new("KERNEL")
            .value_hint(ValueHint::FilePath)
            .help("the kernel to load"),
    );
    bash(cmd, "kexec-load")
}

/// dumpfilter's completion, from [`dumpfilter_options::help::SECTIONS`].
pub fn dumpfilter() -> Vec<u8> {
    let mut cmd = Command::new("dumpfilter")
        .disable_help_flag(true)
        .disable_version_flag(true);
    for o in dumpfilter_options::help::SECTIONS
        .iter()
        .flat_map(|s| s.options)
    {
        let (mut short, mut long) = (None, Vec::new());
        for f in o.flags.split(", ") {
            match f.strip_prefix("--") {
                Some(l) => long.push(l),
                None => short = f.strip_prefix('-').and_then(|c| c.chars().next()),
            }
        }
        cmd = cmd.arg(arg(o.flags, short, &long, o.value, o.help));
    }
    cmd = cmd.arg(
        Arg::new("FILES")
            .num_args(0..)
            .value_hint(ValueHint::FilePath)
            .help("VMCORE and DUMPFILE(s)"),
    );
    bash(cmd, "dumpfilter")
}
