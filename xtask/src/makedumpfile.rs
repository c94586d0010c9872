//! Debian's makedumpfile as the reference: the variants the fixtures keep, and its
//! "Excluded pages" report parsed into numbers.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::Command;

/// makedumpfile's page statistics (`--message-level 31`), in pages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// "Original pages".
    pub original: Option<u64>,
    /// "Excluded pages".
    pub excluded: Option<u64>,
    /// "Pages filled with zero".
    pub zero: Option<u64>,
    /// "Non-private cache pages".
    pub cache: Option<u64>,
    /// "Private cache pages".
    pub private_cache: Option<u64>,
    /// "User process data pages".
    pub user: Option<u64>,
    /// "Free pages".
    pub free: Option<u64>,
    /// "Hwpoison pages".
    pub hwpoison: Option<u64>,
    /// "Offline pages".
    pub offline: Option<u64>,
    /// "Remaining pages".
    pub remaining: Option<u64>,
    /// "Total pages".
    pub total: Option<u64>,
    /// "Memory Hole".
    pub holes: Option<u64>,
}

const LABELS: &[&str] = &[
    "Original pages",
    "Excluded pages",
    "Pages filled with zero",
    "Non-private cache pages",
    "Private cache pages",
    "User process data pages",
    "Free pages",
    "Hwpoison pages",
    "Offline pages",
    "Remaining pages",
    "Total pages",
    "Memory Hole",
];

impl Stats {
    /// Parse a makedumpfile log (hex counts after `label :`). Returns None when the log has
    /// no report at all (e.g. `--dump-dmesg`).
    pub fn parse(log: &str) -> Option<Stats> {
        let mut v = [None; 12];
        for line in log.split(['\n', '\r']) {
            let t = line.trim();
            for (i, label) in LABELS.iter().enumerate() {
                if let Some(rest) = t.strip_prefix(label) {
                    if let Some(num) = rest.trim_start().strip_prefix(':') {
                        let num = num.trim();
                        let parsed = match num.strip_prefix("0x") {
                            Some(h) => u64::from_str_radix(h, 16).ok(),
                            None => num.parse().ok(),
                        };
                        if parsed.is_some() {
                            v[i] = parsed;
                        }
                    }
                }
            }
        }
        if v.iter().all(Option::is_none) {
            return None;
        }
        Some(Stats {
            original: v[0],
            excluded: v[1],
            zero: v[2],
            cache: v[3],
            private_cache: v[4],
            user: v[5],
            free: v[6],
            hwpoison: v[7],
            offline: v[8],
            remaining: v[9],
            total: v[10],
            holes: v[11],
        })
    }

    /// One table row: zero cache private user free hwpoison offline remaining total holes.
    pub fn row(&self) -> String {
        let f = |x: Option<u64>| x.map_or("-".to_string(), |n| n.to_string());
        format!(
            "{:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8} {:>8}",
            f(self.zero),
            f(self.cache),
            f(self.private_cache),
            f(self.user),
            f(self.free),
            f(self.hwpoison),
            f(self.offline),
            f(self.remaining),
            f(self.total),
            f(self.holes)
        )
    }

    /// Header matching [`Stats::row`].
    pub fn header() -> String {
        format!(
            "{:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8} {:>8}",
            "zero",
            "cache",
            "private",
            "user",
            "free",
            "hwpois",
            "offline",
            "remaining",
            "total",
            "holes"
        )
    }
}

/// One reference output of makedumpfile.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reference {
    /// Short name, e.g. `d31-zlib`.
    pub name: String,
    /// Output path relative to the manifest's directory.
    pub path: String,
    /// Log (stdout+stderr) path relative to the manifest's directory.
    pub log: String,
    /// The command line, runnable from the manifest's directory.
    pub command: String,
    /// Output size in bytes.
    pub size: u64,
    /// Parsed statistics (None for --dump-dmesg).
    pub stats: Option<Stats>,
}

