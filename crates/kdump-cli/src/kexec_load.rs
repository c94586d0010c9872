//! `kexec-load`'s options as data: [`usage`] is its `--help`, and kexec-load(8) and its bash
//! completion are made from the same table ([`crate::man`], [`crate::completions`]).

/// One option of a hand-parsed command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionDoc {
    /// The short letter, if any.
    pub short: Option<char>,
    /// The long names without `--`: the first is the main one, the others are aliases.
    pub long: &'static [&'static str],
    /// The value it takes (`FILE`), if any.
    pub value: Option<&'static str>,
    /// What it does.
    pub help: &'static str,
}

impl OptionDoc {
    /// The spellings as the help shows them: `-t, --type TYPE`, `    --initrd FILE, --ramdisk FILE`.
    pub fn spellings(&self) -> String {
        let value = self.value.map(|v| format!(" {v}")).unwrap_or_default();
        let mut s = match self.short {
            Some(c) => format!("-{c}"),
            None => "  ".to_string(),
        };
        for (i, l) in self.long.iter().enumerate() {
            s.push_str(if i == 0 && self.short.is_some() {
                ", "
            } else if i == 0 {
                "  "
            } else {
                ", "
            });
            s.push_str("--");
            s.push_str(l);
            s.push_str(&value);
        }
        if self.long.is_empty() {
            s.push_str(&value);
        }
        s
    }
}

const fn o(
    short: Option<char>,
    long: &'static [&'static str],
    value: Option<&'static str>,
    help: &'static str,
) -> OptionDoc {
    OptionDoc {
        short,
        long,
        value,
        help,
    }
}

/// The one-line summary.
pub const SUMMARY: &str = "load and boot Linux kernels with kexec-tools' options";

/// The arguments after the program name.
pub const SYNOPSIS: &str = "[OPTIONS] [KERNEL]";

/// Every option `kexec-load` documents, in `--help` order.
pub const OPTIONS: &[OptionDoc] = &[
    o(Some('l'), &["load"], None, "load KERNEL for a later -e"),
    o(
        Some('p'),
        &["load-panic"],
        None,
        "load KERNEL as the panic (capture) kernel",
    ),
    o(Some('e'), &["exec"], None, "boot the loaded kernel now"),
    o(
        Some('f'),
        &["force"],
        None,
        "load KERNEL (if given) and boot it at once, without shutdown",
    ),
    o(
        Some('u'),
        &["unload"],
        None,
        "unload the kernel (with -p: the panic kernel)",
    ),
    o(
        Some('s'),
        &["kexec-file-syscall"],
        None,
        "use kexec_file_load(2) only",
    ),
    o(
        Some('c'),
        &["kexec-syscall"],
        None,
        "use kexec_load(2) only (our own loader and purgatory)",
    ),
    o(
        Some('a'),
        &["kexec-syscall-auto"],
        None,
        "kexec_file_load, falling back to kexec_load (default)",
    ),
    o(
        Some('t'),
        &["type"],
        Some("TYPE"),
        "image type: bzImage64 or elf-x86_64 (default: probe)",
    ),
    o(
        None,
        &["initrd", "ramdisk"],
        Some("FILE"),
        "the initrd to load with KERNEL",
    ),
    o(
        None,
        &["append", "command-line"],
        Some("STR"),
        "the new kernel's command line (added after --reuse-cmdline's)",
    ),
    o(
        None,
        &["reuse-cmdline"],
        None,
        "start from /proc/cmdline (without BOOT_IMAGE=, crashkernel=, initrd=)",
    ),
    o(
        Some('S'),
        &["status"],
        None,
        "exit 0 if a kernel (with -p: a panic kernel) is loaded, 1 if not",
    ),
    o(Some('d'), &["debug"], None, "print the segment table"),
    o(
        None,
        &["dry-run"],
        None,
        "build and print the segments; no system call (works anywhere)",
    ),
    o(
        None,
        &["sysroot"],
        Some("DIR"),
        "read /proc and /sys facts from DIR (a copy of them) instead of /",
    ),
    o(None, &["memmap-from"], Some("DIR"), "same as --sysroot"),
    o(
        None,
        &["no-backup"],
        None,
        "panic kernel: do not save the first 640 KiB (kexec-tools does)",
    ),
    o(Some('h'), &["help"], None, "this text"),
    o(Some('V'), &["version"], None, "the version"),
];

/// The `--help` text.
pub fn usage() -> String {
    let mut s = format!("usage: kexec-load {SYNOPSIS}\n");
    for opt in OPTIONS {
        let left = format!("  {}", opt.spellings());
        if left.len() < 29 {
            s.push_str(&format!("{left:<29}{}\n", opt.help));
        } else {
            s.push_str(&format!("{left}\n{:<29}{}\n", "", opt.help));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_lines() {
        let u = usage();
        assert!(
            u.starts_with("usage: kexec-load [OPTIONS] [KERNEL]\n"),
            "{u}"
        );
        assert!(
            u.contains("\n  -t, --type TYPE            image type: bzImage64"),
            "{u}"
        );
        assert!(
            u.contains(
                "\n      --initrd FILE, --ramdisk FILE\n                             the initrd"
            ),
            "{u}"
        );
        assert!(
            u.contains("\n      --no-backup            panic kernel:"),
            "{u}"
        );
        assert!(
            u.contains("\n  -V, --version              the version\n"),
            "{u}"
        );
    }
}
