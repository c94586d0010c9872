//! The command lines of the kdump-rs binaries as data, and what is made from them.
//!
//! - [`kdump`]: `kdump`'s subcommands and options on one clap parser (the binary parses with
//!   [`kdump::Cli`]; adding a subcommand is one variant of [`kdump::Command`]).
//! - [`kexec_load`]: `kexec-load`'s option table and the `--help` text printed from it.
//! - [`man`]: kdump(8), kexec-load(8), dumpfilter(8) and kdump.conf(5), rendered from those
//!   definitions, from [`dumpfilter_options::help`] (dumpfilter's `-h` tables) and from
//!   [`kdump_conf::DIRECTIVE_DOCS`], so a page cannot say something `--help` does not.
//! - [`completions`]: bash completions from the same definitions.
//!
//! [`pages`] lists every file with its place under a packaging directory (`man/kdump.8`,
//! `completions/kdump`); `cargo xtask man` writes them.
//!
//! ```
//! let pages = kdump_cli::pages();
//! let kdump8 = &pages.iter().find(|p| p.path == "man/kdump.8").unwrap().bytes;
//! let text = String::from_utf8_lossy(kdump8);
//! assert!(text.contains("get\\-default\\-crashkernel"));
//! ```
#![deny(missing_docs)]

pub mod completions;
pub mod kdump;
pub mod kexec_load;
pub mod man;

/// A generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Where it goes, relative to the packaging directory (`man/kdump.8`).
    pub path: &'static str,
    /// Its content.
    pub bytes: Vec<u8>,
}

/// Every man page and bash completion, in a fixed order.
pub fn pages() -> Vec<Page> {
    vec![
        Page {
            path: "man/kdump.8",
            bytes: man::kdump(),
        },
        Page {
            path: "man/kexec-load.8",
            bytes: man::kexec_load(),
        },
        Page {
            path: "man/dumpfilter.8",
            bytes: man::dumpfilter(),
        },
        Page {
            path: "man/kdump.conf.5",
            bytes: man::kdump_conf(),
        },
        Page {
            path: "completions/kdump",
            bytes: completions::kdump(),
        },
        Page {
            path: "completions/kexec-load",
            bytes: completions::kexec_load(),
        },
        Page {
            path: "completions/dumpfilter",
            bytes: completions::dumpfilter(),
        },
    ]
}
