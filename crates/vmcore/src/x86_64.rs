//! x86_64 virtual-to-physical translation: 4- and 5-level paging, 2 MiB and 1 GiB pages,
//! KASLR, `phys_base`, the direct map and SME.

use crate::elf::LoadSegment;
use crate::error::{Error, Result};
use crate::phys::{read_phys_u64, PhysMemory};
use crate::vmcoreinfo::VmcoreInfo;

/// Where the kernel image is mapped (`__START_KERNEL_map`).
pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// Direct map base without KASLR, 4-level paging.
pub const PAGE_OFFSET_4LEVEL: u64 = 0xffff_8880_0000_0000;
/// Direct map base without KASLR, 5-level paging.
pub const PAGE_OFFSET_5LEVEL: u64 = 0xff11_0000_0000_0000;
/// Physical-address bits of a page-table entry (bits 12..51).
pub const ENTRY_ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
const PRESENT: u64 = 1;
const PSE: u64 = 1 << 7;

/// Where a value used by the translation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// VMCOREINFO.
    Vmcoreinfo,
    /// A PT_LOAD header.
    PtLoad,
    /// Found by translating a VMCOREINFO symbol through the page tables.
    PageTables,
    /// The kdump-compressed sub-header.
    Header,
    /// The architecture's default.
    Default,
}

impl Origin {
    /// Short name, as makedumpfile prints it ("vmcoreinfo", "pt_load", ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vmcoreinfo => "vmcoreinfo",
            Self::PtLoad => "pt_load",
            Self::PageTables => "page tables",
            Self::Header => "kdump sub-header",
            Self::Default => "constant",
        }
    }
}

/// One page-table entry read during a walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WalkStep {
    /// Level name: PGD, P4D, PUD, PMD or PTE.
    pub level: &'static str,
    /// Physical address the entry was read from.
    pub entry_addr: u64,
    /// The entry.
    pub entry: u64,
}

/// The result of translating one virtual address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Translation {
    /// The virtual address.
    pub vaddr: u64,
    /// Its physical address.
    pub paddr: u64,
    /// Size of the mapping page: 4 KiB, 2 MiB or 1 GiB.
    pub page_size: u64,
    steps: [WalkStep; 5],
    nsteps: usize,
}

impl Translation {
    /// The entries read, top level first.
    pub fn steps(&self) -> &[WalkStep] {
        &self.steps[..self.nsteps]
    }
}

/// The translation parameters of an x86_64 kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X86_64 {
    /// Physical address of the top-level page table (`init_top_pgt`).
    pub root: u64,
    /// 4 or 5.
    pub levels: u8,
    /// `phys_base`: where the kernel image was loaded relative to its link address
    /// (may be "negative", stored wrapped).
    pub phys_base: u64,
    /// Where `phys_base` came from.
    pub phys_base_origin: Origin,
    /// `KERNELOFFSET` (KASLR displacement of the kernel image), if known.
    pub kernel_offset: Option<u64>,
    /// AMD SME encryption mask removed from entries.
    pub sme_mask: u64,
    /// Direct-map base (`page_offset_base`), if known.
    pub page_offset: Option<u64>,
    /// Where `page_offset` came from.
    pub page_offset_origin: Origin,
}

fn level_names(levels: u8) -> &'static [(&'static str, u32)] {
    if levels == 5 {
        &[
            ("PGD", 48),
            ("P4D", 39),
            ("PUD", 30),
            ("PMD", 21),
            ("PTE", 12),
        ]
    } else {
        &[("PGD", 39), ("PUD", 30), ("PMD", 21), ("PTE", 12)]
    }
}

