//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while reading a dump.
///
/// Each variant names what was expected and where (file offset, physical or virtual
/// address), so a message is useful without a debugger.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Opening or inspecting a file failed.
    #[error("{}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Reading bytes at a file offset failed (I/O error or past the end of the file).
    #[error("reading {len} bytes at file offset {offset:#x} failed: {source}")]
    Read {
        /// File offset of the read.
        offset: u64,
        /// Number of bytes asked for.
        len: u64,
        /// The cause.
        source: std::io::Error,
    },
    /// The file does not start with the ELF magic or a known dump signature.
    #[error(
        "not a dump: unknown signature {0:02x?} at offset 0 (expected ELF or kdump-compressed)"
    )]
    UnknownFormat([u8; 8]),
    /// An ELF header or program header has a value this reader cannot accept.
    #[error("malformed ELF core: {what} (at file offset {offset:#x})")]
    MalformedElf {
        /// What is wrong.
        what: String,
        /// Where the offending structure starts.
        offset: u64,
    },
    /// A structure extends past the end of the file.
    #[error("truncated file: {what} needs bytes {start:#x}..{end:#x} but the file is {file_len:#x} bytes long")]
    Truncated {
        /// The structure.
        what: &'static str,
        /// Its first byte.
        start: u64,
        /// One past its last byte.
        end: u64,
        /// The file size.
        file_len: u64,
    },
    /// A physical address lies outside every memory range the dump describes.
    #[error("physical address {0:#x} is not in the dump (hole)")]
    Hole(u64),
    /// A physical address lies in a range the dump describes but whose contents were not
    /// saved (excluded by a filter, or the `p_memsz > p_filesz` tail of a PT_LOAD).
    #[error("physical address {0:#x} was excluded from the dump (not dumped)")]
    Excluded(u64),
    /// A page of a kdump-compressed file that should have been saved but never was: the
    /// dump is INCOMPLETE (its writer ran out of space).
    #[error("physical address {0:#x} was lost: the dump is INCOMPLETE")]
    Lost(u64),
    /// A page-table entry needed to translate a virtual address is not present.
    #[error("virtual address {vaddr:#x}: {level} entry {entry:#x} read at physical {entry_addr:#x} is not present")]
    NotPresent {
        /// The address being translated.
        vaddr: u64,
        /// Page-table level name (PGD, P4D, PUD, PMD, PTE).
        level: &'static str,
        /// Physical address of the entry.
        entry_addr: u64,
        /// The entry's value.
        entry: u64,
    },
    /// A page-table walk reached a table it had already visited.
    #[error("virtual address {vaddr:#x}: page-table loop: {level} table at physical {table:#x} was already visited")]
    PageTableLoop {
        /// The address being translated.
        vaddr: u64,
        /// Level whose table repeats.
        level: &'static str,
        /// Physical address of the repeated table.
        table: u64,
    },
    /// A virtual address is not canonical for the paging mode.
    #[error("virtual address {0:#x} is not canonical")]
    NonCanonical(u64),
    /// Translating a virtual address failed while reading a page-table entry.
    #[error("virtual address {vaddr:#x}: reading the {level} entry failed: {source}")]
    Walk {
        /// The address being translated.
        vaddr: u64,
        /// Page-table level.
        level: &'static str,
        /// The cause (hole, excluded page, I/O).
        source: Box<Error>,
    },
    /// The dump has no VMCOREINFO note.
    #[error("the dump has no VMCOREINFO note")]
    NoVmcoreinfo,
    /// A VMCOREINFO entry needed for the operation is missing or unusable.
    #[error("VMCOREINFO: {0}")]
    Vmcoreinfo(String),
    /// The dump is for an architecture or layout this crate does not translate.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The kernel log structures are inconsistent.
    #[error("kernel log: {0}")]
    Printk(String),
    /// The kdump-compressed backend reported an error.
    #[error("kdump-compressed: {0}")]
    Compressed(String),
    /// Writing output failed.
    #[error("writing {what}: {source}")]
    Write {
        /// What was being written.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
