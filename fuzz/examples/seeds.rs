//! Reproducible seed inputs for the fuzz targets whose seeds are built rather than cut from
//! files: `cd fuzz && cargo run --release --example seeds [-- OUT_DIR]` (default: corpus/).
//!
//! - `printk/`: the newest records of the real printk ring buffers of the 6.1 and 6.12
//!   fixtures (descriptors, `printk_info`s and text blocks copied byte for byte), laid out as
//!   the target reads them (fuzz/bodies/printk.rs) in a 16-slot ring with a small text ring,
//!   plain and with a text block wrapping around the ring's end; `clear_seq` in the middle.
//!   Each seed is checked: the target's reader prints exactly the records the fixture's log
//!   ends with.
//! - `struct_page/`: real `struct page` arrays (4 KiB, 64 frames) from three places of the
//!   fixtures' memory maps, with the target's 4-byte header.
//! - `kdump_roundtrip/`: dump descriptions covering every codec, write faults and read errors.
//! - `kdump_target/`: ext4, XFS and btrfs superblock heads, a command line and /proc/cpuinfo.
//! - `bzimage/`, `elf_kernel/`: a small bzImage (kexec-image's synthetic one) and an ELF
//!   vmlinux with two PT_LOADs, both parsing, so the planner is reached from the seeds (the
//!   head of the real bzImage is truncated and does not parse).
//!
//! The fixtures are found through ~/.cache/kdump-rs/fixtures/manifest.json (or
//! $KDUMP_RS_FIXTURES/manifest.json, made by `cargo xtask fixtures`); without them the
//! fixture-based seeds are skipped with a message and the others are still written.

#[path = "../bodies/printk.rs"]
mod printk_body;

use std::path::{Path, PathBuf};
use vmcore::printk::{for_each_record, format_record, DmesgOptions, Record};
use vmcore::Vmcore;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "corpus".into()));
    match fixture_vmcores() {
        Ok(cores) => {
            for (name, path) in cores {
                let vm = Vmcore::open(&path)?;
                printk_seeds(&vm, &name, &out.join("printk"))?;
                struct_page_seeds(&vm, &name, &out.join("struct_page"))?;
            }
        }
        Err(why) => eprintln!("seeds: no fixtures ({why}): printk and struct_page seeds skipped"),
    }
    roundtrip_seeds(&out.join("kdump_roundtrip"))?;
    kernel_seeds(&out)?;
    target_seeds(&out.join("kdump_target"))?;
    Ok(())
}

/// (series, vmcore path) of the kdump fixtures of the manifest.
fn fixture_vmcores() -> Result<Vec<(String, PathBuf)>> {
    let dir = match std::env::var_os("KDUMP_RS_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var("HOME")?).join(".cache/kdump-rs/fixtures"),
    };
    let manifest = std::fs::read_to_string(dir.join("manifest.json"))
        .map_err(|e| format!("{}: {e}", dir.join("manifest.json").display()))?;
    let mut out = Vec::new();
    for series in ["6.1", "6.12"] {
        // "vmcore": "kdump-<series>/vmcore.elf" (the manifest's kdump fixture of that series)
        let want = format!("\"vmcore\": \"kdump-{series}/");
        let at = manifest
            .find(&want)
            .ok_or_else(|| format!("manifest has no kdump-{series} vmcore"))?;
        let rest = &manifest[at + "\"vmcore\": \"".len()..];
        let rel = &rest[..rest.find('"').ok_or("bad manifest")?];
        out.push((series.to_string(), dir.join(rel)));
    }
    Ok(out)
}

fn put(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(name), bytes)?;
    eprintln!("seeds: {}/{name}: {} bytes", dir.display(), bytes.len());
    Ok(())
}

const DESC_ID_MASK: u64 = !(3u64 << 62);
/// Layout of the seed memory (offsets from [`printk_body::PHYS`]).
const RB: usize = 0x20;
const DESCS: usize = 0x80;
const SLOTS: usize = 16;
const DESC_SIZE: usize = 24;
const INFO_SIZE: usize = 88;
const INFOS: usize = DESCS + SLOTS * DESC_SIZE;
const DATA: usize = INFOS + SLOTS * INFO_SIZE;

fn u64_at(vm: &Vmcore, va: u64) -> Result<u64> {
    Ok(vm.read_virt_u64(va)?)
}

