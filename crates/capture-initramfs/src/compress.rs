//! Image compression the target kernel can unpack, and the decoders for compressed modules
//! and firmware (`.xz`, `.zst`, `.gz`).

use crate::error::{Error, Result};
use std::io::{Read, Write};

/// How the whole image is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// A plain cpio archive (every kernel with CONFIG_BLK_DEV_INITRD reads it).
    None,
    /// gzip (CONFIG_RD_GZIP), level 9, with no name and mtime 0 in the header.
    Gzip,
    /// zstd (CONFIG_RD_ZSTD), level 19, one frame with its content size and checksum.
    Zstd,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0];

impl Compression {
    /// Choose from the text of the target kernel's `/boot/config-VERSION`: zstd when
    /// `CONFIG_RD_ZSTD=y`, else gzip when `CONFIG_RD_GZIP=y`, else none. An error when the
    /// kernel has no initramfs support (`CONFIG_BLK_DEV_INITRD` not `y`).
    ///
    /// ```
    /// use capture_initramfs::Compression;
    /// let c = Compression::for_kernel_config("CONFIG_BLK_DEV_INITRD=y\nCONFIG_RD_GZIP=y\nCONFIG_RD_ZSTD=y\n");
    /// assert_eq!(c.unwrap(), Compression::Zstd);
    /// assert!(Compression::for_kernel_config("# CONFIG_BLK_DEV_INITRD is not set\n").is_err());
    /// ```
    pub fn for_kernel_config(text: &str) -> Result<Self> {
        let is_y = |key: &str| {
            text.lines()
                .filter_map(|l| l.trim().strip_prefix(key))
                .any(|rest| rest.trim() == "=y")
        };
        if !is_y("CONFIG_BLK_DEV_INITRD") {
            return Err(Error::KernelConfig(
                "CONFIG_BLK_DEV_INITRD is not =y: this kernel cannot unpack an initramfs".into(),
            ));
        }
        Ok(if is_y("CONFIG_RD_ZSTD") {
            Compression::Zstd
        } else if is_y("CONFIG_RD_GZIP") {
            Compression::Gzip
        } else {
            Compression::None
        })
    }

    /// Recognise an image by its first bytes (anything not gzip or zstd is taken as plain).
    pub fn detect(data: &[u8]) -> Self {
        if data.starts_with(ZSTD_MAGIC) {
            Compression::Zstd
        } else if data.starts_with(GZIP_MAGIC) {
            Compression::Gzip
        } else {
            Compression::None
        }
    }

    /// The name used in messages and `--list` (`none`, `gzip`, `zstd`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// Compress `data` into `out`. The same input always gives the same bytes.
    pub fn compress_to<W: Write>(self, data: &[u8], mut out: W) -> Result<W> {
        match self {
            Compression::None => {
                out.write_all(data).map_err(Error::Write)?;
            }
            Compression::Gzip => {
                // No file name, mtime 0, OS "unknown": nothing from the build host.
                let mut enc = flate2::GzBuilder::new()
                    .mtime(0)
                    .operating_system(255)
                    .write(out, flate2::Compression::best());
                enc.write_all(data).map_err(Error::Write)?;
                out = enc.finish().map_err(Error::Write)?;
            }
            Compression::Zstd => {
                let mut enc = zstd::stream::write::Encoder::new(out, 19).map_err(Error::Write)?;
                enc.include_checksum(true).map_err(Error::Write)?;
                enc.include_contentsize(true).map_err(Error::Write)?;
                enc.set_pledged_src_size(Some(data.len() as u64))
                    .map_err(Error::Write)?;
                enc.write_all(data).map_err(Error::Write)?;
                out = enc.finish().map_err(Error::Write)?;
            }
        }
        out.flush().map_err(Error::Write)?;
        Ok(out)
    }

    /// Decompress a whole image (as [`Compression::detect`] says) into at most `limit` bytes.
    pub fn decompress_image(data: &[u8], limit: u64) -> Result<Vec<u8>> {
        match Self::detect(data) {
            Compression::None => {
                if data.len() as u64 > limit {
                    return Err(Error::limit("image", data.len() as u64, limit));
                }
                Ok(data.to_vec())
            }
            Compression::Gzip => {
                read_limited(flate2::read::MultiGzDecoder::new(data), "image", limit)
            }
            Compression::Zstd => {
                let dec =
                    zstd::stream::read::Decoder::new(data).map_err(|e| Error::Decompress {
                        what: "image".into(),
                        why: e.to_string(),
                    })?;
                read_limited(dec, "image", limit)
            }
        }
    }
}

fn read_limited<R: Read>(r: R, what: &str, limit: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    r.take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| Error::Decompress {
            what: what.into(),
            why: e.to_string(),
        })?;
    if out.len() as u64 > limit {
        return Err(Error::limit(
            format!("{what} decompressed"),
            out.len() as u64,
            limit,
        ));
    }
    Ok(out)
}

/// A `Write` that refuses to grow past a bound (for decoders that push their output).
struct LimitedVec {
    buf: Vec<u8>,
    limit: usize,
}

