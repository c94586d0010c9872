//! The `crashkernel=` kernel parameter: parse, print, and the size it selects.
//!
//! Forms (Documentation/admin-guide/kernel-parameters.txt and
//! Documentation/admin-guide/kdump/kdump.rst, read as facts):
//!
//! | form | meaning |
//! |---|---|
//! | `SIZE` | reserve SIZE anywhere suitable (x86_64: below 4 GiB first, then above) |
//! | `SIZE@OFFSET` | reserve SIZE at physical address OFFSET |
//! | `START-[END]:SIZE[,START-[END]:SIZE...][@OFFSET]` | SIZE depends on the system RAM |
//! | `SIZE,high` | reserve SIZE from the top of memory (may be above 4 GiB) |
//! | `SIZE,low` | the low (below 4 GiB) part that goes with `,high` |
//! | `SIZE,cma` | an additional reservation from CMA (documented since Linux 6.17) |
//!
//! Numbers follow the kernel's `memparse()`: `simple_strtoull` with base 0 (`0x` hex, a
//! leading `0` octal, otherwise decimal) and an optional suffix `K M G T P E` (either case),
//! each a further factor of 1024.
//!
//! How the size is chosen for a machine (kernel/crash_reserve.c, `parse_crashkernel_mem`):
//! the RAM compared with the ranges is `memblock_phys_mem_size()` on x86_64 (all RAM the
//! firmware reported, which userspace sees as the sum of the top-level "System RAM" lines of
//! /proc/iomem), **rounded up to a multiple of 128 MiB** (upstream commit "kdump: round up the
//! total memory size to 128M for crashkernel reservation", 2022; in 6.1 and later). Ranges are
//! half-open `[start, end)`; the first matching range wins; every range visited before the
//! match must have a size below the rounded RAM, else the whole parameter is rejected. A size
//! that is zero, or not below the (unrounded) RAM, reserves nothing.
//!
//! Where this parser is stricter than the kernel (the kernel silently accepts these):
//! numbers that overflow 64 bits, an empty offset after `@`, and text after the offset or after
//! the range that matched. Each is reported with its column instead.

use std::fmt;

/// One MiB.
pub const MIB: u64 = 1 << 20;
/// One GiB.
pub const GIB: u64 = 1 << 30;
/// The kernel rounds the RAM size up to this before comparing it with ranges.
pub const RAM_ROUNDING: u64 = 128 * MIB;
/// Default `,low` reservation on x86_64 when `,high` is given without `,low`:
/// `max(swiotlb default 64 MiB + 8 MiB, 256 MiB)` (arch/x86 `crash_low_size_default`).
pub const X86_64_DEFAULT_LOW: u64 = 256 * MIB;
/// Most ranges accepted in one parameter (a bound on what we allocate for hostile input).
pub const MAX_RANGES: usize = 256;

/// One `START-[END]:SIZE` entry of the range form. `end == None` means open-ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeSize {
    /// Inclusive lower bound of system RAM, in bytes.
    pub start: u64,
    /// Exclusive upper bound, in bytes; `None` for `START-:SIZE`.
    pub end: Option<u64>,
    /// Bytes to reserve when the RAM falls in `[start, end)`.
    pub size: u64,
}

/// A parsed `crashkernel=` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Crashkernel {
    /// `SIZE` or `SIZE@OFFSET`.
    Fixed {
        /// Bytes to reserve.
        size: u64,
        /// Physical start address, if given.
        offset: Option<u64>,
    },
    /// `range:size[,range:size...][@OFFSET]`.
    Ranges {
        /// The entries, in the order written (the first match wins).
        ranges: Vec<RangeSize>,
        /// Physical start address, if given.
        offset: Option<u64>,
    },
    /// `SIZE,high`.
    High(u64),
    /// `SIZE,low`.
    Low(u64),
    /// `SIZE,cma` (Linux 6.17 and later).
    Cma(u64),
}

