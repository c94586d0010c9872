//! The on-disk structures of the kdump-compressed format, defined once.
//!
//! Every structure has a fixed little-endian layout (x86_64, as makedumpfile writes it on that
//! architecture) and a `parse`/`to_bytes` pair. Parsing never panics: it takes a byte slice that
//! must be at least `SIZE` long and returns `None` otherwise.

/// Signature of a file written by makedumpfile (and QEMU's `dump-guest-memory -z`).
pub const KDUMP_SIGNATURE: [u8; 8] = *b"KDUMP   ";
/// Signature of the older diskdump format (same layout, no sub-header fields are trusted).
pub const DISKDUMP_SIGNATURE: [u8; 8] = *b"DISKDUMP";
/// The header version this crate writes.
pub const HEADER_VERSION: i32 = 6;

/// Page compressed with zlib (header `status` and page-descriptor `flags`).
pub const DUMP_DH_COMPRESSED_ZLIB: u32 = 0x1;
/// Page compressed with LZO1X-1.
pub const DUMP_DH_COMPRESSED_LZO: u32 = 0x2;
/// Page compressed with snappy (raw format).
pub const DUMP_DH_COMPRESSED_SNAPPY: u32 = 0x4;
/// Header status: writing stopped early (e.g. ENOSPC); pages after the last written are lost.
pub const DUMP_DH_COMPRESSED_INCOMPLETE: u32 = 0x8;
/// Header status: vmemmap pages were excluded.
pub const DUMP_DH_EXCLUDED_VMEMMAP: u32 = 0x10;
/// Page compressed with zstd.
pub const DUMP_DH_COMPRESSED_ZSTD: u32 = 0x20;
/// **kdump-rs extension**: page compressed with an LZ4 block (lz4_flex). Neither makedumpfile
/// nor crash can read it. Bit 30 was chosen to stay clear of the low bits upstream allocates.
pub const DUMP_DH_COMPRESSED_LZ4: u32 = 0x4000_0000;

/// Every compression bit this crate knows (header status and page flags).
pub const COMPRESSION_MASK: u32 = DUMP_DH_COMPRESSED_ZLIB
    | DUMP_DH_COMPRESSED_LZO
    | DUMP_DH_COMPRESSED_SNAPPY
    | DUMP_DH_COMPRESSED_ZSTD
    | DUMP_DH_COMPRESSED_LZ4;

/// Length of one `new_utsname` field.
pub const UTS_LEN: usize = 65;

fn le_u32(b: &[u8], o: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[o..o + 4]);
    u32::from_le_bytes(a)
}
fn le_i32(b: &[u8], o: usize) -> i32 {
    le_u32(b, o) as i32
}
fn le_u64(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}
fn le_i64(b: &[u8], o: usize) -> i64 {
    le_u64(b, o) as i64
}
fn be_i64(b: &[u8], o: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    i64::from_be_bytes(a)
}

/// `struct new_utsname`: six NUL-padded 65-byte strings.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Utsname {
    /// sysname, nodename, release, version, machine, domainname, raw.
    pub fields: [[u8; UTS_LEN]; 6],
}

impl Default for Utsname {
    fn default() -> Self {
        Utsname {
            fields: [[0; UTS_LEN]; 6],
        }
    }
}

impl Utsname {
    /// Field `i` (0 = sysname … 5 = domainname) up to its first NUL, lossily decoded.
    pub fn field(&self, i: usize) -> String {
        let f = self.fields.get(i).map(|f| &f[..]).unwrap_or(&[]);
        let end = f.iter().position(|&c| c == 0).unwrap_or(f.len());
        String::from_utf8_lossy(&f[..end]).into_owned()
    }
    /// The kernel release (`uname -r`).
    pub fn release(&self) -> String {
        self.field(2)
    }
    /// The machine (`uname -m`).
    pub fn machine(&self) -> String {
        self.field(4)
    }
    /// Set field `i` from a string (truncated to 64 bytes, NUL padded).
    pub fn set_field(&mut self, i: usize, s: &str) {
        if let Some(f) = self.fields.get_mut(i) {
            *f = [0; UTS_LEN];
            let n = s.len().min(UTS_LEN - 1);
            f[..n].copy_from_slice(&s.as_bytes()[..n]);
        }
    }
}

