//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while building or reading an image.
///
/// Each variant names the file (or image path, or line) and what was expected there.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading a host file or directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The host path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing the image failed.
    #[error("writing the image: {0}")]
    Write(#[source] std::io::Error),
    /// A path inside the image is not usable (empty, `..`, NUL, too long).
    #[error("image path {path:?}: {why}")]
    BadPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The same image path was added twice with different contents.
    #[error("image path {path:?} added twice with different contents ({first} / {second})")]
    Conflict {
        /// The image path.
        path: String,
        /// Why it was added first.
        first: String,
        /// Why it was added again.
        second: String,
    },
    /// A size or count bound was exceeded.
    #[error("{what}: {got} exceeds the limit of {limit}")]
    Limit {
        /// What was being counted (with the file or path it belongs to).
        what: String,
        /// The value found.
        got: u64,
        /// The bound.
        limit: u64,
    },
    /// A cpio archive is malformed.
    #[error("cpio at offset {offset}: {what}")]
    Cpio {
        /// Byte offset of the record or field.
        offset: u64,
        /// What was expected.
        what: String,
    },
    /// Decompressing a file or image failed.
    #[error("{what}: decompression failed: {why}")]
    Decompress {
        /// The file (or "image").
        what: String,
        /// The decoder's message.
        why: String,
    },
    /// The kernel configuration offers no way to unpack an initramfs.
    #[error("kernel config: {0}")]
    KernelConfig(String),
    /// A line of a modules.* index file is malformed.
    #[error("{file}:{line}: {what}")]
    ModuleIndex {
        /// The index file.
        file: PathBuf,
        /// 1-based line (0 for a whole-file problem).
        line: usize,
        /// What was expected.
        what: String,
    },
    /// A module was asked for but no module index was given to the builder.
    #[error("module {0:?} asked for, but the builder has no module index (use ImageBuilder::with_modules)")]
    NoModuleIndex(String),
    /// A module the target needs is neither in the index nor built into the kernel.
    #[error("{reason}: module {wanted} is neither in {index} nor built into the kernel")]
    ModuleMissing {
        /// The name, alias or candidates asked for.
        wanted: String,
        /// Why it was needed (device, driver and sysfs path for a device's driver).
        reason: String,
        /// The module directory searched.
        index: PathBuf,
    },
    /// Module dependencies form a cycle or nest too deeply.
    #[error("module {module}: {what}")]
    ModuleGraph {
        /// The module where it was found.
        module: String,
        /// Cycle or depth.
        what: String,
    },
    /// An ELF file is malformed.
    #[error("{path}: ELF: {what}")]
    Elf {
        /// The file.
        path: PathBuf,
        /// What was expected.
        what: String,
    },
    /// A shared library (or interpreter) an executable needs was not found.
    #[error("{exe}: needs {lib}, not found in {searched}")]
    LibraryMissing {
        /// The executable or library that needs it.
        exe: PathBuf,
        /// The DT_NEEDED name or interpreter.
        lib: String,
        /// The directories searched, `:`-joined.
        searched: String,
    },
    /// A sysfs tree did not have what was expected.
    #[error("{path}: {what}")]
    Sysfs {
        /// The sysfs path.
        path: PathBuf,
        /// What was expected.
        what: String,
    },
    /// A line of the module load manifest is malformed.
    #[error("modules.order:{line}: {what}")]
    Manifest {
        /// 1-based line.
        line: usize,
        /// What was expected.
        what: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn limit(what: impl Into<String>, got: u64, limit: u64) -> Self {
        Error::Limit {
            what: what.into(),
            got,
            limit,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
