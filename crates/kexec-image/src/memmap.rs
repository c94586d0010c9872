//! Memory maps: /sys/firmware/memmap (the firmware's e820 table, preferred) and /proc/iomem
//! (fallback, and the source of "Crash kernel" and "Kernel code").

use crate::sysview::SystemView;
use crate::Error;

/// Kind of a memory range, with its e820 type number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RangeKind {
    /// Usable RAM (e820 type 1).
    Ram,
    /// Reserved (type 2).
    Reserved,
    /// ACPI reclaimable tables (type 3).
    Acpi,
    /// ACPI non-volatile storage (type 4).
    AcpiNvs,
    /// Unusable memory (type 5).
    Unusable,
    /// Persistent memory (type 7).
    Pmem,
    /// Legacy persistent memory (type 12).
    Pram,
    /// Soft-reserved / specific-purpose memory (type 0xefffffff).
    SoftReserved,
}

impl RangeKind {
    /// The e820 type number.
    pub fn e820_type(self) -> u32 {
        match self {
            RangeKind::Ram => 1,
            RangeKind::Reserved => 2,
            RangeKind::Acpi => 3,
            RangeKind::AcpiNvs => 4,
            RangeKind::Unusable => 5,
            RangeKind::Pmem => 7,
            RangeKind::Pram => 12,
            RangeKind::SoftReserved => 0xefff_ffff,
        }
    }

    /// The kind named by a /sys/firmware/memmap `type` file or a top-level /proc/iomem line.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.trim() {
            "System RAM" | "System RAM (E820)" | "usable" => RangeKind::Ram,
            "Reserved" | "reserved" => RangeKind::Reserved,
            "ACPI Tables" | "ACPI data" => RangeKind::Acpi,
            "ACPI Non-volatile Storage" => RangeKind::AcpiNvs,
            "Unusable memory" => RangeKind::Unusable,
            "Persistent Memory" => RangeKind::Pmem,
            "Persistent Memory (legacy)" => RangeKind::Pram,
            "Soft Reserved" => RangeKind::SoftReserved,
            _ => return None,
        })
    }
}

/// A physical range `[start, end]` (end inclusive, as the kernel prints them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemRange {
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive).
    pub end: u64,
    /// What the range is.
    pub kind: RangeKind,
}

impl MemRange {
    /// Length in bytes (saturating for the whole 64-bit space).
    pub fn len(&self) -> u64 {
        (self.end - self.start).saturating_add(1)
    }
    /// Never true: ranges hold at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Most ranges we accept in one map (real machines have tens; the e820 table holds 128).
pub const MAX_RANGES: usize = 4096;

fn parse_hex(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s.strip_prefix("0x").unwrap_or(s);
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

/// Parse one /sys/firmware/memmap/N entry from its three files' contents.
pub fn parse_memmap_entry(
    entry: &str,
    start: &str,
    end: &str,
    kind: &str,
) -> Result<Option<MemRange>, Error> {
    let bad = |what: &str, text: &str| Error::Parse {
        source_name: format!("/sys/firmware/memmap/{entry}/{what}"),
        line: 1,
        msg: format!("expected a hexadecimal address, found {:?}", text.trim()),
    };
    let s = parse_hex(start).ok_or_else(|| bad("start", start))?;
    let e = parse_hex(end).ok_or_else(|| bad("end", end))?;
    if e < s {
        return Err(Error::Parse {
            source_name: format!("/sys/firmware/memmap/{entry}"),
            line: 1,
            msg: format!("end {e:#x} is below start {s:#x}"),
        });
    }
    Ok(RangeKind::from_name(kind).map(|kind| MemRange {
        start: s,
        end: e,
        kind,
    }))
}

/// Read /sys/firmware/memmap through `view`: the firmware's memory map, sorted by start.
/// Entries of unknown type are left out.
pub fn read_firmware_memmap(view: &dyn SystemView) -> Result<Vec<MemRange>, Error> {
    let dir = "/sys/firmware/memmap";
    let names = view.list_dir(dir).map_err(|e| Error::Io {
        path: dir.into(),
        source: e,
    })?;
    let mut out = Vec::new();
    for n in names
        .iter()
        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
    {
        if out.len() >= MAX_RANGES {
            return Err(Error::Parse {
                source_name: dir.into(),
                line: 0,
                msg: format!("more than {MAX_RANGES} entries"),
            });
        }
        let rd = |f: &str| {
            let p = format!("{dir}/{n}/{f}");
            view.read_text(&p)
                .map_err(|e| Error::Io { path: p, source: e })
        };
        if let Some(r) = parse_memmap_entry(n, &rd("start")?, &rd("end")?, &rd("type")?)? {
            out.push(r);
        }
    }
    out.sort();
    Ok(out)
}

/// One line of /proc/iomem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IomemEntry {
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive).
    pub end: u64,
    /// Nesting depth (leading spaces / 2).
    pub depth: usize,
    /// The resource name ("System RAM", "Crash kernel", "Kernel code", ...).
    pub name: String,
}

