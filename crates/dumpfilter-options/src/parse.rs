//! The option table, value parsers and the checks makedumpfile makes after reading options.

use crate::getopt::{self, Arg, Spec, Token};
use crate::{
    Compression, Mode, Options, OptionsError, OptionsWarning, Unsupported, MAX_DUMP_LEVEL,
    MAX_MESSAGE_LEVEL, MAX_THREADS,
};

/// Identifies an option in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Id {
    DumpLevel,
    Zlib,
    Lzo,
    Snappy,
    Zstd,
    Lz4,
    Elf,
    Flatten,
    Rearrange,
    Force,
    SizeLimit,
    Split,
    Reassemble,
    NumThreads,
    MessageLevel,
    DumpDmesg,
    Vtop,
    CyclicBuffer,
    WorkDir,
    NonMmap,
    CheckParams,
    DryRun,
    ShowStats,
    StatsJson,
    Debug,
    Help,
    Version,
    // makedumpfile options that dumpfilter does not implement
    BlockOrder,
    ExcludeUnusedVm,
    GenerateVmcoreinfo,
    ReadVmcoreinfo,
    Vmlinux,
    ExcludeXenDom,
    XenSyms,
    XenVmcoreinfo,
    XenPhysStart,
    PartialDmesg,
    Config,
    Diskset,
    Eppic,
    MemUsage,
    SplitblockSize,
    Extension,
}

const fn s(short: char, arg: Arg, id: Id) -> Spec {
    Spec {
        short: Some(short),
        long: None,
        arg,
        id,
    }
}

const fn l(long: &'static str, arg: Arg, id: Id) -> Spec {
    Spec {
        short: None,
        long: Some(long),
        arg,
        id,
    }
}

/// Every option: makedumpfile's optstring `b:cDd:eEFfg:hi:lL:pRvXx:z`, its long options, and our
/// extensions (`--lz4`, `--stats-json`, `--version`).
pub(crate) const SPECS: &[Spec] = &[
    s('b', Arg::Required, Id::BlockOrder),
    s('c', Arg::None, Id::Zlib),
    s('D', Arg::None, Id::Debug),
    s('d', Arg::Required, Id::DumpLevel),
    s('e', Arg::None, Id::ExcludeUnusedVm),
    s('E', Arg::None, Id::Elf),
    s('F', Arg::None, Id::Flatten),
    s('f', Arg::None, Id::Force),
    s('g', Arg::Required, Id::GenerateVmcoreinfo),
    s('h', Arg::None, Id::Help),
    s('i', Arg::Required, Id::ReadVmcoreinfo),
    s('l', Arg::None, Id::Lzo),
    s('L', Arg::Required, Id::SizeLimit),
    s('p', Arg::None, Id::Snappy),
    s('R', Arg::None, Id::Rearrange),
    s('v', Arg::None, Id::Version),
    s('X', Arg::None, Id::ExcludeXenDom),
    s('x', Arg::Required, Id::Vmlinux),
    s('z', Arg::None, Id::Zstd),
    l("split", Arg::None, Id::Split),
    l("reassemble", Arg::None, Id::Reassemble),
    l("xen-syms", Arg::Required, Id::XenSyms),
    l("xen-vmcoreinfo", Arg::Required, Id::XenVmcoreinfo),
    l("xen_phys_start", Arg::Required, Id::XenPhysStart),
    l("message-level", Arg::Required, Id::MessageLevel),
    l("vtop", Arg::Required, Id::Vtop),
    l("dump-dmesg", Arg::None, Id::DumpDmesg),
    l("partial-dmesg", Arg::None, Id::PartialDmesg),
    l("config", Arg::Required, Id::Config),
    l("help", Arg::None, Id::Help),
    l("diskset", Arg::Required, Id::Diskset),
    l("cyclic-buffer", Arg::Required, Id::CyclicBuffer),
    l("eppic", Arg::Required, Id::Eppic),
    l("non-mmap", Arg::None, Id::NonMmap),
    l("mem-usage", Arg::None, Id::MemUsage),
    l("splitblock-size", Arg::Required, Id::SplitblockSize),
    l("work-dir", Arg::Required, Id::WorkDir),
    l("num-threads", Arg::Required, Id::NumThreads),
    l("check-params", Arg::None, Id::CheckParams),
    l("dry-run", Arg::None, Id::DryRun),
    l("show-stats", Arg::None, Id::ShowStats),
    l("extension", Arg::Required, Id::Extension),
    // our extensions
    l("lz4", Arg::None, Id::Lz4),
    l("stats-json", Arg::Required, Id::StatsJson),
    l("version", Arg::None, Id::Version),
];

