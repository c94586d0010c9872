//! Building the segments: pure functions from (kernel, initrd, command line, memory map, crash
//! inputs) to a [`LoadPlan`] of at most 16 segments and an entry point.

use crate::bootparams::{BootParams, E820Entry, SetupHeaderRaw, E820_MAX};
use crate::bzimage::{self, BzImage, ENTRY64_OFFSET, XLF_CAN_BE_LOADED_ABOVE_4G};
use crate::crash::{Backup, CoreInputs};
use crate::elf_kernel::ElfKernel;
use crate::layout::{align_up, Holes, PAGE};
use crate::memmap::{MemRange, RangeKind};
use crate::Error;
use kexec_purgatory::{Params, Purgatory, Region, MAX_SEGMENTS};
use sha2::{Digest, Sha256};

/// What a segment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentKind {
    /// The kernel (protected-mode part of a bzImage, or one PT_LOAD of an ELF kernel).
    Kernel,
    /// The initial ramdisk.
    Initrd,
    /// boot_params followed by the command line.
    BootParams,
    /// The ELF core header (panic kernel).
    ElfCoreHeader,
    /// Room for the low-memory backup (panic kernel).
    Backup,
    /// The purgatory.
    Purgatory,
}

/// One kexec segment: `data` is copied to physical `mem`, the rest up to `memsz` is zeroed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// What it is.
    pub kind: SegmentKind,
    /// Contents (at most `memsz` bytes).
    pub data: Vec<u8>,
    /// Physical destination (page-aligned).
    pub mem: u64,
    /// Size in memory (page-aligned, at least `data.len()`).
    pub memsz: u64,
}

/// Everything `kexec_load` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadPlan {
    /// Segments sorted by address.
    pub segments: Vec<Segment>,
    /// Entry point (the purgatory's).
    pub entry: u64,
    /// The purgatory's parameters (jump registers, digest, backup).
    pub params: Params,
    /// Final command line given to the new kernel.
    pub cmdline: String,
    /// e820 table given to the new kernel.
    pub e820: Vec<E820Entry>,
}

/// Inputs for the panic kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanicInputs {
    /// Facts for the ELF core header and the capture memory map.
    pub core: CoreInputs,
    /// Copy the first 640 KiB to a backup area before booting the capture kernel
    /// (kexec-tools' behaviour).
    pub backup: bool,
}

/// Inputs of the segment builder.
#[derive(Debug, Clone)]
pub struct LoadRequest<'a> {
    /// Kernel image bytes.
    pub kernel: &'a [u8],
    /// initrd bytes, if any.
    pub initrd: Option<&'a [u8]>,
    /// Command line (without elfcorehdr=, which the builder adds for a panic kernel).
    pub cmdline: String,
    /// The machine's memory map (/sys/firmware/memmap or /proc/iomem).
    pub memory: Vec<MemRange>,
    /// Panic kernel: everything goes into the crash range.
    pub panic: Option<PanicInputs>,
    /// ACPI RSDP address to hand over (0 = the new kernel searches).
    pub acpi_rsdp: u64,
    /// The running kernel's boot_params (/sys/kernel/boot_params/data), for screen_info,
    /// EDID and EFI information.
    pub running: Option<BootParams>,
    /// Test-only: flip one bit of the stored digest so the purgatory must refuse to boot.
    pub corrupt_digest: bool,
}

impl<'a> LoadRequest<'a> {
    /// A request with no initrd, no panic inputs and an empty memory map.
    pub fn new(kernel: &'a [u8], cmdline: impl Into<String>) -> Self {
        LoadRequest {
            kernel,
            initrd: None,
            cmdline: cmdline.into(),
            memory: Vec::new(),
            panic: None,
            acpi_rsdp: 0,
            running: None,
            corrupt_digest: false,
        }
    }
}

const MIB: u64 = 1 << 20;
/// Zero padding fed to the digest.
static ZEROS: [u8; 1 << 16] = [0; 1 << 16];
const FOUR_G: u64 = 1 << 32;
/// type_of_loader for kexec (0xD in the high nibble).
const LOADER_TYPE_KEXEC: u8 = 0xd0;

