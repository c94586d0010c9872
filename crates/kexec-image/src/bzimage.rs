//! The x86 boot protocol's setup header of a bzImage, parsed and checked for 64-bit kexec.

use crate::Error;

/// Offset of the setup header in the image and in boot_params.
pub const SETUP_HEADER_OFFSET: usize = 0x1f1;
/// "HdrS", the setup header magic at 0x202.
pub const HDRS_MAGIC: u32 = 0x5372_6448;
/// Oldest boot protocol we load (2.12: xloadflags, 64-bit entry above 4 GiB).
pub const MIN_PROTOCOL: u16 = 0x020c;
/// xloadflags: the kernel has the legacy 64-bit entry point at load address + 0x200.
pub const XLF_KERNEL_64: u16 = 1 << 0;
/// xloadflags: kernel, boot_params, command line and initrd may be above 4 GiB.
pub const XLF_CAN_BE_LOADED_ABOVE_4G: u16 = 1 << 1;
/// Offset of the 64-bit entry point from the protected-mode load address.
pub const ENTRY64_OFFSET: u64 = 0x200;

/// The fields of the setup header this loader uses (boot protocol 2.12+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetupHeader {
    /// Sectors of real-mode setup code after the boot sector (0 means 4).
    pub setup_sects: u8,
    /// Boot protocol version (0x020f = 2.15).
    pub version: u16,
    /// loadflags (bit 0: LOADED_HIGH).
    pub loadflags: u8,
    /// Highest address the initrd may end at (inclusive).
    pub initrd_addr_max: u32,
    /// Physical alignment a relocatable kernel needs.
    pub kernel_alignment: u32,
    /// Non-zero when the kernel can run at any aligned address.
    pub relocatable_kernel: u8,
    /// 64-bit capability flags.
    pub xloadflags: u16,
    /// Longest command line, excluding the NUL.
    pub cmdline_size: u32,
    /// Offset of the compressed payload from the protected-mode code.
    pub payload_offset: u32,
    /// Length of the compressed payload.
    pub payload_length: u32,
    /// Preferred load address.
    pub pref_address: u64,
    /// Bytes the kernel needs from its load address until it has relocated itself.
    pub init_size: u32,
}

/// A parsed bzImage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BzImage<'a> {
    /// The setup header.
    pub header: SetupHeader,
    /// The raw setup header bytes (0x1f1 up to the end given by the jump at 0x200), copied
    /// into boot_params.
    pub header_bytes: &'a [u8],
    /// The protected-mode kernel (what gets loaded).
    pub kernel: &'a [u8],
}

fn u8at(b: &[u8], o: usize) -> Result<u8, Error> {
    b.get(o).copied().ok_or(Error::Truncated {
        what: "setup header",
        offset: o as u64,
    })
}
fn u16at(b: &[u8], o: usize) -> Result<u16, Error> {
    Ok(u16::from_le_bytes([u8at(b, o)?, u8at(b, o + 1)?]))
}
fn u32at(b: &[u8], o: usize) -> Result<u32, Error> {
    Ok(u32::from_le_bytes([
        u8at(b, o)?,
        u8at(b, o + 1)?,
        u8at(b, o + 2)?,
        u8at(b, o + 3)?,
    ]))
}
fn u64at(b: &[u8], o: usize) -> Result<u64, Error> {
    Ok((u32at(b, o)? as u64) | ((u32at(b, o + 4)? as u64) << 32))
}

