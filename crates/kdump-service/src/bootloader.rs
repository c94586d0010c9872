//! Setting `crashkernel=` in boot-loader configuration, as a reviewed, atomic edit.
//!
//! Three formats are handled:
//!
//! * GRUB legacy `grub.conf` / `menu.lst`: the `kernel` line of the entry chosen by
//!   `default=N` (0-based `title` blocks; `default` absent or not a number means 0). Other
//!   entries and comments are left as they are.
//! * `/etc/default/grub`: the last `GRUB_CMDLINE_LINUX=` assignment (one is appended if there
//!   is none); `crashkernel=` is also removed from `GRUB_CMDLINE_LINUX_DEFAULT`, which comes
//!   later on the generated command line and would otherwise win.
//! * Boot Loader Specification entries `/boot/loader/entries/*.conf`: the `options` line of
//!   every entry (one is appended if absent), as `kdumpctl reset-crashkernel` does for all
//!   kernels.
//!
//! In each command line the first `crashkernel=` is replaced in place, later ones (including
//! `,high`/`,low` ones) are removed, and if there was none `crashkernel=VALUE` is appended.
//! Applying the same value again changes nothing. Nothing here runs a boot-loader installer:
//! [`BootConfigKind::followup`] says what the user should run.

use crate::crashkernel::Crashkernel;
use crate::sysinfo::{SysRoot, MAX_SMALL};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The kinds of boot-loader configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootConfigKind {
    /// GRUB legacy grub.conf / menu.lst.
    GrubLegacy,
    /// /etc/default/grub (GRUB 2).
    DefaultGrub,
    /// A /etc/default/grub.d/*.cfg drop-in that sets `crashkernel=` (Debian's kdump-tools
    /// ships one appending `crashkernel=384M-:128M` to `GRUB_CMDLINE_LINUX_DEFAULT`, which
    /// would win over /etc/default/grub): its `crashkernel=` is removed.
    GrubDropIn,
    /// A Boot Loader Specification entry.
    Bls,
}

impl BootConfigKind {
    /// The command the user must run after an applied change (never run by us), or `None`
    /// when the boot loader reads the file directly at boot.
    pub fn followup(self, root: &SysRoot) -> Option<String> {
        match self {
            BootConfigKind::GrubLegacy | BootConfigKind::Bls => None,
            BootConfigKind::DefaultGrub | BootConfigKind::GrubDropIn => {
                let debian = root.path("/usr/sbin/update-grub").exists()
                    || root.path("/boot/grub/grub.cfg").exists();
                if root.path("/boot/grub2/grub.cfg").exists() && !debian {
                    Some("grub2-mkconfig -o /boot/grub2/grub.cfg".into())
                } else if debian {
                    Some("update-grub   (or: grub-mkconfig -o /boot/grub/grub.cfg)".into())
                } else {
                    Some("grub-mkconfig -o /boot/grub/grub.cfg   (grub2-mkconfig -o /boot/grub2/grub.cfg on Fedora/RHEL)".into())
                }
            }
        }
    }

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            BootConfigKind::GrubLegacy => "GRUB legacy grub.conf",
            BootConfigKind::DefaultGrub => "/etc/default/grub",
            BootConfigKind::GrubDropIn => "/etc/default/grub.d drop-in",
            BootConfigKind::Bls => "Boot Loader Specification entry",
        }
    }
}

/// An error editing boot-loader files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file (system path).
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The file's content is not in the expected shape.
    #[error("{path}:{line}: {what}")]
    Format {
        /// The file.
        path: PathBuf,
        /// 1-based line (0: the whole file).
        line: usize,
        /// What was expected.
        what: String,
    },
    /// No boot-loader configuration found under the root.
    #[error("no boot-loader configuration found (looked for {0})")]
    NothingFound(String),
}

/// A planned change to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// System path, e.g. `/etc/default/grub`.
    pub path: PathBuf,
    /// Its format.
    pub kind: BootConfigKind,
    /// Current content.
    pub old: String,
    /// Content after the change.
    pub new: String,
}

impl FileChange {
    /// Whether applying would change the file.
    pub fn changes(&self) -> bool {
        self.old != self.new
    }

    /// The unified diff of this change (empty when nothing changes).
    pub fn diff(&self) -> String {
        crate::diff::unified(&self.path.to_string_lossy(), &self.old, &self.new)
    }
}