/// `struct disk_dump_header` (464 bytes at offset 0).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct DiskDumpHeader {
    /// "KDUMP   " or "DISKDUMP".
    pub signature: [u8; 8],
    /// 1..=6.
    pub header_version: i32,
    /// The crashed kernel's utsname.
    pub utsname: Utsname,
    /// Crash time, seconds.
    pub timestamp_sec: i64,
    /// Crash time, microseconds.
    pub timestamp_usec: i64,
    /// Status bits (`DUMP_DH_*`).
    pub status: u32,
    /// Block size in bytes (the page size).
    pub block_size: i32,
    /// Size of the sub-header region, in blocks.
    pub sub_hdr_size: i32,
    /// Blocks of both bitmaps together.
    pub bitmap_blocks: u32,
    /// Number of page frames (clamped to u32; see `max_mapnr_64`).
    pub max_mapnr: u32,
    /// Unused by makedumpfile (0).
    pub total_ram_blocks: u32,
    /// Unused by makedumpfile (0).
    pub device_blocks: u32,
    /// Unused by makedumpfile (0).
    pub written_blocks: u32,
    /// CPU that crashed.
    pub current_cpu: u32,
    /// Number of CPUs.
    pub nr_cpus: i32,
}

impl DiskDumpHeader {
    /// Size on disk.
    pub const SIZE: usize = 464;

    /// Decode from the first [`Self::SIZE`] bytes of `b`.
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < Self::SIZE {
            return None;
        }
        let mut signature = [0u8; 8];
        signature.copy_from_slice(&b[..8]);
        let mut utsname = Utsname::default();
        for (i, f) in utsname.fields.iter_mut().enumerate() {
            f.copy_from_slice(&b[12 + i * UTS_LEN..12 + (i + 1) * UTS_LEN]);
        }
        Some(DiskDumpHeader {
            signature,
            header_version: le_i32(b, 8),
            utsname,
            timestamp_sec: le_i64(b, 408),
            timestamp_usec: le_i64(b, 416),
            status: le_u32(b, 424),
            block_size: le_i32(b, 428),
            sub_hdr_size: le_i32(b, 432),
            bitmap_blocks: le_u32(b, 436),
            max_mapnr: le_u32(b, 440),
            total_ram_blocks: le_u32(b, 444),
            device_blocks: le_u32(b, 448),
            written_blocks: le_u32(b, 452),
            current_cpu: le_u32(b, 456),
            nr_cpus: le_i32(b, 460),
        })
    }

    /// Encode to exactly [`Self::SIZE`] bytes.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[..8].copy_from_slice(&self.signature);
        b[8..12].copy_from_slice(&self.header_version.to_le_bytes());
        for (i, f) in self.utsname.fields.iter().enumerate() {
            b[12 + i * UTS_LEN..12 + (i + 1) * UTS_LEN].copy_from_slice(f);
        }
        b[408..416].copy_from_slice(&self.timestamp_sec.to_le_bytes());
        b[416..424].copy_from_slice(&self.timestamp_usec.to_le_bytes());
        b[424..428].copy_from_slice(&self.status.to_le_bytes());
        b[428..432].copy_from_slice(&self.block_size.to_le_bytes());
        b[432..436].copy_from_slice(&self.sub_hdr_size.to_le_bytes());
        b[436..440].copy_from_slice(&self.bitmap_blocks.to_le_bytes());
        b[440..444].copy_from_slice(&self.max_mapnr.to_le_bytes());
        b[444..448].copy_from_slice(&self.total_ram_blocks.to_le_bytes());
        b[448..452].copy_from_slice(&self.device_blocks.to_le_bytes());
        b[452..456].copy_from_slice(&self.written_blocks.to_le_bytes());
        b[456..460].copy_from_slice(&self.current_cpu.to_le_bytes());
        b[460..464].copy_from_slice(&self.nr_cpus.to_le_bytes());
        b
    }
}

/// `struct kdump_sub_header` (104 bytes at offset `block_size`). Fields that the file's
/// header version does not have are zero after [`KdumpSubHeader::parse_for_version`].
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct KdumpSubHeader {
    /// phys_base of the crashed kernel (may be "negative", as on KASLR'd x86_64).
    pub phys_base: u64,
    /// makedumpfile's dump level (version 1+).
    pub dump_level: i32,
    /// Non-zero in a split file (version 2+).
    pub split: i32,
    /// First pfn in this split file (version 2+, 32-bit form).
    pub start_pfn: u64,
    /// End pfn (exclusive) in this split file (version 2+, 32-bit form).
    pub end_pfn: u64,
    /// File offset of the VMCOREINFO text (version 3+).
    pub offset_vmcoreinfo: u64,
    /// Size of the VMCOREINFO text (version 3+).
    pub size_vmcoreinfo: u64,
    /// File offset of the ELF note blob (version 4+).
    pub offset_note: u64,
    /// Size of the ELF note blob (version 4+).
    pub size_note: u64,
    /// File offset of erase info (version 5+).
    pub offset_eraseinfo: u64,
    /// Size of erase info (version 5+).
    pub size_eraseinfo: u64,
    /// 64-bit start pfn (version 6+).
    pub start_pfn_64: u64,
    /// 64-bit end pfn (version 6+).
    pub end_pfn_64: u64,
    /// 64-bit number of page frames (version 6+).
    pub max_mapnr_64: u64,
}

