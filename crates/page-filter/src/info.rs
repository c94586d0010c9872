//! The VMCOREINFO note as a key/value table, parsed the way the kernel writes it.

use std::collections::BTreeMap;

/// Most keys a VMCOREINFO note may hold; a larger note is refused (the kernel writes ~200).
const MAX_KEYS: usize = 4096;
/// Longest VMCOREINFO text accepted (the kernel's buffer is one page; some append more).
pub const MAX_VMCOREINFO_LEN: usize = 1 << 20;

/// VMCOREINFO lines `KEY=VALUE`, with typed lookups for the keys the filter needs.
///
/// Keys are kept as written, e.g. `NUMBER(PG_lru)`, `OFFSET(page.flags)`, `SYMBOL(mem_section)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VmcoreInfo {
    entries: BTreeMap<String, String>,
}

impl VmcoreInfo {
    /// Parse the note's text. Lines without `=` are ignored; the first occurrence of a key
    /// wins; text past [`MAX_VMCOREINFO_LEN`] and keys past 4096 are ignored.
    pub fn parse(text: &str) -> Self {
        let mut entries = BTreeMap::new();
        let text = match text.char_indices().nth(MAX_VMCOREINFO_LEN) {
            Some((i, _)) => &text[..i],
            None => text,
        };
        for line in text.lines() {
            if entries.len() >= MAX_KEYS {
                break;
            }
            let line = line.trim_end_matches(['\r', '\0']);
            if let Some((k, v)) = line.split_once('=') {
                let k = k.trim();
                if !k.is_empty() {
                    entries
                        .entry(k.to_string())
                        .or_insert_with(|| v.trim().to_string());
                }
            }
        }
        VmcoreInfo { entries }
    }

    /// Parse raw note bytes (invalid UTF-8 sequences are replaced, NULs end lines).
    pub fn parse_bytes(bytes: &[u8]) -> Self {
        let bytes = &bytes[..bytes.len().min(MAX_VMCOREINFO_LEN)];
        Self::parse(&String::from_utf8_lossy(bytes))
    }

    /// Add or replace one entry (used by synthetic dumps and tests).
    pub fn insert(&mut self, key: &str, value: &str) {
        self.entries.insert(key.to_string(), value.to_string());
    }

    /// The raw value text of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// A value written in decimal (possibly negative) or in hex with `0x`.
    pub fn number(&self, key: &str) -> Option<i64> {
        parse_int(self.get(key)?)
    }

    /// A `SYMBOL(name)` address (hex, with or without `0x`).
    pub fn symbol(&self, name: &str) -> Option<u64> {
        let v = self.get(&format!("SYMBOL({name})"))?;
        let v = v
            .strip_prefix("0x")
            .or_else(|| v.strip_prefix("0X"))
            .unwrap_or(v);
        u64::from_str_radix(v, 16).ok()
    }

    /// A non-negative `SIZE(..)`, `OFFSET(..)` or `LENGTH(..)` value.
    pub fn unsigned(&self, key: &str) -> Option<u64> {
        u64::try_from(self.number(key)?).ok()
    }

    /// `OSRELEASE` as (major, minor, patch), e.g. `6.1.0-56-amd64` → (6, 1, 0).
    pub fn kernel_version(&self) -> Option<(u32, u32, u32)> {
        let rel = self.get("OSRELEASE")?;
        let mut it = rel
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<u32>().ok());
        let major = it.next()??;
        let minor = it.next().flatten().unwrap_or(0);
        let patch = it.next().flatten().unwrap_or(0);
        Some((major, minor, patch))
    }

    /// Iterate over all entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Parse a VMCOREINFO integer: decimal (optionally negative) or `0x` hex.
pub(crate) fn parse_int(v: &str) -> Option<i64> {
    let v = v.trim();
    let (neg, body) = match v.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, v),
    };
    let mag: i128 = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i128::from(u64::from_str_radix(h, 16).ok()?)
    } else {
        i128::from(body.parse::<u64>().ok()?)
    };
    let val = if neg { -mag } else { mag };
    // Hex values up to u64::MAX are kept as their two's complement bit pattern.
    if val > i128::from(i64::MAX) {
        Some(val as u64 as i64)
    } else {
        i64::try_from(val).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_text() {
        let t = "OSRELEASE=6.1.0-56-amd64\nPAGESIZE=4096\nSYMBOL(mem_section)=ff1226d032e00000\n\
                 NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129\nNUMBER(phys_base)=-113246208\n\
                 NUMBER(PG_head_mask)=0x10000\nKERNELOFFSET=1d600000\n\0\0";
        let i = VmcoreInfo::parse(t);
        assert_eq!(i.kernel_version(), Some((6, 1, 0)));
        assert_eq!(i.number("PAGESIZE"), Some(4096));
        assert_eq!(i.symbol("mem_section"), Some(0xff12_26d0_32e0_0000));
        assert_eq!(i.number("NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)"), Some(-129));
        assert_eq!(i.number("NUMBER(PG_head_mask)"), Some(65536));
        assert_eq!(i.unsigned("NUMBER(phys_base)"), None);
        assert_eq!(i.number("MISSING"), None);
    }

    #[test]
    fn int_edge_cases() {
        assert_eq!(parse_int("0xffffffffffffffff"), Some(-1));
        assert_eq!(parse_int("-0x10"), Some(-16));
        assert_eq!(parse_int("99999999999999999999"), None);
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_int("12a"), None);
    }
}
