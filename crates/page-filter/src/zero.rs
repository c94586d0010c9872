//! The zero-page test: no per-byte branch; 256-byte blocks OR-reduced as 64-bit words, which
//! the compiler turns into vector ORs.

const BLOCK: usize = 256;

#[inline(always)]
fn or_block(b: &[u8; BLOCK]) -> u64 {
    let mut acc = [0u64; 4];
    for (i, w) in b.chunks_exact(8).enumerate() {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        acc[i & 3] |= u64::from_ne_bytes(a);
    }
    acc[0] | acc[1] | acc[2] | acc[3]
}

/// Whether every byte of `buf` is zero.
///
/// One branch per 256 bytes; ≥ 10 GB/s per core on cached data on current x86_64 (see the
/// crate's `bench` example).
///
/// ```
/// assert!(page_filter::is_zero_page(&[0u8; 4096]));
/// let mut p = [0u8; 4096];
/// p[4095] = 1;
/// assert!(!page_filter::is_zero_page(&p));
/// ```
#[inline]
pub fn is_zero_page(buf: &[u8]) -> bool {
    let mut blocks = buf.chunks_exact(BLOCK);
    for b in &mut blocks {
        let Ok(arr) = <&[u8; BLOCK]>::try_from(b) else {
            return false;
        };
        if or_block(arr) != 0 {
            return false;
        }
    }
    blocks.remainder().iter().fold(0u8, |a, &x| a | x) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_naive(len in 0usize..9000, pos in any::<prop::sample::Index>(), v in 1u8..) {
            let mut b = vec![0u8; len];
            prop_assert!(is_zero_page(&b));
            if len > 0 {
                let i = pos.index(len);
                b[i] = v;
                prop_assert!(!is_zero_page(&b));
            }
        }
    }
}
