//! LZO1X: a compressor producing LZO1X-1 compatible streams and a safe decompressor.
//!
//! Written for kdump-rs from the stream description in the Linux kernel's
//! `Documentation/staging/lzo.rst` (no LZO library code was used). The compressor is a
//! single-probe hash matcher in the spirit of LZO1X-1: it emits only the M2, M3 and M4
//! instructions plus literal runs, so any LZO1X decompressor (liblzo2's
//! `lzo1x_decompress_safe`, the kernel's, makedumpfile's) reads its output. The decompressor
//! accepts every LZO1X instruction (also the M1 forms the compressor never emits), checks
//! every read and write against the buffers and never panics.
//!
//! ```
//! use kdump_compressed::lzo::{compress, decompress, LzoCompressor};
//! let page: Vec<u8> = (0..4096u32).map(|i| (i / 64) as u8).collect();
//! let mut c = LzoCompressor::new();
//! let mut packed = Vec::new();
//! c.compress(&page, &mut packed);
//! assert!(packed.len() < 400);
//! let mut out = vec![0u8; 4096];
//! assert_eq!(decompress(&packed, &mut out).unwrap(), 4096);
//! assert_eq!(out, page);
//! assert_eq!(compress(b"abc"), vec![17 + 3, b'a', b'b', b'c', 0x11, 0, 0]);
//! ```

/// Why an LZO stream could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LzoError {
    /// The stream ended in the middle of an instruction (input byte offset).
    #[error("LZO input truncated at byte {0}")]
    InputOverrun(usize),
    /// Decoding would write past the end of the output buffer.
    #[error("LZO output would exceed {0} bytes")]
    OutputOverrun(usize),
    /// A match refers to data before the start of the output.
    #[error("LZO match distance {distance} at output byte {at} reaches before the start")]
    LookBehindOverrun {
        /// Distance encoded in the stream.
        distance: usize,
        /// Output position of the match.
        at: usize,
    },
    /// Bytes remain after the end-of-stream marker.
    #[error("LZO input not consumed: end marker at byte {0}, {1} bytes follow")]
    InputNotConsumed(usize, usize),
}

/// Longest distance an LZO1X match can encode.
const MAX_DISTANCE: usize = 0xbfff;
const M2_MAX_DISTANCE: usize = 0x800;
const M3_MAX_DISTANCE: usize = 0x4000;
const HASH_LOG: u32 = 12;
const MIN_MATCH: usize = 4;
/// Misses before the search step grows by one byte (log2).
const SKIP_SHIFT: u32 = 5;

/// Worst-case compressed size for `n` input bytes.
pub const fn max_compressed_len(n: usize) -> usize {
    n + n / 16 + 64 + 3
}

/// A reusable LZO1X-1 compressor (owns its hash table; one per thread).
#[derive(Clone)]
pub struct LzoCompressor {
    table: Box<[u32; 1 << HASH_LOG]>,
    base: u32,
    buf: Vec<u8>,
    win: Box<[u8; WINDOW + WINDOW_PAD]>,
}

impl Default for LzoCompressor {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for LzoCompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LzoCompressor").finish_non_exhaustive()
    }
}

#[inline(always)]
fn hash(v: u32) -> usize {
    (v.wrapping_mul(2_654_435_761) >> (32 - HASH_LOG)) as usize
}

/// Output cursor over a buffer known to be at least [`max_compressed_len`] long.
struct Out<'a> {
    b: &'a mut [u8],
    n: usize,
}