// ---------------------------------------------------------------- command-line tokens

/// Whitespace as the kernel's `isspace()` sees it (space, \t, \n, \v, \f, \r).
fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

fn tokens(s: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if is_ws(b[i] as char) {
            i += 1;
            continue;
        }
        let st = i;
        while i < b.len() && !is_ws(b[i] as char) {
            i += 1;
        }
        out.push((st, i));
    }
    out
}

fn is_ck(tok: &str) -> bool {
    tok.starts_with("crashkernel=")
}

/// Remove the token spans in `drop` from `s`, each with the whitespace before it (or after
/// it, for a token at the very start).
fn remove_spans(s: &str, drop: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    for &(st, en) in drop {
        let mut cut_from = st;
        let mut cut_to = en;
        let before = &s[pos..st];
        let ws = before.len() - before.trim_end_matches(is_ws).len();
        if st - ws > 0 && ws > 0 {
            cut_from = st - ws;
        } else {
            let after = &s[en..];
            cut_to = en + (after.len() - after.trim_start_matches(is_ws).len());
        }
        out.push_str(&s[pos..cut_from.max(pos)]);
        pos = cut_to;
    }
    out.push_str(&s[pos..]);
    out
}

/// Set `crashkernel=VALUE` in a kernel argument string (see the module rules).
pub fn set_in_args(args: &str, value: &str) -> String {
    let toks = tokens(args);
    let ck: Vec<(usize, usize)> = toks
        .iter()
        .copied()
        .filter(|&(a, b)| is_ck(&args[a..b]))
        .collect();
    let new_tok = format!("crashkernel={value}");
    match ck.split_first() {
        Some((&(a, b), rest)) => {
            let mut s = String::with_capacity(args.len() + new_tok.len());
            s.push_str(&args[..a]);
            s.push_str(&new_tok);
            s.push_str(&args[b..]);
            let shift = new_tok.len() as isize - (b - a) as isize;
            let rest: Vec<(usize, usize)> = rest
                .iter()
                .map(|&(x, y)| ((x as isize + shift) as usize, (y as isize + shift) as usize))
                .collect();
            remove_spans(&s, &rest)
        }
        None => {
            let body = args.trim_end_matches(is_ws);
            let trail = &args[body.len()..];
            if body.is_empty() {
                format!("{new_tok}{trail}")
            } else {
                format!("{body} {new_tok}{trail}")
            }
        }
    }
}

/// Remove every `crashkernel=` from a kernel argument string.
pub fn remove_from_args(args: &str) -> String {
    let ck: Vec<(usize, usize)> = tokens(args)
        .into_iter()
        .filter(|&(a, b)| is_ck(&args[a..b]))
        .collect();
    remove_spans(args, &ck)
}

/// The `crashkernel=` values in an argument string, in order.
pub fn values_in_args(args: &str) -> Vec<String> {
    tokens(args)
        .into_iter()
        .map(|(a, b)| &args[a..b])
        .filter(|t| is_ck(t))
        .map(|t| t["crashkernel=".len()..].to_string())
        .collect()
}

// ---------------------------------------------------------------- per-format edits

fn split_eol(line: &str) -> (&str, &str) {
    let body = line.trim_end_matches(['\n', '\r']);
    (body, &line[body.len()..])
}

