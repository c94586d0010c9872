//! makedumpfile's command-line options, as `dumpfilter` takes them, as a library.
//!
//! One parser serves both the `dumpfilter` binary and `kdump-conf`'s check of a
//! `core_collector makedumpfile ...` line, so the two can never disagree.
//!
//! The words are read with `getopt_long` rules as makedumpfile gets them from glibc (options and
//! operands may be mixed, `-d31` or `-d 31`, clustered flags `-cf`, `--name=value` or
//! `--name value`, unambiguous prefixes of long names, `--` ends the options), then checked the
//! way makedumpfile checks them (`-E` with compression, `-F` with `--split`, operand counts per
//! operation, ...). Values are checked more strictly than makedumpfile's `atoi`: `-d 3x` is an
//! error here, not level 3.
//!
//! ```
//! use dumpfilter_options::{parse, parse_collector, Compression, Mode};
//!
//! let o = parse(&["-l", "--message-level", "7", "-d31", "/proc/vmcore", "/var/crash/vmcore"]).unwrap();
//! assert_eq!(o.dump_levels, [31]);
//! assert_eq!(o.compression, Compression::Lzo);
//! assert_eq!(
//!     o.mode,
//!     Mode::Dump { vmcore: "/proc/vmcore".into(), dumpfile: Some("/var/crash/vmcore".into()) }
//! );
//! // Printing back gives canonical words that parse to the same options.
//! assert_eq!(parse(&o.to_args()).unwrap(), o);
//!
//! // A kdump.conf core_collector line: kdump appends VMCORE and DUMPFILE itself.
//! let c = parse_collector(&["-F", "-d", "31", "-c"]).unwrap();
//! assert_eq!(c.mode, Mode::Collector);
//! assert!(c.flatten);
//! let err = parse_collector(&["-d", "32"]).unwrap_err();
//! assert_eq!(err.to_string(), "option -d: expected a dump level 0-31 or a comma-separated list of them, got `32`");
//! ```
#![deny(missing_docs)]

mod getopt;
pub mod help;
mod parse;

use std::fmt;

/// The highest dump level makedumpfile accepts (all five exclusion bits set).
pub const MAX_DUMP_LEVEL: u8 = 31;
/// The highest `--message-level` (all five message bits set).
pub const MAX_MESSAGE_LEVEL: u8 = 31;
/// makedumpfile's default `--message-level` (progress, common, error and report messages).
pub const DEFAULT_MESSAGE_LEVEL: u8 = 7;
/// The largest `--num-threads` we accept (a bound on per-thread buffers).
pub const MAX_THREADS: u32 = 4096;

/// How pages are compressed in a kdump-compressed dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression (makedumpfile's default).
    #[default]
    None,
    /// `-c`: zlib, as makedumpfile writes it.
    Zlib,
    /// `-l`: LZO1X-1.
    Lzo,
    /// `-p`: snappy.
    Snappy,
    /// `-z`: zstd.
    Zstd,
    /// `--lz4`: our extension; makedumpfile and crash cannot read it.
    Lz4,
}

impl Compression {
    /// The option that selects it (`None` has none).
    pub fn flag(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Zlib => Some("-c"),
            Compression::Lzo => Some("-l"),
            Compression::Snappy => Some("-p"),
            Compression::Zstd => Some("-z"),
            Compression::Lz4 => Some("--lz4"),
        }
    }

    /// A short lowercase name (`none`, `zlib`, `lzo`, `snappy`, `zstd`, `lz4`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Zlib => "zlib",
            Compression::Lzo => "lzo",
            Compression::Snappy => "snappy",
            Compression::Zstd => "zstd",
            Compression::Lz4 => "lz4",
        }
    }
}