impl Out<'_> {
    #[inline(always)]
    fn push(&mut self, v: u8) {
        if let Some(slot) = self.b.get_mut(self.n) {
            *slot = v;
        }
        self.n += 1;
    }
    /// Copy literals 16 bytes at a time when both buffers have room past the end.
    #[inline(always)]
    fn copy_literals(&mut self, v: &[u8], src: &[u8], from: usize) {
        let n = v.len();
        let rounded = (n + 15) & !15;
        if n <= 64 && from + rounded <= src.len() && self.n + rounded <= self.b.len() {
            let mut k = 0;
            while k < rounded {
                let mut t = [0u8; 16];
                t.copy_from_slice(&src[from + k..from + k + 16]);
                self.b[self.n + k..self.n + k + 16].copy_from_slice(&t);
                k += 16;
            }
            self.n += n;
        } else {
            self.extend(v);
        }
    }
    #[inline(always)]
    fn extend(&mut self, v: &[u8]) {
        if let Some(dst) = self.b.get_mut(self.n..self.n + v.len()) {
            dst.copy_from_slice(v);
        }
        self.n += v.len();
    }
    /// Append the variable-length tail of a length that did not fit in the instruction.
    #[inline(always)]
    fn ext(&mut self, mut n: usize) {
        while n > 255 {
            self.push(0);
            n -= 255;
        }
        self.push(n as u8);
    }

    #[inline(always)]
    fn literals(&mut self, src: &[u8], from: usize, to: usize) {
        let lit = src.get(from..to).unwrap_or(&[]);
        let n = lit.len();
        if n == 0 {
            return;
        }
        if self.n == 0 && n <= 238 {
            self.push(17 + n as u8);
        } else if n <= 3 {
            // Carried in the S bits of the previous match instruction.
            if let Some(b) = self.b.get_mut(self.n.wrapping_sub(2)) {
                *b |= n as u8;
            }
        } else if n <= 18 {
            self.push((n - 3) as u8);
        } else {
            self.push(0);
            self.ext(n - 18);
        }
        self.copy_literals(lit, src, from);
    }

    #[inline(always)]
    fn matched(&mut self, dist: usize, len: usize) {
        if len <= 8 && dist <= M2_MAX_DISTANCE {
            let d = dist - 1;
            let op = if len <= 4 {
                0x40 | (((len - 3) as u8) << 5)
            } else {
                0x80 | (((len - 5) as u8) << 5)
            };
            if let Some(w) = self.b.get_mut(self.n..self.n + 2) {
                w[0] = op | (((d & 7) as u8) << 2);
                w[1] = (d >> 3) as u8;
            }
            self.n += 2;
        } else if dist <= M3_MAX_DISTANCE && len <= 33 {
            let d = dist - 1;
            if let Some(w) = self.b.get_mut(self.n..self.n + 3) {
                w[0] = 0x20 | (len - 2) as u8;
                w[1] = (d << 2) as u8;
                w[2] = (d >> 6) as u8;
            }
            self.n += 3;
        } else if dist <= M3_MAX_DISTANCE {
            let d = dist - 1;
            if len - 2 <= 31 {
                self.push(0x20 | (len - 2) as u8);
            } else {
                self.push(0x20);
                self.ext(len - 33);
            }
            self.push((d << 2) as u8);
            self.push((d >> 6) as u8);
        } else {
            let d = dist - 0x4000;
            let h = ((d >> 14) & 1) as u8;
            if len - 2 <= 7 {
                self.push(0x10 | (h << 3) | (len - 2) as u8);
            } else {
                self.push(0x10 | (h << 3));
                self.ext(len - 9);
            }
            let d = d & 0x3fff;
            self.push((d << 2) as u8);
            self.push((d >> 6) as u8);
        }
    }
}

/// Matching runs over a copy of at most this many input bytes, padded so that every 4- and
/// 8-byte read at a masked position is in bounds (no per-read checks in the hot loop).
const WINDOW: usize = 1 << 16;
const WINDOW_MASK: usize = WINDOW - 1;
const WINDOW_PAD: usize = 16;

#[inline(always)]
fn w32(w: &[u8; WINDOW + WINDOW_PAD], i: usize) -> u32 {
    let j = i & WINDOW_MASK;
    let mut a = [0u8; 4];
    a.copy_from_slice(&w[j..j + 4]);
    u32::from_le_bytes(a)
}

#[inline(always)]
fn w64(w: &[u8; WINDOW + WINDOW_PAD], i: usize) -> u64 {
    let j = i & WINDOW_MASK;
    let mut a = [0u8; 8];
    a.copy_from_slice(&w[j..j + 8]);
    u64::from_le_bytes(a)
}

