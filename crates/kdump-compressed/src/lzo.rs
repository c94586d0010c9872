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
//! How the compressor is fast without `unsafe`: input is matched in chunks of at most 48 KiB
//! (one for a page) copied into a padded 64 KiB window, and the stream is built in a padded
//! 64 KiB stage; every access is at a position masked to 16 bits, so the optimizer drops all
//! bounds checks. The hash table (4096 `u16` positions) is cleared per chunk instead of
//! validating entries. The search probes 4-byte hashes with a step that grows with the
//! literal run, tries the previous match distance one byte after each match first, extends
//! matches 16 bytes at a time (two 8-byte XORs + trailing zeros) and copies literals 16
//! bytes at a time.
//! On the 6.1 fixture's pages it compresses faster than liblzo2's `lzo1x_1_compress` with
//! output within 0.5% of its size (`cargo run --release --example codec-bench`).
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
const PAD: usize = 16;
type Window = [u8; WIN + PAD];
/// A chunk's instructions are written to a stage of this size (a chunk's output is at most
/// [`max_compressed_len`]`(CHUNK)` < 52 KiB), indexed the same way.
const STAGE: usize = 1 << 16;
const STAGE_MASK: usize = STAGE - 1;
type Stage = [u8; STAGE + PAD];
/// Chunks shorter than this are stored as literals.
const MIN_CHUNK: usize = 16;
/// The last 4 bytes of a chunk never start a match (the 4-byte probe stays inside it).
const TAIL: usize = 4;
const HASH_LOG: u32 = 12;
/// Literals skipped before a match at the last distance is tried.
const REP_SKIP: usize = 1;
/// Literals before the search step grows by one byte (log2). liblzo2's LZO1X-1 uses 5; 4 is
/// ~15% faster on dump pages, and the repeat-distance check more than wins back the ratio
/// on kernel pages (within 0.5% of liblzo2 on a whole vmcore, ~3% smaller on `-d 31` pages).
const SKIP_SHIFT: u32 = 4;

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
    win: Box<Window>,
    stage: Box<Stage>,
    /// Output of inputs longer than one chunk.
    long: Vec<u8>,
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

/// A boxed zeroed array (built on the heap: these are too large for the stack).
fn zeroed<const N: usize>() -> Box<[u8; N]> {
    vec![0u8; N]
        .into_boxed_slice()
        .try_into()
        .unwrap_or_else(|_| Box::new([0u8; N]))
}

/// Append the variable-length tail of a length that did not fit in its instruction.
fn ext_to_vec(v: &mut Vec<u8>, mut n: usize) {
    while n > 255 {
        v.push(0);
        n -= 255;
    }
    v.push(n as u8);
}

/// Append a literal run to a stream being built in `v` (any length; the general path for
/// runs that cross chunk boundaries).
fn literals_to_vec(v: &mut Vec<u8>, parts: [&[u8]; 2]) {
    let n = parts[0].len() + parts[1].len();
    if n == 0 {
        return;
    }
    if v.is_empty() && n <= 238 {
        v.push(17 + n as u8);
    } else if n <= 3 {
        let at = v.len().wrapping_sub(2);
        if let Some(b) = v.get_mut(at) {
            *b |= n as u8;
        }
    } else if n <= 18 {
        v.push((n - 3) as u8);
    } else {
        v.push(0);
        ext_to_vec(v, n - 18);
    }
    v.extend_from_slice(parts[0]);
    v.extend_from_slice(parts[1]);
}

/// Output cursor over a stage. Every store is at a masked position, so it needs no bounds
/// check; the stage is larger than any chunk's output, so the mask never wraps.
struct Out<'a> {
    b: &'a mut Stage,
    n: usize,
}

