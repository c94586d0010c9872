//! The kernel log: the lockless printk ring buffer (5.10+) and the legacy `log_buf`
//! (3.5 to 5.9, variable-length `struct printk_log` records), written the way
//! `makedumpfile --dump-dmesg` writes it.
//!
//! Every structure offset comes from VMCOREINFO. Reads go through the page tables; a
//! record whose descriptor is not committed or finalized is skipped, as makedumpfile does.

use crate::error::{Error, Result};
use crate::vmcore::{KernelReader, Vmcore};
use crate::vmcoreinfo::VmcoreInfo;
use std::io::Write;

/// Upper bound on descriptors walked (`1 << count_bits`); real kernels use at most 2^22.
pub const MAX_DESCS: u64 = 1 << 24;
/// Upper bound on the text data ring or `log_buf` size accepted (128 MiB). The kernel's
/// largest `CONFIG_LOG_BUF_SHIFT` is 25, i.e. 32 MiB; `log_buf_len=` can ask for more, but a
/// buffer that large is read whole, and a capture kernel has little memory to spare.
pub const MAX_LOG_BYTES: u64 = 1 << 27;

/// How to format records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DmesgOptions {
    /// Print the caller id (`[    T123] ` after the timestamp), as makedumpfile 1.7.5 and
    /// later do when `printk_info.caller_id` is in VMCOREINFO. Off by default: the output
    /// then matches makedumpfile 1.7.2 byte for byte.
    pub caller_id: bool,
    /// Start at `clear_seq` (what `dmesg -c` left), like `--partial-dmesg`.
    pub partial: bool,
}

/// One kernel log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Sequence number (lockless buffer only; 0 for legacy records).
    pub seq: u64,
    /// Timestamp in nanoseconds since boot.
    pub ts_nsec: u64,
    /// The message text (not NUL terminated, may contain newlines).
    pub text: Vec<u8>,
    /// The caller id (thread id, or CPU number with bit 31 set), if the kernel records it.
    pub caller_id: Option<u32>,
    /// Syslog facility.
    pub facility: u8,
    /// Log level (0 = emergency .. 7 = debug).
    pub level: u8,
}