impl KdumpSubHeader {
    /// Size on disk (version 6).
    pub const SIZE: usize = 104;

    /// Decode all 104 bytes regardless of version.
    pub fn parse(b: &[u8]) -> Option<Self> {
        Self::parse_for_version(b, 6)
    }

    /// Decode, zeroing the fields that `header_version` does not define.
    pub fn parse_for_version(b: &[u8], header_version: i32) -> Option<Self> {
        if b.len() < Self::SIZE {
            return None;
        }
        let v = header_version;
        let g = |min: i32, o: usize| if v >= min { le_u64(b, o) } else { 0 };
        Some(KdumpSubHeader {
            phys_base: le_u64(b, 0),
            dump_level: if v >= 1 { le_i32(b, 8) } else { 0 },
            split: if v >= 2 { le_i32(b, 12) } else { 0 },
            start_pfn: g(2, 16),
            end_pfn: g(2, 24),
            offset_vmcoreinfo: g(3, 32),
            size_vmcoreinfo: g(3, 40),
            offset_note: g(4, 48),
            size_note: g(4, 56),
            offset_eraseinfo: g(5, 64),
            size_eraseinfo: g(5, 72),
            start_pfn_64: g(6, 80),
            end_pfn_64: g(6, 88),
            max_mapnr_64: g(6, 96),
        })
    }

    /// Encode to exactly [`Self::SIZE`] bytes.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..8].copy_from_slice(&self.phys_base.to_le_bytes());
        b[8..12].copy_from_slice(&self.dump_level.to_le_bytes());
        b[12..16].copy_from_slice(&self.split.to_le_bytes());
        let rest = [
            self.start_pfn,
            self.end_pfn,
            self.offset_vmcoreinfo,
            self.size_vmcoreinfo,
            self.offset_note,
            self.size_note,
            self.offset_eraseinfo,
            self.size_eraseinfo,
            self.start_pfn_64,
            self.end_pfn_64,
            self.max_mapnr_64,
        ];
        for (i, v) in rest.iter().enumerate() {
            b[16 + 8 * i..24 + 8 * i].copy_from_slice(&v.to_le_bytes());
        }
        b
    }
}

/// `struct page_desc` (24 bytes per dumped page).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct PageDesc {
    /// File offset of the page data.
    pub offset: i64,
    /// Size of the (possibly compressed) data.
    pub size: u32,
    /// Compression bit used (`DUMP_DH_COMPRESSED_*`), 0 = stored raw.
    pub flags: u32,
    /// Unused (0).
    pub page_flags: u64,
}

impl PageDesc {
    /// Size on disk.
    pub const SIZE: usize = 24;

    /// Decode from the first 24 bytes of `b`.
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < Self::SIZE {
            return None;
        }
        Some(PageDesc {
            offset: le_i64(b, 0),
            size: le_u32(b, 8),
            flags: le_u32(b, 12),
            page_flags: le_u64(b, 16),
        })
    }

    /// Encode to 24 bytes.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..8].copy_from_slice(&self.offset.to_le_bytes());
        b[8..12].copy_from_slice(&self.size.to_le_bytes());
        b[12..16].copy_from_slice(&self.flags.to_le_bytes());
        b[16..24].copy_from_slice(&self.page_flags.to_le_bytes());
        b
    }
}

/// Signature at the start of a flattened stream (`makedumpfile -F`).
pub const FLAT_SIGNATURE: [u8; 12] = *b"makedumpfile";
/// Size of the flattened stream's header block.
pub const FLAT_HEADER_SIZE: usize = 4096;
/// `type` field of the flattened header.
pub const FLAT_TYPE: i64 = 1;
/// `version` field of the flattened header.
pub const FLAT_VERSION: i64 = 1;
/// Offset and size marking the end of a flattened stream.
pub const FLAT_END: i64 = -1;

/// The flattened stream header: `{signature[16], type, version}` (big-endian), padded to 4096.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FlatHeader {
    /// 1 for makedumpfile.
    pub ty: i64,
    /// 1 for makedumpfile.
    pub version: i64,
}