fn page_up(x: u64) -> Result<u64, Error> {
    align_up(x, PAGE).ok_or(Error::Overflow)
}

/// The free memory segments may use: RAM (or the crash ranges for a panic kernel), from 1 MiB.
fn usable(req: &LoadRequest<'_>) -> Holes {
    match &req.panic {
        Some(p) => Holes::from_inclusive(&p.core.crash),
        None => Holes::from_inclusive(
            &req.memory
                .iter()
                .filter(|r| r.kind == RangeKind::Ram && r.end >= MIB)
                .map(|r| (r.start.max(MIB), r.end))
                .collect::<Vec<_>>(),
        ),
    }
}

fn no_room(what: &'static str, size: u64, req: &LoadRequest<'_>) -> Error {
    Error::NoRoom {
        what,
        size,
        where_: if req.panic.is_some() {
            "the crash kernel range"
        } else {
            "RAM"
        },
    }
}

fn e820_of(ranges: impl IntoIterator<Item = (u64, u64, u32)>) -> Result<Vec<E820Entry>, Error> {
    let mut v: Vec<(u64, u64, u32)> = ranges.into_iter().filter(|r| r.1 > r.0).collect();
    v.sort_unstable();
    // merge adjacent entries of one type
    let mut out: Vec<(u64, u64, u32)> = Vec::new();
    for r in v {
        match out.last_mut() {
            Some(l) if l.2 == r.2 && l.1 >= r.0 => l.1 = l.1.max(r.1),
            _ => out.push(r),
        }
    }
    if out.len() > E820_MAX {
        return Err(Error::TooManyE820(out.len()));
    }
    Ok(out
        .into_iter()
        .map(|(s, e, t)| E820Entry {
            addr: s,
            size: e - s,
            kind: t,
        })
        .collect())
}

/// The capture kernel's e820: RAM below 1 MiB, the crash ranges as RAM except the ELF core
/// header (reserved), and the firmware's ACPI and reserved ranges.
fn capture_e820(core: &CoreInputs, elfcorehdr: (u64, u64)) -> Result<Vec<E820Entry>, Error> {
    let mut v = Vec::new();
    for &(s, e) in &core.ram {
        if s < MIB {
            v.push((s, (e + 1).min(MIB), 1));
        }
    }
    for &(s, e) in &core.crash {
        for (a, b) in crate::memmap::subtract(s, e, elfcorehdr.0, elfcorehdr.0 + elfcorehdr.1 - 1) {
            v.push((a, b + 1, 1));
        }
    }
    v.push((elfcorehdr.0, elfcorehdr.0 + elfcorehdr.1, 2));
    for r in &core.firmware {
        if matches!(
            r.kind,
            RangeKind::Acpi | RangeKind::AcpiNvs | RangeKind::Reserved
        ) {
            v.push((r.start, r.end.saturating_add(1), r.kind.e820_type()));
        }
    }
    e820_of(v)
}

struct Placed {
    segments: Vec<Segment>,
    holes: Holes,
}

impl Placed {
    fn put(&mut self, kind: SegmentKind, data: Vec<u8>, mem: u64, memsz: u64) {
        self.segments.push(Segment {
            kind,
            data,
            mem,
            memsz,
        });
    }
}

/// What differs between kernel formats: where the kernel went, its entry, its header.
struct KernelPart {
    entry: u64,
    header: SetupHeaderRaw,
    cmdline_max: u64,
    initrd_max_end: u64,
    above_4g: bool,
}

