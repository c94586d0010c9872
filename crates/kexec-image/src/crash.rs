//! Panic-kernel inputs and the ELF core header the capture kernel reads as /proc/vmcore's
//! layout.
//!
//! Inputs come from a [`SystemView`]: "Crash kernel", "System RAM" and "Kernel code" in
//! /proc/iomem, per-CPU `crash_notes` (+ `crash_notes_size`), /sys/kernel/vmcoreinfo, and the
//! kernel-text and direct-map placement from /proc/kcore's program headers (with
//! /proc/kallsyms as a fallback for the text address).

use crate::memmap::{named_ranges, parse_iomem, subtract, IomemEntry};
use crate::sysview::SystemView;
use crate::Error;

/// Start of the kernel text mapping on x86_64 (`__START_KERNEL_map`).
pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// Default direct-map base with 4-level paging and no KASLR (`__PAGE_OFFSET_BASE_L4`).
pub const DEFAULT_PAGE_OFFSET: u64 = 0xffff_8880_0000_0000;
/// Low memory that kexec-tools saves before the capture kernel runs (first 640 KiB).
pub const BACKUP_LIMIT: u64 = 640 << 10;

/// The running kernel's text mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelText {
    /// Virtual address of `_text`.
    pub vaddr: u64,
    /// Physical address of `_text`.
    pub paddr: u64,
    /// Bytes from `_text` to `_end`.
    pub size: u64,
}

/// Everything the ELF core header describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreInputs {
    /// Per-CPU crash note buffers: (physical address, size).
    pub cpu_notes: Vec<(u64, u64)>,
    /// VMCOREINFO note: (physical address, size).
    pub vmcoreinfo: Option<(u64, u64)>,
    /// Kernel text mapping.
    pub kernel_text: Option<KernelText>,
    /// Direct-map base (virtual address of physical 0).
    pub page_offset: u64,
    /// System RAM ranges, `[start, end]` inclusive.
    pub ram: Vec<(u64, u64)>,
    /// "Crash kernel" ranges, `[start, end]` inclusive.
    pub crash: Vec<(u64, u64)>,
    /// ACPI tables / NVS and reserved ranges the capture kernel must see, inclusive.
    pub firmware: Vec<crate::memmap::MemRange>,
}

/// The low-memory backup: the purgatory copies `[src_start, src_start + len)` to `dst`, and
/// the core header points that range's PT_LOAD at `dst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backup {
    /// Source start (first RAM byte below 640 KiB).
    pub src_start: u64,
    /// Bytes copied.
    pub len: u64,
    /// Destination inside the crash range.
    pub dst: u64,
}

fn io(path: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::Io {
        path: path.to_string(),
        source: e,
    }
}

fn parse_hex_word(s: &str, path: &str) -> Result<u64, Error> {
    let t = s.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    u64::from_str_radix(t, 16).map_err(|_| Error::Parse {
        source_name: path.into(),
        line: 1,
        msg: format!("expected hex, found {s:?}"),
    })
}

/// Kernel text and direct-map base from /proc/kcore's ELF program headers (only the first
/// 64 KiB are read).
pub fn kcore_layout(view: &dyn SystemView) -> Option<(Option<KernelText>, Option<u64>)> {
    let b = view.read_prefix("/proc/kcore", 64 << 10).ok()?;
    if !crate::elf_kernel::looks_like(&b) {
        return None;
    }
    let phoff = u64::from_le_bytes(b.get(32..40)?.try_into().ok()?) as usize;
    let phnum = u16::from_le_bytes(b.get(56..58)?.try_into().ok()?) as usize;
    let mut text = None;
    let mut po = None;
    for i in 0..phnum.min(4096) {
        let o = phoff.checked_add(i * 56)?;
        let ph = b.get(o..o + 56)?;
        let rd = |x: usize| u64::from_le_bytes(ph[x..x + 8].try_into().unwrap_or([0; 8]));
        if u32::from_le_bytes(ph[0..4].try_into().unwrap_or([0; 4])) != 1 {
            continue;
        }
        let (vaddr, paddr, memsz) = (rd(16), rd(24), rd(40));
        if paddr == u64::MAX {
            continue;
        }
        if vaddr >= START_KERNEL_MAP {
            text.get_or_insert(KernelText {
                vaddr,
                paddr,
                size: memsz,
            });
        } else if vaddr >= 0xff00_0000_0000_0000 && po.is_none() {
            po = Some(vaddr.wrapping_sub(paddr));
        }
    }
    Some((text, po))
}

fn kallsyms_text(view: &dyn SystemView) -> Option<u64> {
    let t = view.read_text("/proc/kallsyms").ok()?;
    t.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        let (a, _ty, name) = (it.next()?, it.next()?, it.next()?);
        (name == "_text")
            .then(|| u64::from_str_radix(a, 16).ok())
            .flatten()
            .filter(|&v| v != 0)
    })
}