impl FlatHeader {
    /// Decode; `None` if the signature is not "makedumpfile" or `b` is short.
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < 32 || b[..12] != FLAT_SIGNATURE || b[12..16].iter().any(|&c| c != 0) {
            return None;
        }
        Some(FlatHeader {
            ty: be_i64(b, 16),
            version: be_i64(b, 24),
        })
    }
    /// Encode the full 4096-byte header block.
    pub fn to_block(&self) -> Vec<u8> {
        let mut b = vec![0u8; FLAT_HEADER_SIZE];
        b[..12].copy_from_slice(&FLAT_SIGNATURE);
        b[16..24].copy_from_slice(&self.ty.to_be_bytes());
        b[24..32].copy_from_slice(&self.version.to_be_bytes());
        b
    }
}

impl Default for FlatHeader {
    fn default() -> Self {
        FlatHeader {
            ty: FLAT_TYPE,
            version: FLAT_VERSION,
        }
    }
}

/// One flattened record header `{offset, size}` (big-endian); `size` bytes follow.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FlatRecord {
    /// Offset in the reassembled file, or -1 at the end.
    pub offset: i64,
    /// Number of data bytes following, or -1 at the end.
    pub size: i64,
}

impl FlatRecord {
    /// Size on disk.
    pub const SIZE: usize = 16;
    /// Decode from 16 bytes.
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < Self::SIZE {
            return None;
        }
        Some(FlatRecord {
            offset: be_i64(b, 0),
            size: be_i64(b, 8),
        })
    }
    /// Encode to 16 bytes.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[..8].copy_from_slice(&self.offset.to_be_bytes());
        b[8..].copy_from_slice(&self.size.to_be_bytes());
        b
    }
    /// True for the end marker.
    pub fn is_end(&self) -> bool {
        self.offset == FLAT_END && self.size == FLAT_END
    }
}

/// Bytes of one bitmap for `max_mapnr` frames, rounded up to whole blocks.
pub fn bitmap_bytes(max_mapnr: u64, block_size: u64) -> Option<u64> {
    let bytes = max_mapnr.div_ceil(8);
    let blocks = bytes.checked_add(block_size - 1)? / block_size;
    blocks.checked_mul(block_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_offsets() {
        let mut h = DiskDumpHeader {
            signature: KDUMP_SIGNATURE,
            header_version: 6,
            timestamp_sec: 0x6b07b2ce,
            status: 1,
            block_size: 4096,
            sub_hdr_size: 2,
            bitmap_blocks: 16,
            max_mapnr: 0x3ffda,
            nr_cpus: 2,
            ..Default::default()
        };
        h.utsname.set_field(2, "6.1.0-56-amd64");
        let b = h.to_bytes();
        assert_eq!(&b[0x198..0x19c], &[0xce, 0xb2, 0x07, 0x6b]);
        assert_eq!(&b[0x1b8..0x1bc], &[0xda, 0xff, 0x03, 0x00]);
        assert_eq!(b[12 + 2 * 65], b'6');
        assert_eq!(DiskDumpHeader::parse(&b).unwrap(), h);
        assert_eq!(h.utsname.release(), "6.1.0-56-amd64");
        assert!(DiskDumpHeader::parse(&b[..463]).is_none());
    }

    #[test]
    fn sub_header_versions() {
        let s = KdumpSubHeader {
            phys_base: 1,
            dump_level: 31,
            split: 1,
            start_pfn: 2,
            end_pfn: 3,
            offset_vmcoreinfo: 4,
            size_vmcoreinfo: 5,
            offset_note: 6,
            size_note: 7,
            offset_eraseinfo: 8,
            size_eraseinfo: 9,
            start_pfn_64: 10,
            end_pfn_64: 11,
            max_mapnr_64: 12,
        };
        let b = s.to_bytes();
        assert_eq!(KdumpSubHeader::parse(&b).unwrap(), s);
        let v3 = KdumpSubHeader::parse_for_version(&b, 3).unwrap();
        assert_eq!(v3.size_vmcoreinfo, 5);
        assert_eq!(v3.offset_note, 0);
        assert_eq!(v3.max_mapnr_64, 0);
    }

    #[test]
    fn flat_records_are_big_endian() {
        let r = FlatRecord {
            offset: 0x1000,
            size: 24,
        };
        assert_eq!(&r.to_bytes()[..8], &[0, 0, 0, 0, 0, 0, 0x10, 0]);
        assert!(FlatRecord {
            offset: -1,
            size: -1
        }
        .is_end());
        let h = FlatHeader::default().to_block();
        assert_eq!(FlatHeader::parse(&h), Some(FlatHeader::default()));
    }

    #[test]
    fn bitmap_size() {
        assert_eq!(bitmap_bytes(0x3ffda, 4096), Some(8 * 4096));
        assert_eq!(bitmap_bytes(0, 4096), Some(0));
        assert_eq!(bitmap_bytes(1, 4096), Some(4096));
    }
}
