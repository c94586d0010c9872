//! The lossless line model of kdump.conf: every line kept as written, directives split into
//! name and value the way kdumpctl reads them.

use std::fmt;

/// A position in the text: 1-based line and column (columns count characters, a tab is one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Span {
    /// Line number, from 1.
    pub line: usize,
    /// Column, from 1, in characters.
    pub column: usize,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One directive line, split as kdumpctl splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The first word (`path`, `core_collector`, ...), as written.
    pub name: String,
    /// Where the name starts.
    pub name_span: Span,
    /// The value as kdumpctl sees it: the rest of the line with surrounding blanks removed, a
    /// `#` and everything after it removed, then one pair of surrounding double quotes removed.
    /// Empty when the line has no value.
    pub value: String,
    /// Where the value starts (after an opening quote that was removed); the end of the name
    /// when there is no value.
    pub value_span: Span,
    /// Whether a pair of surrounding double quotes was removed.
    pub quoted: bool,
    /// The trailing `# comment` (from the `#`), if any.
    pub comment: Option<String>,
}

impl Directive {
    /// The value split into words on blanks (how kdump's shell scripts split it when they use
    /// it unquoted), each with its column.
    pub fn words(&self) -> Vec<(Span, &str)> {
        let mut out = Vec::new();
        let mut start: Option<(usize, usize)> = None; // (byte, column)
        for (col, (i, c)) in (self.value_span.column..).zip(self.value.char_indices()) {
            if is_blank(c) {
                if let Some((b, sc)) = start.take() {
                    out.push((
                        Span {
                            line: self.value_span.line,
                            column: sc,
                        },
                        &self.value[b..i],
                    ));
                }
            } else if start.is_none() {
                start = Some((i, col));
            }
        }
        if let Some((b, sc)) = start {
            out.push((
                Span {
                    line: self.value_span.line,
                    column: sc,
                },
                &self.value[b..],
            ));
        }
        out
    }
}

/// What a line holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// Only blanks.
    Blank,
    /// The first non-blank character is `#`.
    Comment,
    /// A directive.
    Directive(Directive),
}

/// One line of the file, with the exact text and line ending it had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The line's text without its `\n` (a `\r` before it stays here).
    pub text: String,
    /// Whether the line ended with `\n` (the last line may not).
    pub newline: bool,
    /// The line number, from 1.
    pub number: usize,
    /// What it holds.
    pub kind: LineKind,
}

/// A whole kdump.conf, kept line by line so it prints back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Document {
    lines: Vec<Line>,
}

/// Why an edit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// The directive name is empty, has blanks, or starts with `#`.
    #[error("`{0}` is not a directive name")]
    BadName(String),
    /// kdumpctl would cut the value at `#`, or it spans lines, or it is empty.
    #[error("value `{value}` cannot be written for `{name}`: {reason}")]
    BadValue {
        /// The directive.
        name: String,
        /// The value.
        value: String,
        /// Why.
        reason: &'static str,
    },
}

/// Blanks as bash's `read` splits on them (default IFS within a line: space and tab).
pub(crate) fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t')
}

/// White space as `grep '^\s*$'` and `grep '^\s*#'` see it (what makes a line blank or a
/// comment for kdumpctl).
pub(crate) fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\x0b' | '\x0c')
}

fn span_at(line: usize, text: &str, byte: usize) -> Span {
    Span {
        line,
        column: text[..byte].chars().count() + 1,
    }
}

fn parse_line(number: usize, text: &str) -> LineKind {
    let Some(first) = text.find(|c: char| !is_space(c)) else {
        return LineKind::Blank;
    };
    if text[first..].starts_with('#') {
        return LineKind::Comment;
    }
    let start = text.find(|c: char| !is_blank(c)).unwrap_or(0);
    let body = &text[start..];
    let name_end = body.find(is_blank).unwrap_or(body.len());
    let name = &body[..name_end];
    let name_span = span_at(number, text, start);
    let rest_off = start + name_end;
    let rest = &text[rest_off..];
    let lead = rest.find(|c: char| !is_blank(c)).unwrap_or(rest.len());
    let mut value_off = rest_off + lead;
    let mut value = rest[lead..].trim_end_matches(is_blank);
    let mut comment = None;
    if let Some(h) = value.find('#') {
        comment = Some(text[value_off + h..].trim_end_matches(is_blank).to_string());
        // kdumpctl trims what precedes the `#` with [[:space:]] (CR, VT and FF too)
        value = value[..h].trim_end_matches(is_space);
    }
    let mut quoted = false;
    if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        value = &value[1..value.len() - 1];
        value_off += 1;
        quoted = true;
    }
    let value_span = if value.is_empty() && !quoted {
        span_at(number, text, rest_off)
    } else {
        span_at(number, text, value_off)
    };
    LineKind::Directive(Directive {
        name: name.to_string(),
        name_span,
        value: value.to_string(),
        value_span,
        quoted,
        comment,
    })
}