/// Edit a GRUB legacy grub.conf: the `kernel` line of the `default=N` entry.
pub fn edit_grub_legacy(path: &Path, text: &str, value: &str) -> Result<String, BootError> {
    let fmt_err = |line: usize, what: String| BootError::Format {
        path: path.to_path_buf(),
        line,
        what,
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut default = 0usize;
    let mut titles = Vec::new();
    for (n, l) in lines.iter().enumerate() {
        let t = l.trim_matches(is_ws);
        let word = t.split(|c: char| is_ws(c) || c == '=').next();
        match word {
            Some("title") => titles.push(n),
            Some("default") if titles.is_empty() => {
                let v = t["default".len()..].trim_start_matches(|c: char| is_ws(c) || c == '=');
                default = v.trim_matches(is_ws).parse().unwrap_or(0);
            }
            _ => {}
        }
    }
    let Some(&first) = titles.get(default) else {
        return Err(fmt_err(
            0,
            format!(
                "default={default} but the file has {} title entr{}",
                titles.len(),
                if titles.len() == 1 { "y" } else { "ies" }
            ),
        ));
    };
    let end = titles.get(default + 1).copied().unwrap_or(lines.len());
    let kline = (first + 1..end)
        .find(|&n| lines[n].split(is_ws).find(|w| !w.is_empty()) == Some("kernel"))
        .ok_or_else(|| fmt_err(first + 1, "the default entry has no `kernel` line".into()))?;
    let (body, eol) = split_eol(lines[kline]);
    // kernel PATH ARGS...: keep everything up to the end of PATH.
    let toks = tokens(body);
    if toks.len() < 2 {
        return Err(fmt_err(
            kline + 1,
            "`kernel` line without a kernel path".into(),
        ));
    }
    let path_end = toks[1].1;
    let new_line = format!(
        "{}{}{}",
        &body[..path_end],
        set_in_args_keep_sep(&body[path_end..], value),
        eol
    );
    let mut out = String::with_capacity(text.len() + value.len() + 16);
    for (n, l) in lines.iter().enumerate() {
        if n == kline {
            out.push_str(&new_line);
        } else {
            out.push_str(l);
        }
    }
    Ok(out)
}

/// Like [`set_in_args`] for the text after a path or keyword: keeps a leading separator.
fn set_in_args_keep_sep(rest: &str, value: &str) -> String {
    if rest.trim_matches(is_ws).is_empty() {
        format!(" crashkernel={value}{}", rest.trim_start_matches(is_ws))
    } else {
        set_in_args(rest, value)
    }
}

/// Where a shell assignment's value sits in its line.
struct ShellValue {
    start: usize,
    end: usize,
    quote: Option<char>,
}

fn shell_value(
    path: &Path,
    n: usize,
    line: &str,
    key: &str,
) -> Result<Option<ShellValue>, BootError> {
    let t = line.trim_start_matches(is_ws);
    let lead = line.len() - t.len();
    let Some(rest) = t.strip_prefix(key).and_then(|r| r.strip_prefix('=')) else {
        return Ok(None);
    };
    let vstart = lead + key.len() + 1;
    let bad = |what: &str| BootError::Format {
        path: path.to_path_buf(),
        line: n + 1,
        what: what.to_string(),
    };
    let (body, _) = split_eol(rest);
    match body.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let inner = &body[1..];
            let close = inner.find(q).ok_or_else(|| bad("unterminated quote"))?;
            let v = &inner[..close];
            if q == '"' && v.contains(['\\', '$', '`']) {
                return Err(bad(
                    "value uses shell expansion or escapes; edit it by hand",
                ));
            }
            Ok(Some(ShellValue {
                start: vstart + 1,
                end: vstart + 1 + close,
                quote: Some(q),
            }))
        }
        _ => {
            let len = body
                .find(|c: char| is_ws(c) || c == '#' || c == ';')
                .unwrap_or(body.len());
            if body[..len].contains(['\\', '$', '`', '"', '\'']) {
                return Err(bad(
                    "value uses shell expansion or quoting; edit it by hand",
                ));
            }
            Ok(Some(ShellValue {
                start: vstart,
                end: vstart + len,
                quote: None,
            }))
        }
    }
}

/// Edit /etc/default/grub (see the module rules).
pub fn edit_default_grub(path: &Path, text: &str, value: &str) -> Result<String, BootError> {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(String::from).collect();
    let mut last_linux = None;
    for (n, l) in lines.iter().enumerate() {
        if l.trim_start_matches(is_ws).starts_with('#') {
            continue;
        }
        if let Some(v) = shell_value(path, n, l, "GRUB_CMDLINE_LINUX")? {
            last_linux = Some((n, v));
        }
    }
    for (n, line) in lines.iter_mut().enumerate() {
        if line.trim_start_matches(is_ws).starts_with('#') {
            continue;
        }
        if let Some(v) = shell_value(path, n, line, "GRUB_CMDLINE_LINUX_DEFAULT")? {
            let inner = &line[v.start..v.end];
            if !values_in_args(inner).is_empty() {
                let new_inner = remove_from_args(inner);
                *line = format!("{}{}{}", &line[..v.start], new_inner, &line[v.end..]);
            }
        }
    }
    match last_linux {
        Some((n, v)) => {
            let inner = &lines[n][v.start..v.end];
            let new_inner = set_in_args(inner, value);
            let l = &lines[n];
            lines[n] = match v.quote {
                Some(_) => format!("{}{}{}", &l[..v.start], new_inner, &l[v.end..]),
                None if new_inner.contains(is_ws) => {
                    format!("{}\"{}\"{}", &l[..v.start], new_inner, &l[v.end..])
                }
                None => format!("{}{}{}", &l[..v.start], new_inner, &l[v.end..]),
            };
        }
        None => {
            if let Some(last) = lines.last_mut() {
                if !last.ends_with('\n') {
                    last.push('\n');
                }
            }
            lines.push(format!("GRUB_CMDLINE_LINUX=\"crashkernel={value}\"\n"));
        }
    }
    Ok(lines.concat())
}