/// Parse /proc/iomem text. Lines look like `  00100000-3ffdffff : System RAM`.
pub fn parse_iomem(text: &str) -> Result<Vec<IomemEntry>, Error> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if out.len() >= MAX_RANGES * 4 {
            return Err(Error::Parse {
                source_name: "/proc/iomem".into(),
                line: i + 1,
                msg: "too many lines".into(),
            });
        }
        let bad = |msg: &str| Error::Parse {
            source_name: "/proc/iomem".into(),
            line: i + 1,
            msg: format!("{msg}: {line:?}"),
        };
        let indent = line.len() - line.trim_start_matches(' ').len();
        let (range, name) = line
            .trim_start()
            .split_once(" : ")
            .ok_or_else(|| bad("expected `start-end : name`"))?;
        let (s, e) = range
            .split_once('-')
            .ok_or_else(|| bad("expected `start-end`"))?;
        let start = parse_hex(s).ok_or_else(|| bad("bad start address"))?;
        let end = parse_hex(e).ok_or_else(|| bad("bad end address"))?;
        if end < start {
            return Err(bad("end below start"));
        }
        out.push(IomemEntry {
            start,
            end,
            depth: indent / 2,
            name: name.trim().to_string(),
        });
    }
    Ok(out)
}

/// The memory map from top-level /proc/iomem entries (the fallback when /sys/firmware/memmap
/// is absent), sorted by start.
pub fn iomem_memory_map(entries: &[IomemEntry]) -> Vec<MemRange> {
    let mut v: Vec<MemRange> = entries
        .iter()
        .filter(|e| e.depth == 0)
        .filter_map(|e| {
            RangeKind::from_name(&e.name).map(|kind| MemRange {
                start: e.start,
                end: e.end,
                kind,
            })
        })
        .collect();
    v.sort();
    v
}

/// `[start, end]` ranges of resources with this exact name, at any depth.
pub fn named_ranges(entries: &[IomemEntry], name: &str) -> Vec<(u64, u64)> {
    entries
        .iter()
        .filter(|e| e.name == name)
        .map(|e| (e.start, e.end))
        .collect()
}

/// The memory map as the loader sees it: /sys/firmware/memmap when present and non-empty,
/// else the top level of /proc/iomem.
pub fn system_memory_map(view: &dyn SystemView) -> Result<Vec<MemRange>, Error> {
    if let Ok(m) = read_firmware_memmap(view) {
        if m.iter().any(|r| r.kind == RangeKind::Ram) {
            return Ok(m);
        }
    }
    let text = view.read_text("/proc/iomem").map_err(|e| Error::Io {
        path: "/proc/iomem".into(),
        source: e,
    })?;
    let m = iomem_memory_map(&parse_iomem(&text)?);
    if m.iter().any(|r| r.kind == RangeKind::Ram) {
        Ok(m)
    } else {
        Err(Error::NoMemoryMap)
    }
}

/// Subtract `[cs, ce]` (inclusive) from `[s, e]`, returning up to two pieces.
pub fn subtract(s: u64, e: u64, cs: u64, ce: u64) -> Vec<(u64, u64)> {
    if ce < s || cs > e {
        return vec![(s, e)];
    }
    let mut v = Vec::new();
    if cs > s {
        v.push((s, cs - 1));
    }
    if ce < e {
        v.push((ce + 1, e));
    }
    v
}

/// A small /proc/iomem of a 5 GiB machine with 192 MiB reserved for the crash kernel (tests).
#[cfg(test)]
pub(crate) const TEST_IOMEM: &str = "00000000-00000fff : Reserved
00001000-0009fbff : System RAM
0009fc00-0009ffff : Reserved
000a0000-000bffff : PCI Bus 0000:00
000f0000-000fffff : Reserved
  000f0000-000fffff : System ROM