/// What a value-taking option expects, for "missing value" messages.
pub(crate) fn expected_for(id: Id) -> &'static str {
    match id {
        Id::DumpLevel => "a dump level 0-31 or a comma-separated list of them",
        Id::SizeLimit => "a size in bytes, optionally with a K, M, G, T, P or E suffix",
        Id::NumThreads => "a number of threads",
        Id::MessageLevel => "a message level 0-31",
        Id::Vtop => "a virtual address (0x... hexadecimal, 0... octal or decimal)",
        Id::CyclicBuffer => "a buffer size in kilobytes",
        Id::WorkDir => "a directory",
        Id::StatsJson => "a file name",
        Id::BlockOrder | Id::SplitblockSize | Id::XenPhysStart => "a number",
        Id::GenerateVmcoreinfo | Id::ReadVmcoreinfo | Id::XenVmcoreinfo => "a VMCOREINFO file",
        Id::Vmlinux | Id::XenSyms => "a kernel image with debug information",
        Id::Config => "a filter configuration file",
        Id::Diskset => "a sadump disk",
        Id::Eppic => "an eppic macro file",
        Id::Extension => "an extension (.so) file",
        _ => "a value",
    }
}

/// Why makedumpfile would accept an option that dumpfilter refuses.
pub(crate) fn unsupported_reason(option: &str) -> &'static str {
    match option {
        "-b" => "the page-cache block order is makedumpfile's internal tuning",
        "-e" => "excluding unused vmemmap pages is not implemented",
        "-g" => "generating VMCOREINFO from a vmlinux is not implemented",
        "-i" => "dumpfilter reads VMCOREINFO from the dump itself",
        "-x" => {
            "dumpfilter reads VMCOREINFO from the dump itself, not debug information from vmlinux"
        }
        "-X" | "--xen-syms" | "--xen-vmcoreinfo" | "--xen_phys_start" => {
            "Xen hypervisor dumps are not supported"
        }
        "--partial-dmesg" => "--partial-dmesg is not implemented",
        "--config" => "filter configuration files (erase commands) are not implemented",
        "--diskset" => "sadump disk sets are not supported",
        "--eppic" => "eppic macros are not supported",
        "--mem-usage" => "--mem-usage (on a live /proc/kcore) is not implemented",
        "--splitblock-size" => "the split block size is makedumpfile's internal tuning",
        "--extension" => "makedumpfile extensions (.so) are not supported",
        _ => "not implemented",
    }
}

fn digits(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())
}

fn invalid(option: &str, value: &str, expected: &'static str) -> OptionsError {
    OptionsError::InvalidValue {
        option: option.to_string(),
        value: value.to_string(),
        expected,
    }
}

fn dump_levels(option: &str, v: &str) -> Result<Vec<u8>, OptionsError> {
    let expected = expected_for(Id::DumpLevel);
    let mut out = Vec::new();
    for part in v.split(',') {
        let level = if digits(part) {
            part.parse::<u32>().ok()
        } else {
            None
        };
        match level {
            Some(n) if n <= u32::from(MAX_DUMP_LEVEL) && out.len() < 32 => out.push(n as u8),
            _ => return Err(invalid(option, v, expected)),
        }
    }
    Ok(out)
}

fn decimal_u64(option: &str, v: &str, id: Id) -> Result<u64, OptionsError> {
    if !digits(v) {
        return Err(invalid(option, v, expected_for(id)));
    }
    v.parse::<u64>()
        .map_err(|_| invalid(option, v, expected_for(id)))
}

/// `strtoull(.., 0)` without its leniency: `0x` hex, leading `0` octal, else decimal; the whole
/// text must be used. Returns the value and the unparsed rest.
fn c_number(v: &str) -> Option<(u64, &str)> {
    let (radix, body) = if let Some(h) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        (16, h)
    } else if v.len() > 1 && v.starts_with('0') {
        (8, &v[1..])
    } else {
        (10, v)
    };
    let end = body
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(body.len());
    let (num, rest) = body.split_at(end);
    if num.is_empty() {
        // "0" alone is handled as decimal; "0x" with no digits is not a number
        return None;
    }
    u64::from_str_radix(num, radix).ok().map(|n| (n, rest))
}