/// What the command does, with its operands (file names).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    /// A `core_collector` line from kdump.conf: options only, kdump appends the files
    /// (`VMCORE DUMPFILE`, or `VMCORE` alone with `-F`). Only [`parse_collector`] returns it.
    #[default]
    Collector,
    /// `-h`/`--help`: print the usage and exit.
    Help,
    /// `-v`/`--version`: print the version and exit.
    Version,
    /// Filter `vmcore` into `dumpfile`, or with `-F` into a flattened stream on stdout (`None`).
    Dump {
        /// The input dump, usually /proc/vmcore.
        vmcore: String,
        /// The output file; `None` with `-F` (stdout).
        dumpfile: Option<String>,
    },
    /// `--split VMCORE DUMPFILE1 DUMPFILE2 ...`: one dump cut into several files.
    Split {
        /// The input dump.
        vmcore: String,
        /// The output files (two or more).
        dumpfiles: Vec<String>,
    },
    /// `-R DUMPFILE`: rebuild a dump from a flattened stream read on stdin.
    Rearrange {
        /// The output file.
        dumpfile: String,
    },
    /// `--reassemble DUMPFILE1 DUMPFILE2 ... DUMPFILE`: join split files.
    Reassemble {
        /// The split files, in order.
        inputs: Vec<String>,
        /// The output file.
        dumpfile: String,
    },
    /// `--dump-dmesg VMCORE LOGFILE`: save the kernel log only (`None` with `-F`: stdout).
    Dmesg {
        /// The input dump.
        vmcore: String,
        /// The log file; `None` with `-F` (stdout).
        logfile: Option<String>,
    },
    /// `--vtop ADDR VMCORE` with no output file: print the translation only (our extension;
    /// makedumpfile prints it while making a dump, see [`Mode::Dump`] with [`Options::vtop`]).
    Vtop {
        /// The input dump.
        vmcore: String,
    },
    /// An operation makedumpfile has and dumpfilter does not (`-g`, `--mem-usage`); it is also
    /// listed in [`Options::unsupported`]. Operands are kept as given.
    Other {
        /// The operands, unchecked.
        operands: Vec<String>,
    },
}

/// A makedumpfile option that dumpfilter parses but does not carry out. Callers must refuse it
/// with [`Unsupported::reason`] (never ignore it silently).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The option as makedumpfile spells it canonically (`-x`, `--eppic`).
    pub option: String,
    /// Its value, for options that take one.
    pub value: Option<String>,
}

impl Unsupported {
    /// Why dumpfilter does not do it, in a few words.
    pub fn reason(&self) -> &'static str {
        parse::unsupported_reason(&self.option)
    }
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.option, self.reason())
    }
}

/// Everything the command line says, typed.
///
/// Fields left at their default were not given. [`Options::to_args`] prints them back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// The operation and its file names.
    pub mode: Mode,
    /// `-d`: dump levels, 0-31 each. Empty when not given (makedumpfile then uses 0). More than
    /// one (`-d 11,31`) means: start with the first, retry with the next when the disk is full.
    pub dump_levels: Vec<u8>,
    /// `-c`, `-l`, `-p`, `-z`, `--lz4` (the last one given wins, as in makedumpfile).
    pub compression: Compression,
    /// `-E`: write an ELF dump.
    pub elf: bool,
    /// `-F`: write a flattened stream on stdout.
    pub flatten: bool,
    /// `-f`: overwrite an existing output; on `/proc/kcore` skip the kernel version check.
    pub force: bool,
    /// `-L SIZE`: stop writing at this many bytes (the dump is marked incomplete).
    pub size_limit: Option<u64>,
    /// `--num-threads N`.
    pub num_threads: Option<u32>,
    /// `--message-level N` (0-31).
    pub message_level: Option<u8>,
    /// `--vtop ADDR`: print the physical address of a kernel virtual address.
    pub vtop: Option<u64>,
    /// `--cyclic-buffer KB`: the size of the bitmap window.
    pub cyclic_buffer_kb: Option<u64>,
    /// `--work-dir DIR`: where a bitmap file may be kept.
    pub work_dir: Option<String>,
    /// `--non-mmap`: read the input with read(2), not mmap(2).
    pub non_mmap: bool,
    /// `--check-params`: only check these options, and exit.
    pub check_params: bool,
    /// `--dry-run`: do everything except writing the output.
    pub dry_run: bool,
    /// `--show-stats`: print the per-class page report.
    pub show_stats: bool,
    /// `--stats-json FILE`: our extension; write the report as JSON.
    pub stats_json: Option<String>,
    /// `-D`: debug messages.
    pub debug: bool,
    /// makedumpfile options dumpfilter does not implement, in command-line order.
    pub unsupported: Vec<Unsupported>,
}

impl Options {
    /// The first (or only) dump level, 0 when `-d` was not given.
    pub fn dump_level(&self) -> u8 {
        self.dump_levels.first().copied().unwrap_or(0)
    }

    /// The message level in effect, as makedumpfile computes it: `--message-level` (default
    /// 7), plus 8 with `-D` and 16 with `--show-stats`; `--check-params` forces 7.
    pub fn effective_message_level(&self) -> u8 {
        if self.check_params {
            return DEFAULT_MESSAGE_LEVEL;
        }
        let mut level = self.message_level.unwrap_or(DEFAULT_MESSAGE_LEVEL);
        if self.debug {
            level |= 8;
        }
        if self.show_stats {
            level |= 16;
        }
        level
    }

