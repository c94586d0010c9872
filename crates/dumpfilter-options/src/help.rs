//! The `-h` text as data. [`usage`](crate::usage) renders it for `dumpfilter -h`, and the man
//! page generator (crate `kdump-cli`) renders dumpfilter(8) from the same tables, so the two
//! cannot drift apart. A unit test checks that every option of the parser's table is listed
//! here, either documented or among [`REFUSED`].

/// One documented option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelpOption {
    /// The spellings, as written in the help (`-d`, `-h, --help`).
    pub flags: &'static str,
    /// The value it takes (`LEVEL[,LEVEL..]`), if any.
    pub value: Option<&'static str>,
    /// What it does; a `\n` starts a continuation line.
    pub help: &'static str,
}

/// A group of options under a heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelpSection {
    /// The heading (`Output format`).
    pub title: &'static str,
    /// A remark printed after the heading, in parentheses in the text.
    pub note: Option<&'static str>,
    /// A table of numbered values printed before the options (the dump level bits).
    pub table: &'static [(u8, &'static str)],
    /// The options of the group.
    pub options: &'static [HelpOption],
}

/// One form of the command: the words after the program name, and what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelpForm {
    /// Arguments (`[OPTION..] VMCORE DUMPFILE`).
    pub args: &'static str,
    /// What this form does.
    pub does: &'static str,
}

/// The one-line summary.
pub const SUMMARY: &str = "filter and compress a kernel crash dump (makedumpfile's options)";

/// The forms of the command line.
pub const FORMS: &[HelpForm] = &[
    form("[OPTION..] VMCORE DUMPFILE", "make a dump file"),
    form("-F [OPTION..] VMCORE", "write a flattened dump to stdout"),
    form(
        "-R DUMPFILE",
        "rebuild a dump from a flattened stream on stdin",
    ),
    form(
        "--split [OPTION..] VMCORE DUMPFILE1 DUMPFILE2 [DUMPFILE3 ..]",
        "cut the dump into several files",
    ),
    form(
        "--reassemble DUMPFILE1 DUMPFILE2 [DUMPFILE3 ..] DUMPFILE",
        "join files made with --split",
    ),
    form("--dump-dmesg VMCORE LOGFILE", "save only the kernel log"),
    form(
        "--dump-dmesg -F VMCORE",
        "write only the kernel log to stdout",
    ),
    form(
        "--vtop VIRTADDR VMCORE [DUMPFILE]",
        "translate a kernel virtual address",
    ),
    form("-h | -v", "this text, or the version"),
];

/// The dump level bits: pages of these kinds are left out when the bit is set in `-d`.
pub const DUMP_LEVEL_BITS: &[(u8, &str)] = &[
    (1, "pages filled with zeroes"),
    (2, "cache pages"),
    (4, "cache pages with private data"),
    (8, "user process pages"),
    (16, "free pages"),
];