/// Remove `crashkernel=` from the `GRUB_CMDLINE_LINUX` / `GRUB_CMDLINE_LINUX_DEFAULT`
/// assignments of a /etc/default/grub.d drop-in. Unlike /etc/default/grub, values that refer
/// to other variables (`"$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=..."`) are fine: only the
/// literal `crashkernel=` words are dropped.
pub fn edit_grub_dropin(path: &Path, text: &str) -> Result<String, BootError> {
    let mut out = String::with_capacity(text.len());
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let t = line.trim_start_matches(is_ws);
        let t = t.strip_prefix("export ").unwrap_or(t);
        let lead = line.len() - t.len();
        let key_len = ["GRUB_CMDLINE_LINUX_DEFAULT=", "GRUB_CMDLINE_LINUX="]
            .iter()
            .find(|k| t.starts_with(*k))
            .map(|k| k.len());
        let Some(key_len) = key_len else {
            out.push_str(line);
            continue;
        };
        let vstart = lead + key_len;
        let (body, _) = split_eol(&line[vstart..]);
        let (a, b) = match body.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let close = body[1..].find(q).ok_or_else(|| BootError::Format {
                    path: path.to_path_buf(),
                    line: n + 1,
                    what: "unterminated quote".into(),
                })?;
                (vstart + 1, vstart + 1 + close)
            }
            _ => {
                let len = body
                    .find(|c: char| is_ws(c) || c == '#' || c == ';')
                    .unwrap_or(body.len());
                (vstart, vstart + len)
            }
        };
        out.push_str(&line[..a]);
        out.push_str(&remove_from_args(&line[a..b]));
        out.push_str(&line[b..]);
    }
    Ok(out)
}

/// Edit one BLS entry: its `options` line (appended if absent).
pub fn edit_bls(path: &Path, text: &str, value: &str) -> Result<String, BootError> {
    let _ = path;
    let mut lines: Vec<String> = text.split_inclusive('\n').map(String::from).collect();
    let opt = lines.iter().position(|l| {
        let t = l.trim_start_matches(is_ws);
        t.strip_prefix("options")
            .is_some_and(|r| r.is_empty() || r.starts_with(is_ws))
    });
    match opt {
        Some(n) => {
            let l = lines[n].clone();
            let (body, eol) = split_eol(&l);
            let lead = body.len() - body.trim_start_matches(is_ws).len();
            let kw_end = lead + "options".len();
            lines[n] = format!(
                "{}{}{}",
                &body[..kw_end],
                set_in_args_keep_sep(&body[kw_end..], value),
                eol
            );
        }
        None => {
            if let Some(last) = lines.last_mut() {
                if !last.ends_with('\n') {
                    last.push('\n');
                }
            }
            lines.push(format!("options crashkernel={value}\n"));
        }
    }
    Ok(lines.concat())
}

/// Apply the right edit for `kind`.
pub fn edit(
    kind: BootConfigKind,
    path: &Path,
    text: &str,
    value: &str,
) -> Result<String, BootError> {
    match kind {
        BootConfigKind::GrubLegacy => edit_grub_legacy(path, text, value),
        BootConfigKind::DefaultGrub => edit_default_grub(path, text, value),
        BootConfigKind::GrubDropIn => edit_grub_dropin(path, text),
        BootConfigKind::Bls => edit_bls(path, text, value),
    }
}

// ---------------------------------------------------------------- discovery, plan, apply

