//! A minimal cpio "newc" (SVR4, no CRC) archive writer: what the kernel unpacks as initramfs.

use std::io::{self, Write};

/// One archive member.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A directory.
    Dir { mode: u32 },
    /// A regular file with its bytes.
    File { mode: u32, data: Vec<u8> },
    /// A symbolic link to `target`.
    Symlink { target: String },
}

/// Writes newc records; call [`Writer::finish`] to append the trailer.
pub struct Writer<W: Write> {
    out: W,
    ino: u32,
    written: u64,
}

impl<W: Write> Writer<W> {
    /// Start an archive.
    pub fn new(out: W) -> Self {
        Writer {
            out,
            ino: 1,
            written: 0,
        }
    }

    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.written += b.len() as u64;
        Ok(())
    }

    fn pad4(&mut self) -> io::Result<()> {
        let pad = (4 - (self.written % 4) as usize) % 4;
        self.put(&[0u8; 3][..pad])
    }

    fn record(&mut self, name: &str, mode: u32, nlink: u32, data: &[u8]) -> io::Result<()> {
        let size = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "cpio member over 4 GiB"))?;
        let namesize = u32::try_from(name.len() + 1)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "cpio name too long"))?;
        let ino = self.ino;
        self.ino += 1;
        // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
        // rdevmajor, rdevminor, namesize, check
        let header = format!(
            "070701{ino:08x}{mode:08x}{:08x}{:08x}{nlink:08x}{:08x}{size:08x}{:08x}{:08x}{:08x}{:08x}{namesize:08x}{:08x}",
            0, 0, 0, 0, 0, 0, 0, 0
        );
        self.put(header.as_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad4()?;
        self.put(data)?;
        self.pad4()
    }

    /// Append one member; `path` is relative to the archive root (no leading `/`).
    pub fn add(&mut self, path: &str, entry: &Entry) -> io::Result<()> {
        let path = path.trim_start_matches('/');
        match entry {
            Entry::Dir { mode } => self.record(path, 0o040000 | (mode & 0o7777), 2, &[]),
            Entry::File { mode, data } => self.record(path, 0o100000 | (mode & 0o7777), 1, data),
            Entry::Symlink { target } => self.record(path, 0o120777, 1, target.as_bytes()),
        }
    }

    /// Write the `TRAILER!!!` record and return the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.record("TRAILER!!!", 0, 1, &[])?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_newc() {
        let mut w = Writer::new(Vec::new());
        w.add(
            "/init",
            &Entry::File {
                mode: 0o755,
                data: b"hi\n".to_vec(),
            },
        )
        .unwrap();
        let out = w.finish().unwrap();
        assert_eq!(&out[..6], b"070701");
        // header 110 bytes + "init\0" (5) = 115 → padded to 116, then 3 data bytes + 1 pad
        assert_eq!(&out[110..115], b"init\0");
        assert_eq!(&out[116..119], b"hi\n");
        assert_eq!(out.len() % 4, 0);
        let mode = u32::from_str_radix(std::str::from_utf8(&out[14..22]).unwrap(), 16).unwrap();
        assert_eq!(mode, 0o100755);
        let size = u32::from_str_radix(std::str::from_utf8(&out[54..62]).unwrap(), 16).unwrap();
        assert_eq!(size, 3);
        // the trailer follows
        assert_eq!(&out[120..126], b"070701");
        assert!(out.windows(10).any(|w| w == b"TRAILER!!!"));
    }

    #[test]
    fn host_cpio_reads_it() {
        if !crate::util::have_exe("cpio") {
            return test_skip::skip("host_cpio_reads_it", "no cpio");
        }
        let mut w = Writer::new(Vec::new());
        w.add("bin", &Entry::Dir { mode: 0o755 }).unwrap();
        w.add(
            "bin/a",
            &Entry::File {
                mode: 0o644,
                data: vec![7; 1001],
            },
        )
        .unwrap();
        w.add("bin/b", &Entry::Symlink { target: "a".into() })
            .unwrap();
        let out = w.finish().unwrap();
        let mut child = std::process::Command::new("cpio")
            .args(["-t", "-v", "--quiet"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&out).unwrap();
        let listing = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
        assert!(listing.contains("1001"), "{listing}");
        assert!(listing.contains("bin/b -> a"), "{listing}");
    }
}