fn place_bzimage(
    b: &BzImage<'_>,
    req: &LoadRequest<'_>,
    p: &mut Placed,
) -> Result<KernelPart, Error> {
    let h = b.header;
    let memsz = page_up((h.init_size as u64).max(b.kernel.len() as u64))?;
    let align = h.kernel_alignment as u64;
    let above = h.xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G != 0;
    let max_end = if above { u64::MAX } else { FOUR_G };
    let pref = h.pref_address;
    let addr = if req.panic.is_none()
        && pref % align == 0
        && pref >= MIB
        && p.holes.take_exact(pref, memsz)
    {
        pref
    } else if h.relocatable_kernel != 0 {
        let min = if req.panic.is_some() { 0 } else { 16 * MIB };
        p.holes
            .take(memsz, align, min, max_end, false)
            .or_else(|| p.holes.take(memsz, align, MIB, max_end, false))
            .ok_or_else(|| no_room("kernel", memsz, req))?
    } else {
        return Err(Error::Unsupported(format!(
            "kernel is not relocatable and {pref:#x}+{memsz:#x} is not free"
        )));
    };
    p.put(SegmentKind::Kernel, b.kernel.to_vec(), addr, memsz);
    let mut header = SetupHeaderRaw::from_bytes(b.header_bytes);
    header.code32_start = addr as u32;
    Ok(KernelPart {
        entry: addr + ENTRY64_OFFSET,
        header,
        cmdline_max: h.cmdline_size as u64,
        initrd_max_end: (h.initrd_addr_max as u64).saturating_add(1),
        above_4g: above,
    })
}

fn place_elf(
    k: &ElfKernel,
    bytes: &[u8],
    req: &LoadRequest<'_>,
    p: &mut Placed,
) -> Result<KernelPart, Error> {
    for l in &k.loads {
        let start = l.paddr & !(PAGE - 1);
        let lead = l.paddr - start;
        let memsz = page_up(lead + l.memsz)?;
        if !p.holes.take_exact(start, memsz) {
            return Err(Error::NoRoom {
                what: "ELF kernel PT_LOAD at its physical address",
                size: memsz,
                where_: if req.panic.is_some() {
                    "the crash kernel range"
                } else {
                    "RAM"
                },
            });
        }
        let mut data = vec![0u8; lead as usize];
        data.extend_from_slice(&bytes[l.offset as usize..(l.offset + l.filesz) as usize]);
        p.put(SegmentKind::Kernel, data, start, memsz);
    }
    let header = SetupHeaderRaw {
        boot_flag: 0xaa55,
        header: bzimage::HDRS_MAGIC,
        version: 0x020f,
        cmdline_size: 2047,
        initrd_addr_max: 0x7fff_ffff,
        ..Default::default()
    };
    Ok(KernelPart {
        entry: k.entry,
        header,
        cmdline_max: 2047,
        initrd_max_end: 0x8000_0000,
        above_4g: false,
    })
}

/// The image formats this loader knows, like kexec-tools' table: a probe, a load, a usage.
pub struct ImageType {
    /// Name given to `-t`.
    pub name: &'static str,
    /// True when the bytes are of this type.
    pub probe: fn(&[u8]) -> bool,
    /// Build the plan.
    pub load: fn(&LoadRequest<'_>) -> Result<LoadPlan, Error>,
    /// One line of help.
    pub usage: &'static str,
}

/// The known image types, in probe order.
pub static IMAGE_TYPES: &[ImageType] = &[
    ImageType {
        name: "bzImage64",
        probe: |b| bzimage::parse(b).is_ok(),
        load: |r| build(r, Format::BzImage),
        usage: "bzImage64: x86_64 bzImage, boot protocol 2.12 or later, entered through its 64-bit entry point",
    },
    ImageType {
        name: "elf-x86_64",
        probe: |b| crate::elf_kernel::parse(b).is_ok(),
        load: |r| build(r, Format::Elf),
        usage: "elf-x86_64: ELF64 vmlinux, loaded at its PT_LOAD physical addresses",
    },
];

/// Find the image type: by name when given, else the first whose probe accepts the bytes.
pub fn probe(kernel: &[u8], type_name: Option<&str>) -> Result<&'static ImageType, Error> {
    match type_name {
        Some(n) => IMAGE_TYPES
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(n))
            .ok_or_else(|| Error::UnknownType(n.to_string())),
        None => IMAGE_TYPES
            .iter()
            .find(|t| (t.probe)(kernel))
            .ok_or_else(|| {
                // Say why the most likely type refused it.
                let why = if bzimage::looks_like(kernel) {
                    bzimage::parse(kernel).err().map(|e| e.to_string())
                } else if crate::elf_kernel::looks_like(kernel) {
                    crate::elf_kernel::parse(kernel)
                        .err()
                        .map(|e| e.to_string())
                } else {
                    None
                };
                Error::ImageTypeUnknown(
                    why.unwrap_or_else(|| "neither a bzImage nor an ELF kernel".into()),
                )
            }),
    }
}

