//! A minimal static linker for the purgatory object: lays out its allocated sections in one
//! blob, resolves its symbols, applies its x86_64 relocations for a given load address, and
//! writes the typed parameter block.
//!
//! Every offset, size and index read from the object is checked; a malformed object gives a
//! [`LinkError`], never a panic.

use crate::params::{Params, ENTRY_SECTION, PARAMS_MAGIC, PARAMS_SECTION, PARAMS_SIZE};

const SHT_SYMTAB: u32 = 2;
const SHT_RELA: u32 = 4;
const SHT_NOBITS: u32 = 8;
const SHF_ALLOC: u64 = 2;
const SHN_UNDEF: u16 = 0;
const SHN_ABS: u16 = 0xfff1;

/// x86_64 relocation types handled.
const R_X86_64_NONE: u32 = 0;
const R_X86_64_64: u32 = 1;
const R_X86_64_PC32: u32 = 2;
const R_X86_64_PLT32: u32 = 4;
const R_X86_64_32: u32 = 10;
const R_X86_64_32S: u32 = 11;
const R_X86_64_PC64: u32 = 24;

/// Why the purgatory object could not be linked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The bytes are not a little-endian ELF64 x86_64 relocatable object.
    #[error("purgatory object: not an ELF64 x86_64 relocatable object ({0})")]
    NotRelocatable(&'static str),
    /// A header, table or section lies outside the object.
    #[error("purgatory object: {what} at offset {offset:#x} (+{len:#x}) is outside the {size:#x}-byte object")]
    OutOfBounds {
        /// What was being read.
        what: &'static str,
        /// Its offset.
        offset: u64,
        /// Its length.
        len: u64,
        /// The object's size.
        size: usize,
    },
    /// A required section is missing.
    #[error("purgatory object: no section {0}")]
    MissingSection(&'static str),
    /// A symbol is undefined (the object must be self-contained).
    #[error("purgatory object: symbol #{0} is undefined")]
    Undefined(u32),
    /// A relocation type we do not implement.
    #[error("purgatory object: relocation type {rtype} at section {section} offset {offset:#x} is not supported")]
    UnsupportedRelocation {
        /// ELF relocation type.
        rtype: u32,
        /// Target section index.
        section: usize,
        /// Offset in that section.
        offset: u64,
    },
    /// A 32-bit relocation's value does not fit at this load address.
    #[error(
        "purgatory object: relocation at {place:#x} does not fit in 32 bits (value {value:#x})"
    )]
    Overflow {
        /// Address of the relocated field.
        place: u64,
        /// The value that did not fit.
        value: i128,
    },
    /// The parameter section has the wrong size or magic.
    #[error("purgatory object: parameter section is {0} bytes or lacks the magic; expected {PARAMS_SIZE}")]
    BadParams(usize),
    /// The load address is not aligned to the image's alignment.
    #[error("purgatory load address {addr:#x} is not aligned to {align:#x}")]
    Misaligned {
        /// Requested address.
        addr: u64,
        /// Required alignment.
        align: u64,
    },
}

#[derive(Debug, Clone)]
struct Section {
    name: u32,
    sh_type: u32,
    flags: u64,
    offset: u64,
    size: u64,
    link: u32,
    info: u32,
    align: u64,
    entsize: u64,
}

fn rd<const N: usize>(b: &[u8], off: u64, what: &'static str) -> Result<[u8; N], LinkError> {
    let oob = || LinkError::OutOfBounds {
        what,
        offset: off,
        len: N as u64,
        size: b.len(),
    };
    let start = usize::try_from(off).map_err(|_| oob())?;
    let end = start.checked_add(N).ok_or_else(oob)?;
    let s = b.get(start..end).ok_or_else(oob)?;
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    Ok(a)
}
fn u16at(b: &[u8], off: u64, what: &'static str) -> Result<u16, LinkError> {
    Ok(u16::from_le_bytes(rd(b, off, what)?))
}
fn u32at(b: &[u8], off: u64, what: &'static str) -> Result<u32, LinkError> {
    Ok(u32::from_le_bytes(rd(b, off, what)?))
}
fn u64at(b: &[u8], off: u64, what: &'static str) -> Result<u64, LinkError> {
    Ok(u64::from_le_bytes(rd(b, off, what)?))
}
fn range<'b>(b: &'b [u8], off: u64, len: u64, what: &'static str) -> Result<&'b [u8], LinkError> {
    let oob = || LinkError::OutOfBounds {
        what,
        offset: off,
        len,
        size: b.len(),
    };
    let end = off.checked_add(len).ok_or_else(oob)?;
    let s = usize::try_from(off).map_err(|_| oob())?;
    let e = usize::try_from(end).map_err(|_| oob())?;
    b.get(s..e).ok_or_else(oob)
}