/// What went wrong while parsing, with the 1-based column of the offending character.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("crashkernel=: column {column}: {kind}")]
pub struct ParseError {
    /// 1-based column (byte offset + 1) in the text given to the parser, counting
    /// `crashkernel=` if it was part of the text.
    pub column: usize,
    /// What was expected.
    pub kind: ParseErrorKind,
}

/// The kinds of syntax error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// A number (memory value) was expected here.
    #[error("memory value expected")]
    ExpectedNumber,
    /// A range start was not followed by `-`.
    #[error("'-' expected after the range start")]
    ExpectedDash,
    /// A range was not followed by `:`.
    #[error("':' expected after the range")]
    ExpectedColon,
    /// The range end is not above its start.
    #[error("range end must be greater than its start")]
    EndNotAfterStart,
    /// A character that has no place here.
    #[error("unexpected character {0:?}")]
    Unexpected(char),
    /// `,something` that is not `,high`, `,low` or `,cma`.
    #[error("unknown suffix {0:?} (expected ,high ,low or ,cma)")]
    UnknownSuffix(String),
    /// The number does not fit in 64 bits.
    #[error("number too large")]
    Overflow,
    /// Nothing after `crashkernel=`.
    #[error("empty value")]
    Empty,
    /// More than [`MAX_RANGES`] ranges.
    #[error("more than {MAX_RANGES} ranges")]
    TooManyRanges,
    /// The text does not start with `crashkernel=` (for [`Crashkernel::parse_param`]).
    #[error("expected `crashkernel=`")]
    NotCrashkernel,
}

/// Why a parameter reserves nothing on a machine, from [`Crashkernel::select`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectError {
    /// No range contains the (rounded) RAM size: the kernel reserves nothing.
    #[error("no range matches {} of RAM (rounded up to 128 MiB)", format_mib(*ram_rounded))]
    NoRangeMatches {
        /// RAM after rounding.
        ram_rounded: u64,
    },
    /// A range visited before the match has a size not below the rounded RAM: the kernel
    /// rejects the whole parameter ("crashkernel: invalid size").
    #[error(
        "range {index} asks for {size} bytes, not below the RAM ({ram_rounded} bytes rounded)"
    )]
    RangeSizeTooLarge {
        /// 0-based index of the range.
        index: usize,
        /// Its size.
        size: u64,
        /// RAM after rounding.
        ram_rounded: u64,
    },
    /// The selected size is zero.
    #[error("the selected size is zero")]
    Zero,
    /// The selected size is not below the RAM size.
    #[error("size {} is not below the RAM size {}", format_mib(*size), format_mib(*ram))]
    NotBelowRam {
        /// Selected size.
        size: u64,
        /// RAM, unrounded.
        ram: u64,
    },
    /// `,low` and `,cma` say nothing alone about the main reservation.
    #[error("crashkernel=...,low and ,cma only accompany another crashkernel= value")]
    NotAMainReservation,
}

/// The reservation a parameter asks for on a given machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// Bytes of the main reservation.
    pub size: u64,
    /// Fixed physical address, if the parameter gives one.
    pub offset: Option<u64>,
    /// True for `,high` (allocated from the top of memory).
    pub high: bool,
}

fn err(column0: usize, kind: ParseErrorKind) -> ParseError {
    ParseError {
        column: column0 + 1,
        kind,
    }
}

