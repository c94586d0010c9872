//! A small `getopt_long` work-alike: the tokenizer under [`crate::parse`].
//!
//! It follows glibc's default ("permute") behaviour, which is what makedumpfile gets from its
//! optstring `b:cDd:eEFfg:hi:lL:pRvXx:z`:
//! - options and operands may be interleaved; operands keep their order;
//! - `--` ends the options, everything after it is an operand; a lone `-` is an operand;
//! - short options cluster (`-cf`), a short option that takes a value takes the rest of its
//!   word (`-d31`) or, if that is empty, the next word whatever it looks like (`-d 31`);
//! - long options take `--name=value` or `--name value`; an unambiguous prefix of a long
//!   name is accepted (`--message 7`), an exact name always wins over a prefix.

use crate::OptionsError;

/// Whether an option takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arg {
    /// A flag.
    None,
    /// Takes exactly one value.
    Required,
}

/// One option the tokenizer knows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    /// The short letter, if any.
    pub short: Option<char>,
    /// The long name (without `--`), if any.
    pub long: Option<&'static str>,
    /// Whether it takes a value.
    pub arg: Arg,
    /// An identifier the parser matches on.
    pub id: crate::parse::Id,
}

/// What the tokenizer produced, in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// A recognised option, with the spelling used (`-d`, `--message-level`) and its value.
    Opt {
        spec: usize,
        spelled: String,
        value: Option<&'a str>,
    },
    /// An operand (positional argument).
    Operand(&'a str),
}

/// Canonical spelling of an option for messages: `--long` if it has one, else `-x`.
pub(crate) fn canonical(spec: &Spec) -> String {
    match (spec.long, spec.short) {
        (_, Some(c)) => format!("-{c}"),
        (Some(l), None) => format!("--{l}"),
        (None, None) => String::from("?"),
    }
}

/// Splits `args` into options and operands.
pub(crate) fn tokenize<'a, S: AsRef<str>>(
    specs: &[Spec],
    args: &'a [S],
) -> Result<Vec<Token<'a>>, OptionsError> {
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        let word = args[i].as_ref();
        i += 1;
        if word == "--" {
            out.extend(args[i..].iter().map(|a| Token::Operand(a.as_ref())));
            break;
        }
        if let Some(body) = word.strip_prefix("--") {
            let (name, attached) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let idx = find_long(specs, name)?;
            let spec = &specs[idx];
            let spelled = format!("--{}", spec.long.unwrap_or(name));
            let value = match (spec.arg, attached) {
                (Arg::None, Some(_)) => {
                    return Err(OptionsError::UnexpectedValue { option: spelled });
                }
                (Arg::None, None) => None,
                (Arg::Required, Some(v)) => Some(v),
                (Arg::Required, None) => match args.get(i) {
                    Some(v) => {
                        i += 1;
                        Some(v.as_ref())
                    }
                    None => {
                        return Err(OptionsError::MissingValue {
                            option: spelled,
                            expected: crate::parse::expected_for(spec.id),
                        })
                    }
                },
            };
            out.push(Token::Opt {
                spec: idx,
                spelled,
                value,
            });
            continue;
        }
        let Some(cluster) = word.strip_prefix('-').filter(|c| !c.is_empty()) else {
            out.push(Token::Operand(word));
            continue;
        };
        for (pos, c) in cluster.char_indices() {
            let Some(idx) = specs.iter().position(|s| s.short == Some(c)) else {
                return Err(OptionsError::UnknownOption {
                    option: format!("-{c}"),
                });
            };
            let spec = &specs[idx];
            let spelled = format!("-{c}");
            if spec.arg == Arg::None {
                out.push(Token::Opt {
                    spec: idx,
                    spelled,
                    value: None,
                });
                continue;
            }
            let rest = &cluster[pos + c.len_utf8()..];
            let value = if !rest.is_empty() {
                rest
            } else if let Some(v) = args.get(i) {
                i += 1;
                v.as_ref()
            } else {
                return Err(OptionsError::MissingValue {
                    option: spelled,
                    expected: crate::parse::expected_for(spec.id),
                });
            };
            out.push(Token::Opt {
                spec: idx,
                spelled,
                value: Some(value),
            });
            break;
        }
    }
    Ok(out)
}

/// Finds a long option by exact name or unambiguous prefix.
fn find_long(specs: &[Spec], name: &str) -> Result<usize, OptionsError> {
    if let Some(i) = specs.iter().position(|s| s.long == Some(name)) {
        return Ok(i);
    }
    if name.is_empty() {
        return Err(OptionsError::UnknownOption {
            option: format!("--{name}"),
        });
    }
    let mut hits = specs
        .iter()
        .enumerate()
        .filter(|(_, s)| s.long.is_some_and(|l| l.starts_with(name)));
    match (hits.next(), hits.next()) {
        (Some((i, _)), None) => Ok(i),
        (None, _) => Err(OptionsError::UnknownOption {
            option: format!("--{name}"),
        }),
        (Some((_, a)), Some((_, b))) => {
            let mut candidates = vec![a.long.unwrap_or_default(), b.long.unwrap_or_default()];
            candidates.extend(hits.filter_map(|(_, s)| s.long));
            Err(OptionsError::AmbiguousOption {
                option: format!("--{name}"),
                candidates: candidates
                    .into_iter()
                    .map(|c| format!("--{c}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }
}