/// Gather the panic-kernel inputs from a system view.
pub fn gather(view: &dyn SystemView) -> Result<CoreInputs, Error> {
    let iomem_text = view.read_text("/proc/iomem").map_err(io("/proc/iomem"))?;
    let iomem: Vec<IomemEntry> = parse_iomem(&iomem_text)?;
    let crash = named_ranges(&iomem, "Crash kernel");
    if crash.is_empty() || crash.iter().all(|&(s, e)| s == 0 && e == 0) {
        return Err(Error::NoCrashKernel);
    }
    let ram: Vec<(u64, u64)> = iomem
        .iter()
        .filter(|e| e.depth == 0 && e.name == "System RAM")
        .map(|e| (e.start, e.end))
        .collect();
    let firmware = crate::memmap::system_memory_map(view)?
        .into_iter()
        .filter(|r| r.kind != crate::memmap::RangeKind::Ram)
        .collect();

    let cpu_dir = "/sys/devices/system/cpu";
    let mut cpus: Vec<u32> = view
        .list_dir(cpu_dir)
        .map_err(io(cpu_dir))?
        .iter()
        .filter_map(|n| n.strip_prefix("cpu")?.parse().ok())
        .collect();
    cpus.sort_unstable();
    let mut cpu_notes = Vec::new();
    for c in cpus.into_iter().take(8192) {
        let p = format!("{cpu_dir}/cpu{c}/crash_notes");
        let Ok(t) = view.read_text(&p) else { continue };
        let addr = parse_hex_word(&t, &p)?;
        let sp = format!("{cpu_dir}/cpu{c}/crash_notes_size");
        let size = match view.read_text(&sp) {
            Ok(s) => s.trim().parse::<u64>().map_err(|_| Error::Parse {
                source_name: sp.clone(),
                line: 1,
                msg: format!("expected a decimal size, found {s:?}"),
            })?,
            Err(_) => 1024,
        };
        cpu_notes.push((addr, size));
    }
    if cpu_notes.is_empty() {
        return Err(Error::Parse {
            source_name: cpu_dir.into(),
            line: 0,
            msg: "no cpuN/crash_notes file (kernel without CONFIG_CRASH_DUMP?)".into(),
        });
    }
    let vmcoreinfo = match view.read_text("/sys/kernel/vmcoreinfo") {
        Ok(t) => {
            let mut it = t.split_whitespace();
            let a = it
                .next()
                .map(|w| parse_hex_word(w, "/sys/kernel/vmcoreinfo"))
                .transpose()?;
            let s = it
                .next()
                .map(|w| parse_hex_word(w, "/sys/kernel/vmcoreinfo"))
                .transpose()?;
            a.zip(s)
        }
        Err(_) => None,
    };
    let code = named_ranges(&iomem, "Kernel code").first().copied();
    let bss_end = named_ranges(&iomem, "Kernel bss").first().map(|r| r.1);
    let (mut text, po) = kcore_layout(view).unwrap_or((None, None));
    if text.is_none() {
        if let (Some(v), Some((cs, _))) = (kallsyms_text(view), code) {
            let size = bss_end.map(|e| e + 1 - cs).unwrap_or(64 << 20);
            text = Some(KernelText {
                vaddr: v,
                paddr: cs,
                size,
            });
        }
    }
    Ok(CoreInputs {
        cpu_notes,
        vmcoreinfo,
        kernel_text: text,
        page_offset: po.unwrap_or(DEFAULT_PAGE_OFFSET),
        ram,
        crash,
        firmware,
    })
}

impl CoreInputs {
    /// The backup source: the RAM below 640 KiB in the first RAM range, if any.
    pub fn backup_source(&self) -> Option<(u64, u64)> {
        let &(s, e) = self.ram.iter().find(|&&(s, _)| s < BACKUP_LIMIT)?;
        let end = e.min(BACKUP_LIMIT - 1);
        Some((s, end + 1 - s))
    }

    /// Program headers the core header will have (for sizing before placement).
    pub fn phdr_count(&self) -> usize {
        let ram: usize = self
            .ram
            .iter()
            .map(|&(s, e)| self.ram_pieces(s, e).len())
            .sum();
        self.cpu_notes.len()
            + self.vmcoreinfo.is_some() as usize
            + self.kernel_text.is_some() as usize
            + ram
            + 1
    }

    fn ram_pieces(&self, s: u64, e: u64) -> Vec<(u64, u64)> {
        let mut pieces = vec![(s, e)];
        for &(cs, ce) in &self.crash {
            pieces = pieces
                .into_iter()
                .flat_map(|(a, b)| subtract(a, b, cs, ce))
                .collect();
        }
        pieces
    }