/// makedumpfile's memparse: a number with an optional K/M/G/T/P/E suffix (powers of 1024).
fn size(option: &str, v: &str) -> Result<u64, OptionsError> {
    let expected = expected_for(Id::SizeLimit);
    let err = || invalid(option, v, expected);
    let (n, rest) = c_number(v).ok_or_else(err)?;
    let shift = match rest {
        "" => 0,
        "K" | "k" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        "T" | "t" => 40,
        "P" | "p" => 50,
        "E" | "e" => 60,
        _ => return Err(err()),
    };
    let bytes = n.checked_mul(1u64 << shift).ok_or_else(err)?;
    if bytes == 0 {
        return Err(invalid(option, v, "a size limit greater than zero"));
    }
    Ok(bytes)
}

/// Which of the mode-selecting options were given, in order.
#[derive(Default)]
struct Seen {
    modes: Vec<String>,
    compression_flag: Option<String>,
    elf: bool,
    flatten: bool,
    vmlinux: bool,
    vmcoreinfo: bool,
    exclude_vm: bool,
    partial_dmesg: bool,
    config: bool,
    xen: bool,
}

/// Parses the words (everything after the program name).
pub(crate) fn parse<S: AsRef<str>>(
    args: &[S],
    collector: bool,
) -> Result<(Options, Vec<OptionsWarning>), OptionsError> {
    let tokens = getopt::tokenize(SPECS, args)?;
    let mut o = Options::default();
    let mut warnings = Vec::new();
    let mut seen = Seen::default();
    let mut operands: Vec<String> = Vec::new();
    let mut help = false;
    let mut version = false;
    let mut split = false;
    let mut rearrange = false;
    let mut reassemble = false;
    let mut dmesg = false;
    let mut other_mode = false;
    let mut given: Vec<Id> = Vec::new();

    for t in &tokens {
        let (spec, spelled, value) = match t {
            Token::Operand(a) => {
                operands.push((*a).to_string());
                continue;
            }
            Token::Opt {
                spec,
                spelled,
                value,
            } => (&SPECS[*spec], spelled.as_str(), value.unwrap_or("")),
        };
        let opt = getopt::canonical(spec);
        if spec.arg == Arg::Required
            && given.contains(&spec.id)
            && !matches!(spec.id, Id::Diskset | Id::Extension)
        {
            warnings.push(OptionsWarning::Repeated {
                option: opt.clone(),
            });
        }
        if !given.contains(&spec.id) {
            given.push(spec.id);
        }
        match spec.id {
            Id::DumpLevel => {
                o.dump_levels = dump_levels(spelled, value)?;
            }
            Id::Zlib | Id::Lzo | Id::Snappy | Id::Zstd | Id::Lz4 => {
                let c = match spec.id {
                    Id::Zlib => Compression::Zlib,
                    Id::Lzo => Compression::Lzo,
                    Id::Snappy => Compression::Snappy,
                    Id::Zstd => Compression::Zstd,
                    _ => Compression::Lz4,
                };
                if let Some(first) = &seen.compression_flag {
                    if o.compression != c {
                        warnings.push(OptionsWarning::CompressionOverridden {
                            first: first.clone(),
                            last: opt.clone(),
                        });
                    }
                }
                seen.compression_flag = Some(opt.clone());
                o.compression = c;
            }
            Id::Elf => {
                o.elf = true;
                seen.elf = true;
            }
            Id::Flatten => {
                o.flatten = true;
                seen.flatten = true;
            }
            Id::Rearrange => {
                rearrange = true;
                seen.modes.push(opt.clone());
            }
            Id::Force => o.force = true,
            Id::SizeLimit => o.size_limit = Some(size(spelled, value)?),
            Id::Split => {
                split = true;
                seen.modes.push(opt.clone());
            }
            Id::Reassemble => {
                reassemble = true;
                seen.modes.push(opt.clone());
            }
            Id::NumThreads => {
                let n = decimal_u64(spelled, value, Id::NumThreads)?;
                if n > u64::from(MAX_THREADS) {
                    return Err(invalid(spelled, value, "a number of threads up to 4096"));
                }
                o.num_threads = Some(n as u32);
            }
            Id::MessageLevel => {
                let n = decimal_u64(spelled, value, Id::MessageLevel)?;
                if n > u64::from(MAX_MESSAGE_LEVEL) {
                    return Err(invalid(spelled, value, expected_for(Id::MessageLevel)));
                }
                o.message_level = Some(n as u8);
            }
            Id::DumpDmesg => {
                dmesg = true;
                seen.modes.push(opt.clone());
            }
            Id::Vtop => match c_number(value) {
                Some((n, "")) => o.vtop = Some(n),
                _ => return Err(invalid(spelled, value, expected_for(Id::Vtop))),
            },
            Id::CyclicBuffer => {
                let n = decimal_u64(spelled, value, Id::CyclicBuffer)?;
                if n > u64::MAX / 1024 {
                    return Err(invalid(spelled, value, expected_for(Id::CyclicBuffer)));
                }
                o.cyclic_buffer_kb = Some(n);
            }
            Id::WorkDir => o.work_dir = Some(value.to_string()),
            Id::NonMmap => o.non_mmap = true,
            Id::CheckParams => o.check_params = true,
            Id::DryRun => o.dry_run = true,
            Id::ShowStats => o.show_stats = true,
            Id::StatsJson => o.stats_json = Some(value.to_string()),
            Id::Debug => o.debug = true,
            Id::Help => help = true,
            Id::Version => version = true,
            _ => {
                match spec.id {
                    Id::GenerateVmcoreinfo | Id::MemUsage => {
                        other_mode = true;
                        seen.modes.push(opt.clone());
                    }
                    Id::Vmlinux => seen.vmlinux = true,
                    Id::ReadVmcoreinfo => seen.vmcoreinfo = true,
                    Id::ExcludeUnusedVm => seen.exclude_vm = true,
                    Id::PartialDmesg => seen.partial_dmesg = true,
                    Id::Config => seen.config = true,
                    Id::ExcludeXenDom | Id::XenSyms | Id::XenVmcoreinfo => seen.xen = true,
                    _ => {}
                }
                o.unsupported.push(Unsupported {
                    option: opt,
                    value: (spec.arg == Arg::Required).then(|| value.to_string()),
                });
            }
        }
    }

    // makedumpfile shows the usage (or version) before looking at anything else.
    if help || version {
        if collector {
            let option = if help { "-h" } else { "-v" };
            return Err(OptionsError::NotForCollector {
                option: option.to_string(),
                reason: "it prints a message and exits without saving the dump",
            });
        }
        o.mode = if help { Mode::Help } else { Mode::Version };
        return Ok((o, warnings));
    }

    check_conflicts(&o, &seen)?;

    if collector {
        if let Some(m) = seen.modes.first() {
            return Err(OptionsError::NotForCollector {
                option: m.clone(),
                reason: "kdump runs the collector on VMCORE with one output",
            });
        }
        for (flag, option) in [(o.check_params, "--check-params"), (o.dry_run, "--dry-run")] {
            if flag {
                return Err(OptionsError::NotForCollector {
                    option: option.to_string(),
                    reason: "the collector would save no dump",
                });
            }
        }
        if let Some(first) = operands.first() {
            return Err(OptionsError::CollectorOperand {
                operand: first.clone(),
            });
        }
        o.mode = Mode::Collector;
        return Ok((o, warnings));
    }

    o.mode = if other_mode {
        Mode::Other { operands }
    } else if rearrange {
        match <[String; 1]>::try_from(operands) {
            Ok([dumpfile]) => Mode::Rearrange { dumpfile },
            Err(v) => {
                return Err(operands_error(
                    "-R",
                    "DUMPFILE (the flattened dump is read from stdin)",
                    v.len(),
                ))
            }
        }
    } else if reassemble {
        if operands.len() < 2 {
            return Err(operands_error(
                "--reassemble",
                "DUMPFILE1 [DUMPFILE2 ..] DUMPFILE",
                operands.len(),
            ));
        }
        let dumpfile = operands.pop().unwrap_or_default();
        Mode::Reassemble {
            inputs: operands,
            dumpfile,
        }
    } else if dmesg {
        two_or_flat(
            operands,
            o.flatten,
            "--dump-dmesg",
            "VMCORE LOGFILE",
            |vmcore, logfile| Mode::Dmesg { vmcore, logfile },
        )?
    } else if split {
        if operands.len() < 3 {
            return Err(operands_error(
                "--split",
                "VMCORE DUMPFILE1 DUMPFILE2 [DUMPFILE3 ..]",
                operands.len(),
            ));
        }
        let vmcore = operands.remove(0);
        Mode::Split {
            vmcore,
            dumpfiles: operands,
        }
    } else if o.vtop.is_some() && !o.flatten && operands.len() == 1 {
        Mode::Vtop {
            vmcore: operands.pop().unwrap_or_default(),
        }
    } else {
        two_or_flat(
            operands,
            o.flatten,
            "a dump",
            "VMCORE DUMPFILE",
            |vmcore, dumpfile| Mode::Dump { vmcore, dumpfile },
        )?
    };
    Ok((o, warnings))
}