/// Files looked at for GRUB legacy, in order; the first that exists is used (grub.conf and
/// menu.lst are often links to each other).
pub const GRUB_LEGACY_PATHS: &[&str] = &["/boot/grub/grub.conf", "/boot/grub/menu.lst"];
/// The GRUB 2 defaults file.
pub const DEFAULT_GRUB_PATH: &str = "/etc/default/grub";
/// GRUB 2 drop-ins sourced after /etc/default/grub by grub-mkconfig.
pub const GRUB_D_DIR: &str = "/etc/default/grub.d";
/// The BLS entries directory.
pub const BLS_DIR: &str = "/boot/loader/entries";
/// Most BLS entries considered.
pub const MAX_BLS_ENTRIES: usize = 1024;

/// The boot-loader files present under `root`, with their kinds.
pub fn discover(root: &SysRoot) -> Result<Vec<(PathBuf, BootConfigKind)>, BootError> {
    let mut out = Vec::new();
    if let Some(p) = GRUB_LEGACY_PATHS.iter().find(|p| root.path(p).is_file()) {
        out.push((PathBuf::from(p), BootConfigKind::GrubLegacy));
    }
    if root.path(DEFAULT_GRUB_PATH).is_file() {
        out.push((
            PathBuf::from(DEFAULT_GRUB_PATH),
            BootConfigKind::DefaultGrub,
        ));
    }
    for name in dir_entries(root, GRUB_D_DIR, ".cfg")? {
        let p = Path::new(GRUB_D_DIR).join(name);
        let text = root.read_text(&p, MAX_SMALL).map_err(|e| BootError::Io {
            path: p.clone(),
            source: io::Error::other(e.to_string()),
        })?;
        if text.contains("crashkernel=") {
            out.push((p, BootConfigKind::GrubDropIn));
        }
    }
    let dir = root.path(BLS_DIR);
    if dir.is_dir() {
        let rd = fs::read_dir(&dir).map_err(|source| BootError::Io {
            path: PathBuf::from(BLS_DIR),
            source,
        })?;
        let mut names = Vec::new();
        for e in rd.take(MAX_BLS_ENTRIES) {
            let e = e.map_err(|source| BootError::Io {
                path: PathBuf::from(BLS_DIR),
                source,
            })?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".conf") && e.path().is_file() {
                names.push(name);
            }
        }
        names.sort();
        out.extend(
            names
                .into_iter()
                .map(|n| (Path::new(BLS_DIR).join(n), BootConfigKind::Bls)),
        );
    }
    if out.is_empty() {
        return Err(BootError::NothingFound(format!(
            "{}, {DEFAULT_GRUB_PATH}, {BLS_DIR}/*.conf",
            GRUB_LEGACY_PATHS.join(", ")
        )));
    }
    Ok(out)
}

/// Names of regular files in `dir` (under `root`) ending in `suffix`, sorted; empty if the
/// directory does not exist.
fn dir_entries(root: &SysRoot, dir: &str, suffix: &str) -> Result<Vec<String>, BootError> {
    let real = root.path(dir);
    if !real.is_dir() {
        return Ok(Vec::new());
    }
    let io_err = |source| BootError::Io {
        path: PathBuf::from(dir),
        source,
    };
    let mut names = Vec::new();
    for e in fs::read_dir(&real).map_err(io_err)?.take(MAX_BLS_ENTRIES) {
        let e = e.map_err(io_err)?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(suffix) && e.path().is_file() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Plan setting `crashkernel=value` in every boot-loader file found under `root`.
pub fn plan(root: &SysRoot, value: &Crashkernel) -> Result<Vec<FileChange>, BootError> {
    let v = value.to_string();
    let mut out = Vec::new();
    for (path, kind) in discover(root)? {
        let old = root
            .read_text(&path, MAX_SMALL)
            .map_err(|e| BootError::Io {
                path: path.clone(),
                source: io::Error::other(e.to_string()),
            })?;
        let new = edit(kind, &path, &old, &v)?;
        out.push(FileChange {
            path,
            kind,
            old,
            new,
        });
    }
    Ok(out)
}

/// The backup name kept next to an edited file.
pub fn backup_path(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".kdump-bak");
    PathBuf::from(s)
}

/// Write `bytes` to `path` atomically with [`kdump_conf::write_atomic`] (a temporary file in
/// the same directory, fsync, permissions copied from the file being replaced, rename over it,
/// fsync the directory; its tests inject ENOSPC, EIO, EFBIG and a panic mid-write). The error
/// keeps the kind of the cause and names the file and the step.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    kdump_conf::write_atomic(path, bytes).map_err(|e| io::Error::new(e.source.kind(), e))
}

