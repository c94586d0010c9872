//! Where the struct pages are: mem_map discovery from VMCOREINFO.
//!
//! SPARSEMEM (with or without SPARSEMEM_EXTREME; SPARSEMEM_VMEMMAP is the same walk) and
//! FLATMEM. Section maps are looked up lazily, one root of sections cached, so memory does not
//! grow with the number of sections.

use crate::error::Error;
use crate::info::VmcoreInfo;
use crate::source::MemorySource;

/// Low flag bits of `mem_section.section_mem_map` (SECTION_MAP_LAST_BIT = 1 << 5 since 4.13;
/// the extra bits were never set before, so masking them is always right).
const SECTION_MAP_MASK: u64 = !0x1f;
/// `SECTION_MARKED_PRESENT`.
const SECTION_MARKED_PRESENT: u64 = 1;
/// Largest SIZE(mem_section) accepted.
const MAX_MEM_SECTION_SIZE: u64 = 256;

/// The kernel's memory model, as makedumpfile decides it from VMCOREINFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryModel {
    /// SPARSEMEM; `extreme`: mem_section is an array of pointers to roots of sections.
    Sparsemem {
        /// SPARSEMEM_EXTREME.
        extreme: bool,
    },
    /// One mem_map array for all frames.
    Flatmem,
}

/// A contiguous run of struct pages covering frames `start_pfn..end_pfn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemMapRun {
    /// First frame.
    pub start_pfn: u64,
    /// One past the last frame.
    pub end_pfn: u64,
    /// Kernel virtual address of the struct page of `start_pfn`, None when the frames have no
    /// mem_map (a hole in the memory model: their pages are kept, unclassified).
    pub mem_map: Option<u64>,
}

#[derive(Debug, Clone)]
struct Sparse {
    /// Address of the root array (EXTREME: array of root pointers; else array of sections).
    roots: u64,
    extreme: bool,
    section_size: u64,
    map_offset: u64,
    pfn_section_shift: u32,
    sections_per_root: u64,
    num_sections: u64,
    /// Cached root: (root number, its sections' bytes) — EXTREME only.
    cache: Option<(u64, Option<Vec<u8>>)>,
    /// One past the last frame of the last section with a mem_map.
    present_end: u64,
}

/// The mem_map of a dump.
#[derive(Debug, Clone)]
pub struct MemMap {
    model: MemoryModel,
    page_struct_size: u64,
    max_pfn: u64,
    sparse: Option<Sparse>,
    flat_base: u64,
}

/// Kernel half of the x86_64 address space (5-level paging starts it at 0xff00...; 4-level at
/// 0xffff8...).
fn is_kvaddr(a: u64) -> bool {
    a >= 0xff00_0000_0000_0000
}

