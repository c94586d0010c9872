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

/// Inputs are matched in chunks of at most this many bytes (as liblzo2 does): every distance
/// inside a chunk fits an LZO1X match (at most 0xbfff), so the search loop needs no distance
/// check. A 4 KiB page is one chunk.
const CHUNK: usize = 0xc000;
/// A chunk is copied into a window of this size, padded so that every 4-, 8- and 16-byte read
/// at a masked position is in bounds: the hot loops index it without bounds checks.
const WIN: usize = 1 << 16;
const WIN_MASK: usize = WIN - 1;
const WIN_PAD: usize = 16;
type Window = [u8; WIN + WIN_PAD];
/// Chunks shorter than this are stored as literals.
const MIN_CHUNK: usize = 16;
/// The last 4 bytes of a chunk never start a match (the 4-byte probe stays inside it).
const TAIL: usize = 4;
const HASH_LOG: u32 = 13;
/// Misses before the search step grows by one byte (log2), as in LZO1X-1.
const SKIP_SHIFT: u32 = 5;
/// Output slack for 16-byte literal copies and 4-byte instruction stores past the end.
const OUT_SLACK: usize = 32;

/// Worst-case compressed size for `n` input bytes.
pub const fn max_compressed_len(n: usize) -> usize {
    n + n / 16 + 64 + 3
}

/// A reusable LZO1X-1 compressor (owns its hash table and buffers; one per thread).
///
/// The output depends only on the input, never on what the compressor saw before (so a dump's
/// bytes do not depend on how pages are spread over threads): the hash table is cleared for
/// every chunk, which for a 4 KiB page costs less than validating stale entries would.
#[derive(Clone)]
pub struct LzoCompressor {
    table: Box<[u16; 1 << HASH_LOG]>,
    buf: Vec<u8>,
    win: Box<Window>,
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
    (v.wrapping_mul(0x1824_429d) >> (32 - HASH_LOG)) as usize
}

#[inline(always)]
fn w32(w: &Window, i: usize) -> u32 {
    let j = i & WIN_MASK;
    let mut a = [0u8; 4];
    a.copy_from_slice(&w[j..j + 4]);
    u32::from_le_bytes(a)
}

#[inline(always)]
fn w64(w: &Window, i: usize) -> u64 {
    let j = i & WIN_MASK;
    let mut a = [0u8; 8];
    a.copy_from_slice(&w[j..j + 8]);
    u64::from_le_bytes(a)
}

/// Output cursor over a buffer at least [`max_compressed_len`] + [`OUT_SLACK`] long, so the
/// stores below always fit; they are still checked (a failed check drops the store, it can
/// only happen if that bound were wrong).
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

    /// Store 4 bytes, keep the first `k`.
    #[inline(always)]
    fn put(&mut self, v: u32, k: usize) {
        if let Some(w) = self.b.get_mut(self.n..self.n + 4) {
            w.copy_from_slice(&v.to_le_bytes());
        }
        self.n += k;
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

    /// The instruction that announces a literal run of `n` (>= 1) bytes.
    #[inline(always)]
    fn literal_op(&mut self, n: usize) {
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
    }

    /// A literal run of window bytes `from..to` (local positions of the current chunk).
    #[inline(always)]
    fn literals_win(&mut self, w: &Window, from: usize, to: usize) {
        let n = to - from;
        if n == 0 {
            return;
        }
        self.literal_op(n);
        // 16 bytes at a time; the window's padding and the output slack absorb the excess.
        let mut k = 0;
        while k < n {
            let j = (from + k) & WIN_MASK;
            if let Some(d) = self.b.get_mut(self.n + k..self.n + k + 16) {
                d.copy_from_slice(&w[j..j + 16]);
            }
            k += 16;
        }
        self.n += n;
    }

    /// A literal run of input bytes (any length, any position).
    fn literals_input(&mut self, lit: &[u8]) {
        if lit.is_empty() {
            return;
        }
        self.literal_op(lit.len());
        if let Some(d) = self.b.get_mut(self.n..self.n + lit.len()) {
            d.copy_from_slice(lit);
        }
        self.n += lit.len();
    }

    /// A match of `len` (>= 4) bytes at distance `dist` (1..=0xbfff).
    #[inline(always)]
    fn matched(&mut self, dist: usize, len: usize) {
        let d = dist - 1;
        if len <= 8 && d < 0x800 {
            // M2: LLLDDDSS DDDDDDDD
            self.put(
                (((len - 1) << 5) | ((d & 7) << 2) | ((d >> 3) << 8)) as u32,
                2,
            );
        } else if d < 0x4000 {
            // M3: 001LLLLL [ext] DDDDDDDD DDDDDDSS
            if len <= 33 {
                self.put((0x20 | (len - 2) | (d << 10)) as u32, 3);
            } else {
                self.push(0x20);
                self.ext(len - 33);
                self.put((d << 2) as u32, 2);
            }
        } else {
            // M4: 0001HLLL [ext] DDDDDDDD DDDDDDSS, distance 16384 + (H << 14) + D
            let d = dist - 0x4000;
            let h = (d >> 11) & 8;
            if len <= 9 {
                self.put((0x10 | h | (len - 2) | ((d & 0x3fff) << 10)) as u32, 3);
            } else {
                self.push((0x10 | h) as u8);
                self.ext(len - 9);
                self.put(((d & 0x3fff) << 2) as u32, 2);
            }
        }
    }
}