/// The options, by group.
pub const SECTIONS: &[HelpSection] = &[
    HelpSection {
        title: "Which pages to leave out",
        note: Some("-d, a sum of these bits; 31 leaves out all of them"),
        table: DUMP_LEVEL_BITS,
        options: &[opt(
            "-d",
            Some("LEVEL[,LEVEL..]"),
            "dump level 0-31; a list retries with the next level when the disk is full",
        )],
    },
    HelpSection {
        title: "Output format",
        note: Some("the default is an uncompressed kdump-compressed file"),
        table: &[],
        options: &[
            opt("-c", None, "compress pages with zlib"),
            opt("-l", None, "compress pages with LZO (fast; kdump's default)"),
            opt("-p", None, "compress pages with snappy"),
            opt("-z", None, "compress pages with zstd"),
            opt(
                "--lz4",
                None,
                "compress pages with lz4 (extension: crash and makedumpfile cannot read it)",
            ),
            opt(
                "-E",
                None,
                "write an ELF file (no compression; VMCORE may be kdump-compressed)",
            ),
            opt(
                "-F",
                None,
                "write a flattened stream on stdout (for pipes, e.g. ssh)",
            ),
            opt(
                "-R",
                None,
                "read a flattened stream on stdin and write DUMPFILE",
            ),
        ],
    },
    HelpSection {
        title: "Other options",
        note: None,
        table: &[],
        options: &[
            opt("-f", None, "overwrite an existing output file"),
            opt(
                "-L",
                Some("SIZE"),
                "stop at SIZE bytes (K, M, G suffixes); the dump is marked incomplete",
            ),
            opt("--split", None, "cut the dump into several files"),
            opt("--reassemble", None, "join files made with --split"),
            opt(
                "--num-threads",
                Some("N"),
                "compress with N threads (default: the number of CPUs)",
            ),
            opt(
                "--message-level",
                Some("N"),
                "0-31: 1 progress, 2 common, 4 errors, 8 debug, 16 report (default 7);\nprogress is a line redrawn on a terminal, a line per 10% otherwise",
            ),
            opt(
                "--dump-dmesg",
                None,
                "extract the kernel log instead of a dump",
            ),
            opt(
                "--vtop",
                Some("VIRTADDR"),
                "print the physical address of a kernel virtual address",
            ),
            opt("--cyclic-buffer", Some("KB"), "size of the bitmap window"),
            opt(
                "--work-dir",
                Some("DIR"),
                "directory for temporary bitmap files",
            ),
            opt(
                "--non-mmap",
                None,
                "read VMCORE with read(2) instead of mmap(2)",
            ),
            opt("--check-params", None, "only check these options"),
            opt(
                "--dry-run",
                None,
                "do everything except writing the output",
            ),
            opt(
                "--show-stats",
                None,
                "print how many pages of each kind were left out",
            ),
            opt("--stats-json", Some("FILE"), "write that report as JSON"),
            opt("-D", None, "debug messages"),
            opt("-h, --help", None, "this text"),
            opt("-v, --version", None, "the version"),
        ],
    },
];

/// makedumpfile options that are accepted and then refused with a message (not implemented).
pub const REFUSED: &[&str] = &[
    "-b",
    "-e",
    "-g",
    "-i",
    "-x",
    "-X",
    "--xen-syms",
    "--xen-vmcoreinfo",
    "--xen_phys_start",
    "--partial-dmesg",
    "--config",
    "--diskset",
    "--eppic",
    "--mem-usage",
    "--splitblock-size",
    "--extension",
];

const fn form(args: &'static str, does: &'static str) -> HelpForm {
    HelpForm { args, does }
}

const fn opt(flags: &'static str, value: Option<&'static str>, help: &'static str) -> HelpOption {
    HelpOption { flags, value, help }
}

/// Renders the `-h` text for `program`.
pub(crate) fn render(program: &str) -> String {
    let mut s = format!("{program}: {SUMMARY}\n\nusage:\n");
    for f in FORMS {
        let left = format!("  {program} {}", f.args);
        if left.len() < 48 {
            s.push_str(&format!("{left:<48} {}\n", f.does));
        } else {
            s.push_str(&format!("{left}\n{:<48} {}\n", "", f.does));
        }
    }
    for sec in SECTIONS {
        match sec.note {
            Some(n) => s.push_str(&format!("\n{} ({n}):\n", sec.title)),
            None => s.push_str(&format!("\n{}:\n", sec.title)),
        }
        for (bit, what) in sec.table {
            s.push_str(&format!("  {bit:>3} {what}\n"));
        }
        for o in sec.options {
            let left = match o.value {
                Some(v) => format!("  {} {v}", o.flags),
                None => format!("  {}", o.flags),
            };
            let mut lines = o.help.split('\n');
            let first = lines.next().unwrap_or("");
            if left.len() < 23 {
                s.push_str(&format!("{left:<23}{first}\n"));
            } else {
                s.push_str(&format!("{left}\n{:<23}{first}\n", ""));
            }
            for more in lines {
                s.push_str(&format!("{:<23}{more}\n", ""));
            }
        }
    }
    s.push_str(
        "\nAccepted but refused with a message (makedumpfile features not implemented here):\n ",
    );
    let mut width = 1;
    for r in REFUSED {
        if width + r.len() + 1 > 96 {
            s.push_str("\n ");
            width = 1;
        }
        s.push(' ');
        s.push_str(r);
        width += r.len() + 1;
    }
    s.push('\n');
    s
}