/// A parsed purgatory object, ready to be placed at any suitably aligned address.
#[derive(Debug, Clone)]
pub struct Purgatory<'a> {
    obj: &'a [u8],
    sections: Vec<Section>,
    /// Offset of each section in the laid-out image (None: not loaded).
    placed: Vec<Option<u64>>,
    file_size: u64,
    mem_size: u64,
    align: u64,
    entry_off: u64,
    params_off: u64,
}

/// The purgatory relocated for one load address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linked {
    /// The bytes to load (initialised sections, with the parameter block written).
    pub image: Vec<u8>,
    /// Memory size including zero-filled sections (stack, scratch); at least `image.len()`.
    pub mem_size: u64,
    /// Physical load address.
    pub load_addr: u64,
    /// Physical address of the entry point.
    pub entry: u64,
    /// Offset of the parameter block in `image`.
    pub params_offset: usize,
}

/// Largest purgatory object we accept (the real one is a few KiB).
const MAX_OBJECT: usize = 16 << 20;

impl<'a> Purgatory<'a> {
    /// Parse a relocatable object.
    pub fn parse(obj: &'a [u8]) -> Result<Self, LinkError> {
        if obj.len() > MAX_OBJECT {
            return Err(LinkError::NotRelocatable("larger than 16 MiB"));
        }
        let ident: [u8; 16] = rd(obj, 0, "ELF header")?;
        if &ident[0..4] != b"\x7fELF" || ident[4] != 2 || ident[5] != 1 {
            return Err(LinkError::NotRelocatable("not little-endian ELF64"));
        }
        if u16at(obj, 16, "e_type")? != 1 {
            return Err(LinkError::NotRelocatable("e_type is not ET_REL"));
        }
        if u16at(obj, 18, "e_machine")? != 62 {
            return Err(LinkError::NotRelocatable("e_machine is not x86_64"));
        }
        let shoff = u64at(obj, 0x28, "e_shoff")?;
        let shentsize = u16at(obj, 0x3a, "e_shentsize")? as u64;
        let shnum = u16at(obj, 0x3c, "e_shnum")? as u64;
        let shstrndx = u16at(obj, 0x3e, "e_shstrndx")? as usize;
        if shentsize < 64 {
            return Err(LinkError::NotRelocatable(
                "section header entries smaller than 64 bytes",
            ));
        }
        range(
            obj,
            shoff,
            shentsize.saturating_mul(shnum),
            "section header table",
        )?;
        let mut sections = Vec::with_capacity(shnum as usize);
        for i in 0..shnum {
            let o = shoff + i * shentsize;
            sections.push(Section {
                name: u32at(obj, o, "sh_name")?,
                sh_type: u32at(obj, o + 4, "sh_type")?,
                flags: u64at(obj, o + 8, "sh_flags")?,
                offset: u64at(obj, o + 24, "sh_offset")?,
                size: u64at(obj, o + 32, "sh_size")?,
                link: u32at(obj, o + 40, "sh_link")?,
                info: u32at(obj, o + 44, "sh_info")?,
                align: u64at(obj, o + 48, "sh_addralign")?,
                entsize: u64at(obj, o + 56, "sh_entsize")?,
            });
        }
        let shstr = sections
            .get(shstrndx)
            .ok_or(LinkError::NotRelocatable("bad e_shstrndx"))?
            .clone();
        let strtab = range(obj, shstr.offset, shstr.size, "section name table")?;
        let name_of = |s: &Section| -> &[u8] {
            let start = s.name as usize;
            let rest = strtab.get(start..).unwrap_or(&[]);
            let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
            &rest[..end]
        };
        let find = |want: &str| sections.iter().position(|s| name_of(s) == want.as_bytes());
        let entry_idx = find(ENTRY_SECTION).ok_or(LinkError::MissingSection(ENTRY_SECTION))?;
        let params_idx = find(PARAMS_SECTION).ok_or(LinkError::MissingSection(PARAMS_SECTION))?;
        if sections[params_idx].size != PARAMS_SIZE as u64 {
            return Err(LinkError::BadParams(sections[params_idx].size as usize));
        }

        // Layout: entry first, then parameters, then the other allocated PROGBITS sections,
        // then the zero-filled ones.
        let mut order = vec![entry_idx, params_idx];
        let loadable = |i: usize, s: &Section| {
            s.flags & SHF_ALLOC != 0
                && i != entry_idx
                && i != params_idx
                && name_of(s) != b".eh_frame"
        };
        order.extend(
            sections
                .iter()
                .enumerate()
                .filter(|(i, s)| loadable(*i, s) && s.sh_type != SHT_NOBITS)
                .map(|(i, _)| i),
        );
        let first_nobits = order.len();
        order.extend(
            sections
                .iter()
                .enumerate()
                .filter(|(i, s)| loadable(*i, s) && s.sh_type == SHT_NOBITS)
                .map(|(i, _)| i),
        );
        let mut placed = vec![None; sections.len()];
        let mut cursor = 0u64;
        let mut file_size = 0u64;
        let mut max_align = 16u64;
        for (n, &i) in order.iter().enumerate() {
            let s = &sections[i];
            let align = s.align.max(1);
            if !align.is_power_of_two() || align > 1 << 21 {
                return Err(LinkError::NotRelocatable(
                    "section alignment is not a power of two up to 2 MiB",
                ));
            }
            max_align = max_align.max(align);
            cursor = cursor
                .checked_add(align - 1)
                .ok_or(LinkError::NotRelocatable("sections too large"))?
                & !(align - 1);
            placed[i] = Some(cursor);
            if s.sh_type != SHT_NOBITS {
                range(obj, s.offset, s.size, "section contents")?;
            }
            cursor = cursor
                .checked_add(s.size)
                .ok_or(LinkError::NotRelocatable("sections too large"))?;
            if n < first_nobits {
                file_size = cursor;
            }
            if cursor > MAX_OBJECT as u64 {
                return Err(LinkError::NotRelocatable(
                    "laid-out image larger than 16 MiB",
                ));
            }
        }
        let entry_off = placed[entry_idx].unwrap_or(0);
        let params_off = placed[params_idx].unwrap_or(0);
        Ok(Purgatory {
            obj,
            sections,
            placed,
            file_size,
            mem_size: cursor,
            align: max_align,
            entry_off,
            params_off,
        })
    }