    /// Refuses the makedumpfile options dumpfilter does not carry out, naming the first one
    /// and why (callers must not ignore them silently).
    pub fn check_supported(&self) -> Result<(), OptionsError> {
        match self.unsupported.first() {
            Some(u) => Err(OptionsError::Unsupported {
                option: u.option.clone(),
                reason: u.reason(),
            }),
            None => Ok(()),
        }
    }

    /// The options we added that makedumpfile does not know (`--lz4`, `--stats-json`), so a
    /// `core_collector makedumpfile ...` line can be refused when it uses them.
    pub fn extensions(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.compression == Compression::Lz4 {
            v.push("--lz4");
        }
        if self.stats_json.is_some() {
            v.push("--stats-json");
        }
        if matches!(self.mode, Mode::Vtop { .. }) {
            v.push("--vtop without DUMPFILE");
        }
        v
    }

    /// Canonical words that [`parse`] (or [`parse_collector`] for [`Mode::Collector`]) reads
    /// back into these same options: mode option first, then the others in a fixed order,
    /// then `--` when an operand begins with `-`, then the operands.
    pub fn to_args(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        let mut push = |w: &str| a.push(w.to_string());
        match &self.mode {
            Mode::Help => push("-h"),
            Mode::Version => push("-v"),
            Mode::Split { .. } => push("--split"),
            Mode::Rearrange { .. } => push("-R"),
            Mode::Reassemble { .. } => push("--reassemble"),
            Mode::Dmesg { .. } => push("--dump-dmesg"),
            Mode::Collector | Mode::Dump { .. } | Mode::Vtop { .. } | Mode::Other { .. } => {}
        }
        if !self.dump_levels.is_empty() {
            push("-d");
            let list: Vec<String> = self.dump_levels.iter().map(u8::to_string).collect();
            push(&list.join(","));
        }
        if let Some(f) = self.compression.flag() {
            push(f);
        }
        let flags = [(self.elf, "-E"), (self.flatten, "-F"), (self.force, "-f")];
        for (on, f) in flags {
            if on {
                push(f);
            }
        }
        if let Some(n) = self.size_limit {
            push("-L");
            push(&n.to_string());
        }
        if let Some(n) = self.num_threads {
            push("--num-threads");
            push(&n.to_string());
        }
        if let Some(n) = self.message_level {
            push("--message-level");
            push(&n.to_string());
        }
        if let Some(n) = self.vtop {
            push("--vtop");
            push(&format!("0x{n:x}"));
        }
        if let Some(n) = self.cyclic_buffer_kb {
            push("--cyclic-buffer");
            push(&n.to_string());
        }
        if let Some(d) = &self.work_dir {
            push("--work-dir");
            push(d);
        }
        let flags = [
            (self.non_mmap, "--non-mmap"),
            (self.check_params, "--check-params"),
            (self.dry_run, "--dry-run"),
            (self.show_stats, "--show-stats"),
        ];
        for (on, f) in flags {
            if on {
                push(f);
            }
        }
        if let Some(f) = &self.stats_json {
            push("--stats-json");
            push(f);
        }
        if self.debug {
            push("-D");
        }
        for u in &self.unsupported {
            push(&u.option);
            if let Some(v) = &u.value {
                push(v);
            }
        }
        let operands: Vec<&str> = match &self.mode {
            Mode::Collector | Mode::Help | Mode::Version => vec![],
            Mode::Dump { vmcore, dumpfile } => std::iter::once(vmcore.as_str())
                .chain(dumpfile.as_deref())
                .collect(),
            Mode::Dmesg { vmcore, logfile } => std::iter::once(vmcore.as_str())
                .chain(logfile.as_deref())
                .collect(),
            Mode::Split { vmcore, dumpfiles } => std::iter::once(vmcore.as_str())
                .chain(dumpfiles.iter().map(String::as_str))
                .collect(),
            Mode::Rearrange { dumpfile } => vec![dumpfile.as_str()],
            Mode::Reassemble { inputs, dumpfile } => inputs
                .iter()
                .map(String::as_str)
                .chain(std::iter::once(dumpfile.as_str()))
                .collect(),
            Mode::Vtop { vmcore } => vec![vmcore.as_str()],
            Mode::Other { operands } => operands.iter().map(String::as_str).collect(),
        };
        if operands.iter().any(|o| o.starts_with('-')) {
            push("--");
        }
        for o in operands {
            push(o);
        }
        a
    }
}