impl Out<'_> {
    #[inline(always)]
    fn push(&mut self, v: u8) {
        self.b[self.n & STAGE_MASK] = v;
        self.n += 1;
    }

    /// Store 4 bytes, keep the first `k`.
    #[inline(always)]
    fn put(&mut self, v: u32, k: usize) {
        let j = self.n & STAGE_MASK;
        self.b[j..j + 4].copy_from_slice(&v.to_le_bytes());
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

    /// Copy window bytes `from..from + n` to the output, 16 at a time (the window's and the
    /// stage's padding absorb the excess).
    #[inline(always)]
    fn copy(&mut self, w: &Window, from: usize, n: usize) {
        let mut k = 0;
        while k < n {
            let s = (from + k) & WIN_MASK;
            let d = (self.n + k) & STAGE_MASK;
            self.b[d..d + 16].copy_from_slice(&w[s..s + 16]);
            k += 16;
        }
        self.n += n;
    }

    /// The literal run `..n` of window bytes that starts the stream.
    fn first_literals(&mut self, w: &Window, n: usize) {
        if n == 0 {
            return;
        }
        if n <= 238 {
            self.push(17 + n as u8);
        } else {
            self.push(0);
            self.ext(n - 18);
        }
        self.copy(w, 0, n);
    }

    /// A literal run of window bytes `from..to` (local positions of the current chunk) after
    /// a match instruction in this stage.
    #[inline(always)]
    fn literals(&mut self, w: &Window, from: usize, to: usize) {
        let n = to - from;
        if n <= 3 {
            // Carried in the S bits of the previous match instruction (nothing if n = 0).
            self.b[self.n.wrapping_sub(2) & STAGE_MASK] |= n as u8;
            let s = from & WIN_MASK;
            let d = self.n & STAGE_MASK;
            self.b[d..d + 4].copy_from_slice(&w[s..s + 4]);
            self.n += n;
            return;
        }
        if n <= 18 {
            self.push((n - 3) as u8);
        } else {
            self.push(0);
            self.ext(n - 18);
        }
        self.copy(w, from, n);
    }

    /// A match of `len` (>= 4) bytes at distance `dist` (1..=0xbfff).
    #[inline(always)]
    fn matched(&mut self, dist: usize, len: usize) {
        let d = dist - 1;
        if (len <= 8) & (d < 0x800) {
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
            win: zeroed(),
            stage: zeroed(),
            long: Vec::new(),
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
        if n <= CHUNK {
            // One chunk (every page): the whole stream is built in the stage.
            let mut o = Out {
                b: &mut self.stage,
                n: 0,
            };
            self.win[..n].copy_from_slice(input);
            let mut pending = None;
            if n >= MIN_CHUNK {
                self.table.fill(0);
                pending = compress_chunk(&mut o, &self.win, &mut self.table, n, None);
            }
            match pending {
                Some(ii) => o.literals(&self.win, ii, n),
                None => o.first_literals(&self.win, n),
            }
            o.put(0x11, 3);
            let len = o.n.min(STAGE);
            return &self.stage[..len];
        }
        // Longer inputs: chunk by chunk, each chunk's stage appended to `long`. A literal run
        // still pending at the end of a chunk continues into the next one.
        let v = &mut self.long;
        v.clear();
        v.reserve(max_compressed_len(n));
        let mut lit = 0usize;
        let mut s = 0usize;
        while n - s >= MIN_CHUNK {
            let c = (n - s).min(CHUNK);
            self.table.fill(0);
            self.win[..c].copy_from_slice(&input[s..s + c]);
            let mut o = Out {
                b: &mut self.stage,
                n: 0,
            };
            let carried = input.get(lit..s).unwrap_or(&[]);
            if let Some(ii) =
                compress_chunk(&mut o, &self.win, &mut self.table, c, Some((carried, v)))
            {
                lit = s + ii;
            }
            let used = o.n.min(STAGE);
            v.extend_from_slice(&self.stage[..used]);
            s += c;
        }
        literals_to_vec(v, [input.get(lit..).unwrap_or(&[]), &[]]);
        v.extend_from_slice(&[0x11, 0, 0]);
        &self.long
    }
}

/// Probe positions from `*ip` on until one's 4 bytes equal those at the position last seen
/// with the same hash: returns (position, earlier position), or `None` past `limit`. Every
/// probed position is remembered; the step grows with the length of the pending literal run
/// (which started at `ii`), so incompressible data is crossed in few probes.
#[inline(always)]
fn find(
    win: &Window,
    table: &mut [u16; 1 << HASH_LOG],
    ip: &mut usize,
    ii: usize,
    limit: usize,
) -> Option<(usize, usize)> {
    loop {
        let p = *ip;
        if p > limit {
            return None;
        }
        let dv = w32(win, p);
        let h = hash(dv);
        let cand = table[h] as usize;
        table[h] = p as u16;
        if w32(win, cand) == dv {
            return Some((p, cand));
        }
        *ip = p + 1 + ((p - ii) >> SKIP_SHIFT);
    }
}

/// Length of the match at `cur` against `cand` (at least 4 bytes equal), 16 bytes at a time,
/// at most to the chunk end `c`.
#[inline(always)]
fn match_len(win: &Window, cur: usize, cand: usize, c: usize) -> usize {
    let max = c - cur;
    let mut len = 4usize;
    loop {
        let x1 = w64(win, cur + len) ^ w64(win, cand + len);
        let x2 = w64(win, cur + len + 8) ^ w64(win, cand + len + 8);
        if (x1 | x2) != 0 {
            let t = if x1 != 0 {
                x1.trailing_zeros()
            } else {
                64 + x2.trailing_zeros()
            };
            len += (t >> 3) as usize;
            break;
        }
        len += 16;
        if len >= max {
            break;
        }
    }
    len.min(max)
}

/// Find and emit the matches of one chunk of `c` bytes in `win`. With `carry`, the stream so
/// far is in a vector and a literal run may be pending from earlier chunks (the given bytes,
/// possibly none): it is completed and written there at the first match, before anything
/// goes to the stage; without, the chunk starts the stream. Returns the local start of the
/// literals still pending at the end, or `None` if the chunk had no match.
#[inline(always)]
fn compress_chunk(
    o: &mut Out<'_>,
    win: &Window,
    table: &mut [u16; 1 << HASH_LOG],
    c: usize,
    carry: Option<(&[u8], &mut Vec<u8>)>,
) -> Option<usize> {
    let limit = c - TAIL;
    // Position 0 is in every (zeroed) table slot already.
    let mut ip = 1usize;
    let mut m = find(win, table, &mut ip, 0, limit)?;
    match carry {
        Some((carried, v)) => literals_to_vec(v, [carried, win.get(..m.0).unwrap_or(&[])]),
        None => o.first_literals(win, m.0),
    }
    loop {
        let (cur, cand) = m;
        let len = match_len(win, cur, cand, c);
        let dist = cur - cand;
        o.matched(dist, len);
        ip = cur + len;
        let ii = ip;
        if ip <= limit {
            // Remember a position near the end of the match (cheap, helps the ratio).
            let p = ip - 2;
            table[hash(w32(win, p))] = p as u16;
        }
        // Records of a table (page tables, struct page arrays) differ from their neighbours
        // in a byte or two: after one literal the data often matches again at the same
        // distance. Checking that first skips a dependent hash probe and finds longer
        // matches (LZO1X has no repeat-distance code, so this is only a search shortcut).
        let q = ip + REP_SKIP;
        m = if q <= limit && w32(win, q) == w32(win, q - dist) {
            table[hash(w32(win, q))] = q as u16;
            (q, q - dist)
        } else {
            match find(win, table, &mut ip, ii, limit) {
                Some(m) => m,
                None => return Some(ii),
            }
        };
        o.literals(win, ii, m.0);
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
        let i = self.i;
        // Short runs (the common case) as one 16-byte copy when both buffers have room.
        if n <= 16 {
            if let (Some(src), Some(dst)) = (self.b.get(i..i + 16), out.get_mut(*op..*op + 16)) {
                dst.copy_from_slice(src);
                self.i += n;
                *op += n;
                return Ok(());
            }
        }
        let src = self
            .b
            .get(i..i.saturating_add(n))
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

/// `out[to..to + N] = out[from..from + N]` (no-op if either is out of bounds; callers check).
#[inline(always)]
fn copy_n<const N: usize>(out: &mut [u8], from: usize, to: usize) {
    let mut t = [0u8; N];
    if let Some(s) = out.get(from..from + N) {
        t.copy_from_slice(s);
        if let Some(d) = out.get_mut(to..to + N) {
            d.copy_from_slice(&t);
        }
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
    let (o, start) = (*op, *op - dist);
    *op = end;
    // Each copy below reads only bytes that are final: earlier output, or bytes this match
    // has already written (the source trails the destination by `dist`).
    if dist >= 8 {
        if len >= 8 {
            let mut k = 0;
            while k + 8 <= len {
                copy_n::<8>(out, start + k, o + k);
                k += 8;
            }
            if k < len {
                // The last, partial block as a full one ending at `end` (overlapping).
                copy_n::<8>(out, start + len - 8, end - 8);
            }
            return Ok(());
        }
        if len >= 4 {
            copy_n::<4>(out, start, o);
            copy_n::<4>(out, start + len - 4, end - 4);
            return Ok(());
        }
    }
    // In bounds below: start + k < o + k < end <= out.len().
    if len >= 16 {
        // A pattern of period `dist` < 8 (a run): 8 bytes one by one, then 8-byte blocks
        // from a whole number of periods (at least 8) back, which equals `dist` back.
        for k in 0..8 {
            out[o + k] = out[start + k];
        }
        let back = dist * 8usize.div_ceil(dist);
        let mut k = 8;
        while k + 8 <= len {
            copy_n::<8>(out, o + k - back, o + k);
            k += 8;
        }
        if k < len {
            copy_n::<8>(out, end - 8 - back, end - 8);
        }
        return Ok(());
    }
    // Short: byte by byte.
    for k in 0..len {
        out[o + k] = out[start + k];
    }
    Ok(())
}

/// Decode an LZO1X stream into `out`; returns the number of bytes produced. Never writes
/// past `out`, never reads past `input`, and requires the end-of-stream marker to be the
/// last thing in `input`. Bytes of `out` after the returned length may have been
/// overwritten (literals and matches are copied in blocks of 8 or 16 bytes where `out`
/// has room).
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

    fn noise(n: usize, seed: u32) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    #[test]
    fn output_does_not_depend_on_history() {
        let a: Vec<u8> = noise(4096, 7).iter().map(|b| b & 3).collect();
        let b: Vec<u8> = (0..4096u32).map(|i| (i * 7 / 64) as u8).collect();
        let mut used = LzoCompressor::new();
        used.compress_to_slice(&a);
        used.compress_to_slice(&noise(100_000, 3));
        let after = used.compress_to_slice(&b).to_vec();
        assert_eq!(after, compress(&b));
    }

    #[test]
    fn chunk_boundaries() {
        // Matches that end exactly at a chunk end, 1-3 literals after it (their count goes
        // into the previous chunk's last instruction), literal runs longer than a chunk.
        for n in [
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            CHUNK + 15,
            CHUNK + 16,
            CHUNK + 17,
            2 * CHUNK + 3,
        ] {
            round_trip(&vec![0u8; n]);
            round_trip(&noise(n, n as u32));
            for k in 1..=4 {
                let mut v = vec![0u8; CHUNK];
                v.extend_from_slice(&noise(k, 9)[..k]);
                v.resize(n.max(CHUNK + k), 0);
                round_trip(&v);
            }
        }
        let mut v = noise(3 * CHUNK, 5);
        v.extend_from_slice(&[9u8; 1000]);
        round_trip(&v);
    }

    #[test]
    fn match_copies_of_every_short_period_and_length() {
        // Periodic data gives matches at distance = period: overlapping runs (period < 8),
        // block copies with a partial last block, 4..8-byte copies.
        for period in 1..=20usize {
            for run in [2usize, 3, 4, 5, 7, 8, 9, 15, 16, 17, 23, 24, 25, 40, 300] {
                let mut v = noise(period, period as u32);
                while v.len() < period + run {
                    v.push(v[v.len() - period]);
                }
                v.extend_from_slice(&noise(9, 77));
                round_trip(&v);
            }
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