    /// Bytes of initialised data (the segment's buffer size).
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// Bytes of memory the purgatory occupies, zero-filled tail included.
    pub fn mem_size(&self) -> u64 {
        self.mem_size
    }

    /// Required alignment of the load address.
    pub fn align(&self) -> u64 {
        self.align
    }

    fn symbol_value(&self, symtab: &Section, index: u32, base: u64) -> Result<u64, LinkError> {
        let entsize = if symtab.entsize == 0 {
            24
        } else {
            symtab.entsize
        };
        if entsize < 24 {
            return Err(LinkError::NotRelocatable(
                "symbol entries smaller than 24 bytes",
            ));
        }
        let off = (index as u64)
            .checked_mul(entsize)
            .ok_or(LinkError::Undefined(index))?;
        if off.saturating_add(24) > symtab.size {
            return Err(LinkError::OutOfBounds {
                what: "symbol",
                offset: off,
                len: 24,
                size: symtab.size as usize,
            });
        }
        let o = symtab.offset + off;
        let shndx = u16at(self.obj, o + 6, "st_shndx")?;
        let value = u64at(self.obj, o + 8, "st_value")?;
        match shndx {
            SHN_UNDEF => Err(LinkError::Undefined(index)),
            SHN_ABS => Ok(value),
            n => {
                let sec_off = self
                    .placed
                    .get(n as usize)
                    .copied()
                    .flatten()
                    .ok_or(LinkError::Undefined(index))?;
                Ok(base.wrapping_add(sec_off).wrapping_add(value))
            }
        }
    }

