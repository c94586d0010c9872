//! Just enough ELF64 for the lab: check a vmcore's header, read its VMCOREINFO note, and
//! make the copy of a QEMU dump that makedumpfile 1.7.2 can read.

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

const EHDR: usize = 64;
/// Notes larger than this are not a vmcore's (the kernel's are a few KiB per CPU).
const MAX_NOTES: u64 = 16 << 20;
/// More program headers than this are not a vmcore's.
const MAX_PHNUM: usize = 65_535;

fn u16le(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32le(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap_or([0; 4]))
}
fn u64le(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]))
}

struct Header {
    ehdr: [u8; EHDR],
    phoff: u64,
    phentsize: usize,
    phnum: usize,
    shnum: u16,
}

fn header(f: &mut File, path: &Path) -> Result<Header> {
    let mut ehdr = [0u8; EHDR];
    f.read_exact(&mut ehdr)
        .with_context(|| format!("{}: shorter than an ELF header", path.display()))?;
    if &ehdr[..4] != b"\x7fELF" || ehdr[4] != 2 || ehdr[5] != 1 {
        bail!("{}: not a little-endian ELF64 file", path.display());
    }
    let phentsize = u16le(&ehdr, 54) as usize;
    let phnum = u16le(&ehdr, 56) as usize;
    if phentsize != 56 || phnum == 0 || phnum > MAX_PHNUM {
        bail!(
            "{}: unexpected program headers (entsize {phentsize}, count {phnum})",
            path.display()
        );
    }
    Ok(Header {
        ehdr,
        phoff: u64le(&ehdr, 32),
        phentsize,
        phnum,
        shnum: u16le(&ehdr, 60),
    })
}

fn phdrs(f: &mut File, h: &Header) -> Result<Vec<u8>> {
    let mut ph = vec![0u8; h.phentsize * h.phnum];
    f.seek(SeekFrom::Start(h.phoff))?;
    f.read_exact(&mut ph).context("read program headers")?;
    Ok(ph)
}

/// The VMCOREINFO note's text, if the file has one.
pub fn vmcoreinfo(path: &Path) -> Result<Option<String>> {
    let mut f = File::open(path).with_context(|| format!("open {}", path.display()))?;
    let h = header(&mut f, path)?;
    let ph = phdrs(&mut f, &h)?;
    for i in 0..h.phnum {
        let p = &ph[i * 56..(i + 1) * 56];
        if u32le(p, 0) != 4 {
            continue; // not PT_NOTE
        }
        let (off, size) = (u64le(p, 8), u64le(p, 32));
        if size > MAX_NOTES {
            bail!("{}: PT_NOTE of {size} bytes", path.display());
        }
        let mut notes = vec![0u8; size as usize];
        f.seek(SeekFrom::Start(off))?;
        f.read_exact(&mut notes).context("read notes")?;
        let mut o = 0usize;
        while o + 12 <= notes.len() {
            let namesz = u32le(&notes, o) as usize;
            let descsz = u32le(&notes, o + 4) as usize;
            let name_end = o + 12 + namesz;
            let desc_start = o + 12 + namesz.div_ceil(4) * 4;
            let desc_end = desc_start.saturating_add(descsz);
            if name_end > notes.len() || desc_end > notes.len() {
                break;
            }
            let name = &notes[o + 12..name_end];
            if name.starts_with(b"VMCOREINFO") {
                let desc = &notes[desc_start..desc_end];
                return Ok(Some(String::from_utf8_lossy(desc).into_owned()));
            }
            o = desc_start + descsz.div_ceil(4) * 4;
        }
    }
    Ok(None)
}

/// A value of VMCOREINFO, e.g. `NUMBER(pgtable_l5_enabled)` or `OSRELEASE`.
pub fn vmcoreinfo_value<'a>(info: &'a str, key: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