/// Parse a number the way the kernel's `memparse()` does, starting at `pos` in `s`.
///
/// Returns the value and the position after it (after the suffix letter, if any). `Ok(None)`
/// means no digits were found at `pos` (the kernel's "memory value expected").
pub fn memparse_at(s: &[u8], pos: usize) -> Result<Option<(u64, usize)>, ParseError> {
    let rest = s.get(pos..).unwrap_or(&[]);
    let (radix, skip) = match rest {
        [b'0', x, d, ..] if (*x | 0x20) == b'x' && d.is_ascii_hexdigit() => (16u32, 2usize),
        [b'0', ..] => (8, 0),
        _ => (10, 0),
    };
    let mut i = pos + skip;
    let mut value: u64 = 0;
    let mut digits = 0usize;
    while let Some(&c) = s.get(i) {
        let Some(d) = (c as char).to_digit(radix) else {
            break;
        };
        value = value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or_else(|| err(pos, ParseErrorKind::Overflow))?;
        digits += 1;
        i += 1;
    }
    if digits == 0 {
        return Ok(None);
    }
    let shift = match s.get(i).map(|c| c.to_ascii_uppercase()) {
        Some(b'K') => 10,
        Some(b'M') => 20,
        Some(b'G') => 30,
        Some(b'T') => 40,
        Some(b'P') => 50,
        Some(b'E') => 60,
        _ => 0,
    };
    if shift > 0 {
        i += 1;
        if value.leading_zeros() < shift {
            return Err(err(pos, ParseErrorKind::Overflow));
        }
        value <<= shift;
    }
    Ok(Some((value, i)))
}

/// Parse a memory size such as `128M`, `0x1000000` or `1G` (the whole string must be used).
pub fn parse_size(s: &str) -> Result<u64, ParseError> {
    let b = s.as_bytes();
    match memparse_at(b, 0)? {
        None => Err(err(0, ParseErrorKind::ExpectedNumber)),
        Some((v, end)) if end == b.len() => Ok(v),
        Some((_, end)) => Err(err(end, unexpected_at(b, end))),
    }
}

/// Print a size the shortest exact way: the largest of `E P T G M K` that divides it.
pub fn format_size(v: u64) -> String {
    if v == 0 {
        return "0".to_string();
    }
    const UNITS: [(u32, char); 6] = [
        (60, 'E'),
        (50, 'P'),
        (40, 'T'),
        (30, 'G'),
        (20, 'M'),
        (10, 'K'),
    ];
    for (shift, unit) in UNITS {
        if v.trailing_zeros() >= shift {
            return format!("{}{}", v >> shift, unit);
        }
    }
    v.to_string()
}

/// A human-readable size in MiB with one decimal (for reports, not for parameters).
pub fn format_mib(v: u64) -> String {
    let tenths = (u128::from(v) * 10 + u128::from(MIB) / 2) / u128::from(MIB);
    format!("{}.{} MiB", tenths / 10, tenths % 10)
}

fn unexpected_at(b: &[u8], i: usize) -> ParseErrorKind {
    // Report the full UTF-8 character when possible.
    let c = std::str::from_utf8(&b[i..])
        .ok()
        .and_then(|s| s.chars().next())
        .unwrap_or(b[i] as char);
    ParseErrorKind::Unexpected(c)
}