    /// The ELF64 core header (ET_CORE): CPU notes, VMCOREINFO, kernel text, then one PT_LOAD
    /// per RAM range outside the crash ranges. With a backup, the backed-up range's PT_LOAD
    /// reads from the backup copy.
    pub fn elf_core_header(&self, backup: Option<Backup>) -> Vec<u8> {
        let mut ph: Vec<[u64; 7]> = Vec::new(); // type|flags, offset, vaddr, paddr, filesz, memsz, align
        for &(a, s) in &self.cpu_notes {
            ph.push([4, a, 0, a, s, s, 0]);
        }
        if let Some((a, s)) = self.vmcoreinfo {
            ph.push([4, a, 0, a, s, s, 0]);
        }
        if let Some(t) = self.kernel_text {
            ph.push([1 | (7 << 32), t.paddr, t.vaddr, t.paddr, t.size, t.size, 0]);
        }
        for &(s, e) in &self.ram {
            for (a, b) in self.ram_pieces(s, e) {
                let len = b + 1 - a;
                let mut off = a;
                if let Some(bk) = backup {
                    if a >= bk.src_start && b < bk.src_start + bk.len {
                        off = bk.dst + (a - bk.src_start);
                    }
                }
                ph.push([
                    1 | (7 << 32),
                    off,
                    self.page_offset.wrapping_add(a),
                    a,
                    len,
                    len,
                    0,
                ]);
            }
        }
        let mut out = Vec::with_capacity(64 + 56 * ph.len());
        out.extend_from_slice(b"\x7fELF\x02\x01\x01");
        out.resize(16, 0);
        out.extend_from_slice(&4u16.to_le_bytes()); // ET_CORE
        out.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // e_entry
        out.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
        out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
        out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
        out.extend_from_slice(&64u16.to_le_bytes());
        out.extend_from_slice(&56u16.to_le_bytes());
        out.extend_from_slice(&(ph.len().min(0xffff) as u16).to_le_bytes());
        out.extend_from_slice(&64u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        for p in ph {
            out.extend_from_slice(&((p[0] & 0xffff_ffff) as u32).to_le_bytes());
            out.extend_from_slice(&((p[0] >> 32) as u32).to_le_bytes());
            for w in &p[1..] {
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sysview::MemSystem;

    pub(crate) fn synthetic_system() -> MemSystem {
        let mut s = MemSystem::default();
        s.insert("/proc/iomem", crate::memmap::tests_iomem());
        for c in 0..2u64 {
            s.insert(
                &format!("/sys/devices/system/cpu/cpu{c}/crash_notes"),
                format!("{:x}\n", 0x3fc1_0000 + c * 0x1000),
            );
            s.insert(
                &format!("/sys/devices/system/cpu/cpu{c}/crash_notes_size"),
                "424\n",
            );
        }
        s.insert("/sys/devices/system/cpu/online", "0-1\n");
        s.insert("/sys/kernel/vmcoreinfo", "3ee2b000 1024\n");
        s.insert("/proc/kallsyms", "0000000000000000 A fixed_percpu_data\nffffffff9a200000 T _text\nffffffff9a201000 T startup_64\n");
        s
    }

    #[test]
    fn gather_and_header() {
        let s = synthetic_system();
        let c = gather(&s).unwrap();
        assert_eq!(c.cpu_notes, vec![(0x3fc1_0000, 424), (0x3fc1_1000, 424)]);
        assert_eq!(c.vmcoreinfo, Some((0x3ee2_b000, 0x1024)));
        assert_eq!(c.crash, vec![(0x0b00_0000, 0x16ff_ffff)]);
        let t = c.kernel_text.unwrap();
        assert_eq!((t.vaddr, t.paddr), (0xffff_ffff_9a20_0000, 0x31a0_0000));
        let h = c.elf_core_header(None);
        let phnum = u16::from_le_bytes([h[56], h[57]]) as usize;
        assert_eq!(h.len(), 64 + 56 * phnum);
        // 2 CPU notes + vmcoreinfo + text + RAM: [1000-9fbff], [100000-affffff], [17000000-3ffdffff], [1_0000_0000-..]
        assert_eq!(phnum, 2 + 1 + 1 + 4);
        // No PT_LOAD overlaps the crash range.
        for i in 0..phnum {
            let p = &h[64 + 56 * i..64 + 56 * (i + 1)];
            let ty = u32::from_le_bytes(p[0..4].try_into().unwrap());
            let pa = u64::from_le_bytes(p[24..32].try_into().unwrap());
            let sz = u64::from_le_bytes(p[40..48].try_into().unwrap());
            if ty == 1 && pa < START_KERNEL_MAP && i > 3 {
                assert!(
                    pa + sz <= 0x0b00_0000 || pa > 0x16ff_ffff,
                    "PT_LOAD {pa:#x}+{sz:#x} overlaps crash"
                );
            }
        }
        let bk = Backup {
            src_start: 0x1000,
            len: 0x9ec00,
            dst: 0x0b10_0000,
        };
        let hb = c.elf_core_header(Some(bk));
        let p = &hb[64 + 56 * 4..64 + 56 * 5];
        assert_eq!(
            u64::from_le_bytes(p[8..16].try_into().unwrap()),
            0x0b10_0000,
            "low RAM reads from the backup"
        );
        assert_eq!(c.backup_source(), Some((0x1000, 0x9ec00)));
    }

    #[test]
    fn no_crash_kernel_is_a_clear_error() {
        let mut s = synthetic_system();
        s.insert("/proc/iomem", "00100000-3ffdffff : System RAM\n");
        let e = gather(&s).unwrap_err();
        assert!(matches!(e, Error::NoCrashKernel), "{e}");
        assert!(e.to_string().contains("crashkernel="));
    }
}