/// Parse and check a bzImage for 64-bit loading.
pub fn parse(image: &[u8]) -> Result<BzImage<'_>, Error> {
    let not = |why: String| Error::NotBzImage(why);
    if image.len() < 0x270 {
        return Err(not(format!(
            "{} bytes is too short for a setup header",
            image.len()
        )));
    }
    if u16at(image, 0x1fe)? != 0xaa55 {
        return Err(not("no 0xAA55 boot flag at 0x1fe".into()));
    }
    if u32at(image, 0x202)? != HDRS_MAGIC {
        return Err(not("no \"HdrS\" magic at 0x202".into()));
    }
    let version = u16at(image, 0x206)?;
    if version < MIN_PROTOCOL {
        return Err(Error::Unsupported(format!(
            "boot protocol {}.{:02} is older than 2.12 (no 64-bit entry information)",
            version >> 8,
            version & 0xff
        )));
    }
    let mut setup_sects = u8at(image, 0x1f1)?;
    if setup_sects == 0 {
        setup_sects = 4;
    }
    let h = SetupHeader {
        setup_sects,
        version,
        loadflags: u8at(image, 0x211)?,
        initrd_addr_max: u32at(image, 0x22c)?,
        kernel_alignment: u32at(image, 0x230)?,
        relocatable_kernel: u8at(image, 0x234)?,
        xloadflags: u16at(image, 0x236)?,
        cmdline_size: u32at(image, 0x238)?,
        payload_offset: u32at(image, 0x248)?,
        payload_length: u32at(image, 0x24c)?,
        pref_address: u64at(image, 0x258)?,
        init_size: u32at(image, 0x260)?,
    };
    if h.xloadflags & XLF_KERNEL_64 == 0 {
        return Err(Error::Unsupported(
            "xloadflags lacks XLF_KERNEL_64: no 64-bit entry point".into(),
        ));
    }
    if h.kernel_alignment == 0 || !h.kernel_alignment.is_power_of_two() {
        return Err(Error::Unsupported(format!(
            "kernel_alignment {:#x} is not a power of two",
            h.kernel_alignment
        )));
    }
    // The header ends where the jump at 0x200 lands: 0x202 + the jump's byte offset.
    let hdr_end = 0x202 + u8at(image, 0x201)? as usize;
    let hdr_end = hdr_end.clamp(0x26c, 0x290);
    let setup_len = (setup_sects as usize + 1) * 512;
    if setup_len >= image.len() {
        return Err(Error::Truncated {
            what: "protected-mode kernel",
            offset: setup_len as u64,
        });
    }
    let kernel = &image[setup_len..];
    let payload_end = (h.payload_offset as u64).saturating_add(h.payload_length as u64);
    if payload_end > kernel.len() as u64 {
        return Err(Error::Truncated {
            what: "compressed payload",
            offset: setup_len as u64 + payload_end,
        });
    }
    if (h.init_size as usize) < kernel.len() {
        return Err(Error::Unsupported(format!(
            "init_size {:#x} is smaller than the {:#x}-byte kernel",
            h.init_size,
            kernel.len()
        )));
    }
    Ok(BzImage {
        header: h,
        header_bytes: &image[SETUP_HEADER_OFFSET..hdr_end],
        kernel,
    })
}

