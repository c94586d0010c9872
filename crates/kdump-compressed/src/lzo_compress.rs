//! The LZO1X compressor (clean room: written from the stream format in the Linux kernel's
//! `Documentation/staging/lzo.rst` and our decompressor only; see [`crate::lzo`]).
//!
//! Design:
//! - Greedy parsing with one candidate per position: a table of `TABLE_SIZE` 32-bit
//!   *keys*, indexed by a multiplicative hash (our own odd constant) of the 4 bytes at the
//!   position. A key is the position plus `KEY_BASE`, so a cleared (zero) entry reads as
//!   farther than any LZO distance and is never used. The table is cleared at the start of
//!   every call (16 KiB; it also brings the table into the cache, which measured faster
//!   than keeping stale entries), so the output depends only on the input.
//! - A candidate is used when it is at most `MAX_DIST` back and its 4 bytes equal the
//!   current ones (always compared: keys wrap for inputs over 4 GiB, harmlessly); the match
//!   is then grown backwards into the pending literals and forwards 8 bytes at a time.
//!   After a match, the position two bytes before its end is entered in the table too.
//! - After `1 << SKIP_SHIFT` failed probes in a row the probe step grows by one byte, and
//!   again after each further `1 << SKIP_SHIFT`, so incompressible data is crossed quickly.
//! - Instructions: literal runs (the first-byte form at the start, else 0-3 literals in
//!   the previous match's state bits or a `0000LLLL` run), M2 (`01LDDDSS`/`1LLDDDSS`,
//!   length 4-8 within 2 KiB), M3 (`001LLLLL`, within 16 KiB), M4 (`0001HLLL`, 16-48 KiB)
//!   and the end marker `0x11 0x00 0x00`. Never M1 and never a first byte of 17, so every
//!   LZO1X decompressor reads it (also the kernel's, which takes a leading 17 as a version).
//! - Size bound: a match of length `L >= 4` costs at most `L - 1` bytes and each literal
//!   run at most 2 bytes plus 1 per 255 literals, so the raw output is below `work_len`;
//!   if it is longer than the all-literals stream ([`max_compressed_len`]), that stream is
//!   written instead.

/// Largest distance an M4 instruction encodes (16384 + 32767).
const MAX_DIST: usize = 0xbfff;
/// Largest distance of an M2 instruction.
const M2_MAX_DIST: usize = 0x800;
/// Largest distance of an M3 instruction.
const M3_MAX_DIST: usize = 0x4000;
/// log2 of the number of table entries.
const TABLE_BITS: u32 = 12;
const TABLE_SIZE: usize = 1 << TABLE_BITS;
/// The probe step grows by one after every `1 << SKIP_SHIFT` misses in a row.
const SKIP_SHIFT: u32 = 5;
/// Spare bytes after the bound in the work buffer: literals are copied 16 at a time.
const SLACK: usize = 16;
/// The end-of-stream marker: M4, distance 16384, length 3.
const END: [u8; 3] = [0x11, 0, 0];

/// The longest stream [`compress`] writes for `n` input bytes: the length of `n` bytes as
/// one literal run plus the end marker (the compressor falls back to that stream when its
/// own output would be longer).
pub const fn max_compressed_len(n: usize) -> usize {
    if n == 0 {
        END.len()
    } else if n <= 238 {
        // One first-byte run (17 + n) and the marker.
        n + 1 + END.len()
    } else {
        // 0x00, then (n - 18) as 255 per zero byte plus a last non-zero byte.
        n.saturating_add(2 + (n - 19) / 255 + END.len())
    }
}

/// Work buffer length for `n` input bytes, above any raw output (see the module notes:
/// at most `n + n / 4 + n / 255 + 5`) plus [`SLACK`].
const fn work_len(n: usize) -> usize {
    n.saturating_add(n / 4 + n / 128 + 64 + SLACK)
}

/// A reusable LZO1X compressor: owns its match table and an output buffer.
///
/// The output depends only on the input, never on earlier calls.
#[derive(Clone)]
pub struct LzoCompressor {
    /// Last key seen per hash of 4 bytes (cleared per call).
    table: Box<[u32; TABLE_SIZE]>,
    /// Output of the last call (with spare room).
    buf: Vec<u8>,
}

impl Default for LzoCompressor {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for LzoCompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LzoCompressor")
            .field("buffer", &self.buf.len())
            .finish_non_exhaustive()
    }
}

/// The key of position 0: a cleared (zero) entry is then farther back than `MAX_DIST`.
const KEY_BASE: u32 = MAX_DIST as u32 + 1;

