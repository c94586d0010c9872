//! Physical memory placement: a free list of page-aligned holes, and the segments placed in it.

/// Page size for segment alignment.
pub const PAGE: u64 = 4096;

/// Round up to a multiple of `a` (a power of two), None on overflow.
pub fn align_up(x: u64, a: u64) -> Option<u64> {
    Some(x.checked_add(a - 1)? & !(a - 1))
}

/// Free physical memory: sorted, disjoint half-open `[start, end)` holes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Holes {
    free: Vec<(u64, u64)>,
}

impl Holes {
    /// Holes from inclusive `[start, end]` ranges, shrunk inward to page boundaries.
    pub fn from_inclusive(ranges: &[(u64, u64)]) -> Self {
        let mut free: Vec<(u64, u64)> = ranges
            .iter()
            .filter_map(|&(s, e)| {
                let s = align_up(s, PAGE)?;
                let e = e.saturating_add(1) & !(PAGE - 1);
                (s < e).then_some((s, e))
            })
            .collect();
        free.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(free.len());
        for (s, e) in free {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        Holes { free: merged }
    }

    /// The holes.
    pub fn holes(&self) -> &[(u64, u64)] {
        &self.free
    }

    /// Take `[start, start + size)` if it is entirely free.
    pub fn take_exact(&mut self, start: u64, size: u64) -> bool {
        let Some(end) = start.checked_add(size) else {
            return false;
        };
        let Some(i) = self.free.iter().position(|&(s, e)| s <= start && end <= e) else {
            return false;
        };
        let (s, e) = self.free.remove(i);
        if end < e {
            self.free.insert(i, (end, e));
        }
        if s < start {
            self.free.insert(i, (s, start));
        }
        true
    }

    /// Find and take `size` bytes aligned to `align` within `[min, max_end)`, lowest or highest
    /// address first.
    pub fn take(
        &mut self,
        size: u64,
        align: u64,
        min: u64,
        max_end: u64,
        top_down: bool,
    ) -> Option<u64> {
        let align = align.max(PAGE);
        if !align.is_power_of_two() || size == 0 {
            return None;
        }
        let mut found = None;
        let iter: Box<dyn Iterator<Item = &(u64, u64)>> = if top_down {
            Box::new(self.free.iter().rev())
        } else {
            Box::new(self.free.iter())
        };
        for &(s, e) in iter {
            let lo = s.max(min);
            let hi = e.min(max_end);
            if lo >= hi {
                continue;
            }
            let cand = if top_down {
                hi.checked_sub(size)
                    .map(|x| x & !(align - 1))
                    .filter(|&x| x >= lo)
            } else {
                align_up(lo, align).filter(|&x| x.checked_add(size).is_some_and(|end| end <= hi))
            };
            if let Some(c) = cand {
                found = Some(c);
                break;
            }
        }
        let at = found?;
        self.take_exact(at, size).then_some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_take() {
        let mut h = Holes::from_inclusive(&[(0x1000, 0x9fbff), (0x10_0000, 0x3fff_ffff)]);
        assert_eq!(h.holes(), &[(0x1000, 0x9f000), (0x10_0000, 0x4000_0000)]);
        assert_eq!(
            h.take(0x2000, 0x20_0000, 0x100_0000, u64::MAX, false),
            Some(0x100_0000)
        );
        assert_eq!(
            h.take(0x1000, 0x1000, 0, 0x8000_0000, true),
            Some(0x3fff_f000)
        );
        assert_eq!(h.take(0x1000, 0x1000, 0, 0x10_0000, false), Some(0x1000));
        assert!(!h.take_exact(0x100_0000, 0x1000));
        assert_eq!(h.take(0x1_0000_0000, 0x1000, 0, u64::MAX, false), None);
    }
}