    /// Relocate for `load_addr` and write `params`; the result is the purgatory segment.
    pub fn link(&self, load_addr: u64, params: &Params) -> Result<Linked, LinkError> {
        if load_addr % self.align != 0 {
            return Err(LinkError::Misaligned {
                addr: load_addr,
                align: self.align,
            });
        }
        let mut image = vec![0u8; self.file_size as usize];
        for (i, s) in self.sections.iter().enumerate() {
            if let (Some(off), true) = (self.placed[i], s.sh_type != SHT_NOBITS) {
                let src = range(self.obj, s.offset, s.size, "section contents")?;
                image[off as usize..off as usize + src.len()].copy_from_slice(src);
            }
        }
        for rel in self.sections.iter().filter(|s| s.sh_type == SHT_RELA) {
            let target = rel.info as usize;
            let Some(Some(target_off)) = self.placed.get(target).copied() else {
                continue;
            };
            let tsec = &self.sections[target];
            let symtab = self
                .sections
                .get(rel.link as usize)
                .ok_or(LinkError::NotRelocatable("bad sh_link"))?;
            if symtab.sh_type != SHT_SYMTAB {
                return Err(LinkError::NotRelocatable(
                    "relocation section does not link to a symbol table",
                ));
            }
            let count = rel.size / 24;
            range(self.obj, rel.offset, count * 24, "relocations")?;
            for k in 0..count {
                let o = rel.offset + k * 24;
                let r_off = u64at(self.obj, o, "r_offset")?;
                let r_info = u64at(self.obj, o + 8, "r_info")?;
                let addend = u64at(self.obj, o + 16, "r_addend")? as i64;
                let rtype = (r_info & 0xffff_ffff) as u32;
                let sym = (r_info >> 32) as u32;
                if rtype == R_X86_64_NONE {
                    continue;
                }
                let width = match rtype {
                    R_X86_64_64 | R_X86_64_PC64 => 8,
                    R_X86_64_PC32 | R_X86_64_PLT32 | R_X86_64_32 | R_X86_64_32S => 4,
                    _ => {
                        return Err(LinkError::UnsupportedRelocation {
                            rtype,
                            section: target,
                            offset: r_off,
                        })
                    }
                };
                if tsec.sh_type == SHT_NOBITS
                    || r_off.checked_add(width).is_none_or(|e| e > tsec.size)
                {
                    return Err(LinkError::OutOfBounds {
                        what: "relocation target",
                        offset: r_off,
                        len: width,
                        size: tsec.size as usize,
                    });
                }
                let s = self.symbol_value(symtab, sym, load_addr)? as i128;
                let place_off = (target_off + r_off) as usize;
                let place = load_addr.wrapping_add(target_off + r_off);
                let v = s + addend as i128;
                match rtype {
                    R_X86_64_64 => {
                        image[place_off..place_off + 8].copy_from_slice(&(v as u64).to_le_bytes())
                    }
                    R_X86_64_PC64 => image[place_off..place_off + 8]
                        .copy_from_slice(&((v - place as i128) as u64).to_le_bytes()),
                    _ => {
                        let value = match rtype {
                            R_X86_64_PC32 | R_X86_64_PLT32 => v - place as i128,
                            _ => v,
                        };
                        let fits = match rtype {
                            R_X86_64_32 => (0..=u32::MAX as i128).contains(&value),
                            _ => (i32::MIN as i128..=i32::MAX as i128).contains(&value),
                        };
                        if !fits {
                            return Err(LinkError::Overflow { place, value });
                        }
                        image[place_off..place_off + 4]
                            .copy_from_slice(&(value as u32).to_le_bytes());
                    }
                }
            }
        }
        let po = self.params_off as usize;
        let bytes = params_bytes(params);
        let slot = image
            .get_mut(po..po + PARAMS_SIZE)
            .ok_or(LinkError::BadParams(0))?;
        if slot[..8] != PARAMS_MAGIC.to_le_bytes() {
            return Err(LinkError::BadParams(PARAMS_SIZE));
        }
        slot.copy_from_slice(&bytes);
        Ok(Linked {
            image,
            mem_size: self.mem_size,
            load_addr,
            entry: load_addr + self.entry_off,
            params_offset: po,
        })
    }
}

/// The little-endian bytes of a parameter block, in the `#[repr(C)]` layout.
pub fn params_bytes(p: &Params) -> [u8; PARAMS_SIZE] {
    let mut out = [0u8; PARAMS_SIZE];
    let mut words: Vec<u64> = vec![p.magic, p.entry_rip, p.rsi, p.rsp, p.region_count];
    for r in &p.regions {
        words.push(r.start);
        words.push(r.len);
    }
    let mut o = 0;
    for w in words {
        out[o..o + 8].copy_from_slice(&w.to_le_bytes());
        o += 8;
    }
    out[o..o + 32].copy_from_slice(&p.digest);
    o += 32;
    for w in [p.backup_src, p.backup_dst, p.backup_len] {
        out[o..o + 8].copy_from_slice(&w.to_le_bytes());
        o += 8;
    }
    debug_assert_eq!(o, PARAMS_SIZE);
    out
}

/// Offset of the digest inside the parameter block (for the test-only corruption switch).
pub const DIGEST_OFFSET: usize = 8 * 5 + 16 * crate::params::MAX_REGIONS;