/// The variants every fixture keeps: (name, makedumpfile arguments before IN OUT, output suffix).
pub const VARIANTS: &[(&str, &[&str], &str)] = &[
    ("d31", &["-d", "31"], "kdump"),
    ("d31-zlib", &["-d", "31", "-c"], "kdump"),
    ("d31-lzo", &["-d", "31", "-l"], "kdump"),
    ("d31-elf", &["-E", "-d", "31"], "elf"),
    ("dmesg", &["--dump-dmesg"], "txt"),
    ("d0-lzo", &["-l", "-d", "0"], "kdump"),
    ("d1-lzo", &["-l", "-d", "1"], "kdump"),
    ("d2-lzo", &["-l", "-d", "2"], "kdump"),
    ("d4-lzo", &["-l", "-d", "4"], "kdump"),
    ("d8-lzo", &["-l", "-d", "8"], "kdump"),
    ("d16-lzo", &["-l", "-d", "16"], "kdump"),
];

/// Run every variant on `vmcore` (a path relative to `root`, the manifest's directory), writing
/// into `out_rel` (relative to `root`).
pub fn references(root: &Path, vmcore: &str, out_rel: &str) -> Result<Vec<Reference>> {
    std::fs::create_dir_all(root.join(out_rel))?;
    let mut refs = Vec::new();
    for (name, args, ext) in VARIANTS {
        let out = format!("{out_rel}/{name}.{ext}");
        let log = format!("{out_rel}/{name}.log");
        let _ = std::fs::remove_file(root.join(&out));
        let mut cmd = Command::new("makedumpfile");
        cmd.current_dir(root)
            .args(["--message-level", "31"])
            .args(*args)
            .arg(vmcore)
            .arg(&out);
        let shown = crate::util::show(&cmd);
        let o = cmd.output().with_context(|| format!("run `{shown}`"))?;
        let mut text = o.stdout;
        text.extend_from_slice(&o.stderr);
        std::fs::write(root.join(&log), &text)?;
        let size = std::fs::metadata(root.join(&out))
            .map(|m| m.len())
            .unwrap_or(0);
        if !o.status.success() || size == 0 {
            anyhow::bail!(
                "`{shown}` failed ({}), log {}:\n{}",
                o.status,
                root.join(&log).display(),
                crate::util::tail(&root.join(&log), 15)
            );
        }
        let stats = Stats::parse(&String::from_utf8_lossy(&text));
        eprintln!("  {name:<9} {size:>11} bytes  {}", shown);
        refs.push(Reference {
            name: name.to_string(),
            path: out,
            log,
            command: shown,
            size,
            stats,
        });
    }
    Ok(refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_report() {
        let log = "Excluding unnecessary pages : [100.0 %] |\r\nOriginal pages  : 0x00000000000373a8\n  Excluded pages   : 0x000000000002dfe5\n    Pages filled with zero  : 0x0000000000001bf8\n    Non-private cache pages : 0x000000000000115e\n    Private cache pages     : 0x0000000000000000\n    User process data pages : 0x000000000000043c\n    Free pages              : 0x000000000002ae53\n    Hwpoison pages          : 0x0000000000000000\n    Offline pages           : 0x0000000000000000\n  Remaining pages  : 0x00000000000093c3\nMemory Hole     : 0x0000000000008c32\nTotal pages     : 0x000000000003ffda\n";
        let s = Stats::parse(log).unwrap();
        assert_eq!(s.original, Some(226216));
        assert_eq!(s.zero, Some(7160));
        assert_eq!(s.cache, Some(4446));
        assert_eq!(s.user, Some(1084));
        assert_eq!(s.free, Some(175699));
        assert_eq!(s.remaining, Some(37827));
        assert_eq!(s.holes, Some(35890));
        assert_eq!(s.total, Some(262106));
        assert!(Stats::parse("nothing here").is_none());
    }
}