/// One real record: descriptor state, `printk_info` bytes, text block payload.
struct RealRecord {
    id: u64,
    state_var: u64,
    info: Vec<u8>,
    text: Vec<u8>,
}

/// The newest `n` records (committed or finalized) of the fixture's ring buffer.
fn newest_records(vm: &Vmcore, n: usize) -> Result<Vec<RealRecord>> {
    let info = vm.require_vmcoreinfo()?;
    let sym = |s: &str| info.symbol(s).ok_or_else(|| format!("no SYMBOL({s})"));
    let rb = u64_at(vm, sym("prb")?)?;
    let count_bits = vm.read_virt_u32(rb)?;
    let descs = u64_at(vm, rb + 8)?;
    let infos = u64_at(vm, rb + 16)?;
    let head_id = u64_at(vm, rb + 24)?;
    let size_bits = vm.read_virt_u32(rb + 48)?;
    let data = u64_at(vm, rb + 56)?;
    let (count, size) = (1u64 << count_bits, 1u64 << size_bits);
    let mut out = Vec::new();
    let mut id = head_id;
    while out.len() < n {
        let slot = id % count;
        let d = descs + slot * DESC_SIZE as u64;
        let state_var = u64_at(vm, d)?;
        let state = state_var >> 62;
        if state_var & DESC_ID_MASK == id && (state == 1 || state == 2) {
            let mut inf = vec![0u8; INFO_SIZE];
            vm.read_virt(infos + slot * INFO_SIZE as u64, &mut inf)?;
            let text_len = u16::from_le_bytes([inf[16], inf[17]]) as u64;
            let (begin, next) = (u64_at(vm, d + 8)? % size, u64_at(vm, d + 16)? % size);
            let begin = if begin > next { 0 } else { begin };
            let len = text_len.min(next.saturating_sub(begin + 8));
            let mut text = vec![0u8; len as usize];
            vm.read_virt(data + begin + 8, &mut text)?;
            out.push(RealRecord {
                id,
                state_var,
                info: inf,
                text,
            });
        }
        if id == 0 {
            break;
        }
        id = (id - 1) & DESC_ID_MASK;
    }
    out.reverse();
    Ok(out)
}

/// Lay `recs` out as the printk target reads them: a 16-slot descriptor ring and a text ring
/// of `1 << size_bits` bytes whose first block starts at logical position `start`.
fn ring_image(recs: &[RealRecord], size_bits: u32, start: u64, clear_seq: u64) -> Vec<u8> {
    let size = 1usize << size_bits;
    let mut m = vec![0u8; DATA + size];
    let ptr = |off: usize| printk_body::BASE + printk_body::PHYS + off as u64;
    let w64 = |m: &mut Vec<u8>, at: usize, v: u64| m[at..at + 8].copy_from_slice(&v.to_le_bytes());
    w64(&mut m, 0, ptr(RB));
    // clear_seq: struct latched_seq { seqcount_latch_t latch; u64 val[2]; }
    w64(&mut m, 0x10, clear_seq);
    w64(&mut m, 0x18, clear_seq);
    m[RB..RB + 4].copy_from_slice(&(SLOTS.trailing_zeros()).to_le_bytes());
    w64(&mut m, RB + 8, ptr(DESCS));
    w64(&mut m, RB + 16, ptr(INFOS));
    let head = recs.last().map_or(0, |r| r.id);
    let tail = recs.first().map_or(0, |r| r.id);
    w64(&mut m, RB + 24, head);
    w64(&mut m, RB + 32, tail);
    m[RB + 48..RB + 52].copy_from_slice(&size_bits.to_le_bytes());
    w64(&mut m, RB + 56, ptr(DATA));
    let mut lpos = start;
    let tail_lpos = start;
    for r in recs {
        let slot = (r.id % SLOTS as u64) as usize;
        let blk = (8 + r.text.len()).div_ceil(8) * 8;
        let at = (lpos % size as u64) as usize;
        let (begin, data_at, next) = if at + blk > size {
            // Wraps: the id is also written where the block would have begun, the block
            // itself starts at the ring's beginning.
            if at + 8 <= size {
                w64(&mut m, DATA + at, r.id);
            }
            let wrapped = lpos - at as u64 + size as u64;
            (lpos, 0, wrapped + blk as u64)
        } else {
            (lpos, at, lpos + blk as u64)
        };
        w64(&mut m, DATA + data_at, r.id);
        m[DATA + data_at + 8..DATA + data_at + 8 + r.text.len()].copy_from_slice(&r.text);
        let d = DESCS + slot * DESC_SIZE;
        w64(&mut m, d, r.state_var);
        w64(&mut m, d + 8, begin);
        w64(&mut m, d + 16, next);
        let i = INFOS + slot * INFO_SIZE;
        m[i..i + INFO_SIZE].copy_from_slice(&r.info);
        lpos = next;
    }
    w64(&mut m, RB + 48 + 16, lpos);
    w64(&mut m, RB + 48 + 24, tail_lpos);
    m
}