impl LzoCompressor {
    /// A compressor with its own hash table.
    pub fn new() -> Self {
        LzoCompressor {
            table: Box::new([0; 1 << HASH_LOG]),
            buf: Vec::new(),
            win: vec![0u8; WIN + WIN_PAD]
                .into_boxed_slice()
                .try_into()
                .unwrap_or_else(|_| Box::new([0u8; WIN + WIN_PAD])),
        }
    }

    /// Compress `input` into `out` (cleared first) as an LZO1X stream ending with the
    /// end-of-stream marker. `out` never grows beyond [`max_compressed_len`].
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(self.compress_to_slice(input));
    }

    /// Compress `input` into the compressor's own buffer and return the stream (at most
    /// [`max_compressed_len`] bytes).
    pub fn compress_to_slice(&mut self, input: &[u8]) -> &[u8] {
        let n = input.len();
        let max = max_compressed_len(n).saturating_add(OUT_SLACK);
        if self.buf.len() < max {
            self.buf.resize(max, 0);
        }
        let mut o = Out {
            b: &mut self.buf[..],
            n: 0,
        };
        // Start of the pending literal run (absolute input position).
        let mut lit = 0usize;
        let mut s = 0usize;
        while n - s >= MIN_CHUNK {
            let c = (n - s).min(CHUNK);
            self.table.fill(0);
            self.win[..c].copy_from_slice(&input[s..s + c]);
            let ii = compress_chunk(&mut o, input, &self.win, &mut self.table, s, c, lit);
            if let Some(ii) = ii {
                lit = s + ii;
            }
            s += c;
        }
        o.literals_input(input.get(lit..).unwrap_or(&[]));
        o.put(0x11, 3);
        let len = o.n.min(self.buf.len());
        &self.buf[..len]
    }
}