impl X86_64 {
    /// Derive the parameters from VMCOREINFO and the dump's PT_LOADs (which may be empty,
    /// as for kdump-compressed input).
    pub fn new(info: &VmcoreInfo, loads: &[LoadSegment]) -> Result<Self> {
        let top = info
            .symbol("init_top_pgt")
            .or_else(|| info.symbol("init_level4_pgt"))
            .ok_or_else(|| {
                Error::Vmcoreinfo("no SYMBOL(init_top_pgt) or SYMBOL(init_level4_pgt)".into())
            })?;
        let (phys_base, phys_base_origin) = if let Some(v) = info.number("phys_base") {
            (v as u64, Origin::Vmcoreinfo)
        } else if let Some(l) = loads.iter().find(|l| l.vaddr >= START_KERNEL_MAP) {
            (
                l.paddr.wrapping_sub(l.vaddr - START_KERNEL_MAP),
                Origin::PtLoad,
            )
        } else {
            (0, Origin::Default)
        };
        let levels = if info.number("pgtable_l5_enabled").unwrap_or(0) != 0 {
            5
        } else {
            4
        };
        let sme_mask = info.number("sme_mask").unwrap_or(0) as u64;
        let mut page_offset = None;
        for l in loads {
            if l.vaddr < START_KERNEL_MAP && l.vaddr != l.paddr && l.vaddr != 0 {
                page_offset = Some(l.vaddr.wrapping_sub(l.paddr));
            }
        }
        let page_offset_origin = if page_offset.is_some() {
            Origin::PtLoad
        } else {
            Origin::Default
        };
        if top < START_KERNEL_MAP {
            return Err(Error::Vmcoreinfo(format!(
                "SYMBOL(init_top_pgt)={top:x} is not in the kernel image mapping"
            )));
        }
        Ok(Self {
            root: (top - START_KERNEL_MAP).wrapping_add(phys_base),
            levels,
            phys_base,
            phys_base_origin,
            kernel_offset: info.kernel_offset,
            sme_mask,
            page_offset,
            page_offset_origin,
        })
    }

    /// The default direct-map base for the paging mode (what the kernel uses without KASLR).
    pub fn default_page_offset(&self) -> u64 {
        if self.levels == 5 {
            PAGE_OFFSET_5LEVEL
        } else {
            PAGE_OFFSET_4LEVEL
        }
    }

    /// Whether `vaddr` is canonical for the paging mode.
    pub fn is_canonical(&self, vaddr: u64) -> bool {
        let bits = if self.levels == 5 { 57 } else { 48 };
        let top = (vaddr as i64) >> (bits - 1);
        top == 0 || top == -1
    }

    /// Walk the page tables for `vaddr`.
    pub fn walk(&self, mem: &(impl PhysMemory + ?Sized), vaddr: u64) -> Result<Translation> {
        let mut steps = [WalkStep::default(); 5];
        let mut n = 0;
        self.walk_traced(mem, vaddr, &mut steps, &mut n)
    }

    /// Walk the page tables for `vaddr`, returning the entries read even when the walk
    /// fails (what `--vtop` prints before its error).
    pub fn walk_trace(
        &self,
        mem: &(impl PhysMemory + ?Sized),
        vaddr: u64,
    ) -> (Vec<WalkStep>, Result<Translation>) {
        let mut steps = [WalkStep::default(); 5];
        let mut n = 0;
        let r = self.walk_traced(mem, vaddr, &mut steps, &mut n);
        (steps[..n].to_vec(), r)
    }

    fn walk_traced(
        &self,
        mem: &(impl PhysMemory + ?Sized),
        vaddr: u64,
        steps: &mut [WalkStep; 5],
        nsteps: &mut usize,
    ) -> Result<Translation> {
        if !self.is_canonical(vaddr) {
            return Err(Error::NonCanonical(vaddr));
        }
        let mask = ENTRY_ADDR_MASK & !self.sme_mask;
        let mut visited = [u64::MAX; 5];
        let mut table = self.root & mask;
        let names = level_names(self.levels);
        for (n, &(level, shift)) in names.iter().enumerate() {
            if visited[..n].contains(&table) {
                return Err(Error::PageTableLoop {
                    vaddr,
                    level,
                    table,
                });
            }
            visited[n] = table;
            let entry_addr = table + ((vaddr >> shift) & 0x1ff) * 8;
            let entry = read_phys_u64(mem, entry_addr).map_err(|e| Error::Walk {
                vaddr,
                level,
                source: Box::new(e),
            })?;
            steps[n] = WalkStep {
                level,
                entry_addr,
                entry,
            };
            *nsteps = n + 1;
            if entry & PRESENT == 0 {
                return Err(Error::NotPresent {
                    vaddr,
                    level,
                    entry_addr,
                    entry,
                });
            }
            let is_leaf = shift == 12 || ((shift == 30 || shift == 21) && entry & PSE != 0);
            if is_leaf {
                let size = 1u64 << shift;
                let paddr = (entry & mask & !(size - 1)) | (vaddr & (size - 1));
                return Ok(Translation {
                    vaddr,
                    paddr,
                    page_size: size,
                    steps: *steps,
                    nsteps: n + 1,
                });
            }
            table = entry & mask;
        }
        // Unreachable in practice: the PTE level always returns above.
        Err(Error::Unsupported(format!(
            "page-table walk for {vaddr:#x} did not end"
        )))
    }

    /// Translate `vaddr` to a physical address.
    pub fn vtop(&self, mem: &(impl PhysMemory + ?Sized), vaddr: u64) -> Result<u64> {
        self.walk(mem, vaddr).map(|t| t.paddr)
    }
}
