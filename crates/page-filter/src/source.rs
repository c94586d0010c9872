//! What the filter needs from a dump: kernel memory reads and the physical memory ranges.

/// An error from a [`MemorySource`], boxed so any reader can plug in.
pub type SourceError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Reads of a dump's memory.
///
/// Implemented for `vmcore`'s dumps (see [`crate::VmcoreSource`]) and for synthetic images
/// ([`crate::synthetic::SyntheticDump`]). A read that touches memory absent from the dump
/// must fail, never return zeros.
pub trait MemorySource {
    /// Read kernel virtual memory (direct map, vmemmap, kernel text).
    fn read_virtual(&mut self, vaddr: u64, buf: &mut [u8]) -> Result<(), SourceError>;
    /// Read physical memory.
    fn read_physical(&mut self, paddr: u64, buf: &mut [u8]) -> Result<(), SourceError>;
}

impl<T: MemorySource + ?Sized> MemorySource for &mut T {
    fn read_virtual(&mut self, vaddr: u64, buf: &mut [u8]) -> Result<(), SourceError> {
        (**self).read_virtual(vaddr, buf)
    }
    fn read_physical(&mut self, paddr: u64, buf: &mut [u8]) -> Result<(), SourceError> {
        (**self).read_physical(paddr, buf)
    }
}

impl<T: MemorySource + ?Sized> MemorySource for Box<T> {
    fn read_virtual(&mut self, vaddr: u64, buf: &mut [u8]) -> Result<(), SourceError> {
        (**self).read_virtual(vaddr, buf)
    }
    fn read_physical(&mut self, paddr: u64, buf: &mut [u8]) -> Result<(), SourceError> {
        (**self).read_physical(paddr, buf)
    }
}

/// One physical memory range of the dump (an ELF PT_LOAD): `start..end` is the memory it
/// describes (p_paddr, p_paddr + p_memsz), `start..file_end` the part with data in the file
/// (p_paddr + p_filesz).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhysRange {
    /// First physical address.
    pub start: u64,
    /// One past the last address (memory size).
    pub end: u64,
    /// One past the last address with data in the dump (≤ `end`).
    pub file_end: u64,
}

impl PhysRange {
    /// A range whose memory is entirely in the dump.
    pub fn new(start: u64, end: u64) -> Self {
        PhysRange {
            start,
            end,
            file_end: end,
        }
    }
}