/// Append `rec` to `out` exactly as makedumpfile writes a record: `[%5llu.%06lu] `, the
/// text with every newline followed by an indent as wide as the prefix, bytes that are
/// neither printable nor space as `\xNN` (bytes >= 0x80 as makedumpfile's signed `char`
/// prints them, `\xffffffNN`), then a newline.
pub fn format_record(rec: &Record, opts: &DmesgOptions, out: &mut Vec<u8>) {
    let start = out.len();
    let secs = rec.ts_nsec / 1_000_000_000;
    let usecs = (rec.ts_nsec % 1_000_000_000) / 1000;
    let _ = write!(out, "[{secs:5}.{usecs:06}] ");
    if opts.caller_id {
        if let Some(cid) = rec.caller_id {
            let kind = if cid & 0x8000_0000 != 0 { 'C' } else { 'T' };
            let id = format!("{kind}{}", cid & 0x7fff_ffff);
            let _ = write!(out, "[{id:>8}] ");
        }
    }
    let indent = out.len() - start;
    for &b in &rec.text {
        match b {
            b'\n' => {
                out.push(b'\n');
                out.extend(std::iter::repeat_n(b' ', indent));
            }
            0x20..=0x7e | b'\t' | 0x0b | 0x0c | b'\r' => out.push(b),
            0x80..=0xff => {
                let _ = write!(out, "\\xffffff{b:02x}");
            }
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push(b'\n');
}

/// Largest structure offset or size believed for the log structures (they are tens of
/// bytes); keeps every sum below far from overflowing.
const MAX_FIELD: u64 = 1 << 20;

fn need_off(info: &VmcoreInfo, name: &str) -> Result<u64> {
    info.offset(name)
        .and_then(|v| u64::try_from(v).ok())
        .filter(|v| *v < MAX_FIELD)
        .ok_or_else(|| Error::Vmcoreinfo(format!("missing or invalid OFFSET({name})")))
}

fn opt_off(info: &VmcoreInfo, name: &str) -> Option<u64> {
    info.offset(name)
        .and_then(|v| u64::try_from(v).ok())
        .filter(|v| *v < MAX_FIELD)
}

fn need_size(info: &VmcoreInfo, name: &str) -> Result<u64> {
    info.size(name)
        .and_then(|v| u64::try_from(v).ok())
        .filter(|v| *v > 0 && *v < MAX_FIELD)
        .ok_or_else(|| Error::Vmcoreinfo(format!("missing or invalid SIZE({name})")))
}

fn need_sym(info: &VmcoreInfo, name: &str) -> Result<u64> {
    info.symbol(name)
        .ok_or_else(|| Error::Vmcoreinfo(format!("missing SYMBOL({name})")))
}

const DESC_ID_MASK: u64 = !(3u64 << 62);

struct Lockless {
    descs: u64,
    infos: u64,
    count: u64,
    data: u64,
    size: u64,
    desc_size: u64,
    info_size: u64,
    off_state: u64,
    off_begin: u64,
    off_next: u64,
    off_seq: u64,
    off_ts: u64,
    off_text_len: u64,
    off_caller: Option<u64>,
    head_id: u64,
    tail_id: u64,
}

impl Lockless {
    fn new(info: &VmcoreInfo, r: &mut KernelReader<'_>, opts: &DmesgOptions) -> Result<Self> {
        let prb = r.read_u64(need_sym(info, "prb")?)?;
        let desc_ring = prb.wrapping_add(need_off(info, "printk_ringbuffer.desc_ring")?);
        let text_ring = prb.wrapping_add(need_off(info, "printk_ringbuffer.text_data_ring")?);
        let counter = need_off(info, "atomic_long_t.counter")?;
        let count_bits =
            r.read_u32(desc_ring.wrapping_add(need_off(info, "prb_desc_ring.count_bits")?))?;
        let size_bits =
            r.read_u32(text_ring.wrapping_add(need_off(info, "prb_data_ring.size_bits")?))?;
        if count_bits >= 64 || (1u64 << count_bits) > MAX_DESCS {
            return Err(Error::Printk(format!(
                "prb_desc_ring.count_bits {count_bits} is absurd"
            )));
        }
        if size_bits >= 64 || (1u64 << size_bits) > MAX_LOG_BYTES || size_bits < 4 {
            return Err(Error::Printk(format!(
                "prb_data_ring.size_bits {size_bits} is absurd"
            )));
        }
        let mut l = Self {
            descs: r.read_u64(desc_ring.wrapping_add(need_off(info, "prb_desc_ring.descs")?))?,
            infos: r.read_u64(desc_ring.wrapping_add(need_off(info, "prb_desc_ring.infos")?))?,
            count: 1u64 << count_bits,
            data: r.read_u64(text_ring.wrapping_add(need_off(info, "prb_data_ring.data")?))?,
            size: 1u64 << size_bits,
            desc_size: need_size(info, "prb_desc")?,
            info_size: need_size(info, "printk_info")?,
            off_state: need_off(info, "prb_desc.state_var")? + counter,
            off_begin: need_off(info, "prb_desc.text_blk_lpos")?
                + need_off(info, "prb_data_blk_lpos.begin")?,
            off_next: need_off(info, "prb_desc.text_blk_lpos")?
                + need_off(info, "prb_data_blk_lpos.next")?,
            off_seq: need_off(info, "printk_info.seq")?,
            off_ts: need_off(info, "printk_info.ts_nsec")?,
            off_text_len: need_off(info, "printk_info.text_len")?,
            off_caller: opt_off(info, "printk_info.caller_id"),
            head_id: r.read_u64(
                desc_ring
                    .wrapping_add(need_off(info, "prb_desc_ring.head_id")?)
                    .wrapping_add(counter),
            )?,
            tail_id: r.read_u64(
                desc_ring
                    .wrapping_add(need_off(info, "prb_desc_ring.tail_id")?)
                    .wrapping_add(counter),
            )?,
        };
        if opts.partial {
            if let Some(cs) = info.symbol("clear_seq") {
                let mut seq = r.read_u64(cs)?;
                if info.size("latched_seq").is_some() {
                    let val = need_off(info, "latched_seq.val")?;
                    seq = r.read_u64(cs.wrapping_add(val).wrapping_add((seq & 1) * 8))?;
                }
                l.tail_id = (l.head_id - l.head_id % l.count).wrapping_add(seq % l.count);
            }
        }
        Ok(l)
    }

    /// Decode the record with descriptor id `id`; `None` if makedumpfile would skip it.
    fn record(&self, r: &mut KernelReader<'_>, id: u64) -> Result<Option<Record>> {
        let slot = id % self.count;
        let desc = self.descs.wrapping_add(slot * self.desc_size);
        let state_var = r.read_u64(desc.wrapping_add(self.off_state))?;
        let state = (state_var >> 62) & 3;
        if state_var & DESC_ID_MASK != id || !(state == 1 || state == 2) {
            return Ok(None);
        }
        let mut begin = r.read_u64(desc.wrapping_add(self.off_begin))? % self.size;
        let next = r.read_u64(desc.wrapping_add(self.off_next))? % self.size;
        if begin == next {
            return Ok(None);
        }
        let inf = self.infos.wrapping_add(slot * self.info_size);
        let mut text_len = u64::from(r.read_u16(inf.wrapping_add(self.off_text_len))?);
        if begin > next {
            begin = 0;
        }
        begin += 8;
        text_len = text_len.min(next.saturating_sub(begin));
        text_len = text_len.min(self.size.saturating_sub(begin));
        let mut text = vec![0u8; text_len as usize];
        r.read_virt(self.data.wrapping_add(begin), &mut text)?;
        let mut fl = [0u8; 2];
        r.read_virt(inf.wrapping_add(self.off_text_len + 2), &mut fl)?;
        Ok(Some(Record {
            seq: r.read_u64(inf.wrapping_add(self.off_seq))?,
            ts_nsec: r.read_u64(inf.wrapping_add(self.off_ts))?,
            text,
            caller_id: match self.off_caller {
                Some(o) => Some(r.read_u32(inf.wrapping_add(o))?),
                None => None,
            },
            facility: fl[0],
            level: fl[1] >> 5,
        }))
    }
}

/// Call `f` for every record of the kernel log, oldest first (the records makedumpfile
/// prints, in its order). Chooses the lockless ring buffer when `SYMBOL(prb)` exists,
/// else the legacy `log_buf`.
pub fn for_each_record(
    vm: &Vmcore,
    opts: &DmesgOptions,
    mut f: impl FnMut(&Record) -> Result<()>,
) -> Result<()> {
    let info = vm.require_vmcoreinfo()?;
    let mut r = vm.reader();
    if info.symbol("prb").is_some() {
        let l = Lockless::new(info, &mut r, opts)?;
        let mut id = l.tail_id;
        let mut steps = 0u64;
        loop {
            if let Some(rec) = l.record(&mut r, id)? {
                f(&rec)?;
            }
            if id == l.head_id {
                break;
            }
            steps += 1;
            if steps > l.count {
                return Err(Error::Printk(format!(
                    "tail_id {:#x} .. head_id {:#x} spans more than the {} descriptors",
                    l.tail_id, l.head_id, l.count
                )));
            }
            id = id.wrapping_add(1) & DESC_ID_MASK;
        }
        return Ok(());
    }
    legacy(info, &mut r, opts, f)
}

fn legacy(
    info: &VmcoreInfo,
    r: &mut KernelReader<'_>,
    opts: &DmesgOptions,
    mut f: impl FnMut(&Record) -> Result<()>,
) -> Result<()> {
    let log_buf = r.read_u64(need_sym(info, "log_buf")?)?;
    let len = u64::from(r.read_u32(need_sym(info, "log_buf_len")?)?);
    if info.symbol("log_end").is_some() || info.symbol("log_first_idx").is_none() {
        return Err(Error::Unsupported(
            "kernel log of kernels before 3.5 (no log_first_idx)".into(),
        ));
    }
    if len == 0 || len > MAX_LOG_BYTES {
        return Err(Error::Printk(format!("log_buf_len {len} is absurd")));
    }
    let first_sym = if opts.partial {
        info.symbol("clear_idx")
            .unwrap_or(need_sym(info, "log_first_idx")?)
    } else {
        need_sym(info, "log_first_idx")?
    };
    let first = u64::from(r.read_u32(first_sym)?);
    let next = u64::from(r.read_u32(need_sym(info, "log_next_idx")?)?);
    let hdr = need_size(info, "printk_log")?;
    let off_len = need_off(info, "printk_log.len")?;
    let off_text_len = need_off(info, "printk_log.text_len")?;
    let off_ts = need_off(info, "printk_log.ts_nsec")?;
    let off_caller = opt_off(info, "printk_log.caller_id");
    let mut buf = vec![0u8; len as usize];
    r.read_virt(log_buf, &mut buf)?;
    let u16_at = |at: u64| -> Result<u64> {
        let a = at as usize;
        buf.get(a..a + 2)
            .map(|b| u64::from(u16::from_le_bytes([b[0], b[1]])))
            .ok_or_else(|| {
                Error::Printk(format!("log_buf record at {at:#x} runs past log_buf_len"))
            })
    };
    let mut ptr = first;
    // Each record is at least the header long, so more iterations than this is a cycle.
    let max_steps = len / hdr.max(1) + 2;
    let mut steps = 0u64;
    while ptr != next {
        steps += 1;
        if steps > max_steps {
            return Err(Error::Printk("log_buf records form a cycle".into()));
        }
        let msglen = u16_at(ptr + off_len)?;
        let rec_at = if msglen == 0 { 0 } else { ptr };
        let text_len = u16_at(rec_at + off_text_len)?;
        let ts = buf
            .get(rec_at as usize + off_ts as usize..rec_at as usize + off_ts as usize + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            .ok_or_else(|| Error::Printk(format!("log_buf record at {rec_at:#x} is truncated")))?;
        let t0 = (rec_at + hdr) as usize;
        let text = buf
            .get(t0..t0 + text_len as usize)
            .ok_or_else(|| {
                Error::Printk(format!(
                    "log_buf record text at {t0:#x} runs past the buffer"
                ))
            })?
            .to_vec();
        let caller_id = off_caller.and_then(|o| {
            let a = (rec_at + o) as usize;
            buf.get(a..a + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        });
        f(&Record {
            seq: 0,
            ts_nsec: ts,
            text,
            caller_id,
            facility: 0,
            level: 0,
        })?;
        let step = if msglen == 0 {
            u16_at(off_len)?
        } else {
            msglen
        };
        if step == 0 {
            return Err(Error::Printk(format!(
                "log_buf record at {rec_at:#x} has length 0"
            )));
        }
        ptr = rec_at + step;
        if ptr > len {
            return Err(Error::Printk(format!(
                "log_buf record at {rec_at:#x} runs past the buffer"
            )));
        }
    }
    Ok(())
}

/// Write the kernel log in makedumpfile's `--dump-dmesg` format.
pub fn write_dmesg(vm: &Vmcore, w: &mut impl Write, opts: &DmesgOptions) -> Result<()> {
    let mut line = Vec::with_capacity(1024);
    for_each_record(vm, opts, |rec| {
        line.clear();
        format_record(rec, opts, &mut line);
        w.write_all(&line).map_err(|source| Error::Write {
            what: "kernel log".into(),
            source,
        })
    })
}

/// The kernel log as bytes, in makedumpfile's `--dump-dmesg` format.
pub fn dmesg(vm: &Vmcore, opts: &DmesgOptions) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write_dmesg(vm, &mut out, opts)?;
    Ok(out)
}