00100000-3ffdffff : System RAM
  0b000000-16ffffff : Crash kernel
  31a00000-32601fff : Kernel code
  32800000-32c2afff : Kernel rodata
  32e00000-3311b5ff : Kernel data
  33a6b000-33bfffff : Kernel bss
3ffe0000-3fffffff : Reserved
b0000000-bfffffff : PCI MMCONFIG 0000 [bus 00-ff]
fffc0000-ffffffff : Reserved
100000000-13fffffff : System RAM
";

#[cfg(test)]
pub(crate) fn tests_iomem() -> &'static str {
    TEST_IOMEM
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysview::MemSystem;

    pub(crate) const IOMEM: &str = super::TEST_IOMEM;

    #[test]
    fn iomem_parses_and_finds_crash_and_code() {
        let e = parse_iomem(IOMEM).unwrap();
        assert_eq!(
            named_ranges(&e, "Crash kernel"),
            vec![(0x0b00_0000, 0x16ff_ffff)]
        );
        assert_eq!(
            named_ranges(&e, "Kernel code"),
            vec![(0x31a0_0000, 0x3260_1fff)]
        );
        let m = iomem_memory_map(&e);
        let ram: Vec<_> = m
            .iter()
            .filter(|r| r.kind == RangeKind::Ram)
            .map(|r| (r.start, r.end))
            .collect();
        assert_eq!(
            ram,
            vec![
                (0x1000, 0x9fbff),
                (0x10_0000, 0x3ffd_ffff),
                (0x1_0000_0000, 0x1_3fff_ffff)
            ]
        );
    }

    #[test]
    fn iomem_errors_name_the_line() {
        let e = parse_iomem("00000000-00000fff : Reserved\nzzzz-1 : x\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        assert!(parse_iomem("10-0 : x").is_err());
        assert!(parse_iomem("0-1").is_err());
    }

    #[test]
    fn firmware_memmap_from_a_synthetic_tree() {
        let mut s = MemSystem::default();
        s.insert("/sys/firmware/memmap/0/start", "0x0\n")
            .insert("/sys/firmware/memmap/0/end", "0x9fbff\n")
            .insert("/sys/firmware/memmap/0/type", "System RAM\n")
            .insert("/sys/firmware/memmap/1/start", "0x100000\n")
            .insert("/sys/firmware/memmap/1/end", "0x3ffdffff\n")
            .insert("/sys/firmware/memmap/1/type", "System RAM\n")
            .insert("/sys/firmware/memmap/2/start", "0xf0000\n")
            .insert("/sys/firmware/memmap/2/end", "0xfffff\n")
            .insert("/sys/firmware/memmap/2/type", "Reserved\n");
        let m = system_memory_map(&s).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(
            m[1],
            MemRange {
                start: 0xf0000,
                end: 0xfffff,
                kind: RangeKind::Reserved
            }
        );
        s.insert("/sys/firmware/memmap/2/end", "0xeffff\n");
        assert!(read_firmware_memmap(&s).is_err());
    }

    #[test]
    fn real_host_maps_parse() {
        // Reading these files is harmless; the host may lack them (containers).
        match crate::sysview::HostSystem.read_text("/proc/iomem") {
            Ok(t) => {
                parse_iomem(&t).unwrap();
            }
            Err(e) => test_skip::skip("real_host_maps_parse", format!("/proc/iomem: {e}")),
        }
        match read_firmware_memmap(&crate::sysview::HostSystem) {
            Ok(m) => assert!(m.windows(2).all(|w| w[0].start <= w[1].start)),
            Err(e) => test_skip::skip("real_host_maps_parse", format!("/sys/firmware/memmap: {e}")),
        }
    }

    #[test]
    fn subtract_pieces() {
        assert_eq!(subtract(0, 99, 10, 19), vec![(0, 9), (20, 99)]);
        assert_eq!(subtract(0, 99, 0, 99), vec![]);
        assert_eq!(subtract(0, 99, 100, 200), vec![(0, 99)]);
        assert_eq!(subtract(10, 99, 0, 50), vec![(51, 99)]);
    }

    proptest::proptest! {
        #[test]
        fn iomem_never_panics(s in "\\PC*") {
            let _ = parse_iomem(&s);
        }
    }
}