impl Write for LimitedVec {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.buf.len().saturating_add(b.len()) > self.limit {
            return Err(std::io::Error::other("output over the size limit"));
        }
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How a module or firmware file is compressed, from its name (`.xz`, `.zst`, `.gz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileCodec {
    Plain,
    Xz,
    Zstd,
    Gzip,
}

impl FileCodec {
    pub(crate) fn of(name: &str) -> Self {
        if name.ends_with(".xz") {
            FileCodec::Xz
        } else if name.ends_with(".zst") {
            FileCodec::Zstd
        } else if name.ends_with(".gz") {
            FileCodec::Gzip
        } else {
            FileCodec::Plain
        }
    }

    /// The name without the compression suffix.
    pub(crate) fn strip(name: &str) -> &str {
        for s in [".xz", ".zst", ".gz"] {
            if let Some(n) = name.strip_suffix(s) {
                return n;
            }
        }
        name
    }
}

/// Decompress a file's bytes according to its name's suffix (`.xz`, `.zst`, `.gz`, or
/// none), into at most `limit` bytes. `what` names the file in errors.
///
/// xz is decoded by `lzma-rs` (pure Rust); the magic is checked first so a mislabelled file
/// is reported as such.
pub fn decompress_file(name: &str, data: Vec<u8>, limit: u64) -> Result<Vec<u8>> {
    let err = |why: String| Error::Decompress {
        what: name.to_string(),
        why,
    };
    match FileCodec::of(name) {
        FileCodec::Plain => {
            if data.len() as u64 > limit {
                return Err(Error::limit(name.to_string(), data.len() as u64, limit));
            }
            Ok(data)
        }
        FileCodec::Gzip => read_limited(flate2::read::GzDecoder::new(&data[..]), name, limit),
        FileCodec::Zstd => {
            let dec =
                zstd::stream::read::Decoder::new(&data[..]).map_err(|e| err(e.to_string()))?;
            read_limited(dec, name, limit)
        }
        FileCodec::Xz => {
            if !data.starts_with(XZ_MAGIC) {
                return Err(err("no xz magic".into()));
            }
            let mut out = LimitedVec {
                buf: Vec::new(),
                limit: usize::try_from(limit).unwrap_or(usize::MAX),
            };
            let mut input = &data[..];
            lzma_rs::xz_decompress(&mut input, &mut out).map_err(|e| err(format!("{e:?}")))?;
            Ok(out.buf)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_choice() {
        let base = "CONFIG_BLK_DEV_INITRD=y\n";
        assert_eq!(
            Compression::for_kernel_config(&format!(
                "{base}CONFIG_RD_GZIP=y\n# CONFIG_RD_ZSTD is not set\n"
            ))
            .unwrap(),
            Compression::Gzip
        );
        assert_eq!(
            Compression::for_kernel_config(&format!("{base}CONFIG_RD_ZSTD=y\nCONFIG_RD_GZIP=y\n"))
                .unwrap(),
            Compression::Zstd
        );
        assert_eq!(
            Compression::for_kernel_config(base).unwrap(),
            Compression::None
        );
        // a prefix of another option must not count
        assert_eq!(
            Compression::for_kernel_config(&format!("{base}CONFIG_RD_ZSTDX=y\n")).unwrap(),
            Compression::None
        );
        assert!(Compression::for_kernel_config("CONFIG_RD_GZIP=y\n").is_err());
    }

    #[test]
    fn roundtrip_and_determinism() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let a = c.compress_to(&data, Vec::new()).unwrap();
            let b = c.compress_to(&data, Vec::new()).unwrap();
            assert_eq!(a, b, "{c:?}");
            assert_eq!(Compression::detect(&a), c);
            assert_eq!(Compression::decompress_image(&a, 100_000).unwrap(), data);
            assert!(Compression::decompress_image(&a, 99_999).is_err());
        }
        let gz = Compression::Gzip.compress_to(b"x", Vec::new()).unwrap();
        assert_eq!(
            &gz[3..10],
            &[0, 0, 0, 0, 0, 2, 255],
            "flags, mtime 0, xfl, OS unknown"
        );
    }

    #[test]
    fn host_tools_read_our_output() {
        let data = b"capture-initramfs\n".repeat(1000);
        for (c, tool) in [(Compression::Gzip, "gzip"), (Compression::Zstd, "zstd")] {
            let bytes = c.compress_to(&data, Vec::new()).unwrap();
            let Ok(mut child) = std::process::Command::new(tool)
                .args(["-dc"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
            else {
                test_skip::skip(
                    "host tools",
                    format!("no {tool} (cargo xtask setup installs it)"),
                );
                continue;
            };
            child.stdin.take().unwrap().write_all(&bytes).unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{tool}");
            assert_eq!(out.stdout, data, "{tool}");
        }
    }

    #[test]
    fn file_codecs_against_host_tools() {
        let data = b"\x7fELF module bytes ".repeat(500);
        for (tool, ext) in [("xz", "xz"), ("zstd", "zst"), ("gzip", "gz")] {
            let mut args = vec!["-c"];
            if tool == "xz" {
                args.push("--check=crc32"); // as kmod's modules are made
            }
            let Ok(mut child) = std::process::Command::new(tool)
                .args(&args)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
            else {
                test_skip::skip(
                    "host tools",
                    format!("no {tool} (cargo xtask setup installs it)"),
                );
                continue;
            };
            child.stdin.take().unwrap().write_all(&data).unwrap();
            let packed = child.wait_with_output().unwrap().stdout;
            let name = format!("m.ko.{ext}");
            assert_eq!(
                decompress_file(&name, packed.clone(), 1 << 20).unwrap(),
                data,
                "{tool}"
            );
            assert!(
                decompress_file(&name, packed.clone(), 100).is_err(),
                "{tool} limit"
            );
            assert!(
                decompress_file(&name, packed[..packed.len() / 2].to_vec(), 1 << 20).is_err(),
                "{tool} truncated"
            );
        }
        assert!(decompress_file("a.ko.xz", b"not xz".to_vec(), 100).is_err());
        assert_eq!(FileCodec::strip("a.ko.zst"), "a.ko");
    }
}