impl Crashkernel {
    /// Parse the value of a `crashkernel=` parameter (the text after `=`).
    ///
    /// Columns in errors count from 1 at the start of `value`.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        Self::parse_inner(value.as_bytes(), 0)
    }

    /// Parse a whole `crashkernel=VALUE` parameter; error columns count the `crashkernel=`.
    pub fn parse_param(param: &str) -> Result<Self, ParseError> {
        let Some(value) = param.strip_prefix("crashkernel=") else {
            return Err(err(0, ParseErrorKind::NotCrashkernel));
        };
        Self::parse_inner(value.as_bytes(), "crashkernel=".len())
    }

    fn parse_inner(b: &[u8], base: usize) -> Result<Self, ParseError> {
        let e = |i: usize, k| err(base + i, k);
        if b.is_empty() {
            return Err(e(0, ParseErrorKind::Empty));
        }
        // Suffix forms: the kernel recognises them by how the value ends.
        for (suffix, make) in [
            (",high", Crashkernel::High as fn(u64) -> Crashkernel),
            (",low", Crashkernel::Low),
            (",cma", Crashkernel::Cma),
        ] {
            if b.ends_with(suffix.as_bytes()) {
                let body = &b[..b.len() - suffix.len()];
                return match memparse_at(body, 0).map_err(|x| e(x.column - 1, x.kind))? {
                    None => Err(e(0, ParseErrorKind::ExpectedNumber)),
                    Some((v, end)) if end == body.len() => Ok(make(v)),
                    Some((_, end)) => Err(e(end, unexpected_at(b, end))),
                };
            }
        }
        if b.contains(&b':') {
            Self::parse_ranges(b, base)
        } else {
            let num = |i| memparse_at(b, i).map_err(|x| e(x.column - 1, x.kind));
            let Some((size, i)) = num(0)? else {
                return Err(e(0, ParseErrorKind::ExpectedNumber));
            };
            match b.get(i) {
                None => Ok(Crashkernel::Fixed { size, offset: None }),
                Some(b'@') => {
                    let Some((off, j)) = num(i + 1)? else {
                        return Err(e(i + 1, ParseErrorKind::ExpectedNumber));
                    };
                    if j != b.len() {
                        return Err(e(j, unexpected_at(b, j)));
                    }
                    Ok(Crashkernel::Fixed {
                        size,
                        offset: Some(off),
                    })
                }
                Some(b',') => Err(e(i, Self::suffix_kind(b, i))),
                // `START-END` without `:SIZE`: the kernel rejects it as a simple value too, but
                // the range parser says what is missing.
                Some(b'-') => Self::parse_ranges(b, base),
                Some(_) => Err(e(i, unexpected_at(b, i))),
            }
        }
    }

    fn suffix_kind(b: &[u8], i: usize) -> ParseErrorKind {
        let word: String = String::from_utf8_lossy(&b[i..]).chars().take(32).collect();
        ParseErrorKind::UnknownSuffix(word)
    }

    fn parse_ranges(b: &[u8], base: usize) -> Result<Self, ParseError> {
        let e = |i: usize, k| err(base + i, k);
        let num = |i| memparse_at(b, i).map_err(|x| e(x.column - 1, x.kind));
        let mut ranges = Vec::new();
        let mut i = 0usize;
        loop {
            if ranges.len() >= MAX_RANGES {
                return Err(e(i, ParseErrorKind::TooManyRanges));
            }
            let Some((start, j)) = num(i)? else {
                return Err(e(i, ParseErrorKind::ExpectedNumber));
            };
            if b.get(j) != Some(&b'-') {
                return Err(e(j, ParseErrorKind::ExpectedDash));
            }
            i = j + 1;
            let mut end = None;
            if b.get(i) != Some(&b':') {
                let Some((v, j)) = num(i)? else {
                    return Err(e(i, ParseErrorKind::ExpectedNumber));
                };
                if v <= start {
                    return Err(e(i, ParseErrorKind::EndNotAfterStart));
                }
                end = Some(v);
                i = j;
            }
            if b.get(i) != Some(&b':') {
                return Err(e(i, ParseErrorKind::ExpectedColon));
            }
            i += 1;
            let Some((size, j)) = num(i)? else {
                return Err(e(i, ParseErrorKind::ExpectedNumber));
            };
            ranges.push(RangeSize { start, end, size });
            i = j;
            match b.get(i) {
                Some(b',') => i += 1,
                _ => break,
            }
        }
        let offset = match b.get(i) {
            None => None,
            Some(b'@') => {
                let Some((off, j)) = num(i + 1)? else {
                    return Err(e(i + 1, ParseErrorKind::ExpectedNumber));
                };
                if j != b.len() {
                    return Err(e(j, unexpected_at(b, j)));
                }
                Some(off)
            }
            Some(_) => return Err(e(i, unexpected_at(b, i))),
        };
        Ok(Crashkernel::Ranges { ranges, offset })
    }

    /// The size this value reserves on a machine whose `memblock_phys_mem_size()` is
    /// `system_ram` bytes, following the kernel's rules (see the module documentation).
    pub fn select(&self, system_ram: u64) -> Result<Selection, SelectError> {
        let (size, offset, high) = match self {
            Crashkernel::Fixed { size, offset } => (*size, *offset, false),
            Crashkernel::High(size) => (*size, None, true),
            Crashkernel::Low(_) | Crashkernel::Cma(_) => {
                return Err(SelectError::NotAMainReservation)
            }
            Crashkernel::Ranges { ranges, offset } => {
                let ram_rounded = round_up(system_ram, RAM_ROUNDING);
                let mut chosen = None;
                for (index, r) in ranges.iter().enumerate() {
                    if r.size >= ram_rounded {
                        return Err(SelectError::RangeSizeTooLarge {
                            index,
                            size: r.size,
                            ram_rounded,
                        });
                    }
                    if ram_rounded >= r.start && r.end.is_none_or(|end| ram_rounded < end) {
                        chosen = Some(r.size);
                        break;
                    }
                }
                match chosen {
                    Some(s) => (s, *offset, false),
                    None => return Err(SelectError::NoRangeMatches { ram_rounded }),
                }
            }
        };
        if size == 0 {
            return Err(SelectError::Zero);
        }
        if size >= system_ram {
            return Err(SelectError::NotBelowRam {
                size,
                ram: system_ram,
            });
        }
        Ok(Selection { size, offset, high })
    }
}