/// Kernel formats handled by [`build`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// bzImage (64-bit entry).
    BzImage,
    /// ELF vmlinux.
    Elf,
}

/// Build the segments for `req` as `format`.
pub fn build(req: &LoadRequest<'_>, format: Format) -> Result<LoadPlan, Error> {
    let purgatory = Purgatory::parse(kexec_purgatory::OBJECT)?;
    let mut p = Placed {
        segments: Vec::new(),
        holes: usable(req),
    };
    if p.holes.holes().is_empty() {
        return Err(Error::NoMemoryMap);
    }
    let kp = match format {
        Format::BzImage => {
            let b = bzimage::parse(req.kernel)?;
            place_bzimage(&b, req, &mut p)?
        }
        Format::Elf => {
            let k = crate::elf_kernel::parse(req.kernel)?;
            place_elf(&k, req.kernel, req, &mut p)?
        }
    };
    let low_max = if kp.above_4g { u64::MAX } else { FOUR_G };

    // initrd: as high as allowed, below initrd_addr_max.
    let mut initrd_at = None;
    if let Some(rd) = req.initrd {
        let memsz = page_up(rd.len() as u64)?;
        if memsz > 0 {
            let at = p
                .holes
                .take(memsz, PAGE, 0, kp.initrd_max_end.min(low_max), true)
                .ok_or_else(|| no_room("initrd", memsz, req))?;
            p.put(SegmentKind::Initrd, rd.to_vec(), at, memsz);
            initrd_at = Some((at, rd.len() as u64));
        }
    }

    // Panic kernel: the core header and the backup area.
    let mut cmdline = req.cmdline.trim().to_string();
    let mut backup = None;
    let mut elfcorehdr = None;
    if let Some(pi) = &req.panic {
        if pi.backup {
            if let Some((src, len)) = pi.core.backup_source() {
                let memsz = page_up(len)?;
                let dst = p
                    .holes
                    .take(memsz, PAGE, 0, u64::MAX, false)
                    .ok_or_else(|| no_room("backup area", memsz, req))?;
                p.put(SegmentKind::Backup, Vec::new(), dst, memsz);
                backup = Some(Backup {
                    src_start: src,
                    len,
                    dst,
                });
            }
        }
        let hdr = pi.core.elf_core_header(backup);
        let memsz = page_up(hdr.len() as u64)?;
        let at = p
            .holes
            .take(memsz, PAGE, 0, u64::MAX, true)
            .ok_or_else(|| no_room("ELF core header", memsz, req))?;
        p.put(SegmentKind::ElfCoreHeader, hdr, at, memsz);
        elfcorehdr = Some((at, memsz));
        cmdline = format!("{cmdline} elfcorehdr={}K", at >> 10)
            .trim()
            .to_string();
    }
    if cmdline.len() as u64 > kp.cmdline_max {
        return Err(Error::CommandLineTooLong {
            len: cmdline.len(),
            max: kp.cmdline_max,
        });
    }

    // boot_params + command line in one segment below 4 GiB.
    let bp_size = page_up(4096 + cmdline.len() as u64 + 1)?;
    let bp_addr = p
        .holes
        .take(bp_size, PAGE, 0, FOUR_G, false)
        .ok_or_else(|| no_room("boot_params", bp_size, req))?;
    let e820 = match (&req.panic, elfcorehdr) {
        (Some(pi), Some(h)) => capture_e820(&pi.core, h)?,
        _ => e820_of(
            req.memory
                .iter()
                .map(|r| (r.start, r.end.saturating_add(1), r.kind.e820_type())),
        )?,
    };
    let mut bp = BootParams::default();
    if let Some(run) = &req.running {
        bp.screen_info = run.screen_info;
        bp.edid_info = run.edid_info;
    }
    bp.acpi_rsdp_addr = req.acpi_rsdp;
    bp.hdr = kp.header;
    bp.hdr.type_of_loader = LOADER_TYPE_KEXEC;
    let cmd_addr = bp_addr + 4096;
    bp.hdr.cmd_line_ptr = cmd_addr as u32;
    bp.ext_cmd_line_ptr = (cmd_addr >> 32) as u32;
    if let Some((a, len)) = initrd_at {
        bp.hdr.ramdisk_image = a as u32;
        bp.ext_ramdisk_image = (a >> 32) as u32;
        bp.hdr.ramdisk_size = len as u32;
        bp.ext_ramdisk_size = (len >> 32) as u32;
    }
    bp.e820_entries = e820.len() as u8;
    for (slot, e) in bp.e820_table.iter_mut().zip(&e820) {
        *slot = *e;
    }
    let mut bp_bytes = bp.to_bytes();
    bp_bytes.extend_from_slice(cmdline.as_bytes());
    bp_bytes.push(0);
    p.put(SegmentKind::BootParams, bp_bytes, bp_addr, bp_size);

    // Purgatory last: its parameters cover every other segment.
    let pmem = page_up(purgatory.mem_size())?;
    let min = if req.panic.is_some() { 0 } else { MIB };
    let paddr = p
        .holes
        .take(pmem, purgatory.align(), min, u64::MAX, false)
        .ok_or_else(|| no_room("purgatory", pmem, req))?;
    p.segments.sort_by_key(|s| s.mem);
    let mut params = Params::empty();
    params.entry_rip = kp.entry;
    params.rsi = bp_addr;
    params.rsp = (paddr + purgatory.mem_size()) & !15;
    let mut h = Sha256::new();
    for (i, s) in p.segments.iter().enumerate() {
        if i >= kexec_purgatory::MAX_REGIONS {
            return Err(Error::TooManySegments(p.segments.len() + 1));
        }
        params.regions[i] = Region {
            start: s.mem,
            len: s.memsz,
        };
        h.update(&s.data);
        let mut pad = s.memsz - s.data.len() as u64;
        while pad > 0 {
            let n = pad.min(ZEROS.len() as u64);
            h.update(&ZEROS[..n as usize]);
            pad -= n;
        }
    }
    params.region_count = p.segments.len() as u64;
    params.digest = h.finalize().into();
    if req.corrupt_digest {
        params.digest[0] ^= 0x80;
    }
    if let Some(b) = backup {
        params.backup_src = b.src_start;
        params.backup_dst = b.dst;
        params.backup_len = b.len;
    }
    let linked = purgatory.link(paddr, &params)?;
    let entry = linked.entry;
    p.segments.push(Segment {
        kind: SegmentKind::Purgatory,
        data: linked.image,
        mem: paddr,
        memsz: pmem,
    });
    p.segments.sort_by_key(|s| s.mem);
    if p.segments.len() > MAX_SEGMENTS {
        return Err(Error::TooManySegments(p.segments.len()));
    }
    Ok(LoadPlan {
        segments: p.segments,
        entry,
        params,
        cmdline,
        e820,
    })
}