/// Something allowed but probably not meant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptionsWarning {
    /// Two different compression options: the last one wins (as in makedumpfile).
    CompressionOverridden {
        /// The first one given.
        first: String,
        /// The one that is used.
        last: String,
    },
    /// An option that takes a value was given again: the last value is used.
    Repeated {
        /// The option.
        option: String,
    },
}

impl fmt::Display for OptionsWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionsWarning::CompressionOverridden { first, last } => {
                write!(
                    f,
                    "{first} is overridden by {last}: only one compression is used"
                )
            }
            OptionsWarning::Repeated { option } => {
                write!(
                    f,
                    "option {option} given more than once: the last value is used"
                )
            }
        }
    }
}

/// Why a command line was refused. Each names the option and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// Not an option makedumpfile or dumpfilter knows.
    #[error("unknown option {option}")]
    UnknownOption {
        /// The option as written.
        option: String,
    },
    /// A prefix of more than one long option.
    #[error("option {option} is ambiguous: it could be {candidates}")]
    AmbiguousOption {
        /// The option as written.
        option: String,
        /// The long options it could be, comma-separated.
        candidates: String,
    },
    /// An option that needs a value came last.
    #[error("option {option} needs a value: {expected}")]
    MissingValue {
        /// The option.
        option: String,
        /// What the value should be.
        expected: &'static str,
    },
    /// `--flag=value` for an option that takes none.
    #[error("option {option} takes no value")]
    UnexpectedValue {
        /// The option.
        option: String,
    },
    /// A value that is not what the option takes.
    #[error("option {option}: expected {expected}, got `{value}`")]
    InvalidValue {
        /// The option.
        option: String,
        /// The value given.
        value: String,
        /// What the value should be.
        expected: &'static str,
    },
    /// Two options that cannot go together.
    #[error("{first} cannot be used with {second}: {reason}")]
    Conflict {
        /// One option.
        first: String,
        /// The other.
        second: String,
        /// Why.
        reason: &'static str,
    },
    /// An option that only works with another one.
    #[error("{option} requires {required}")]
    Requires {
        /// The option given.
        option: String,
        /// The option it needs.
        required: &'static str,
    },
    /// The wrong number of file names for the operation.
    #[error("{mode} takes {expected}; got {got} file name(s)")]
    Operands {
        /// The operation (`-R`, `--split`, `a dump`, ...).
        mode: &'static str,
        /// The operands it takes.
        expected: &'static str,
        /// How many were given.
        got: usize,
    },
    /// An option that makes no sense in a kdump.conf `core_collector` line.
    #[error("{option} cannot be used in a core_collector line: {reason}")]
    NotForCollector {
        /// The option.
        option: String,
        /// Why.
        reason: &'static str,
    },
    /// A makedumpfile option dumpfilter does not implement (from [`Options::check_supported`]).
    #[error("{option} is not supported by dumpfilter: {reason}")]
    Unsupported {
        /// The option.
        option: String,
        /// Why.
        reason: &'static str,
    },
    /// A file name in a `core_collector` line.
    #[error(
        "unexpected `{operand}` in a core_collector line: kdump appends VMCORE and DUMPFILE itself"
    )]
    CollectorOperand {
        /// The word.
        operand: String,
    },
}

/// Parses a makedumpfile/dumpfilter command line (the words after the program name).
///
/// Never panics; every refusal is an [`OptionsError`] naming the option.
pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Options, OptionsError> {
    parse::parse(args, false).map(|(o, _)| o)
}

/// [`parse`], also returning the warnings (overridden compression, repeated options).
pub fn parse_with_warnings<S: AsRef<str>>(
    args: &[S],
) -> Result<(Options, Vec<OptionsWarning>), OptionsError> {
    parse::parse(args, false)
}

/// Parses the options of a kdump.conf `core_collector makedumpfile ...` line (the words after
/// the command name). kdump appends the files itself, so file names, operations other than a
/// plain dump (`--split`, `-R`, `--reassemble`, `--dump-dmesg`, `-g`, `--mem-usage`), `-h`, `-v`,
/// `--check-params` and `--dry-run` are errors. The result has [`Mode::Collector`].
pub fn parse_collector<S: AsRef<str>>(args: &[S]) -> Result<Options, OptionsError> {
    parse::parse(args, true).map(|(o, _)| o)
}

/// [`parse_collector`], also returning the warnings.
pub fn parse_collector_with_warnings<S: AsRef<str>>(
    args: &[S],
) -> Result<(Options, Vec<OptionsWarning>), OptionsError> {
    parse::parse(args, true)
}

/// The `-h` text, rendered from the tables of [`help`].
pub fn usage(program: &str) -> String {
    help::render(program)
}

#[cfg(test)]
mod tests;