/// Round `v` up to a multiple of `to` (a power of two or not), saturating at the top.
pub fn round_up(v: u64, to: u64) -> u64 {
    if to == 0 {
        return v;
    }
    match v % to {
        0 => v,
        r => v.saturating_add(to - r),
    }
}

impl fmt::Display for Crashkernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |f: &mut fmt::Formatter<'_>, o: &Option<u64>| match o {
            Some(o) => write!(f, "@{}", format_size(*o)),
            None => Ok(()),
        };
        match self {
            Crashkernel::Fixed { size, offset } => {
                write!(f, "{}", format_size(*size))?;
                at(f, offset)
            }
            Crashkernel::Ranges { ranges, offset } => {
                for (n, r) in ranges.iter().enumerate() {
                    if n > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}-", format_size(r.start))?;
                    if let Some(end) = r.end {
                        write!(f, "{}", format_size(end))?;
                    }
                    write!(f, ":{}", format_size(r.size))?;
                }
                at(f, offset)
            }
            Crashkernel::High(s) => write!(f, "{},high", format_size(*s)),
            Crashkernel::Low(s) => write!(f, "{},low", format_size(*s)),
            Crashkernel::Cma(s) => write!(f, "{},cma", format_size(*s)),
        }
    }
}

impl std::str::FromStr for Crashkernel {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Crashkernel::parse(s)
    }
}

/// Every `crashkernel=` on a kernel command line, combined as the kernel combines them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CmdlineCrashkernel {
    /// The last value without a known suffix (the kernel uses only the last one).
    pub main: Option<String>,
    /// The last `,high` value.
    pub high: Option<String>,
    /// The last `,low` value.
    pub low: Option<String>,
    /// The last `,cma` value.
    pub cma: Option<String>,
    /// How many `crashkernel=` occurrences there were in total.
    pub count: usize,
}

/// The reservation(s) a command line asks for on a machine with `system_ram` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    /// The main reservation ("Crash kernel" in /proc/iomem, /sys/kernel/kexec_crash_size).
    pub main: Selection,
    /// The low part for `,high` (x86_64: given `,low` or the default 256 MiB).
    pub low: Option<u64>,
    /// The additional CMA reservation, if any.
    pub cma: Option<u64>,
}

/// Why a command line's `crashkernel=` reserves nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// No `crashkernel=` at all.
    #[error("no crashkernel= on the command line")]
    Absent,
    /// A value does not parse.
    #[error("{value:?}: {error}")]
    Syntax {
        /// The value (after `crashkernel=`).
        value: String,
        /// What is wrong with it.
        error: ParseError,
    },
    /// It parses but selects nothing for this RAM size.
    #[error("{value:?}: {error}")]
    Nothing {
        /// The value.
        value: String,
        /// Why.
        error: SelectError,
    },
}

