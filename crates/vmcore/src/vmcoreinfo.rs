//! VMCOREINFO: the `KEY=VALUE` text the kernel exports for dump tools, as typed data.

use std::collections::BTreeMap;

/// Upper bound on the VMCOREINFO text accepted (the kernel's buffer is one page; QEMU's
/// device allows a little more).
pub const MAX_VMCOREINFO_LEN: usize = 1 << 20;

/// Parsed VMCOREINFO.
///
/// Values are kept as the kernel wrote them ([`VmcoreInfo::entries`]) and, for the
/// well-known forms, decoded: `SYMBOL(x)` is hexadecimal without `0x`; `SIZE`, `OFFSET`,
/// `LENGTH` and `NUMBER` are decimal (possibly negative) or `0x`-prefixed hexadecimal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VmcoreInfo {
    entries: Vec<(String, String)>,
    /// `OSRELEASE`: the kernel release (`uname -r`).
    pub osrelease: Option<String>,
    /// `PAGESIZE` in bytes.
    pub page_size: Option<u64>,
    /// `CRASHTIME`: seconds since the epoch when the kernel crashed.
    pub crash_time: Option<u64>,
    /// `KERNELOFFSET`: the KASLR displacement of the kernel image (hexadecimal).
    pub kernel_offset: Option<u64>,
    /// `BUILD-ID` (hex string as written).
    pub build_id: Option<String>,
    symbols: BTreeMap<String, u64>,
    sizes: BTreeMap<String, i64>,
    offsets: BTreeMap<String, i64>,
    lengths: BTreeMap<String, i64>,
    numbers: BTreeMap<String, i64>,
}

/// Parse a value written as decimal (optionally negative) or `0x` hexadecimal.
pub fn parse_number(v: &str) -> Option<i64> {
    let v = v.trim();
    let (neg, digits) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let mag: u64 = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(hex, 16).ok()?
    } else {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse::<u64>().ok()?
    };
    if neg {
        if mag > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((mag as i64).wrapping_neg())
    } else {
        // Hex values with the top bit set (0xf0000000... as u64) keep their bit pattern.
        Some(mag as i64)
    }
}

fn parse_hex(v: &str) -> Option<u64> {
    let v = v.trim();
    let v = v
        .strip_prefix("0x")
        .or_else(|| v.strip_prefix("0X"))
        .unwrap_or(v);
    if v.is_empty() {
        return None;
    }
    u64::from_str_radix(v, 16).ok()
}

fn split_call<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    key.strip_prefix(prefix)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

impl VmcoreInfo {
    /// Parse VMCOREINFO text. Never fails: lines without `=` and values that do not decode
    /// are kept only in [`entries`](Self::entries). Input longer than
    /// [`MAX_VMCOREINFO_LEN`] is cut there; trailing NULs are ignored.
    pub fn parse(bytes: &[u8]) -> Self {
        let bytes = &bytes[..bytes.len().min(MAX_VMCOREINFO_LEN)];
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let text = String::from_utf8_lossy(&bytes[..end]);
        let mut info = Self::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            info.entries.push((key.to_string(), value.to_string()));
            info.decode(key, value);
        }
        info
    }

    fn decode(&mut self, key: &str, value: &str) {
        match key {
            "OSRELEASE" => self.osrelease = Some(value.to_string()),
            "PAGESIZE" => self.page_size = parse_number(value).and_then(|v| u64::try_from(v).ok()),
            "CRASHTIME" => {
                self.crash_time = parse_number(value).and_then(|v| u64::try_from(v).ok())
            }
            "KERNELOFFSET" => self.kernel_offset = parse_hex(value),
            "BUILD-ID" => self.build_id = Some(value.to_string()),
            _ => {
                if let Some(name) = split_call(key, "SYMBOL") {
                    if let Some(v) = parse_hex(value) {
                        self.symbols.insert(name.to_string(), v);
                    }
                    return;
                }
                let table = if let Some(n) = split_call(key, "SIZE") {
                    Some((n, &mut self.sizes))
                } else if let Some(n) = split_call(key, "OFFSET") {
                    Some((n, &mut self.offsets))
                } else if let Some(n) = split_call(key, "LENGTH") {
                    Some((n, &mut self.lengths))
                } else {
                    split_call(key, "NUMBER").map(|n| (n, &mut self.numbers))
                };
                if let Some((name, map)) = table {
                    if let Some(v) = parse_number(value) {
                        map.insert(name.to_string(), v);
                    }
                }
            }
        }
    }

    /// Every `KEY=VALUE` line in file order, undecoded.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }
    /// The raw value of `key` (e.g. `"SYMBOL(prb)"`), first occurrence.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// `SYMBOL(name)`: a kernel virtual address.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.symbols.get(name).copied()
    }
    /// `SIZE(name)`: a structure size in bytes.
    pub fn size(&self, name: &str) -> Option<i64> {
        self.sizes.get(name).copied()
    }
    /// `OFFSET(struct.member)`.
    pub fn offset(&self, name: &str) -> Option<i64> {
        self.offsets.get(name).copied()
    }
    /// `LENGTH(name)`: an array length.
    pub fn length(&self, name: &str) -> Option<i64> {
        self.lengths.get(name).copied()
    }
    /// `NUMBER(name)`: a constant, as a signed value (`-129`, `0xf0000000`, ...).
    pub fn number(&self, name: &str) -> Option<i64> {
        self.numbers.get(name).copied()
    }
    /// All `SYMBOL` entries.
    pub fn symbols(&self) -> &BTreeMap<String, u64> {
        &self.symbols
    }
    /// All `SIZE` entries.
    pub fn sizes(&self) -> &BTreeMap<String, i64> {
        &self.sizes
    }
    /// All `OFFSET` entries.
    pub fn offsets(&self) -> &BTreeMap<String, i64> {
        &self.offsets
    }
    /// All `LENGTH` entries.
    pub fn lengths(&self) -> &BTreeMap<String, i64> {
        &self.lengths
    }
    /// All `NUMBER` entries.
    pub fn numbers(&self) -> &BTreeMap<String, i64> {
        &self.numbers
    }

    /// `SIZE(name)` as an unsigned size, `None` if absent or negative.
    pub fn size_usize(&self, name: &str) -> Option<usize> {
        self.size(name).and_then(|v| usize::try_from(v).ok())
    }
    /// `OFFSET(name)` as an unsigned offset, `None` if absent or negative.
    pub fn offset_usize(&self, name: &str) -> Option<usize> {
        self.offset(name).and_then(|v| usize::try_from(v).ok())
    }

    /// The kernel release as (major, minor, patch), parsed from `OSRELEASE`
    /// ("6.1.0-56-amd64" gives (6, 1, 0)).
    pub fn kernel_version(&self) -> Option<(u32, u32, u32)> {
        let rel = self.osrelease.as_deref()?;
        let mut parts = rel.split(|c: char| !c.is_ascii_digit());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        Some((major, minor, patch))
    }
}