impl MemMap {
    /// Find the mem_map of a kernel: `max_pfn` bounds the frames considered.
    pub fn discover<S: MemorySource + ?Sized>(
        info: &VmcoreInfo,
        source: &mut S,
        page_size: u64,
        page_struct_size: u64,
        max_pfn: u64,
    ) -> Result<Self, Error> {
        let page_shift = page_size.trailing_zeros();
        if let (Some(ms), Some(size), Some(off)) = (
            info.symbol("mem_section"),
            info.unsigned("SIZE(mem_section)"),
            info.unsigned("OFFSET(mem_section.section_mem_map)"),
        ) {
            if size == 0
                || size > MAX_MEM_SECTION_SIZE
                || off.checked_add(8).is_none_or(|e| e > size)
            {
                return Err(Error::BadVmcoreinfo {
                    key: "SIZE(mem_section)",
                    why: format!("size {size} / section_mem_map offset {off} inconsistent"),
                });
            }
            let l5 = info.number("NUMBER(pgtable_l5_enabled)").unwrap_or(0) != 0;
            let section_bits = info.unsigned("NUMBER(SECTION_SIZE_BITS)").unwrap_or(27);
            let phys_bits =
                info.unsigned("NUMBER(MAX_PHYSMEM_BITS)")
                    .unwrap_or(if l5 { 52 } else { 46 });
            if !(u64::from(page_shift)..=40).contains(&section_bits)
                || !(section_bits..=64).contains(&phys_bits)
            {
                return Err(Error::BadVmcoreinfo {
                    key: "NUMBER(SECTION_SIZE_BITS)",
                    why: format!(
                        "SECTION_SIZE_BITS={section_bits} MAX_PHYSMEM_BITS={phys_bits} inconsistent"
                    ),
                });
            }
            let pfn_section_shift = section_bits as u32 - page_shift;
            let pages_per_section = 1u64 << pfn_section_shift;
            let num_sections = max_pfn.div_ceil(pages_per_section);
            let per_root_extreme = page_size / size;
            let nr_mem_sections = 1u64
                .checked_shl((phys_bits - section_bits) as u32)
                .unwrap_or(0);
            let extreme = match info.unsigned("LENGTH(mem_section)") {
                None => true,
                Some(len) => len == nr_mem_sections.div_ceil(per_root_extreme.max(1)),
            };
            let mut sparse = Sparse {
                roots: ms,
                extreme,
                section_size: size,
                map_offset: off,
                pfn_section_shift,
                sections_per_root: if extreme { per_root_extreme.max(1) } else { 1 },
                num_sections,
                cache: None,
                present_end: 0,
            };
            // Like makedumpfile: take SYMBOL(mem_section) as the root array; if that finds no
            // valid section and the model is EXTREME, it is a pointer to the root array.
            let mut ok = validate(&mut sparse, source, page_struct_size)?;
            if !ok && extreme {
                let mut b = [0u8; 8];
                source.read_virtual(ms, &mut b).map_err(|e| Error::Read {
                    what: "mem_section pointer",
                    addr: ms,
                    source: e,
                })?;
                sparse.roots = u64::from_le_bytes(b);
                sparse.cache = None;
                ok = validate(&mut sparse, source, page_struct_size)?;
            }
            if !ok {
                return Err(Error::BadMemSection {
                    addr: ms,
                    why: "no present section with a valid mem_map".into(),
                });
            }
            sparse.cache = None;
            return Ok(MemMap {
                model: MemoryModel::Sparsemem { extreme },
                page_struct_size,
                max_pfn,
                sparse: Some(sparse),
                flat_base: 0,
            });
        }
        if let Some(sym) = info.symbol("mem_map") {
            let mut b = [0u8; 8];
            source.read_virtual(sym, &mut b).map_err(|e| Error::Read {
                what: "mem_map pointer",
                addr: sym,
                source: e,
            })?;
            let base = u64::from_le_bytes(b);
            if base == 0 {
                return Err(Error::BadMemSection {
                    addr: sym,
                    why: "mem_map is NULL".into(),
                });
            }
            return Ok(MemMap {
                model: MemoryModel::Flatmem,
                page_struct_size,
                max_pfn,
                sparse: None,
                flat_base: base,
            });
        }
        Err(Error::NoMemoryModel)
    }

    /// One past the last frame covered by a mem_map: makedumpfile lowers max_mapnr to this
    /// (memory the kernel does not manage, such as QEMU's ROM and VGA ranges or RAM beyond
    /// `mem=`, is left out of the dump).
    pub fn managed_end(&self) -> u64 {
        match &self.sparse {
            Some(s) => s.present_end.min(self.max_pfn),
            None => self.max_pfn,
        }
    }

    /// Lower the frame limit (see [`MemMap::managed_end`]).
    pub fn set_max_pfn(&mut self, max_pfn: u64) {
        self.max_pfn = max_pfn;
    }

    /// The memory model found.
    pub fn model(&self) -> MemoryModel {
        self.model
    }

    /// Frames per section (SPARSEMEM) or all frames (FLATMEM).
    pub fn pages_per_run(&self) -> u64 {
        match &self.sparse {
            Some(s) => 1u64 << s.pfn_section_shift,
            None => self.max_pfn.max(1),
        }
    }

    /// The run of struct pages containing `pfn` (`pfn < max_pfn`).
    pub fn run_of<S: MemorySource + ?Sized>(
        &mut self,
        source: &mut S,
        pfn: u64,
    ) -> Result<MemMapRun, Error> {
        let Some(s) = self.sparse.as_mut() else {
            return Ok(MemMapRun {
                start_pfn: 0,
                end_pfn: self.max_pfn,
                mem_map: Some(self.flat_base),
            });
        };
        let nr = pfn >> s.pfn_section_shift;
        let start_pfn = nr << s.pfn_section_shift;
        let end_pfn = (start_pfn + (1u64 << s.pfn_section_shift)).min(self.max_pfn);
        let mem_map = section_map(s, source, nr, self.page_struct_size)?;
        Ok(MemMapRun {
            start_pfn,
            end_pfn,
            mem_map,
        })
    }