fn operands_error(mode: &'static str, expected: &'static str, got: usize) -> OptionsError {
    OptionsError::Operands {
        mode,
        expected,
        got,
    }
}

/// `VMCORE OUT`, or with -F only `VMCORE` (output on stdout).
fn two_or_flat(
    mut operands: Vec<String>,
    flatten: bool,
    mode: &'static str,
    expected: &'static str,
    make: impl FnOnce(String, Option<String>) -> Mode,
) -> Result<Mode, OptionsError> {
    match (flatten, operands.len()) {
        (false, 2) => {
            let out = operands.pop().unwrap_or_default();
            let vmcore = operands.pop().unwrap_or_default();
            Ok(make(vmcore, Some(out)))
        }
        (true, 1) => Ok(make(operands.pop().unwrap_or_default(), None)),
        (true, n) => Err(operands_error(
            mode,
            "VMCORE only with -F (the output goes to stdout)",
            n,
        )),
        (false, n) => Err(operands_error(mode, expected, n)),
    }
}

fn conflict(first: &str, second: &str, reason: &'static str) -> OptionsError {
    OptionsError::Conflict {
        first: first.to_string(),
        second: second.to_string(),
        reason,
    }
}

/// The combinations makedumpfile refuses (check_param_for_* in its source), plus two modes at once.
fn check_conflicts(o: &Options, seen: &Seen) -> Result<(), OptionsError> {
    if let Some(first) = seen.modes.first() {
        if let Some(other) = seen.modes.iter().find(|m| *m != first) {
            return Err(conflict(first, other, "they select different operations"));
        }
    }
    let mode = seen.modes.first().map(String::as_str);
    if let (Some(c), true) = (&seen.compression_flag, o.elf) {
        return Err(conflict(
            c,
            "-E",
            "the ELF format cannot hold compressed pages",
        ));
    }
    if let Some(m @ ("-R" | "--reassemble" | "-g")) = mode {
        if let Some(c) = &seen.compression_flag {
            return Err(conflict(m, c, "it copies pages as they are"));
        }
        // makedumpfile looks at the first level only (`-d 0,31` passes)
        if o.dump_level() != 0 {
            return Err(conflict(m, "-d", "it copies pages as they are"));
        }
        if o.elf {
            return Err(conflict(m, "-E", "it keeps the input's format"));
        }
        if o.flatten {
            return Err(conflict(m, "-F", "it does not write a flattened stream"));
        }
        if seen.vmlinux && m != "-g" {
            return Err(conflict(m, "-x", "it reads no kernel information"));
        }
        if seen.vmcoreinfo {
            return Err(conflict(m, "-i", "it reads no kernel information"));
        }
        if seen.xen {
            return Err(conflict(m, "-X", "it reads no kernel information"));
        }
    }
    if o.flatten && mode == Some("--split") {
        return Err(conflict(
            "-F",
            "--split",
            "a flattened stream goes to one output",
        ));
    }
    if o.elf && mode == Some("--split") {
        return Err(conflict(
            "--split",
            "-E",
            "split dumps are kdump-compressed only",
        ));
    }
    if o.num_threads.is_some_and(|n| n > 0) {
        if mode == Some("--split") {
            return Err(conflict(
                "--num-threads",
                "--split",
                "split dumps are written one file per process",
            ));
        }
        if o.elf {
            return Err(conflict(
                "--num-threads",
                "-E",
                "ELF output is written by one thread",
            ));
        }
    }
    if o.dry_run {
        if let Some(m @ ("--dump-dmesg" | "--reassemble" | "-g")) = mode {
            return Err(conflict("--dry-run", m, "it has no dump to skip writing"));
        }
    }
    if seen.vmlinux && seen.vmcoreinfo {
        return Err(conflict(
            "-x",
            "-i",
            "kernel information comes from one of them",
        ));
    }
    if seen.partial_dmesg && mode != Some("--dump-dmesg") {
        return Err(OptionsError::Requires {
            option: "--partial-dmesg".into(),
            required: "--dump-dmesg",
        });
    }
    // makedumpfile asks for --work-dir with -e only where it creates or reads a dump; the
    // copying modes (-R, --reassemble) and -g never look at it.
    if seen.exclude_vm
        && o.work_dir.is_none()
        && !matches!(mode, Some("-R" | "--reassemble" | "-g"))
    {
        return Err(OptionsError::Requires {
            option: "-e".into(),
            required: "--work-dir",
        });
    }
    if seen.config && !seen.vmlinux {
        return Err(OptionsError::Requires {
            option: "--config".into(),
            required: "-x",
        });
    }
    if mode == Some("-g") && !seen.vmlinux && !seen.xen {
        return Err(OptionsError::Requires {
            option: "-g".into(),
            required: "-x",
        });
    }
    Ok(())
}