fn printk_seeds(vm: &Vmcore, series: &str, dir: &Path) -> Result<()> {
    // The fixture's log, formatted as the target formats it, for the check below.
    let mut real: Vec<Record> = Vec::new();
    for_each_record(vm, &DmesgOptions::default(), |r| {
        real.push(r.clone());
        Ok(())
    })?;
    for (name, n, mode, wrap) in [
        ("ring", 12usize, 0u8, false),
        ("ring-caller-id", 12, 2, false),
        ("ring-wrap", SLOTS, 0, true),
    ] {
        let recs = newest_records(vm, n)?;
        let total: usize = recs
            .iter()
            .map(|r| (8 + r.text.len()).div_ceil(8) * 8)
            .sum();
        let mut size_bits = 8;
        while (1usize << size_bits) < total + 64 {
            size_bits += 1;
        }
        // The wrapping variant starts 3/4 into the ring so that a block crosses its end.
        let start = (5u64 << size_bits) + if wrap { 3 << (size_bits - 2) } else { 0 };
        let clear_seq = u64::from_le_bytes(recs[n / 2].info[0..8].try_into()?);
        let mut seed = vec![mode];
        seed.extend(ring_image(&recs, size_bits, start, clear_seq));
        // Check: the target prints exactly the fixture's newest n records.
        let want: Vec<u8> = {
            let opts = DmesgOptions {
                caller_id: mode & 2 != 0,
                partial: false,
            };
            let mut v = Vec::new();
            for r in &real[real.len() - n..] {
                format_record(r, &opts, &mut v);
            }
            v
        };
        let opts = DmesgOptions {
            caller_id: mode & 2 != 0,
            partial: false,
        };
        let got = vmcore::printk::dmesg(&printk_body::vmcore(&seed[1..], false), &opts)?;
        if got != want {
            return Err(format!(
                "printk seed {name}-{series} does not print the fixture's last {n} records:\n{}\n---\n{}",
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want)
            )
            .into());
        }
        assert!(
            printk_body::run(&seed),
            "printk seed {name}-{series} not accepted"
        );
        put(dir, &format!("{name}-{series}"), &seed)?;
    }
    Ok(())
}

fn struct_page_seeds(vm: &Vmcore, series: &str, dir: &Path) -> Result<()> {
    let base = vm.vmemmap_base()?;
    // Flavor bit 0 (0: 6.1, 1: 6.12), dump level 31, 68 frames with a hole at frame 3.
    let flavor = u8::from(series == "6.12");
    // Low memory (firmware, kernel image), the middle and the top of the 1 GiB guest.
    for (name, pfn) in [("low", 0x100u64), ("mid", 0x20000), ("high", 0x3f000)] {
        let mut seed = vec![flavor, 31, 64, 0x33];
        let mut pages = vec![0u8; 64 * 64];
        if let Err(e) = vm.read_virt(base + pfn * 64, &mut pages) {
            eprintln!("seeds: struct pages of pfn {pfn:#x} ({series}): {e}; skipped");
            continue;
        }
        seed.extend(pages);
        put(dir, &format!("real-{series}-{name}"), &seed)?;
    }
    Ok(())
}