    /// Every run, in pfn order: one per section with a mem_map (makedumpfile's `mem_map[...]`
    /// table at --message-level 31), consecutive sections without one merged into a single run.
    pub fn runs<S: MemorySource + ?Sized>(
        &mut self,
        source: &mut S,
    ) -> Result<Vec<MemMapRun>, Error> {
        let mut out: Vec<MemMapRun> = Vec::new();
        let mut pfn = 0;
        while pfn < self.max_pfn {
            let r = self.run_of(source, pfn)?;
            match out.last_mut() {
                Some(last) if last.mem_map.is_none() && r.mem_map.is_none() => {
                    last.end_pfn = r.end_pfn
                }
                _ => out.push(r),
            }
            pfn = r.end_pfn.max(pfn + 1);
        }
        Ok(out)
    }
}

/// Address of the struct page of the first frame of section `nr`, or None if not present.
fn section_map<S: MemorySource + ?Sized>(
    s: &mut Sparse,
    source: &mut S,
    nr: u64,
    page_struct_size: u64,
) -> Result<Option<u64>, Error> {
    if nr >= s.num_sections {
        return Ok(None);
    }
    let raw = if s.extreme {
        let root = nr / s.sections_per_root;
        let idx = nr % s.sections_per_root;
        if s.cache.as_ref().is_none_or(|(r, _)| *r != root) {
            let mut p = [0u8; 8];
            let paddr = s.roots.wrapping_add(root.wrapping_mul(8));
            source
                .read_virtual(paddr, &mut p)
                .map_err(|e| Error::Read {
                    what: "mem_section root pointer",
                    addr: paddr,
                    source: e,
                })?;
            let root_addr = u64::from_le_bytes(p);
            let bytes = if root_addr == 0 || !is_kvaddr(root_addr) {
                None
            } else {
                // sections_per_root * section_size == page size: bounded by PAGESIZE checks.
                let mut buf = vec![0u8; (s.sections_per_root * s.section_size) as usize];
                source
                    .read_virtual(root_addr, &mut buf)
                    .map_err(|e| Error::Read {
                        what: "mem_section root",
                        addr: root_addr,
                        source: e,
                    })?;
                Some(buf)
            };
            s.cache = Some((root, bytes));
        }
        let Some((_, Some(buf))) = &s.cache else {
            return Ok(None);
        };
        let o = (idx * s.section_size + s.map_offset) as usize;
        match buf.get(o..o + 8) {
            Some(b) => u64::from_le_bytes(b.try_into().unwrap_or([0; 8])),
            None => return Ok(None),
        }
    } else {
        let addr = s
            .roots
            .wrapping_add(nr.wrapping_mul(s.section_size))
            .wrapping_add(s.map_offset);
        let mut b = [0u8; 8];
        source.read_virtual(addr, &mut b).map_err(|e| Error::Read {
            what: "mem_section",
            addr,
            source: e,
        })?;
        u64::from_le_bytes(b)
    };
    if raw & SECTION_MARKED_PRESENT == 0 {
        return Ok(None);
    }
    let first_pfn = nr << s.pfn_section_shift;
    let map = (raw & SECTION_MAP_MASK).wrapping_add(first_pfn.wrapping_mul(page_struct_size));
    if !is_kvaddr(map) {
        return Err(Error::BadMemSection {
            addr: s.roots,
            why: format!("section {nr}: decoded mem_map {map:#x} is not a kernel address"),
        });
    }
    Ok(Some(map))
}

/// Whether the section table at `s.roots` decodes to at least one present section and no
/// invalid one. Read errors on roots count as "not valid" (the caller may try the pointer).
fn validate<S: MemorySource + ?Sized>(
    s: &mut Sparse,
    source: &mut S,
    page_struct_size: u64,
) -> Result<bool, Error> {
    let mut any = false;
    let mut nr = 0;
    while nr < s.num_sections {
        match section_map(s, source, nr, page_struct_size) {
            Ok(Some(_)) => {
                any = true;
                s.present_end = (nr + 1) << s.pfn_section_shift;
            }
            Ok(None) => {}
            Err(Error::Read { .. }) | Err(Error::BadMemSection { .. }) => return Ok(false),
            Err(e) => return Err(e),
        }
        nr += 1;
        if s.extreme && matches!(s.cache, Some((_, None))) {
            // The whole root is absent: skip its sections.
            nr = nr.div_ceil(s.sections_per_root) * s.sections_per_root;
        }
    }
    Ok(any)
}
