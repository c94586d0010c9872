//! Shell variable assignments (`NAME=value`, `NAME="value"`, `NAME='value'`), read without
//! running a shell. Anything that a shell would expand or execute is an error.

use crate::diag::Diagnostic;
use crate::syntax::Span;

/// One `NAME=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The variable.
    pub name: String,
    /// The value after quote removal.
    pub value: String,
    /// Where the name starts.
    pub span: Span,
}

struct Scanner<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    column: usize,
}

impl Scanner<'_> {
    fn span(&self) -> Span {
        Span {
            line: self.line,
            column: self.column,
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\r')) {
            self.bump();
        }
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.bump() {
            if c == '\n' {
                break;
            }
        }
    }
}

const NEVER_RUN: &str = "the file is read, never run by a shell";

/// Reads every assignment; problems are errors at their line and column.
pub fn parse_assignments(text: &str) -> (Vec<Assignment>, Vec<Diagnostic>) {
    let mut s = Scanner {
        chars: text.chars().peekable(),
        line: 1,
        column: 1,
    };
    let mut out = Vec::new();
    let mut diags = Vec::new();
    if let Some(i) = text.find("\r\n") {
        let line = text[..i].matches('\n').count() + 1;
        let column = text[..i]
            .rsplit('\n')
            .next()
            .map_or(0, |l| l.chars().count())
            + 1;
        diags.push(Diagnostic::warning(
            Span { line, column },
            "DOS line endings: a shell keeps the carriage return in the values; it is dropped here",
        ));
    }
    loop {
        s.skip_blanks();
        let Some(c) = s.peek() else { break };
        if c == '\n' {
            s.bump();
            continue;
        }
        if c == '#' {
            s.skip_line();
            continue;
        }
        let start = s.span();
        let mut name = String::new();
        while let Some(c) = s.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                s.bump();
            } else {
                break;
            }
        }
        if name == "export" && matches!(s.peek(), Some(' ' | '\t')) {
            continue;
        }
        let valid_name = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !valid_name || s.peek() != Some('=') {
            diags.push(Diagnostic::error(
                start,
                format!("unsupported shell syntax: expected NAME=VALUE ({NEVER_RUN})"),
            ));
            s.skip_line();
            continue;
        }
        s.bump(); // '='
        match value(&mut s) {
            Ok(v) => out.push(Assignment {
                name,
                value: v,
                span: start,
            }),
            Err(d) => {
                diags.push(d);
                s.skip_line();
                continue;
            }
        }
        s.skip_blanks();
        match s.peek() {
            None | Some('\n') => {}
            Some('#') => s.skip_line(),
            Some(';') => {
                diags.push(Diagnostic::error(
                    s.span(),
                    format!(
                        "unsupported shell syntax `;`: write one assignment per line ({NEVER_RUN})"
                    ),
                ));
                s.skip_line();
            }
            // another word: another assignment (`A=1 B=2`) or a command, which the name check
            // at the top of the loop reports
            Some(_) => {}
        }
    }
    (out, diags)
}

fn value(s: &mut Scanner<'_>) -> Result<String, Diagnostic> {
    let mut v = String::new();
    let mut first = true;
    loop {
        let at = s.span();
        let Some(c) = s.peek() else { break };
        match c {
            ' ' | '\t' | '\r' | '\n' => break,
            '"' => {
                s.bump();
                loop {
                    let here = s.span();
                    match s.bump() {
                        None => {
                            return Err(Diagnostic::error(at, "unterminated double quote"));
                        }
                        Some('"') => break,
                        Some('\\') => match s.peek() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => {
                                s.bump();
                                v.push(e);
                            }
                            Some('\n') => {
                                s.bump();
                            }
                            _ => v.push('\\'),
                        },
                        Some('$') | Some('`') => {
                            return Err(Diagnostic::error(
                                here,
                                format!("variable expansion and command substitution are not supported ({NEVER_RUN})"),
                            ));
                        }
                        Some(o) => v.push(o),
                    }
                }
            }
            '\'' => {
                s.bump();
                loop {
                    match s.bump() {
                        None => return Err(Diagnostic::error(at, "unterminated single quote")),
                        Some('\'') => break,
                        Some(o) => v.push(o),
                    }
                }
            }
            '\\' => {
                s.bump();
                match s.bump() {
                    Some('\n') | None => {}
                    Some(o) => v.push(o),
                }
            }
            '$' | '`' => {
                return Err(Diagnostic::error(
                    at,
                    format!("variable expansion and command substitution are not supported ({NEVER_RUN})"),
                ));
            }
            ';' | '&' | '|' | '<' | '>' | '(' | ')' | '{' | '}' => {
                return Err(Diagnostic::error(
                    at,
                    format!("unsupported shell syntax `{c}` ({NEVER_RUN})"),
                ));
            }
            '*' | '?' | '[' => {
                return Err(Diagnostic::error(
                    at,
                    format!("unquoted `{c}` would be expanded by a shell: quote the value"),
                ));
            }
            '~' if first => {
                return Err(Diagnostic::error(
                    at,
                    "an unquoted leading `~` would be expanded by a shell: write the full path",
                ));
            }
            o => {
                s.bump();
                v.push(o);
            }
        }
        first = false;
    }
    Ok(v)
}