impl CmdlineCrashkernel {
    /// Collect the `crashkernel=` values from a command line as the kernel finds them: every
    /// occurrence of the text `crashkernel=`, its value running to the next space; a value
    /// ending in `,high`, `,low` or `,cma` belongs to that kind, the others to the main kind;
    /// of each kind the last one counts.
    pub fn from_cmdline(cmdline: &str) -> Self {
        const NAME: &str = "crashkernel=";
        let mut out = CmdlineCrashkernel::default();
        let mut from = 0usize;
        while let Some(found) = cmdline.get(from..).and_then(|s| s.find(NAME)) {
            let start = from + found + NAME.len();
            let rest = &cmdline[start..];
            let end = rest.find([' ', '\n']).unwrap_or(rest.len());
            let value = rest[..end].to_string();
            out.count += 1;
            let slot = if value.ends_with(",high") {
                &mut out.high
            } else if value.ends_with(",low") {
                &mut out.low
            } else if value.ends_with(",cma") {
                &mut out.cma
            } else {
                &mut out.main
            };
            *slot = Some(value);
            from = from + found + 1;
        }
        out
    }

    /// What the kernel reserves for this command line on a machine with `system_ram` bytes.
    ///
    /// A main value wins over `,high`; `,high` without `,low` gets [`X86_64_DEFAULT_LOW`].
    pub fn request(&self, system_ram: u64) -> Result<Requested, RequestError> {
        let parse = |v: &String| {
            Crashkernel::parse(v).map_err(|error| RequestError::Syntax {
                value: v.clone(),
                error,
            })
        };
        let select = |v: &String, ck: &Crashkernel| {
            ck.select(system_ram)
                .map_err(|error| RequestError::Nothing {
                    value: v.clone(),
                    error,
                })
        };
        // The kernel ignores a malformed `,cma` value (it still reserves the main region).
        let cma = match self.cma.as_deref().map(Crashkernel::parse) {
            Some(Ok(Crashkernel::Cma(s))) if s > 0 => Some(s),
            _ => None,
        };
        if let Some(v) = &self.main {
            let ck = parse(v)?;
            let main = select(v, &ck)?;
            return Ok(Requested {
                main,
                low: None,
                cma,
            });
        }
        if let Some(v) = &self.high {
            let ck = parse(v)?;
            let main = select(v, &ck)?;
            let low = match &self.low {
                Some(l) => match parse(l)? {
                    Crashkernel::Low(s) => s,
                    _ => X86_64_DEFAULT_LOW,
                },
                None => X86_64_DEFAULT_LOW,
            };
            return Ok(Requested {
                main,
                low: Some(low),
                cma,
            });
        }
        Err(RequestError::Absent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memparse_bases_and_suffixes() {
        assert_eq!(parse_size("128M"), Ok(128 * MIB));
        assert_eq!(parse_size("128m"), Ok(128 * MIB));
        assert_eq!(parse_size("0x1000000"), Ok(16 * MIB));
        assert_eq!(parse_size("0X10M"), Ok(16 * MIB));
        assert_eq!(parse_size("010"), Ok(8));
        assert_eq!(parse_size("1e"), Ok(1 << 60));
        assert_eq!(
            parse_size("16E").unwrap_err().kind,
            ParseErrorKind::Overflow
        );
        assert_eq!(
            parse_size("18446744073709551616").unwrap_err().kind,
            ParseErrorKind::Overflow
        );
        assert_eq!(parse_size("1Q").unwrap_err().column, 2);
    }

    #[test]
    fn format_sizes() {
        assert_eq!(format_size(128 * MIB), "128M");
        assert_eq!(format_size(GIB), "1G");
        assert_eq!(format_size(1536 * MIB), "1536M");
        assert_eq!(format_size(1000), "1000");
        assert_eq!(format_size(0), "0");
        assert_eq!(format_mib(192 * MIB + MIB / 2), "192.5 MiB");
    }
}
