//! SHA-256 in plain scalar code (FIPS 180-4).
//!
//! The host library's digest: what the loader stores for the purgatory to check. The
//! purgatory checks it with its own volatile-access version (purgatory/vsha256.rs); both take
//! the round constants from purgatory/sha256_k.rs, and the crate's tests compare the two.

include!("../purgatory/sha256_k.rs");

const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// An incremental SHA-256 computation.
#[derive(Clone)]
pub struct Sha256 {
    state: [u32; 8],
    block: [u8; 64],
    used: usize,
    total: u64,
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha256 {
    /// A fresh computation.
    pub const fn new() -> Self {
        Sha256 {
            state: H0,
            block: [0; 64],
            used: 0,
            total: 0,
        }
    }

    fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
        let mut w = [0u32; 64];
        let mut i = 0;
        while i < 16 {
            w[i] = u32::from_be_bytes([
                block[4 * i],
                block[4 * i + 1],
                block[4 * i + 2],
                block[4 * i + 3],
            ]);
            i += 1;
        }
        while i < 64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
            i += 1;
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
        i = 0;
        while i < 64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = h
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            h = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
            i += 1;
        }
        state[0] = state[0].wrapping_add(a);
        state[1] = state[1].wrapping_add(b);
        state[2] = state[2].wrapping_add(c);
        state[3] = state[3].wrapping_add(d);
        state[4] = state[4].wrapping_add(e);
        state[5] = state[5].wrapping_add(f);
        state[6] = state[6].wrapping_add(g);
        state[7] = state[7].wrapping_add(h);
    }

    /// Feed one byte.
    #[inline]
    pub fn update_byte(&mut self, byte: u8) {
        self.block[self.used] = byte;
        self.used += 1;
        self.total = self.total.wrapping_add(1);
        if self.used == 64 {
            Self::compress(&mut self.state, &self.block);
            self.used = 0;
        }
    }

    /// Feed bytes.
    pub fn update(&mut self, data: &[u8]) {
        let mut rest = data;
        // Fill a partial block first, then whole blocks straight from the input.
        while self.used != 0 && !rest.is_empty() {
            self.update_byte(rest[0]);
            rest = &rest[1..];
        }
        while rest.len() >= 64 {
            let mut block = [0u8; 64];
            let mut i = 0;
            while i < 64 {
                block[i] = rest[i];
                i += 1;
            }
            Self::compress(&mut self.state, &block);
            self.total = self.total.wrapping_add(64);
            rest = &rest[64..];
        }
        for &b in rest {
            self.update_byte(b);
        }
    }

    /// Feed `count` zero bytes (the zero padding of a segment between its data and memsz).
    pub fn update_zeros(&mut self, mut count: u64) {
        while count > 0 && self.used != 0 {
            self.update_byte(0);
            count -= 1;
        }
        let zero = [0u8; 64];
        while count >= 64 {
            Self::compress(&mut self.state, &zero);
            self.total = self.total.wrapping_add(64);
            count -= 64;
        }
        while count > 0 {
            self.update_byte(0);
            count -= 1;
        }
    }

    /// Finish and return the 32-byte digest.
    pub fn finish(mut self) -> [u8; 32] {
        let bits = self.total.wrapping_mul(8);
        self.update_byte(0x80);
        while self.used != 56 {
            self.update_byte(0);
        }
        let len = bits.to_be_bytes();
        let mut i = 0;
        while i < 8 {
            self.update_byte(len[i]);
            i += 1;
        }
        let mut out = [0u8; 32];
        i = 0;
        while i < 8 {
            let w = self.state[i].to_be_bytes();
            out[4 * i] = w[0];
            out[4 * i + 1] = w[1];
            out[4 * i + 2] = w[2];
            out[4 * i + 3] = w[3];
            i += 1;
        }
        out
    }
}