impl LzoCompressor {
    /// A compressor with an empty table.
    pub fn new() -> Self {
        LzoCompressor {
            table: Box::new([0u32; TABLE_SIZE]),
            buf: Vec::new(),
        }
    }

    /// Compress `input` into `out` (cleared first).
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(self.compress_to_slice(input));
    }

    /// Compress `input`; the stream stays valid until the next call.
    pub fn compress_to_slice(&mut self, input: &[u8]) -> &[u8] {
        let n = input.len();
        self.table.fill(0);
        let need = work_len(n);
        if self.buf.len() < need {
            self.buf.resize(need, 0);
        }
        let mut len = encode(&mut self.table, input, &mut self.buf);
        if len > max_compressed_len(n) {
            let mut w = Writer {
                buf: &mut self.buf,
                op: 0,
                state_at: None,
            };
            w.literals(input, 0, n);
            w.end();
            len = w.op;
        }
        self.buf.get(..len).unwrap_or_default()
    }
}

/// Compress `input` into a new vector.
pub fn compress(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    LzoCompressor::new().compress(input, &mut out);
    out
}

/// The table slot of 4 bytes.
#[inline(always)]
fn slot(v: u32) -> usize {
    (v.wrapping_mul(0x2E0B_B4C9) >> (32 - TABLE_BITS)) as usize
}

/// 8 little-endian bytes at `i`, or `None` past the end.
#[inline(always)]
fn le64(b: &[u8], i: usize) -> Option<u64> {
    b.get(i..i.wrapping_add(8))
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map(u64::from_le_bytes)
}

/// 4 little-endian bytes at `i`, or `None` past the end.
#[inline(always)]
fn le32(b: &[u8], i: usize) -> Option<u32> {
    b.get(i..i.wrapping_add(4))
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(u32::from_le_bytes)
}

/// How many bytes from `a` equal those from `b` (`a < b`), up to the end of `src`.
#[inline(always)]
fn common_len(src: &[u8], a: usize, b: usize) -> usize {
    let mut k = 0;
    while let (Some(x), Some(y)) = (le64(src, a + k), le64(src, b + k)) {
        let d = x ^ y;
        if d != 0 {
            return k + (d.trailing_zeros() / 8) as usize;
        }
        k += 8;
    }
    while let (Some(x), Some(y)) = (src.get(a + k), src.get(b + k)) {
        if x != y {
            break;
        }
        k += 1;
    }
    k
}

/// Find matches in `src` and write the stream through `w`.
/// Returns the stream's length in `buf`. (The writer is a local so that its fields can
/// live in registers.)
fn encode(table: &mut [u32; TABLE_SIZE], src: &[u8], buf: &mut [u8]) -> usize {
    let mut w = Writer {
        buf,
        op: 0,
        state_at: None,
    };
    let w = &mut w;
    let n = src.len();
    let mut anchor = 0usize;
    let mut ip = 1usize;
    let mut misses = 0u32;
    // Probe while 8 bytes can be read at `ip`.
    while let Some(v64) = le64(src, ip) {
        let v = v64 as u32;
        let h = slot(v);
        let key = KEY_BASE.wrapping_add(ip as u32);
        let dist = key.wrapping_sub(table[h]) as usize;
        table[h] = key;
        let cand = match ip.checked_sub(dist) {
            Some(c) if dist.wrapping_sub(1) < MAX_DIST && le32(src, c) == Some(v) => c,
            _ => {
                misses += 1;
                ip += 1 + (misses >> SKIP_SHIFT) as usize;
                continue;
            }
        };
        // Grow backwards into the pending literals.
        let mut back = 0;
        while ip - back > anchor
            && cand > back
            && src.get(ip - back - 1) == src.get(cand - back - 1)
        {
            back += 1;
        }
        let len = back + 4 + common_len(src, cand + 4, ip + 4);
        let start = ip - back;
        w.literals(src, anchor, start);
        w.copy(dist, len);
        ip = start + len;
        anchor = ip;
        misses = 0;
        // Remember a position near the match's end: the next data often repeats it.
        if let Some(p) = ip.checked_sub(2) {
            if let Some(x) = le32(src, p) {
                table[slot(x)] = KEY_BASE.wrapping_add(p as u32);
            }
        }
    }
    w.literals(src, anchor, n);
    w.end();
    w.op
}

/// The stream being written into a buffer of `work_len` bytes.
struct Writer<'a> {
    buf: &'a mut [u8],
    op: usize,
    /// Index of the byte whose low 2 bits give the literal count after the last match.
    state_at: Option<usize>,
}

