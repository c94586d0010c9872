//! The shell patterns of modules.alias (`fnmatch(3)` with no flags): `*`, `?`, `[...]` with
//! ranges and `!`/`^` negation, `\` escaping the next character.
//!
//! Matching runs in O(pattern × text) time with one backtrack point per `*` (the classic
//! greedy algorithm, exact for patterns whose other tokens each match one character), so no
//! input makes it slow.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Byte(u8),
    Any,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(u8, u8)>,
    },
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    tokens: Vec<Token>,
    literal: bool,
}

impl Glob {
    /// Compile `pattern`. Never fails: a `[` without its `]` is a literal `[`, a trailing `\`
    /// a literal `\` (as glibc's fnmatch treats them).
    pub fn new(pattern: &str) -> Self {
        let p = pattern.as_bytes();
        let mut tokens = Vec::with_capacity(p.len());
        let mut i = 0;
        while i < p.len() {
            match p[i] {
                b'*' => {
                    if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                    i += 1;
                }
                b'?' => {
                    tokens.push(Token::Any);
                    i += 1;
                }
                b'\\' if i + 1 < p.len() => {
                    tokens.push(Token::Byte(p[i + 1]));
                    i += 2;
                }
                b'[' => match parse_class(p, i + 1) {
                    Some((tok, next)) => {
                        tokens.push(tok);
                        i = next;
                    }
                    None => {
                        tokens.push(Token::Byte(b'['));
                        i += 1;
                    }
                },
                b => {
                    tokens.push(Token::Byte(b));
                    i += 1;
                }
            }
        }
        let literal = tokens.iter().all(|t| matches!(t, Token::Byte(_)));
        Glob { tokens, literal }
    }

    /// True when the pattern has no wildcard (matches exactly one string).
    pub fn is_literal(&self) -> bool {
        self.literal
    }

    /// Whether the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        let t = text.as_bytes();
        let (mut ti, mut pi) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None; // (token after the star, text position)
        while ti < t.len() {
            match self.tokens.get(pi) {
                Some(Token::Star) => {
                    star = Some((pi + 1, ti));
                    pi += 1;
                    continue;
                }
                Some(tok) if one(tok, t[ti]) => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
            match star {
                Some((sp, st)) => {
                    pi = sp;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            }
        }
        self.tokens[pi.min(self.tokens.len())..]
            .iter()
            .all(|t| *t == Token::Star)
    }
}

fn one(tok: &Token, c: u8) -> bool {
    match tok {
        Token::Byte(b) => *b == c,
        Token::Any => true,
        Token::Star => false,
        Token::Class { negated, ranges } => {
            ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
        }
    }
}

/// Parse a bracket expression starting after `[`; `None` if it has no closing `]`.
fn parse_class(p: &[u8], mut i: usize) -> Option<(Token, usize)> {
    let mut negated = false;
    if i < p.len() && (p[i] == b'!' || p[i] == b'^') {
        negated = true;
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = *p.get(i)?;
        if c == b']' && !first {
            return Some((Token::Class { negated, ranges }, i + 1));
        }
        first = false;
        let lo = if c == b'\\' {
            i += 1;
            *p.get(i)?
        } else {
            c
        };
        i += 1;
        if p.get(i) == Some(&b'-') && p.get(i + 1).is_some_and(|&n| n != b']') {
            let mut hi = p[i + 1];
            i += 2;
            if hi == b'\\' {
                hi = *p.get(i)?;
                i += 1;
            }
            ranges.push((lo, hi));
        } else {
            ranges.push((lo, lo));
        }
    }
}

/// `fnmatch(pattern, text, 0) == 0` for the patterns of modules.alias.
///
/// ```
/// use capture_initramfs::glob_match;
/// assert!(glob_match("virtio:d00000002v*", "virtio:d00000002v00001AF4"));
/// assert!(glob_match("pci:v00008086d*sv*sd*bc01sc06i01*", "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01"));
/// assert!(!glob_match("scsi:t-0x0[0-5]*", "scsi:t-0x07"));
/// ```
pub fn glob_match(pattern: &str, text: &str) -> bool {
    Glob::new(pattern).matches(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        let yes = [
            ("", ""),
            ("*", ""),
            ("*", "abc"),
            ("a*c", "abbbc"),
            ("a?c", "abc"),
            ("[abc]x", "bx"),
            ("[!abc]x", "dx"),
            ("[^abc]x", "dx"),
            ("[a-c]*", "cat"),
            ("[]]", "]"),
            ("[!]]", "a"),
            ("a\\*b", "a*b"),
            ("[", "["),
            ("a[", "a["),
            ("*a*a*a*a*a*b", "aaaaaaaaaaaaab"),
            ("x\\", "x\\"),
            ("[a-]", "-"),
        ];
        for (p, t) in yes {
            assert!(glob_match(p, t), "{p:?} should match {t:?}");
        }
        let no = [
            ("", "a"),
            ("a", ""),
            ("a*c", "abcd"),
            ("a?c", "ac"),
            ("[abc]x", "dx"),
            ("[!abc]x", "ax"),
            ("a\\*b", "axb"),
            ("*a*a*a*a*a*b", "aaaaaaaaaaaaaa"),
            ("[z-a]", "m"),
        ];
        for (p, t) in no {
            assert!(!glob_match(p, t), "{p:?} should not match {t:?}");
        }
        assert!(Glob::new("virtio_blk").is_literal());
        assert!(!Glob::new("virtio:*").is_literal());
    }

    /// A naive exponential matcher as the oracle, on short inputs.
    fn naive(p: &[Token], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((Token::Star, rest)) => (0..=t.len()).any(|k| naive(rest, &t[k..])),
            Some((tok, rest)) => !t.is_empty() && one(tok, t[0]) && naive(rest, &t[1..]),
        }
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_naive(p in "[ab*?\\[\\]!\\-\\\\]{0,8}", t in "[ab\\[\\]\\-]{0,10}") {
            let g = Glob::new(&p);
            proptest::prop_assert_eq!(g.matches(&t), naive(&g.tokens, t.as_bytes()), "{:?} {:?}", p, t);
        }
    }
}