/// Find and emit the matches of one chunk `input[s..s + c]`, copied into `win`. Literals
/// pending since absolute position `lit` (possibly in an earlier chunk) go out before the
/// first match. Returns the local start of the literals still pending at the end, or `None`
/// if the chunk had no match (the pending run then still starts at `lit`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn compress_chunk(
    o: &mut Out<'_>,
    input: &[u8],
    win: &Window,
    table: &mut [u16; 1 << HASH_LOG],
    s: usize,
    c: usize,
    lit: usize,
) -> Option<usize> {
    let limit = c - TAIL;
    // Local start of the pending literals inside this chunk (0 if they began earlier).
    let mut ii = 0usize;
    let mut carried = lit < s;
    let mut any = false;
    // Position 0 is in every (zeroed) table slot already.
    let mut ip = 1usize;
    'outer: loop {
        // Search: probe one position, remember it, step further the longer the literal run
        // (incompressible data is crossed in few probes).
        let (cur, cand) = loop {
            if ip > limit {
                break 'outer;
            }
            let dv = w32(win, ip);
            let h = hash(dv);
            let cnd = table[h] as usize;
            table[h] = ip as u16;
            if w32(win, cnd) == dv {
                break (ip, cnd);
            }
            ip += 1 + ((ip - ii) >> SKIP_SHIFT);
        };
        // Extend forward 8 bytes at a time, at most to the end of the chunk.
        let max = c - cur;
        let mut len = 4usize;
        loop {
            let x = w64(win, cur + len) ^ w64(win, cand + len);
            if x != 0 {
                len += (x.trailing_zeros() >> 3) as usize;
                break;
            }
            len += 8;
            if len >= max {
                break;
            }
        }
        len = len.min(max);
        if carried {
            o.literals_input(input.get(lit..s + cur).unwrap_or(&[]));
            carried = false;
        } else {
            o.literals_win(win, ii, cur);
        }
        o.matched(cur - cand, len);
        any = true;
        ip = cur + len;
        ii = ip;
    }
    any.then_some(ii)
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
    /// Length extension: `base` plus 255 per zero byte plus the first non-zero byte. Read
    /// whole even when it exceeds the output (as liblzo2 does): the end-of-stream marker is
    /// an M4 instruction whose length is ignored, so only the caller can tell if it is too
    /// long. Each zero byte consumes input, so this is linear in the input.
    fn ext(&mut self, base: usize) -> Result<usize, LzoError> {
        let mut n = base;
        loop {
            let b = self.byte()?;
            if b != 0 {
                return Ok(n.saturating_add(b as usize));
            }
            n = n.saturating_add(255);
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
///
/// Accepts exactly what liblzo2's `lzo1x_decompress_safe` decodes with `LZO_E_OK`, with the
/// same output: in particular the end-of-stream marker is any M4 instruction of distance
/// 16384, whatever its length field (even an extended one longer than `out`) and its two
/// literal-count bits say, as in liblzo2. (The Linux kernel's decompressor is stricter and
/// rejects an end marker whose length is not 3; our compressor, like liblzo2's, only ever
/// writes `0x11 0x00 0x00`.)
pub fn decompress(input: &[u8], out: &mut [u8]) -> Result<usize, LzoError> {
    let mut r = In { b: input, i: 0 };
    let mut op = 0usize;
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
                let n = if inst == 0 { r.ext(15)? } else { inst };
                r.literals(out, &mut op, n.saturating_add(3))?;
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
            len = 2usize.saturating_add(if l == 0 { r.ext(7)? } else { l });
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
            len = 2usize.saturating_add(if l == 0 { r.ext(31)? } else { l });
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
        // A long run of zero extension bytes that the input cannot finish.
        let mut v = vec![0u8, 0];
        v.extend(std::iter::repeat_n(0u8, 1000));
        assert_eq!(decompress(&v, &mut out), Err(LzoError::InputOverrun(1002)));
        // An M3 match longer than the output.
        let long_m3 = [18, b'x', 0x20, 0, 0, 10, 0, 0, 0x11, 0, 0];
        assert_eq!(
            decompress(&long_m3, &mut out),
            Err(LzoError::OutputOverrun(64))
        );
    }

    #[test]
    fn end_marker_length_and_literal_bits_are_ignored() {
        // As in liblzo2: any M4 of distance 16384 ends the stream.
        let mut out = [0u8; 8];
        assert_eq!(decompress(&[0x11, 0, 0], &mut out), Ok(0));
        assert_eq!(decompress(&[0x11, 3, 0], &mut out), Ok(0));
        assert_eq!(decompress(&[21, 1, 2, 3, 4, 0x17, 0, 0], &mut out), Ok(4));
        assert_eq!(
            decompress(&[20, b'a', b'b', b'c', 0x10, 0, 0, 9, 0, 0], &mut out),
            Ok(3)
        );
        assert_eq!(&out[..3], b"abc");
        // H set: distance 32768, a real (here impossible) match, not the end.
        assert!(matches!(
            decompress(&[21, 1, 2, 3, 4, 0x19, 0, 0], &mut out),
            Err(LzoError::LookBehindOverrun { .. })
        ));
    }
}