impl Writer<'_> {
    #[inline(always)]
    fn byte(&mut self, b: u8) {
        // In bounds: the stream stays below `work_len` (module notes).
        self.buf[self.op] = b;
        self.op += 1;
    }

    /// A length beyond an instruction's field: 255 per zero byte, then the rest (`m >= 1`).
    #[inline(always)]
    fn extension(&mut self, mut m: usize) {
        while m > 255 {
            self.byte(0);
            m -= 255;
        }
        self.byte(m as u8);
    }

    /// Literal run `src[a..b]`.
    #[inline(always)]
    fn literals(&mut self, src: &[u8], a: usize, b: usize) {
        let r = b - a;
        if r == 0 {
            return;
        }
        match self.state_at {
            Some(at) if r <= 3 => self.buf[at] |= r as u8,
            None if r <= 238 => self.byte(17 + r as u8),
            _ if r <= 18 => self.byte(r as u8 - 3),
            _ => {
                self.byte(0);
                self.extension(r - 18);
            }
        }
        let op = self.op;
        match (src.get(a..a + 16), self.buf.get_mut(op..op + 16)) {
            (Some(s), Some(d)) if r <= 16 => d.copy_from_slice(s),
            _ => self.buf[op..op + r].copy_from_slice(&src[a..b]),
        }
        self.op = op + r;
    }

    /// A match of `len >= 4` bytes at distance `dist` (1..=MAX_DIST), 0 literals after it
    /// for now (`literals` sets them).
    #[inline(always)]
    fn copy(&mut self, dist: usize, len: usize) {
        let d = dist - 1;
        if dist <= M2_MAX_DIST && len <= 8 {
            let l = if len <= 4 {
                0x40 | (len - 3) << 5
            } else {
                0x80 | (len - 5) << 5
            };
            self.state_at = Some(self.op);
            self.byte((l | (d & 7) << 2) as u8);
            self.byte((d >> 3) as u8);
            return;
        }
        let d = if dist <= M3_MAX_DIST {
            if len <= 33 {
                self.byte(0x20 | (len - 2) as u8);
            } else {
                self.byte(0x20);
                self.extension(len - 33);
            }
            d
        } else {
            let far = dist - M3_MAX_DIST;
            let h = ((far >> 14) << 3) as u8;
            if len <= 9 {
                self.byte(0x10 | h | (len - 2) as u8);
            } else {
                self.byte(0x10 | h);
                self.extension(len - 9);
            }
            far & 0x3fff
        };
        self.state_at = Some(self.op);
        self.byte((d << 2) as u8);
        self.byte((d >> 6) as u8);
    }

    fn end(&mut self) {
        for b in END {
            self.byte(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lzo::decompress;

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

    /// Compress, check the bound, decode (also into one byte too few: must fail).
    fn round_trip(c: &mut LzoCompressor, data: &[u8]) -> usize {
        let z = c.compress_to_slice(data).to_vec();
        assert!(
            z.len() <= max_compressed_len(data.len()),
            "len {}: {} > bound {}",
            data.len(),
            z.len(),
            max_compressed_len(data.len())
        );
        assert!(z.len() < 5 || z[0] != 17, "a leading 17 reads as a version");
        let mut out = vec![0u8; data.len()];
        assert_eq!(
            decompress(&z, &mut out),
            Ok(data.len()),
            "len {}",
            data.len()
        );
        assert_eq!(out, data);
        if !data.is_empty() {
            let mut short = vec![0u8; data.len() - 1];
            assert!(decompress(&z, &mut short).is_err());
        }
        z.len()
    }

    #[test]
    fn bound_is_the_all_literal_stream() {
        // The bound equals the length of the literal-only stream the compressor falls
        // back to, for every length class (first-byte run, 0x00 + extension bytes).
        let data = noise(3000, 1);
        let mut buf = vec![0u8; work_len(data.len())];
        for n in 0..data.len() {
            let mut w = Writer {
                buf: &mut buf,
                op: 0,
                state_at: None,
            };
            w.literals(&data, 0, n);
            w.end();
            let len = w.op;
            assert_eq!(len, max_compressed_len(n), "n {n}");
            let mut out = vec![0u8; n];
            assert_eq!(decompress(&buf[..len], &mut out), Ok(n));
            assert_eq!(out, data[..n]);
        }
        assert_eq!(max_compressed_len(0), 3);
        assert_eq!(max_compressed_len(238), 242);
        assert_eq!(max_compressed_len(239), 244);
        assert!(max_compressed_len(usize::MAX) == usize::MAX);
    }

    #[test]
    fn every_short_length_and_kind() {
        let mut c = LzoCompressor::new();
        let kinds: Vec<Vec<u8>> = vec![
            noise(600, 3),
            vec![0u8; 600],
            (0..600u32).map(|i| (i % 3) as u8).collect(),
            (0..600u32).map(|i| (i / 7) as u8).collect(),
            noise(600, 5).iter().map(|b| b & 1).collect(),
        ];
        for k in &kinds {
            for n in 0..=k.len() {
                round_trip(&mut c, &k[..n]);
            }
        }
        assert_eq!(compress(b""), vec![0x11, 0, 0]);
        assert_eq!(compress(b"abc"), vec![17 + 3, b'a', b'b', b'c', 0x11, 0, 0]);
    }

    #[test]
    fn incompressible_data_stays_within_the_bound() {
        let mut c = LzoCompressor::new();
        for n in [4095, 4096, 4097, 49151, 49152, 65536, 300_000] {
            let d = noise(n, n as u32);
            let z = round_trip(&mut c, &d);
            assert!(z >= n, "noise of {n} bytes cannot shrink much: {z}");
        }
    }

    #[test]
    fn long_runs_and_periods() {
        let mut c = LzoCompressor::new();
        let zeros = vec![0u8; 1 << 20];
        // 255:1 at best (one extension byte per 255 bytes of match length).
        let z = round_trip(&mut c, &zeros);
        assert!(z < (1 << 20) / 200, "{z}");
        for period in 1..=20usize {
            let base = noise(period, period as u32);
            let v: Vec<u8> = (0..70_000).map(|i| base[i % period]).collect();
            let z = round_trip(&mut c, &v);
            assert!(z < 1000, "period {period}: {z}");
        }
    }

    #[test]
    fn distances_at_every_instruction_limit() {
        // A 64-byte block, a run of one other byte, the block again `d` bytes after its
        // first copy: a match at distance d (M2, M3, M4 and their limits) when d <= 49151,
        // none beyond (compared with a different second block).
        let mut c = LzoCompressor::new();
        let block = noise(64, 99);
        for d in [
            64, 2047, 2048, 2049, 16383, 16384, 16385, 32767, 32768, 32769, 49150, 49151, 49152,
            60000,
        ] {
            let with = |second: &[u8]| {
                let mut v = block.clone();
                v.resize(d, 0xaa);
                v.extend_from_slice(second);
                v
            };
            let z_same = round_trip(&mut c, &with(&block));
            let z_other = round_trip(&mut c, &with(&noise(64, 5)));
            if d <= MAX_DIST {
                assert!(z_same + 50 <= z_other, "d {d}: {z_same} vs {z_other}");
            } else {
                assert!(z_same + 5 >= z_other, "d {d}: {z_same} vs {z_other}");
            }
        }
    }

    #[test]
    fn literals_of_every_count_after_a_match() {
        // A match followed by k literals then another match: k = 1-3 go into the state
        // bits, k >= 4 a literal run (with extension bytes beyond 18).
        let mut c = LzoCompressor::new();
        let rep = noise(40, 7);
        for k in 0..300 {
            let mut v = rep.clone();
            v.extend_from_slice(&rep);
            v.extend_from_slice(&noise(k, 1000 + k as u32));
            v.extend_from_slice(&rep);
            round_trip(&mut c, &v);
        }
    }

    #[test]
    fn output_depends_only_on_the_input() {
        let inputs = [
            noise(4096, 1).iter().map(|b| b & 3).collect::<Vec<u8>>(),
            (0..4096u32).map(|i| (i * 7 / 64) as u8).collect(),
            noise(100_000, 2),
            vec![5u8; 70_000],
        ];
        let fresh: Vec<Vec<u8>> = inputs.iter().map(|i| compress(i)).collect();
        let mut used = LzoCompressor::new();
        for round in 0..3 {
            for (k, i) in inputs.iter().enumerate().rev() {
                let mut out = vec![1, 2, 3];
                used.compress(i, &mut out);
                assert_eq!(out, fresh[k], "round {round} input {k}");
            }
        }
        let c2 = used.clone();
        assert!(format!("{c2:?}").starts_with("LzoCompressor"));
        assert_eq!(
            LzoCompressor::default().compress_to_slice(&inputs[1]),
            &fresh[1][..]
        );
    }
}