impl LoadPlan {
    /// A kexec-tools-like table of the segments (for `-d` and `--dry-run`).
    pub fn describe(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "entry {:#x} (purgatory) -> kernel entry {:#x}, rsi {:#x}, rsp {:#x}\n",
            self.entry, self.params.entry_rip, self.params.rsi, self.params.rsp
        ));
        s.push_str(&format!("{} segments:\n", self.segments.len()));
        for (i, g) in self.segments.iter().enumerate() {
            s.push_str(&format!(
                "segment[{i:2}]: buf_size={:#010x} mem={:#014x} memsz={:#010x} {:?}\n",
                g.data.len(),
                g.mem,
                g.memsz,
                g.kind
            ));
        }
        let d: String = self
            .params
            .digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        s.push_str(&format!(
            "sha256 over {} regions: {d}\n",
            self.params.region_count
        ));
        if self.params.backup_len != 0 {
            s.push_str(&format!(
                "backup {:#x}+{:#x} -> {:#x}\n",
                self.params.backup_src, self.params.backup_len, self.params.backup_dst
            ));
        }
        s.push_str(&format!("e820 ({} entries):\n", self.e820.len()));
        for e in &self.e820 {
            let (a, z, k) = (e.addr, e.size, e.kind);
            s.push_str(&format!("  {:#014x}-{:#014x} type {k}\n", a, a + z - 1));
        }
        s.push_str(&format!("command line: {}\n", self.cmdline));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::tests::synthetic_system;
    use proptest::prelude::*;

    fn ram(ranges: &[(u64, u64)]) -> Vec<MemRange> {
        ranges
            .iter()
            .map(|&(s, e)| MemRange {
                start: s,
                end: e,
                kind: RangeKind::Ram,
            })
            .collect()
    }

    fn u32at(b: &[u8], o: usize) -> u64 {
        u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as u64
    }

    /// Every invariant of a plan; `usable` are the inclusive ranges segments must lie in.
    fn check_plan(
        p: &LoadPlan,
        usable: &[(u64, u64)],
        kernel_align: u64,
        initrd: Option<(usize, u64)>,
    ) {
        assert!(p.segments.len() <= MAX_SEGMENTS);
        for w in p.segments.windows(2) {
            assert!(
                w[0].mem + w[0].memsz <= w[1].mem,
                "overlap: {:#x?} / {:#x?}",
                (w[0].mem, w[0].memsz),
                (w[1].mem, w[1].memsz)
            );
        }
        for s in &p.segments {
            assert_eq!(s.mem % PAGE, 0);
            assert_eq!(s.memsz % PAGE, 0);
            assert!(s.data.len() as u64 <= s.memsz);
            assert!(
                usable
                    .iter()
                    .any(|&(a, b)| s.mem >= a && s.mem + s.memsz - 1 <= b),
                "{:?} at {:#x}+{:#x} outside usable memory",
                s.kind,
                s.mem,
                s.memsz
            );
        }
        let k = p
            .segments
            .iter()
            .find(|s| s.kind == SegmentKind::Kernel)
            .unwrap();
        assert_eq!(k.mem % kernel_align, 0);
        assert_eq!(p.params.entry_rip, k.mem + 0x200);
        let bp = p
            .segments
            .iter()
            .find(|s| s.kind == SegmentKind::BootParams)
            .unwrap();
        assert_eq!(p.params.rsi, bp.mem);
        let cmd = u32at(&bp.data, 0x228) | (u32at(&bp.data, 0xc8) << 32);
        let off = (cmd - bp.mem) as usize;
        assert_eq!(&bp.data[off..off + p.cmdline.len()], p.cmdline.as_bytes());
        assert_eq!(bp.data[off + p.cmdline.len()], 0);
        if let Some((len, max_end)) = initrd {
            let rd = p
                .segments
                .iter()
                .find(|s| s.kind == SegmentKind::Initrd)
                .unwrap();
            assert_eq!(
                u32at(&bp.data, 0x218) | (u32at(&bp.data, 0xc0) << 32),
                rd.mem
            );
            assert_eq!(u32at(&bp.data, 0x21c), len as u64);
            assert!(rd.mem + len as u64 <= max_end);
        }
        // The digest covers every segment but the purgatory, in address order, zero padding included.
        let pur = p
            .segments
            .iter()
            .find(|s| s.kind == SegmentKind::Purgatory)
            .unwrap();
        assert!(p.entry >= pur.mem && p.entry < pur.mem + pur.memsz);
        let others: Vec<&Segment> = p
            .segments
            .iter()
            .filter(|s| s.kind != SegmentKind::Purgatory)
            .collect();
        assert_eq!(p.params.region_count as usize, others.len());
        // Recomputed with our own scalar SHA-256 (the plan's digest comes from sha2).
        let mut h = kexec_purgatory::Sha256::new();
        for (i, s) in others.iter().enumerate() {
            assert_eq!(
                p.params.regions[i],
                Region {
                    start: s.mem,
                    len: s.memsz
                }
            );
            h.update(&s.data);
            h.update_zeros(s.memsz - s.data.len() as u64);
        }
        assert_eq!(h.finish(), p.params.digest);
        // The parameter block inside the purgatory image is the plan's.
        let pb = kexec_purgatory::params_bytes(&p.params);
        assert!(pur.data.windows(pb.len()).any(|w| w == pb));
    }

    #[test]
    fn crafted_bzimage_with_initrd() {
        let k = crate::bzimage::tests::crafted(100_000);
        let rd = vec![7u8; 300_000];
        let mut req = LoadRequest::new(&k, "console=ttyS0 root=/dev/vda");
        req.initrd = Some(&rd);
        req.memory = ram(&[(0, 0x9fbff), (0x10_0000, 0x3fff_ffff)]);
        let p = build(&req, Format::BzImage).unwrap();
        check_plan(
            &p,
            &[(0x10_0000, 0x3fff_ffff)],
            0x20_0000,
            Some((rd.len(), 0x8000_0000)),
        );
        assert_eq!(
            p.segments
                .iter()
                .find(|s| s.kind == SegmentKind::Kernel)
                .unwrap()
                .mem,
            0x100_0000,
            "pref_address used"
        );
        assert!(p.describe().contains("Initrd"));
    }

    #[test]
    fn errors_are_specific() {
        let k = crate::bzimage::tests::crafted(10_000);
        let mut req = LoadRequest::new(&k, "x".repeat(3000));
        req.memory = ram(&[(0x10_0000, 0x3fff_ffff)]);
        assert!(matches!(
            build(&req, Format::BzImage),
            Err(Error::CommandLineTooLong {
                len: 3000,
                max: 2048
            })
        ));
        req.cmdline = "quiet".into();
        req.memory = ram(&[(0x10_0000, 0x1ff_ffff)]);
        let big = vec![0u8; 64 << 20];
        req.initrd = Some(&big);
        assert!(matches!(
            build(&req, Format::BzImage),
            Err(Error::NoRoom { what: "initrd", .. })
        ));
        req.memory.clear();
        assert!(matches!(
            build(&req, Format::BzImage),
            Err(Error::NoMemoryMap)
        ));
        assert!(matches!(
            probe(b"garbage", None),
            Err(Error::ImageTypeUnknown(_))
        ));
        assert!(matches!(
            probe(b"garbage", Some("multiboot")),
            Err(Error::UnknownType(_))
        ));
    }

    #[test]
    fn elf_kernel_plan() {
        let k = crate::elf_kernel::tests::crafted();
        let mut req = LoadRequest::new(&k, "console=ttyS0");
        req.memory = ram(&[(0x10_0000, 0x3fff_ffff)]);
        assert_eq!(probe(&k, None).unwrap().name, "elf-x86_64");
        let p = build(&req, Format::Elf).unwrap();
        assert_eq!(p.params.entry_rip, 0x100_0000);
        let ks: Vec<_> = p
            .segments
            .iter()
            .filter(|s| s.kind == SegmentKind::Kernel)
            .collect();
        assert_eq!(ks.len(), 2);
        assert_eq!((ks[1].mem, ks[1].memsz), (0x120_0000, 0x5000));
        assert_eq!(&ks[0].data[..], &k[0x1000..0x2000]);
    }

    fn panic_req<'a>(k: &'a [u8], rd: Option<&'a [u8]>, backup: bool) -> LoadRequest<'a> {
        let sys = synthetic_system();
        let core = crate::crash::gather(&sys).unwrap();
        let mut req = LoadRequest::new(k, "console=ttyS0 irqpoll nr_cpus=1 reset_devices");
        req.initrd = rd;
        req.memory = crate::memmap::system_memory_map(&sys).unwrap();
        req.panic = Some(PanicInputs { core, backup });
        req
    }

    #[test]
    fn panic_kernel_lives_in_the_crash_range() {
        let k = crate::bzimage::tests::crafted(200_000);
        let rd = vec![1u8; 1 << 20];
        let req = panic_req(&k, Some(&rd), true);
        let p = build(&req, Format::BzImage).unwrap();
        check_plan(
            &p,
            &[(0x0b00_0000, 0x16ff_ffff)],
            0x20_0000,
            Some((rd.len(), 0x8000_0000)),
        );
        let hdr = p
            .segments
            .iter()
            .find(|s| s.kind == SegmentKind::ElfCoreHeader)
            .unwrap();
        assert!(
            p.cmdline
                .ends_with(&format!("elfcorehdr={}K", hdr.mem >> 10)),
            "{}",
            p.cmdline
        );
        assert_eq!(&hdr.data[..4], b"\x7fELF");
        let bk = p
            .segments
            .iter()
            .find(|s| s.kind == SegmentKind::Backup)
            .unwrap();
        assert_eq!(
            (
                p.params.backup_src,
                p.params.backup_len,
                p.params.backup_dst
            ),
            (0x1000, 0x9ec00, bk.mem)
        );
        // Capture e820: RAM only inside the crash range or below 1 MiB; the core header reserved.
        for e in &p.e820 {
            let (a, z, t) = (e.addr, e.size, e.kind);
            if t == 1 {
                assert!(
                    a + z <= 1 << 20 || (a >= 0x0b00_0000 && a + z <= 0x1700_0000),
                    "{a:#x}+{z:#x}"
                );
                assert!(a + z <= hdr.mem || a >= hdr.mem + hdr.memsz);
            }
        }
        assert!(p.e820.iter().any(|e| {
            let (a, t) = (e.addr, e.kind);
            a == hdr.mem && t == 2
        }));
    }

    #[test]
    fn real_kernels_over_synthetic_maps() {
        let ks = crate::bzimage::tests::real_kernels();
        if ks.is_empty() {
            return test_skip::skip(
                "real_kernels_over_synthetic_maps",
                "no Debian vmlinuz found (`cargo xtask fixtures` downloads them)",
            );
        }
        for path in ks {
            let k = std::fs::read(&path).unwrap();
            let t = probe(&k, None).unwrap();
            assert_eq!(t.name, "bzImage64");
            let rd = vec![0x5au8; 1 << 20];
            let mut req = LoadRequest::new(&k, "console=ttyS0");
            req.initrd = Some(&rd);
            req.memory = ram(&[(0x1000, 0x9fbff), (0x10_0000, 0x3ffd_ffff)]);
            let p = (t.load)(&req).unwrap();
            check_plan(
                &p,
                &[(0x10_0000, 0x3ffd_ffff)],
                0x20_0000,
                Some((rd.len(), 0x8000_0000)),
            );
            let pr = panic_req(&k, Some(&rd), true);
            let pp = (t.load)(&pr).unwrap();
            check_plan(
                &pp,
                &[(0x0b00_0000, 0x16ff_ffff)],
                0x20_0000,
                Some((rd.len(), 0x8000_0000)),
            );
            eprintln!(
                "{}: {} segments, panic {} segments",
                path.display(),
                p.segments.len(),
                pp.segments.len()
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        #[test]
        fn plans_hold_their_invariants(
            gaps in proptest::collection::vec((1u64..64, 1u64..2048), 1..6),
            klen in 1000usize..100_000,
            rdlen in proptest::option::of(1usize..400_000),
            cmdlen in 0usize..2000,
        ) {
            // RAM ranges built from (gap pages, length pages) pairs, starting at 1 MiB.
            let mut at = 0x10_0000u64;
            let mut rs = Vec::new();
            for (gap, len) in gaps {
                at += gap * 0x10_0000;
                rs.push((at, at + len * 0x10_0000 - 1));
                at += len * 0x10_0000;
            }
            let k = crate::bzimage::tests::crafted(klen);
            let rd = rdlen.map(|n| vec![3u8; n]);
            let mut req = LoadRequest::new(&k, "a".repeat(cmdlen));
            req.initrd = rd.as_deref();
            req.memory = ram(&rs);
            match build(&req, Format::BzImage) {
                Ok(p) => check_plan(&p, &rs, 0x20_0000, rd.as_ref().map(|r| (r.len(), 0x8000_0000))),
                Err(Error::NoRoom { .. }) => {}
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
        }

        #[test]
        fn mutated_bzimages_never_panic(pos in 0x1f0usize..0x270, val in any::<u8>()) {
            let mut k = crate::bzimage::tests::crafted(5000);
            k[pos] = val;
            let mut req = LoadRequest::new(&k, "quiet");
            req.memory = ram(&[(0x10_0000, 0x3fff_ffff)]);
            let _ = build(&req, Format::BzImage);
        }
    }
}
