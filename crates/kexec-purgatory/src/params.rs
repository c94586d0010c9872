//! The typed parameter block shared by the loader and the purgatory.
//!
//! This file is compiled into both the host library and the purgatory object, so the two
//! sides agree on one `#[repr(C)]` layout. The loader finds the block by its section
//! ([`PARAMS_SECTION`]) in the purgatory object and writes it as a whole; nothing is patched
//! through symbol names.

/// The most regions the digest can cover (the kernel accepts at most 16 segments, one of
/// which is the purgatory itself).
pub const MAX_REGIONS: usize = 16;

/// `Params::magic` value: "KDRSPURG" little-endian.
pub const PARAMS_MAGIC: u64 = u64::from_le_bytes(*b"KDRSPURG");

/// Section of the purgatory object that holds the one [`Params`] value.
pub const PARAMS_SECTION: &str = ".kdumprs.params";

/// Section of the purgatory object whose first byte is the entry point.
pub const ENTRY_SECTION: &str = ".kdumprs.entry";

/// One memory region covered by the digest (physical address and length in bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Region {
    /// Physical start address.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
}

/// Everything the purgatory needs, written by the loader before the segments are loaded.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// Always [`PARAMS_MAGIC`].
    pub magic: u64,
    /// Where to jump (the new kernel's 64-bit entry point).
    pub entry_rip: u64,
    /// Value for %rsi at the jump (the physical address of boot_params).
    pub rsi: u64,
    /// Value for %rsp at the jump (top of a stack inside a loaded segment).
    pub rsp: u64,
    /// Number of valid entries in `regions`.
    pub region_count: u64,
    /// Regions the digest covers, in order.
    pub regions: [Region; MAX_REGIONS],
    /// SHA-256 over the regions, in order.
    pub digest: [u8; 32],
    /// Backup copy before the jump (panic kernel): source physical address.
    pub backup_src: u64,
    /// Backup copy destination physical address.
    pub backup_dst: u64,
    /// Backup copy length in bytes (0 = no backup).
    pub backup_len: u64,
}

impl Params {
    /// An empty block (magic set, everything else zero).
    pub const fn empty() -> Self {
        Params {
            magic: PARAMS_MAGIC,
            entry_rip: 0,
            rsi: 0,
            rsp: 0,
            region_count: 0,
            regions: [Region { start: 0, len: 0 }; MAX_REGIONS],
            digest: [0; 32],
            backup_src: 0,
            backup_dst: 0,
            backup_len: 0,
        }
    }
}

/// Size in bytes of [`Params`] (checked at compile time in both users).
pub const PARAMS_SIZE: usize = 8 * 5 + 16 * MAX_REGIONS + 32 + 8 * 3;

const _: () = assert!(core::mem::size_of::<Params>() == PARAMS_SIZE);