/// Patch in place: move the program headers to offset 64 (right after the ELF header), drop
/// the section headers and set e_ehsize to 64. QEMU >= 7.2 puts two section headers at 64 and
/// the program headers behind them; makedumpfile 1.7.2 assumes phdrs at 64. Segment offsets
/// are absolute, so no data moves. Returns false when the file already had phdrs at 64.
pub fn fix_qemu_elf(path: &Path) -> Result<bool> {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("open {}", path.display()))?;
    let mut h = header(&mut f, path)?;
    if h.phoff == EHDR as u64 && h.shnum == 0 {
        return Ok(false);
    }
    let ph = phdrs(&mut f, &h)?;
    let first_data = (0..h.phnum)
        .map(|i| u64le(&ph, i * 56 + 8))
        .min()
        .unwrap_or(0);
    if (EHDR + ph.len()) as u64 > first_data {
        bail!(
            "{}: no room for {} program headers before offset {first_data}",
            path.display(),
            h.phnum
        );
    }
    h.ehdr[32..40].copy_from_slice(&(EHDR as u64).to_le_bytes()); // e_phoff
    h.ehdr[40..48].copy_from_slice(&0u64.to_le_bytes()); // e_shoff
    h.ehdr[52..54].copy_from_slice(&(EHDR as u16).to_le_bytes()); // e_ehsize
    h.ehdr[58..60].copy_from_slice(&0u16.to_le_bytes()); // e_shentsize
    h.ehdr[60..62].copy_from_slice(&0u16.to_le_bytes()); // e_shnum
    h.ehdr[62..64].copy_from_slice(&0u16.to_le_bytes()); // e_shstrndx
    f.seek(SeekFrom::Start(0))?;
    f.write_all(&h.ehdr)?;
    f.write_all(&ph)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ELF64 core like QEMU's: ehdr, 2 shdrs at 64, phdrs at 192, a note with VMCOREINFO.
    fn qemu_like() -> Vec<u8> {
        let mut f = vec![0u8; 4096];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[32..40].copy_from_slice(&192u64.to_le_bytes());
        f[40..48].copy_from_slice(&64u64.to_le_bytes());
        f[52..54].copy_from_slice(&8u16.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&1u16.to_le_bytes());
        f[58..60].copy_from_slice(&64u16.to_le_bytes());
        f[60..62].copy_from_slice(&2u16.to_le_bytes());
        // note at 1024
        let desc = b"OSRELEASE=6.1.0-56-amd64\nNUMBER(pgtable_l5_enabled)=1\n";
        let mut n = Vec::new();
        n.extend_from_slice(&11u32.to_le_bytes());
        n.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        n.extend_from_slice(&0u32.to_le_bytes());
        n.extend_from_slice(b"VMCOREINFO\0\0");
        n.extend_from_slice(desc);
        while n.len() % 4 != 0 {
            n.push(0);
        }
        f[1024..1024 + n.len()].copy_from_slice(&n);
        let ph = 192;
        f[ph..ph + 4].copy_from_slice(&4u32.to_le_bytes());
        f[ph + 8..ph + 16].copy_from_slice(&1024u64.to_le_bytes());
        f[ph + 32..ph + 40].copy_from_slice(&(n.len() as u64).to_le_bytes());
        f
    }

    #[test]
    fn fix_and_read_vmcoreinfo() {
        let dir = std::env::temp_dir().join(format!("xtask-elf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("core");
        std::fs::write(&p, qemu_like()).unwrap();
        let info = vmcoreinfo(&p).unwrap().unwrap();
        assert_eq!(vmcoreinfo_value(&info, "OSRELEASE"), Some("6.1.0-56-amd64"));
        assert!(fix_qemu_elf(&p).unwrap());
        let b = std::fs::read(&p).unwrap();
        assert_eq!(u64le(&b, 32), 64);
        assert_eq!(u16le(&b, 60), 0);
        assert_eq!(u32le(&b, 64), 4, "PT_NOTE now at offset 64");
        assert!(!fix_qemu_elf(&p).unwrap(), "second fix is a no-op");
        let info = vmcoreinfo(&p).unwrap().unwrap();
        assert_eq!(
            vmcoreinfo_value(&info, "NUMBER(pgtable_l5_enabled)"),
            Some("1")
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(vmcoreinfo(Path::new("/nonexistent")).is_err());
    }
}
