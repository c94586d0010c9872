//! The filter over a `vmcore` dump.

use vmcore::{KernelReader, PhysMemory, Vmcore};

use crate::error::Error;
use crate::filter::{FilterConfig, PageFilter};
use crate::info::VmcoreInfo;
use crate::source::{MemorySource, PhysRange, SourceError};

/// Most memory ranges built from page states when a dump has no PT_LOAD list.
const MAX_DERIVED_RANGES: usize = 1 << 20;

/// A [`MemorySource`] reading a [`Vmcore`]: kernel virtual reads through a cached
/// [`KernelReader`], physical reads straight from the dump.
#[derive(Debug)]
pub struct VmcoreSource<'a> {
    reader: KernelReader<'a>,
}

impl<'a> VmcoreSource<'a> {
    /// Wrap an opened dump.
    pub fn new(vmcore: &'a Vmcore) -> Self {
        VmcoreSource {
            reader: vmcore.reader(),
        }
    }

    /// The dump.
    pub fn vmcore(&self) -> &'a Vmcore {
        self.reader.vmcore()
    }
}

impl MemorySource for VmcoreSource<'_> {
    fn read_virtual(&mut self, vaddr: u64, buf: &mut [u8]) -> Result<(), SourceError> {
        self.reader.read_virt(vaddr, buf).map_err(SourceError::from)
    }

    fn read_physical(&mut self, paddr: u64, buf: &mut [u8]) -> Result<(), SourceError> {
        self.reader
            .vmcore()
            .read_phys(paddr, buf)
            .map_err(SourceError::from)
    }
}

/// The filter's inputs from a dump: its VMCOREINFO and its memory ranges (the PT_LOADs as
/// they are, overlaps included, as makedumpfile counts them; for other formats, runs of
/// frames that are not holes).
pub fn vmcore_inputs(vmcore: &Vmcore) -> Result<(VmcoreInfo, Vec<PhysRange>), Error> {
    let vi = vmcore.vmcoreinfo().ok_or(Error::MissingVmcoreinfo {
        key: "the VMCOREINFO note",
    })?;
    let mut info = VmcoreInfo::default();
    for (k, v) in vi.entries().iter().rev() {
        // Reverse + insert keeps the first occurrence, as VmcoreInfo::parse does.
        info.insert(k, v);
    }
    let ranges: Vec<PhysRange> = if let Some(elf) = vmcore.elf() {
        elf.loads()
            .iter()
            .filter_map(|l| {
                let end = l.paddr.checked_add(l.memsz)?;
                let file_end = l.paddr.checked_add(l.filesz.min(l.memsz))?;
                Some(PhysRange {
                    start: l.paddr,
                    end,
                    file_end,
                })
            })
            .collect()
    } else {
        let ps = vmcore.page_size();
        let mut out: Vec<PhysRange> = Vec::new();
        let mut run: Option<u64> = None;
        let max = vmcore.max_pfn();
        for pfn in 0..=max {
            let here = pfn < max && vmcore.page_state(pfn) != vmcore::PageState::Hole;
            match (here, run) {
                (true, None) => run = Some(pfn),
                (false, Some(s)) => {
                    if out.len() >= MAX_DERIVED_RANGES {
                        return Err(Error::BadRanges("too many memory ranges".into()));
                    }
                    out.push(PhysRange::new(s * ps, pfn * ps));
                    run = None;
                }
                _ => {}
            }
        }
        out
    };
    Ok((info, ranges))
}

impl<'a> PageFilter<VmcoreSource<'a>> {
    /// The filter over an opened dump.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dump = vmcore::Vmcore::open("/proc/vmcore")?;
    /// let level = page_filter::DumpLevel::new(31)?;
    /// let mut f = page_filter::PageFilter::from_vmcore(&dump, page_filter::FilterConfig::new(level))?;
    /// let stats = f.run_all()?;
    /// println!("{stats}");
    /// # Ok(()) }
    /// ```
    pub fn from_vmcore(vmcore: &'a Vmcore, config: FilterConfig) -> Result<Self, Error> {
        let (info, ranges) = vmcore_inputs(vmcore)?;
        PageFilter::new(VmcoreSource::new(vmcore), &info, &ranges, config)
    }
}
