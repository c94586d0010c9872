//! Physical memory access: the page-source trait every dump format implements.

use crate::error::Result;

/// What a dump holds for one page frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageState {
    /// The whole page's contents are in the dump.
    Present,
    /// The page is in the memory the dump describes but its contents were not saved
    /// (filtered out by makedumpfile, or the `p_memsz > p_filesz` tail of a PT_LOAD).
    /// Reading it is an [`Error::Excluded`](crate::Error::Excluded), never zeros.
    Excluded,
    /// Part of the page is present and part is a hole or excluded (a range that does not
    /// end on a page boundary, such as the 0x9fc00 end of low memory).
    Partial,
    /// No memory range covers the page. Reading it is an [`Error::Hole`](crate::Error::Hole).
    Hole,
}

/// Random access to a dump's physical memory.
///
/// Reads never invent data: a hole or an excluded page is an error naming the first
/// physical address that could not be read.
pub trait PhysMemory: Send + Sync {
    /// Page size in bytes (4096 on x86_64).
    fn page_size(&self) -> u64;

    /// One past the highest page frame number the dump describes.
    fn max_pfn(&self) -> u64;

    /// What the dump holds for page frame `pfn`.
    fn page_state(&self, pfn: u64) -> PageState;

    /// Fill `buf` with physical memory starting at `paddr`; the read may cross range
    /// boundaries as long as every byte is present.
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()>;

    /// Whether page frame `pfn` is entirely present.
    fn is_present(&self, pfn: u64) -> bool {
        self.page_state(pfn) == PageState::Present
    }

    /// Read page frame `pfn` into `buf` (which must be at least one page long; only the
    /// first page-size bytes are written).
    fn read_page(&self, pfn: u64, buf: &mut [u8]) -> Result<()> {
        let ps = self.page_size();
        let paddr = pfn.checked_mul(ps).ok_or(crate::Error::Hole(u64::MAX))?;
        let len = (ps as usize).min(buf.len());
        self.read_phys(paddr, &mut buf[..len])
    }
}

impl<T: PhysMemory + ?Sized> PhysMemory for &T {
    fn page_size(&self) -> u64 {
        (**self).page_size()
    }
    fn max_pfn(&self) -> u64 {
        (**self).max_pfn()
    }
    fn page_state(&self, pfn: u64) -> PageState {
        (**self).page_state(pfn)
    }
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read_phys(paddr, buf)
    }
}

/// Read a little-endian `u64` from physical memory.
pub fn read_phys_u64(mem: &(impl PhysMemory + ?Sized), paddr: u64) -> Result<u64> {
    let mut b = [0u8; 8];
    mem.read_phys(paddr, &mut b)?;
    Ok(u64::from_le_bytes(b))
}
