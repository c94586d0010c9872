//! SHA-256 for the purgatory: every word of state lives in one static scratch area and is read
//! and written with volatile scalar accesses, so the code generator never merges them into
//! vector (xmm) loads or stores. Slow and simple; the host library's own SHA-256 (src/sha256.rs)
//! is checked against this one in the crate's tests.

include!("sha256_k.rs");

/// Scratch words: 0..8 hash state, 8..72 message schedule, 72..88 the current block (big-endian
/// words), 88 bytes used in the block, 89/90 total length low/high 32 bits.
const H: usize = 0;
const W: usize = 8;
const B: usize = 72;
const USED: usize = 88;
const TOT_LO: usize = 89;
const TOT_HI: usize = 90;
const WORDS: usize = 91;

/// State of one computation: a pointer to [`SCRATCH_WORDS`] u32 words of scratch memory.
pub struct VSha {
    s: *mut u32,
}

/// Number of u32 words of scratch memory a [`VSha`] needs.
pub const SCRATCH_WORDS: usize = WORDS;

impl VSha {
    #[inline(always)]
    fn get(&self, i: usize) -> u32 {
        // SAFETY: `s` points to WORDS words (contract of `new`) and i < WORDS by construction
        // (callers index with constants plus masked offsets).
        unsafe { core::ptr::read_volatile(self.s.add(i % WORDS)) }
    }
    #[inline(always)]
    fn set(&mut self, i: usize, v: u32) {
        // SAFETY: as in `get`.
        unsafe { core::ptr::write_volatile(self.s.add(i % WORDS), v) }
    }

    /// Start a computation in the scratch area.
    ///
    /// # Safety
    /// `scratch` must be valid for reads and writes of [`SCRATCH_WORDS`] u32 words, 4-aligned,
    /// and not used by anything else while the computation runs.
    pub unsafe fn new(scratch: *mut u32) -> Self {
        let mut h = VSha { s: scratch };
        h.set(H, 0x6a09e667);
        h.set(H + 1, 0xbb67ae85);
        h.set(H + 2, 0x3c6ef372);
        h.set(H + 3, 0xa54ff53a);
        h.set(H + 4, 0x510e527f);
        h.set(H + 5, 0x9b05688c);
        h.set(H + 6, 0x1f83d9ab);
        h.set(H + 7, 0x5be0cd19);
        h.set(USED, 0);
        h.set(TOT_LO, 0);
        h.set(TOT_HI, 0);
        h
    }

    fn compress(&mut self) {
        let mut i = 0;
        while i < 16 {
            let v = self.get(B + i);
            self.set(W + i, v);
            i += 1;
        }
        self.rounds();
    }

    /// Hash `nblocks` whole 64-byte blocks read straight from memory at `data`. Only valid on a
    /// block boundary (no partial block buffered); returns false (doing nothing) otherwise.
    ///
    /// # Safety
    /// `data` must be readable for `nblocks * 64` bytes.
    pub unsafe fn blocks(&mut self, data: *const u8, nblocks: u64) -> bool {
        if self.get(USED) != 0 {
            return false;
        }
        let mut n = 0u64;
        while n < nblocks {
            let mut i = 0;
            while i < 16 {
                // SAFETY: inside the caller's readable range; unaligned reads are fine on x86.
                let v = unsafe {
                    core::ptr::read_unaligned(data.add((n * 64) as usize + 4 * i) as *const u32)
                };
                self.set(W + i, u32::from_be(v));
                i += 1;
            }
            self.rounds();
            n += 1;
        }
        let bytes = nblocks.wrapping_mul(64);
        let lo = self.get(TOT_LO) as u64 | ((self.get(TOT_HI) as u64) << 32);
        let t = lo.wrapping_add(bytes);
        self.set(TOT_LO, t as u32);
        self.set(TOT_HI, (t >> 32) as u32);
        true
    }

    fn rounds(&mut self) {
        let mut i = 16;
        while i < 64 {
            let w15 = self.get(W + i - 15);
            let w2 = self.get(W + i - 2);
            let s0 = w15.rotate_right(7) ^ w15.rotate_right(18) ^ (w15 >> 3);
            let s1 = w2.rotate_right(17) ^ w2.rotate_right(19) ^ (w2 >> 10);
            let v = self
                .get(W + i - 16)
                .wrapping_add(s0)
                .wrapping_add(self.get(W + i - 7))
                .wrapping_add(s1);
            self.set(W + i, v);
            i += 1;
        }
        let mut a = self.get(H);
        let mut b = self.get(H + 1);
        let mut c = self.get(H + 2);
        let mut d = self.get(H + 3);
        let mut e = self.get(H + 4);
        let mut f = self.get(H + 5);
        let mut g = self.get(H + 6);
        let mut h = self.get(H + 7);
        i = 0;
        while i < 64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = h
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i & 63])
                .wrapping_add(self.get(W + i));
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            h = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(s0.wrapping_add(maj));
            i += 1;
        }
        let add = [a, b, c, d, e, f, g, h];
        let mut j = 0;
        while j < 8 {
            let v = self.get(H + j).wrapping_add(add[j & 7]);
            self.set(H + j, v);
            j += 1;
        }
    }

    /// Feed one byte.
    pub fn byte(&mut self, x: u8) {
        let used = self.get(USED) as usize & 63;
        let word = B + used / 4;
        let shift = 24 - 8 * (used % 4) as u32;
        let old = if used % 4 == 0 { 0 } else { self.get(word) };
        self.set(word, old | ((x as u32) << shift));
        let lo = self.get(TOT_LO);
        let (nlo, carry) = lo.overflowing_add(1);
        self.set(TOT_LO, nlo);
        if carry {
            let hi = self.get(TOT_HI);
            self.set(TOT_HI, hi.wrapping_add(1));
        }
        if used == 63 {
            self.compress();
            self.set(USED, 0);
        } else {
            self.set(USED, used as u32 + 1);
        }
    }

    /// Finish; compare with `want` byte by byte; true when equal.
    pub fn finish_matches(mut self, want: *const u8) -> bool {
        let lo = self.get(TOT_LO);
        let hi = self.get(TOT_HI);
        let bits_hi = (hi << 3) | (lo >> 29);
        let bits_lo = lo << 3;
        self.byte(0x80);
        while self.get(USED) != 56 {
            self.byte(0);
        }
        let mut k = 0;
        while k < 4 {
            self.byte((bits_hi >> (24 - 8 * k)) as u8);
            k += 1;
        }
        k = 0;
        while k < 4 {
            self.byte((bits_lo >> (24 - 8 * k)) as u8);
            k += 1;
        }
        let mut diff = 0u32;
        let mut j = 0usize;
        while j < 32 {
            let word = self.get(H + j / 4);
            let got = (word >> (24 - 8 * (j % 4) as u32)) as u8;
            // SAFETY: the caller passes a pointer to 32 digest bytes.
            let w = unsafe { core::ptr::read_volatile(want.add(j)) };
            diff |= (got ^ w) as u32;
            j += 1;
        }
        diff == 0
    }
}