impl LzoCompressor {
    /// A compressor with its own hash table.
    pub fn new() -> Self {
        LzoCompressor {
            table: Box::new([0; 1 << HASH_LOG]),
            base: 0,
            buf: Vec::new(),
            win: vec![0u8; WINDOW + WINDOW_PAD]
                .into_boxed_slice()
                .try_into()
                .unwrap_or_else(|_| Box::new([0u8; WINDOW + WINDOW_PAD])),
        }
    }

    /// Compress `input` into `out` (cleared first) as an LZO1X stream ending with the
    /// end-of-stream marker. `out` never grows beyond [`max_compressed_len`].
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(self.compress_to_slice(input));
    }

    /// Compress `input` into the compressor's own buffer and return the stream.
    pub fn compress_to_slice(&mut self, input: &[u8]) -> &[u8] {
        let n = input.len();
        // Room for 16-byte literal copies past the end.
        let max = max_compressed_len(n) + 64;
        if self.buf.len() < max {
            self.buf.resize(max, 0);
        }
        // Table entries hold `base + position + 1`; entries from earlier calls are at most
        // `base` and ignored, so the table needs no clearing between pages.
        if (self.base as usize).saturating_add(n + 1) >= u32::MAX as usize {
            self.table.iter_mut().for_each(|e| *e = 0);
            self.base = 0;
        }
        if n + 1 >= u32::MAX as usize {
            // Positions would not fit the table: emit literals only (still a valid stream).
            let mut o = Out {
                b: &mut self.buf[..],
                n: 0,
            };
            o.literals(input, 0, n);
            o.extend(&[0x11, 0, 0]);
            let len = o.n.min(self.buf.len());
            return &self.buf[..len];
        }
        let base = self.base as usize;
        self.base = (base + n + 1) as u32;
        let mut o = Out {
            b: &mut self.buf[..],
            n: 0,
        };
        let mut anchor = 0usize;
        let mut s = 0usize;
        while s < n {
            let c = (n - s).min(WINDOW);
            self.win[..c].copy_from_slice(&input[s..s + c]);
            self.win[c..c + WINDOW_PAD].fill(0);
            compress_window(
                &mut o,
                input,
                &self.win,
                &mut self.table,
                s,
                c,
                base,
                &mut anchor,
            );
            s += c;
        }
        o.literals(input, anchor, n);
        o.extend(&[0x11, 0, 0]);
        let len = o.n.min(self.buf.len());
        &self.buf[..len]
    }
}

/// Find and emit matches inside one window `input[s..s + c]` (copied into `win`). Literals
/// pending from earlier windows start at `*anchor` (an absolute position).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn compress_window(
    o: &mut Out<'_>,
    input: &[u8],
    win: &[u8; WINDOW + WINDOW_PAD],
    table: &mut [u32; 1 << HASH_LOG],
    s: usize,
    c: usize,
    base: usize,
    anchor: &mut usize,
) {
    const MASK: usize = (1 << HASH_LOG) - 1;
    if c < MIN_MATCH + 8 {
        return;
    }
    // Table values at or below `floor` belong to earlier pages or windows.
    let floor = base + s;
    // Last local position where a match may start: leave room for 8-byte compares.
    let limit = c - MIN_MATCH - 8;
    let mut ip = if s == 0 { 1usize } else { 0 };
    if s == 0 {
        table[hash(w32(win, 0)) & MASK] = (floor + 1) as u32;
    }
    'outer: while ip <= limit {
        // Find a match; the hash of the next position is computed before the table entry
        // of the current one is used, so the two loads overlap.
        // The step grows with the length of the pending literal run, so incompressible data
        // is crossed in a logarithmic number of probes.
        let la = anchor.saturating_sub(s);
        let mut fwd = ip;
        let mut fwd_seq = w32(win, fwd);
        let mut fwd_h = hash(fwd_seq) & MASK;
        let (mut cur, mut cand) = loop {
            let cur = fwd;
            let seq = fwd_seq;
            let h = fwd_h;
            fwd = cur + 1 + ((cur - la.min(cur)) >> SKIP_SHIFT);
            if fwd > limit {
                break 'outer;
            }
            let stored = table[h] as usize;
            fwd_seq = w32(win, fwd);
            fwd_h = hash(fwd_seq) & MASK;
            table[h] = (floor + cur + 1) as u32;
            if stored > floor {
                let cnd = stored - floor - 1;
                if cur - cnd <= MAX_DISTANCE && w32(win, cnd) == seq {
                    break (cur, cnd);
                }
            }
        };
        let mut len = MIN_MATCH;
        while cur + len + 8 <= c {
            let x = w64(win, cur + len) ^ w64(win, cand + len);
            if x != 0 {
                len += (x.trailing_zeros() / 8) as usize;
                break;
            }
            len += 8;
        }
        if cur + len + 8 > c {
            while cur + len < c && win[(cur + len) & WINDOW_MASK] == win[(cand + len) & WINDOW_MASK]
            {
                len += 1;
            }
        }
        // Extend backwards into the pending literals (within this window).
        let low = anchor.saturating_sub(s);
        while cur > low && cand > 0 && win[(cur - 1) & WINDOW_MASK] == win[(cand - 1) & WINDOW_MASK]
        {
            cur -= 1;
            cand -= 1;
            len += 1;
        }
        o.literals(input, *anchor, s + cur);
        o.matched(cur - cand, len);
        ip = cur + len;
        *anchor = s + ip;
        if ip <= limit {
            let p = ip - 2;
            table[hash(w32(win, p)) & MASK] = (floor + p + 1) as u32;
        }
    }
}