/// What [`apply`] did to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// System path.
    pub path: PathBuf,
    /// Backup written (system path), `None` when the file did not change.
    pub backup: Option<PathBuf>,
}

/// Write each changed file under `root` atomically, first saving its current content to
/// `FILE.kdump-bak` (also atomically). Unchanged files are not touched.
pub fn apply(root: &SysRoot, changes: &[FileChange]) -> Result<Vec<Applied>, BootError> {
    // First check that no file changed since the plan, so that nothing is half-applied.
    for c in changes.iter().filter(|c| c.changes()) {
        let current = fs::read(root.path(&c.path)).map_err(|source| BootError::Io {
            path: c.path.clone(),
            source,
        })?;
        if current != c.old.as_bytes() {
            return Err(BootError::Format {
                path: c.path.clone(),
                line: 0,
                what: "file changed since the plan was made; run again".into(),
            });
        }
    }
    let mut out = Vec::new();
    for c in changes {
        if !c.changes() {
            out.push(Applied {
                path: c.path.clone(),
                backup: None,
            });
            continue;
        }
        let bak = backup_path(&c.path);
        write_atomic(&root.path(&bak), c.old.as_bytes()).map_err(|source| BootError::Io {
            path: bak.clone(),
            source,
        })?;
        write_atomic(&root.path(&c.path), c.new.as_bytes()).map_err(|source| BootError::Io {
            path: c.path.clone(),
            source,
        })?;
        out.push(Applied {
            path: c.path.clone(),
            backup: Some(bak),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_set_replace_remove() {
        assert_eq!(set_in_args("ro quiet", "256M"), "ro quiet crashkernel=256M");
        assert_eq!(set_in_args("", "256M"), "crashkernel=256M");
        assert_eq!(
            set_in_args("ro crashkernel=128M@16M quiet", "256M"),
            "ro crashkernel=256M quiet"
        );
        assert_eq!(
            set_in_args("crashkernel=1G,high ro crashkernel=128M,low quiet", "256M"),
            "crashkernel=256M ro quiet"
        );
        assert_eq!(
            set_in_args(
                "ro crashkernel=auto crashkernel=2G",
                "2G-64G:256M,64G-:512M"
            ),
            "ro crashkernel=2G-64G:256M,64G-:512M"
        );
        assert_eq!(remove_from_args("crashkernel=1 quiet"), "quiet");
        assert_eq!(remove_from_args("quiet crashkernel=1"), "quiet");
        assert_eq!(remove_from_args("crashkernel=1"), "");
    }

    #[test]
    fn fuzz_regressions() {
        // A vertical tab is whitespace to the kernel: the second edit must not absorb it.
        for args in ["\x0b", "a\x0bb", "\x0ccrashkernel=1\x0b"] {
            let once = set_in_args(args, "1G");
            assert_eq!(set_in_args(&once, "1G"), once, "{args:?}");
        }
    }

    /// A failed replace (here: the target is a directory, so the rename fails) reports the
    /// file and the step, leaves the target as it was and no temporary file behind.
    #[test]
    fn write_atomic_failure_leaves_nothing_behind() {
        let dir = std::env::temp_dir().join(format!("kdump-bl-atomic-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let target = dir.join("grub");
        fs::create_dir_all(target.join("inside")).unwrap();
        let e = write_atomic(&target, b"GRUB_CMDLINE_LINUX=\"crashkernel=256M\"\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("grub") && msg.contains("renaming"), "{msg}");
        assert!(target.join("inside").is_dir());
        let left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("grub")]);
        // And the same call on a file replaces it.
        let file = dir.join("default-grub");
        fs::write(&file, "old\n").unwrap();
        write_atomic(&file, b"new\n").unwrap();
        assert_eq!(fs::read_to_string(&file).unwrap(), "new\n");
        fs::remove_dir_all(&dir).unwrap();
    }
}