/// True when `image` looks like a bzImage (the magic numbers), whatever its version.
pub fn looks_like(image: &[u8]) -> bool {
    u16at(image, 0x1fe).ok() == Some(0xaa55) && u32at(image, 0x202).ok() == Some(HDRS_MAGIC)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal valid bzImage: 1 setup sector, protocol 2.15, 64-bit, relocatable.
    pub(crate) fn crafted(kernel_len: usize) -> Vec<u8> {
        let mut v = vec![0u8; 1024 + kernel_len];
        v[0x1f1] = 1;
        v[0x1fe..0x200].copy_from_slice(&0xaa55u16.to_le_bytes());
        v[0x200] = 0xeb;
        v[0x201] = 0x6a;
        v[0x202..0x206].copy_from_slice(&HDRS_MAGIC.to_le_bytes());
        v[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        v[0x211] = 1;
        v[0x22c..0x230].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        v[0x230..0x234].copy_from_slice(&0x20_0000u32.to_le_bytes());
        v[0x234] = 1;
        v[0x236..0x238].copy_from_slice(&3u16.to_le_bytes());
        v[0x238..0x23c].copy_from_slice(&2048u32.to_le_bytes());
        v[0x258..0x260].copy_from_slice(&0x100_0000u64.to_le_bytes());
        v[0x260..0x264].copy_from_slice(
            &((kernel_len as u32 + 0xfff) & !0xfff)
                .max(0x10000)
                .to_le_bytes(),
        );
        for (i, b) in v[1024..].iter_mut().enumerate() {
            *b = (i * 7) as u8;
        }
        v
    }

    #[test]
    fn crafted_images() {
        let good = crafted(5000);
        let b = parse(&good).unwrap();
        assert_eq!(b.kernel.len(), 5000);
        assert_eq!(b.header.version, 0x020f);
        // Each crafted defect is refused with its own reason.
        let mut old = good.clone();
        old[0x206..0x208].copy_from_slice(&0x020bu16.to_le_bytes());
        assert!(matches!(parse(&old), Err(Error::Unsupported(m)) if m.contains("2.11")));
        let mut no64 = good.clone();
        no64[0x236] = 0;
        assert!(matches!(parse(&no64), Err(Error::Unsupported(m)) if m.contains("XLF_KERNEL_64")));
        let mut nomagic = good.clone();
        nomagic[0x202] = b'X';
        assert!(matches!(parse(&nomagic), Err(Error::NotBzImage(_))));
        let mut huge_setup = good.clone();
        huge_setup[0x1f1] = 200;
        assert!(matches!(parse(&huge_setup), Err(Error::Truncated { .. })));
        let mut payload = good.clone();
        payload[0x24c..0x250].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(parse(&payload), Err(Error::Truncated { .. })));
        let mut align = good.clone();
        align[0x230..0x234].copy_from_slice(&0x3000u32.to_le_bytes());
        assert!(parse(&align).is_err());
        assert!(parse(&good[..0x200]).is_err());
    }

    pub(crate) fn real_kernels() -> Vec<std::path::PathBuf> {
        // The kernels `cargo xtask` caches, and those of the shell lab when present.
        let mut v = test_skip::cached_kernels();
        for d in ["/tmp/vmlab/kernel/boot", "/tmp/k612/boot"] {
            if let Ok(rd) = std::fs::read_dir(d) {
                for e in rd.flatten() {
                    if e.file_name().to_string_lossy().starts_with("vmlinuz-") {
                        v.push(e.path());
                    }
                }
            }
        }
        v.sort();
        v.dedup();
        v
    }

    #[test]
    fn real_debian_kernels() {
        let ks = real_kernels();
        if ks.is_empty() {
            return test_skip::skip(
                "real_debian_kernels",
                "no vmlinuz in ~/.cache/kdump-rs/kernels (`cargo xtask fixtures` downloads them)",
            );
        }
        for k in ks {
            let bytes = std::fs::read(&k).unwrap();
            let b = parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", k.display()));
            let h = b.header;
            assert!(h.version >= 0x020f, "{}", k.display());
            assert_eq!(h.xloadflags & 3, 3);
            assert_eq!(h.relocatable_kernel, 1);
            assert_eq!(h.kernel_alignment, 0x20_0000);
            assert_eq!(h.pref_address, 0x100_0000);
            assert_eq!(h.cmdline_size, 2047);
            assert!(h.init_size as usize > b.kernel.len());
            // The compressed payload sits inside the protected-mode kernel and starts with a
            // known compressor magic (xz or zstd in Debian's builds).
            let p = &b.kernel[h.payload_offset as usize..][..6];
            assert!(
                p == b"\xfd7zXZ\0" || p[..4] == [0x28, 0xb5, 0x2f, 0xfd],
                "{}: payload {p:02x?}",
                k.display()
            );
            eprintln!(
                "{}: protocol {:#x} init_size {:#x} kernel {:#x}",
                k.display(),
                h.version,
                h.init_size,
                b.kernel.len()
            );
        }
    }
}