fn roundtrip_seeds(dir: &Path) -> Result<()> {
    // kind bytes: 0x80 valid, 0x40 dumped, 0x20 unreadable (with head[7] & 0x80), low 2 bits
    // the content (zero, fill, from the tail bytes, pseudo-random).
    let kinds: Vec<u8> = (0..24u8)
        .map(|i| match i % 6 {
            0 => 0xc0,
            1 => 0xc1,
            2 => 0xc2,
            3 => 0xc3,
            4 => 0x80,
            _ => 0x00,
        })
        .collect();
    let tail = b"kernel text: the quick brown fox jumps over the lazy dog 0123456789";
    for codec in 0u8..6 {
        for (name, fault, mode, batch) in [
            ("ok", [0u8; 3], 0u8, 3u8),
            ("enospc", [0x00, 0x30, 0], 1, 2),
            ("eio", [5, 0, 0], 2, 0),
            ("read-errors", [0; 3], 0, 0x84),
        ] {
            let mut seed = vec![codec, 24, 31, fault[0], fault[1], fault[2], mode, batch];
            let mut k = kinds.clone();
            if name == "read-errors" {
                k[3] |= 0x20;
                k[9] |= 0x20;
            }
            seed.extend(&k);
            seed.extend(tail);
            put(dir, &format!("codec{codec}-{name}"), &seed)?;
        }
    }
    Ok(())
}

fn target_seeds(dir: &Path) -> Result<()> {
    let uuid: [u8; 16] = *b"\x1b\x4e\x28\xba\x2f\xa1\x11\xd2\x88\x3f\x00\x20\xaf\xb6\xf0\x01";
    // ext4: superblock at 1024, magic at +56, features at +92/+96/+100, UUID +104, label +120.
    let mut ext4 = vec![0u8; 2048];
    let sb = 1024;
    ext4[sb + 56..sb + 58].copy_from_slice(&0xef53u16.to_le_bytes());
    ext4[sb + 92..sb + 96].copy_from_slice(&0x3cu32.to_le_bytes());
    ext4[sb + 96..sb + 100].copy_from_slice(&0x2c2u32.to_le_bytes());
    ext4[sb + 100..sb + 104].copy_from_slice(&0x46bu32.to_le_bytes());
    ext4[sb + 104..sb + 120].copy_from_slice(&uuid);
    ext4[sb + 120..sb + 128].copy_from_slice(b"kdumpfs\0");
    put(dir, "ext4-label", &ext4)?;
    // XFS: "XFSB", UUID at 32, label at 108.
    let mut xfs = vec![0u8; 512];
    xfs[..4].copy_from_slice(b"XFSB");
    xfs[4..8].copy_from_slice(&4096u32.to_be_bytes());
    xfs[32..48].copy_from_slice(&uuid);
    xfs[108..114].copy_from_slice(b"crash\0");
    put(dir, "xfs-label", &xfs)?;
    // btrfs: superblock at 64 KiB, magic at +64, fsid at +32, label at +0x12b.
    let b = 0x10000;
    let mut btrfs = vec![0u8; b + 0x12b + 256];
    btrfs[b + 32..b + 48].copy_from_slice(&uuid);
    btrfs[b + 64..b + 72].copy_from_slice(b"_BHRfS_M");
    btrfs[b + 0x12b..b + 0x12b + 5].copy_from_slice(b"dumps");
    put(dir, "btrfs-label", &btrfs)?;
    put(
        dir,
        "cmdline",
        b"BOOT_IMAGE=/vmlinuz root=UUID=1b4e28ba ro quiet crashkernel=256M console=ttyS0 \
          irqpoll nr_cpus=1 crashkernel reset_devices",
    )?;
    put(
        dir,
        "cpuinfo",
        b"processor\t: 0\nvendor_id\t: GenuineIntel\napicid\t\t: 0\ninitial apicid\t: 0\n\n\
processor\t: 1\napicid\t\t: 2\ninitial apicid\t: 2\n\n",
    )?;
    Ok(())
}

fn kernel_seeds(out: &Path) -> Result<()> {
    put(
        &out.join("bzimage"),
        "synthetic",
        &kexec_image::synthetic_bzimage(4096, 0x10_0000),
    )?;
    // ELF64 x86_64 ET_EXEC, entry 16 MiB, PT_LOADs at 16 MiB and 18 MiB.
    let v = kexec_image::synthetic_elf_kernel();
    assert!(kexec_image::elf_kernel::parse(&v).is_ok());
    put(&out.join("elf_kernel"), "two-loads", &v)?;
    Ok(())
}