/// Compress `input` into a new vector (convenience wrapper around [`LzoCompressor`]).
pub fn compress(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    LzoCompressor::new().compress(input, &mut out);
    out
}

struct In<'a> {
    b: &'a [u8],
    i: usize,
}

impl In<'_> {
    #[inline(always)]
    fn byte(&mut self) -> Result<u8, LzoError> {
        let v = *self.b.get(self.i).ok_or(LzoError::InputOverrun(self.i))?;
        self.i += 1;
        Ok(v)
    }
    #[inline(always)]
    fn le16(&mut self) -> Result<usize, LzoError> {
        let lo = self.byte()? as usize;
        let hi = self.byte()? as usize;
        Ok(lo | hi << 8)
    }
    /// Length extension: `base` plus 255 per zero byte plus the first non-zero byte.
    fn ext(&mut self, base: usize, limit: usize) -> Result<usize, LzoError> {
        let mut n = base;
        loop {
            let b = self.byte()?;
            if b != 0 {
                return Ok(n + b as usize);
            }
            n += 255;
            if n > limit {
                return Err(LzoError::OutputOverrun(limit));
            }
        }
    }
    fn literals(&mut self, out: &mut [u8], op: &mut usize, n: usize) -> Result<(), LzoError> {
        let src = self
            .b
            .get(self.i..self.i.saturating_add(n))
            .ok_or(LzoError::InputOverrun(self.b.len()))?;
        let cap = out.len();
        let dst = out
            .get_mut(*op..op.saturating_add(n))
            .ok_or(LzoError::OutputOverrun(cap))?;
        dst.copy_from_slice(src);
        self.i += n;
        *op += n;
        Ok(())
    }
}

fn copy_match(out: &mut [u8], op: &mut usize, dist: usize, len: usize) -> Result<(), LzoError> {
    if dist > *op {
        return Err(LzoError::LookBehindOverrun {
            distance: dist,
            at: *op,
        });
    }
    let end = op
        .checked_add(len)
        .ok_or(LzoError::OutputOverrun(out.len()))?;
    if end > out.len() {
        return Err(LzoError::OutputOverrun(out.len()));
    }
    let start = *op - dist;
    if dist >= len {
        out.copy_within(start..start + len, *op);
    } else {
        for k in 0..len {
            out[*op + k] = out[start + k];
        }
    }
    *op = end;
    Ok(())
}