impl Document {
    /// Splits the text into lines and reads each one. Never fails: every text is a document;
    /// [`crate::check`] says whether it is a valid configuration.
    pub fn parse(text: &str) -> Document {
        let mut lines = Vec::new();
        let mut rest = text;
        let mut number = 1;
        while !rest.is_empty() {
            let (line, newline, next) = match rest.find('\n') {
                Some(i) => (&rest[..i], true, &rest[i + 1..]),
                None => (rest, false, ""),
            };
            lines.push(Line {
                text: line.to_string(),
                newline,
                number,
                kind: parse_line(number, line),
            });
            number += 1;
            rest = next;
        }
        Document { lines }
    }

    /// The lines, in order.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// The directives, in order.
    pub fn directives(&self) -> impl Iterator<Item = &Directive> {
        self.lines.iter().filter_map(|l| match &l.kind {
            LineKind::Directive(d) => Some(d),
            _ => None,
        })
    }

    /// The last directive with this name (kdump's scripts use the last one).
    pub fn get(&self, name: &str) -> Option<&Directive> {
        self.directives().filter(|d| d.name == name).last()
    }

    /// Sets a directive: the first line with this name gets the new value (keeping its
    /// indentation and trailing comment) and later lines with the same name are removed; if
    /// there is none, `name value` is added at the end. The value is quoted when kdumpctl
    /// would otherwise change it.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), EditError> {
        if name.is_empty()
            || name.contains(is_blank)
            || name.contains('\n')
            || name.starts_with('#')
        {
            return Err(EditError::BadName(name.to_string()));
        }
        let bad = |reason| EditError::BadValue {
            name: name.to_string(),
            value: value.to_string(),
            reason,
        };
        if value.is_empty() {
            return Err(bad("kdumpctl refuses an empty value"));
        }
        if value.contains('#') {
            return Err(bad("kdumpctl cuts values at `#`"));
        }
        if value.contains('\n') {
            return Err(bad("a value is one line"));
        }
        let needs_quotes = value.starts_with(is_blank)
            || value.ends_with(is_blank)
            || (value.len() >= 2 && value.starts_with('"') && value.ends_with('"'));
        let written = if needs_quotes {
            format!("\"{value}\"")
        } else {
            value.to_string()
        };
        let mut found = false;
        let mut out: Vec<Line> = Vec::with_capacity(self.lines.len() + 1);
        for line in self.lines.drain(..) {
            let LineKind::Directive(d) = &line.kind else {
                out.push(line);
                continue;
            };
            if d.name != name {
                out.push(line);
                continue;
            }
            if found {
                continue;
            }
            found = true;
            let indent: String = line.text.chars().take_while(|c| is_blank(*c)).collect();
            let comment = d
                .comment
                .as_deref()
                .map(|c| format!(" {}", c.trim_end_matches('\r')))
                .unwrap_or_default();
            out.push(Line {
                // a CR before the newline would become part of the value for kdumpctl: the
                // edited line is written without one
                text: format!("{indent}{name} {written}{comment}"),
                newline: line.newline,
                number: 0,
                kind: LineKind::Blank,
            });
        }
        if !found {
            if let Some(last) = out.last_mut() {
                last.newline = true;
            }
            out.push(Line {
                text: format!("{name} {written}"),
                newline: true,
                number: 0,
                kind: LineKind::Blank,
            });
        }
        self.lines = out;
        self.reparse();
        Ok(())
    }

    /// Removes every line with this directive; returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.lines.len();
        self.lines
            .retain(|l| !matches!(&l.kind, LineKind::Directive(d) if d.name == name));
        let removed = before - self.lines.len();
        if removed > 0 {
            self.reparse();
        }
        removed
    }

    fn reparse(&mut self) {
        *self = Document::parse(&self.to_string());
    }
}

impl fmt::Display for Document {
    /// The text exactly as parsed (after edits, with the edited lines changed).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in &self.lines {
            f.write_str(&l.text)?;
            if l.newline {
                f.write_str("\n")?;
            }
        }
        Ok(())
    }
}