/// Decode an LZO1X stream into `out`; returns the number of bytes produced. Never writes
/// past `out`, never reads past `input`, and requires the end-of-stream marker to be the
/// last thing in `input`.
pub fn decompress(input: &[u8], out: &mut [u8]) -> Result<usize, LzoError> {
    let mut r = In { b: input, i: 0 };
    let mut op = 0usize;
    let cap = out.len();
    // state: literals copied by the previous instruction (0..=3), or 4 after a literal run.
    let mut state: usize;
    let first = *input.first().ok_or(LzoError::InputOverrun(0))?;
    if first > 17 {
        r.i = 1;
        let t = (first - 17) as usize;
        r.literals(out, &mut op, t)?;
        state = if t < 4 { t } else { 4 };
    } else {
        state = 0;
    }
    loop {
        let inst = r.byte()? as usize;
        let (dist, len, s);
        if inst < 16 {
            if state == 0 {
                let n = if inst == 0 { r.ext(15, cap)? } else { inst };
                r.literals(out, &mut op, n + 3)?;
                state = 4;
                continue;
            }
            let h = r.byte()? as usize;
            s = inst & 3;
            if state < 4 {
                dist = (h << 2) + ((inst >> 2) & 3) + 1;
                len = 2;
            } else {
                dist = (h << 2) + ((inst >> 2) & 3) + 2049;
                len = 3;
            }
        } else if inst < 32 {
            let l = inst & 7;
            len = 2 + if l == 0 { r.ext(7, cap)? } else { l };
            let at = r.i;
            let v = r.le16()?;
            dist = 16384 + ((inst & 8) << 11) + (v >> 2);
            s = v & 3;
            if dist == 16384 {
                if r.i != input.len() {
                    return Err(LzoError::InputNotConsumed(at, input.len() - r.i));
                }
                return Ok(op);
            }
        } else if inst < 64 {
            let l = inst & 31;
            len = 2 + if l == 0 { r.ext(31, cap)? } else { l };
            let v = r.le16()?;
            dist = (v >> 2) + 1;
            s = v & 3;
        } else {
            let h = r.byte()? as usize;
            dist = (h << 3) + ((inst >> 2) & 7) + 1;
            s = inst & 3;
            len = if inst < 128 {
                3 + ((inst >> 5) & 1)
            } else {
                5 + ((inst >> 5) & 3)
            };
        }
        copy_match(out, &mut op, dist, len)?;
        r.literals(out, &mut op, s)?;
        state = s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(data: &[u8]) {
        let c = compress(data);
        assert!(c.len() <= max_compressed_len(data.len()));
        let mut out = vec![0u8; data.len()];
        assert_eq!(
            decompress(&c, &mut out),
            Ok(data.len()),
            "len {}",
            data.len()
        );
        assert_eq!(out, data);
        if !data.is_empty() {
            let mut short = vec![0u8; data.len() - 1];
            assert!(decompress(&c, &mut short).is_err());
        }
    }

    #[test]
    fn round_trips() {
        round_trip(b"");
        round_trip(b"a");
        round_trip(&[0u8; 4096]);
        let mut x = 1u32;
        let noise: Vec<u8> = (0..70000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        round_trip(&noise);
        let mixed: Vec<u8> = noise
            .iter()
            .enumerate()
            .map(|(i, &b)| if (i / 300) % 2 == 0 { b } else { (i % 7) as u8 })
            .collect();
        round_trip(&mixed);
        // Far matches (M4 range) and long lengths.
        let mut far = noise[..20000].to_vec();
        far.extend_from_slice(&noise[..20000]);
        far.extend_from_slice(&[7u8; 1000]);
        round_trip(&far);
        for n in 0..300 {
            round_trip(&mixed[..n]);
        }
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        let mut out = [0u8; 64];
        assert!(decompress(&[], &mut out).is_err());
        assert_eq!(decompress(&[0x11, 0, 0], &mut out), Ok(0));
        assert!(decompress(&[0x11, 0, 0, 5], &mut out).is_err());
        // Match before the start of output.
        assert!(matches!(
            decompress(&[18, b'x', 0x40, 0x10, 0x11, 0, 0], &mut out),
            Err(LzoError::LookBehindOverrun { .. })
        ));
        // A long run of zero extension bytes is bounded by the output size.
        let mut v = vec![0u8, 0];
        v.extend(std::iter::repeat_n(0u8, 1000));
        assert!(decompress(&v, &mut out).is_err());
    }
}
