//! The window-by-window driver: bitmaps 1 and 2 and the per-class statistics.

use std::fmt;

use crate::error::Error;
use crate::info::VmcoreInfo;
use crate::memmap::{MemMap, MemoryModel};
use crate::page::{DumpLevel, PageClass, Verdict};
use crate::rules::KernelRules;
use crate::source::{MemorySource, PhysRange};
use crate::zero::is_zero_page;

/// Struct pages read at once (makedumpfile's PGMM_CACHED): compound heads look at the next
/// struct page only inside such a block, which keeps our results identical to its.
const STRUCT_PAGE_BLOCK: u64 = 512;
/// Windows start on multiples of this many frames, so each window's bitmap bytes begin on a
/// 4096-byte block of the kdump-compressed bitmap.
const WINDOW_ALIGN: u64 = 4096 * 8;
/// Highest frame number accepted (2^52 bytes of physical address space with 4 KiB pages).
const MAX_PFN_LIMIT: u64 = 1 << 52;

/// How to run the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterConfig {
    /// Which classes to leave out.
    pub level: DumpLevel,
    /// Most bytes the two bitmaps of one window may take together (default 16 MiB: a window of
    /// 64 Mi frames, 256 GiB of RAM; smaller dumps get one window).
    pub bitmap_budget: usize,
    /// Decide zero pages here, reading every dumpable page (what makedumpfile does for ELF
    /// output). Off by default: for kdump-compressed output zero pages stay set in bitmap 2 and
    /// the writer tests each page with [`crate::is_zero_page`] as it copies it.
    pub exclude_zero_pages: bool,
}

impl FilterConfig {
    /// Defaults for a dump level.
    pub fn new(level: DumpLevel) -> Self {
        FilterConfig {
            level,
            bitmap_budget: 16 << 20,
            exclude_zero_pages: false,
        }
    }
}

/// Page counts, as makedumpfile reports them at the end of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Pages filled with zero (only counted here with `exclude_zero_pages`; otherwise the
    /// writer adds them with [`Stats::add`]).
    pub zero: u64,
    /// Non-private cache pages.
    pub cache: u64,
    /// Private cache pages.
    pub cache_private: u64,
    /// User process data pages.
    pub user: u64,
    /// Free pages.
    pub free: u64,
    /// Hardware-poisoned pages.
    pub hwpoison: u64,
    /// Offline pages.
    pub offline: u64,
    /// Memory hole, counted as makedumpfile does: total minus the sum of every memory range's
    /// frames (overlapping ranges, such as the kernel-text PT_LOAD, count twice).
    pub memory_hole: u64,
    /// Total frames (max pfn).
    pub total: u64,
    /// Frames present in the dump (bits set in bitmap 1), overlaps counted once.
    pub present: u64,
    /// Frames whose struct page could not be read; they are kept.
    pub unreadable_struct_pages: u64,
}

impl Stats {
    /// Count `n` more pages of `class`.
    pub fn add(&mut self, class: PageClass, n: u64) {
        let c = match class {
            PageClass::Zero => &mut self.zero,
            PageClass::Cache => &mut self.cache,
            PageClass::CachePrivate => &mut self.cache_private,
            PageClass::User => &mut self.user,
            PageClass::Free => &mut self.free,
            PageClass::Hwpoison => &mut self.hwpoison,
            PageClass::Offline => &mut self.offline,
        };
        *c = c.saturating_add(n);
    }

    /// The count of one class.
    pub fn get(&self, class: PageClass) -> u64 {
        match class {
            PageClass::Zero => self.zero,
            PageClass::Cache => self.cache,
            PageClass::CachePrivate => self.cache_private,
            PageClass::User => self.user,
            PageClass::Free => self.free,
            PageClass::Hwpoison => self.hwpoison,
            PageClass::Offline => self.offline,
        }
    }

    /// makedumpfile's "Original pages": total minus memory hole.
    pub fn original(&self) -> u64 {
        self.total.saturating_sub(self.memory_hole)
    }

    /// All excluded pages.
    pub fn excluded(&self) -> u64 {
        PageClass::ALL
            .iter()
            .fold(0u64, |a, &c| a.saturating_add(self.get(c)))
    }

    /// makedumpfile's "Remaining pages": original minus excluded.
    pub fn remaining(&self) -> u64 {
        self.original().saturating_sub(self.excluded())
    }

    fn reset_classes(&mut self) {
        *self = Stats {
            memory_hole: self.memory_hole,
            total: self.total,
            present: self.present,
            ..Stats::default()
        };
    }
}

impl fmt::Display for Stats {
    /// The report makedumpfile prints (same labels, hexadecimal counts).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Original pages  : 0x{:016x}", self.original())?;
        writeln!(f, "  Excluded pages   : 0x{:016x}", self.excluded())?;
        writeln!(f, "    Pages filled with zero  : 0x{:016x}", self.zero)?;
        writeln!(f, "    Non-private cache pages : 0x{:016x}", self.cache)?;
        writeln!(
            f,
            "    Private cache pages     : 0x{:016x}",
            self.cache_private
        )?;
        writeln!(f, "    User process data pages : 0x{:016x}", self.user)?;
        writeln!(f, "    Free pages              : 0x{:016x}", self.free)?;
        writeln!(f, "    Hwpoison pages          : 0x{:016x}", self.hwpoison)?;
        writeln!(f, "    Offline pages           : 0x{:016x}", self.offline)?;
        writeln!(f, "  Remaining pages  : 0x{:016x}", self.remaining())?;
        if self.original() != 0 {
            writeln!(
                f,
                "  (The number of pages is reduced to {}%.)",
                u128::from(self.remaining()) * 100 / u128::from(self.original())
            )?;
        }
        writeln!(f, "Memory Hole     : 0x{:016x}", self.memory_hole)?;
        writeln!(f, "--------------------------------------------------")?;
        writeln!(f, "Total pages     : 0x{:016x}", self.total)
    }
}

/// The bitmaps of one window of frames `start_pfn..end_pfn`.
///
/// Byte `i` bit `j` (least significant first) is frame `start_pfn + 8 * i + j`; `start_pfn`
/// is a multiple of 32768, so the bytes go at offset `start_pfn / 8` of the kdump-compressed
/// bitmap halves unchanged.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    /// First frame.
    pub start_pfn: u64,
    /// One past the last frame.
    pub end_pfn: u64,
    /// Bitmap 1: the frame exists in the dump.
    pub bitmap1: &'a [u8],
    /// Bitmap 2: the frame is dumped.
    pub bitmap2: &'a [u8],
}

#[inline]
fn bit(map: &[u8], i: u64) -> bool {
    map.get((i / 8) as usize)
        .is_some_and(|b| (b >> (i % 8)) & 1 != 0)
}

impl Window<'_> {
    /// Whether `pfn` (inside the window) is in the dump.
    pub fn is_present(&self, pfn: u64) -> bool {
        pfn >= self.start_pfn && pfn < self.end_pfn && bit(self.bitmap1, pfn - self.start_pfn)
    }

    /// Whether `pfn` (inside the window) is to be dumped.
    pub fn is_dumped(&self, pfn: u64) -> bool {
        pfn >= self.start_pfn && pfn < self.end_pfn && bit(self.bitmap2, pfn - self.start_pfn)
    }

    /// The dumped frames, ascending.
    pub fn dumped_pfns(&self) -> impl Iterator<Item = u64> + '_ {
        let start = self.start_pfn;
        self.bitmap2
            .iter()
            .enumerate()
            .filter(|(_, &b)| b != 0)
            .flat_map(move |(i, &b)| {
                (0..8u64)
                    .filter(move |j| (b >> j) & 1 != 0)
                    .map(move |j| start + i as u64 * 8 + j)
            })
    }

    /// How many frames are dumped.
    pub fn dumped_count(&self) -> u64 {
        self.bitmap2.iter().map(|b| u64::from(b.count_ones())).sum()
    }
}

/// Set bits `from..to` (window-relative).
fn set_range(map: &mut [u8], mut from: u64, to: u64) {
    while from < to && from % 8 != 0 {
        if let Some(b) = map.get_mut((from / 8) as usize) {
            *b |= 1 << (from % 8);
        }
        from += 1;
    }
    let full_end = to - to % 8;
    if from < full_end {
        if let Some(s) = map.get_mut((from / 8) as usize..(full_end / 8) as usize) {
            s.fill(0xff);
        }
        from = full_end;
    }
    while from < to {
        if let Some(b) = map.get_mut((from / 8) as usize) {
            *b |= 1 << (from % 8);
        }
        from += 1;
    }
}

/// Clear bits `from..to` (window-relative); returns how many were set.
fn clear_range(map: &mut [u8], mut from: u64, to: u64) -> u64 {
    let mut n = 0u64;
    let mut one = |map: &mut [u8], i: u64| {
        if let Some(b) = map.get_mut((i / 8) as usize) {
            let m = 1u8 << (i % 8);
            if *b & m != 0 {
                n += 1;
                *b &= !m;
            }
        }
    };
    while from < to && from % 8 != 0 {
        one(map, from);
        from += 1;
    }
    let full_end = to - to % 8;
    let mut bulk = 0u64;
    if from < full_end {
        if let Some(s) = map.get_mut((from / 8) as usize..(full_end / 8) as usize) {
            for b in s.iter_mut() {
                bulk += u64::from(b.count_ones());
                *b = 0;
            }
        }
        from = full_end;
    }
    while from < to {
        one(map, from);
        from += 1;
    }
    n + bulk
}

/// Merge intervals (sorted output, overlaps and adjacency joined, empty ones dropped).
fn merge(mut v: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    v.retain(|(a, b)| a < b);
    v.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The first interval of `ivs` ending after `pfn` (it may start after `pfn`).
fn interval_after(ivs: &[(u64, u64)], pfn: u64) -> Option<(u64, u64)> {
    let i = ivs.partition_point(|&(_, e)| e <= pfn);
    ivs.get(i).copied()
}

/// makedumpfile's page filter over one dump, producing the bitmaps one window at a time.
///
/// Call [`PageFilter::next_window`] until it returns `None`; [`PageFilter::rewind`] starts
/// again (a writer that needs the bitmaps before the pages runs the windows twice; results
/// are identical each time). Statistics are complete after the last window.
pub struct PageFilter<S> {
    source: S,
    rules: KernelRules,
    memmap: MemMap,
    level: DumpLevel,
    exclude_zero: bool,
    classify_needed: bool,
    max_pfn: u64,
    window_pfns: u64,
    present: Vec<(u64, u64)>,
    in_segs: Vec<(u64, u64)>,
    next_start: u64,
    pending: Option<(u64, PageClass)>,
    stats: Stats,
    bitmap1: Vec<u8>,
    bitmap2: Vec<u8>,
    pages: Vec<u8>,
    page_data: Vec<u8>,
}

impl<S: fmt::Debug> fmt::Debug for PageFilter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageFilter")
            .field("source", &self.source)
            .field("level", &self.level)
            .field("max_pfn", &self.max_pfn)
            .field("window_pfns", &self.window_pfns)
            .field("model", &self.memmap.model())
            .finish_non_exhaustive()
    }
}

impl<S: MemorySource> PageFilter<S> {
    /// Set up the filter: compile the rules from VMCOREINFO, find mem_map, size the window.
    ///
    /// `ranges` are the dump's physical memory ranges (its PT_LOADs); max pfn is the end of
    /// the highest one, rounded up to a page.
    pub fn new(
        mut source: S,
        info: &VmcoreInfo,
        ranges: &[PhysRange],
        config: FilterConfig,
    ) -> Result<Self, Error> {
        let rules = KernelRules::from_vmcoreinfo(info)?;
        let ps = rules.page_size;
        if ranges.is_empty() {
            return Err(Error::BadRanges("no memory ranges".into()));
        }
        let mut max_end = 0u64;
        for r in ranges {
            if r.end < r.start {
                return Err(Error::BadRanges(format!(
                    "range {:#x}..{:#x} ends before it starts",
                    r.start, r.end
                )));
            }
            max_end = max_end.max(r.end);
        }
        let mut max_pfn = max_end.div_ceil(ps);
        if max_pfn > MAX_PFN_LIMIT {
            return Err(Error::BadRanges(format!(
                "highest address {max_end:#x} is beyond 2^64 bytes of frames"
            )));
        }
        let mut memmap =
            MemMap::discover(info, &mut source, ps, rules.offsets.size as u64, max_pfn)?;
        // Like makedumpfile: frames past the last mem_map are not the kernel's memory.
        max_pfn = max_pfn.min(memmap.managed_end().max(1));
        memmap.set_max_pfn(max_pfn);
        let mut counted = 0u64;
        let mut present = Vec::with_capacity(ranges.len());
        let mut in_segs = Vec::with_capacity(ranges.len());
        for r in ranges {
            let file_end = r.file_end.clamp(r.start, r.end);
            let (a, b) = ((r.start / ps).min(max_pfn), (r.end / ps).min(max_pfn));
            counted = counted.saturating_add(b - a);
            present.push((a, b));
            in_segs.push((
                r.start.div_ceil(ps).min(max_pfn),
                file_end.div_ceil(ps).min(max_pfn),
            ));
        }
        let present = merge(present);
        let in_segs = merge(in_segs);
        // Both bitmaps of a window within the budget, itself kept within 8 KiB..4 GiB.
        let budget_pfns = (config.bitmap_budget.clamp(8 << 10, 4 << 30) as u64).saturating_mul(4);
        let window_pfns = if budget_pfns >= max_pfn {
            max_pfn.div_ceil(8) * 8
        } else {
            (budget_pfns / WINDOW_ALIGN).max(1) * WINDOW_ALIGN
        };
        let window_bytes = (window_pfns.min(max_pfn.div_ceil(8) * 8) / 8) as usize;
        let level = config.level;
        let classify_needed =
            level.bits() & (DumpLevel::CACHE | DumpLevel::CACHE_PRIVATE | DumpLevel::USER) != 0
                || rules.hwpoison != 0
                || (level.has(DumpLevel::FREE)
                    && (rules.buddy_type.is_some() || rules.buddy_flag != 0));
        let present_count = present.iter().map(|(a, b)| b - a).sum();
        let stats = Stats {
            memory_hole: max_pfn.saturating_sub(counted),
            total: max_pfn,
            present: present_count,
            ..Stats::default()
        };
        let sp = rules.offsets.size;
        Ok(PageFilter {
            source,
            memmap,
            level,
            exclude_zero: config.exclude_zero_pages && level.has(DumpLevel::ZERO),
            classify_needed,
            max_pfn,
            window_pfns,
            present,
            in_segs,
            next_start: 0,
            pending: None,
            stats,
            bitmap1: vec![0; window_bytes],
            bitmap2: vec![0; window_bytes],
            pages: vec![0; sp * STRUCT_PAGE_BLOCK as usize],
            page_data: vec![0; ps as usize],
            rules,
        })
    }

    /// Highest frame number + 1 (makedumpfile's max_mapnr).
    pub fn max_pfn(&self) -> u64 {
        self.max_pfn
    }

    /// Frames per window.
    pub fn window_pfns(&self) -> u64 {
        self.window_pfns
    }

    /// The compiled rules in use.
    pub fn rules(&self) -> &KernelRules {
        &self.rules
    }

    /// The memory model found.
    pub fn memory_model(&self) -> MemoryModel {
        self.memmap.model()
    }

    /// The mem_map table (one run per section), like makedumpfile's at --message-level 31.
    pub fn mem_map_table(&mut self) -> Result<Vec<crate::memmap::MemMapRun>, Error> {
        self.memmap.runs(&mut self.source)
    }

    /// Statistics so far (complete after the last window).
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Statistics, mutable (a writer adds the zero pages it finds).
    pub fn stats_mut(&mut self) -> &mut Stats {
        &mut self.stats
    }

    /// The page source.
    pub fn source_mut(&mut self) -> &mut S {
        &mut self.source
    }

    /// Give the page source back.
    pub fn into_source(self) -> S {
        self.source
    }

    /// Start again from frame 0 (statistics of the classes are reset).
    pub fn rewind(&mut self) {
        self.next_start = 0;
        self.pending = None;
        self.stats.reset_classes();
    }

    /// Run every window and return the statistics (bitmaps are discarded).
    pub fn run_all(&mut self) -> Result<Stats, Error> {
        self.rewind();
        while self.next_window()?.is_some() {}
        Ok(self.stats)
    }

    /// Classify the next window of frames; `None` after the last one.
    pub fn next_window(&mut self) -> Result<Option<Window<'_>>, Error> {
        if self.next_start >= self.max_pfn {
            return Ok(None);
        }
        let ws = self.next_start;
        let we = ws.saturating_add(self.window_pfns).min(self.max_pfn);
        let nbytes = (we - ws).div_ceil(8) as usize;
        {
            let b1 = &mut self.bitmap1[..nbytes];
            b1.fill(0);
            let first = self.present.partition_point(|&(_, e)| e <= ws);
            for &(a, b) in self.present.get(first..).unwrap_or(&[]) {
                if a >= we {
                    break;
                }
                set_range(b1, a.max(ws) - ws, b.min(we) - ws);
            }
        }
        self.bitmap2[..nbytes].copy_from_slice(&self.bitmap1[..nbytes]);
        self.classify_window(ws, we)?;
        if self.exclude_zero {
            self.zero_window(ws, we);
        }
        self.next_start = we;
        Ok(Some(Window {
            start_pfn: ws,
            end_pfn: we,
            bitmap1: &self.bitmap1[..nbytes],
            bitmap2: &self.bitmap2[..nbytes],
        }))
    }

    fn classify_window(&mut self, ws: u64, we: u64) -> Result<(), Error> {
        let mut pfn = ws;
        if let Some((end, class)) = self.pending.take() {
            let stop = end.min(we);
            if stop > ws {
                let n = clear_range(&mut self.bitmap2, 0, stop - ws);
                self.stats.add(class, n);
            }
            if end > we {
                self.pending = Some((end, class));
            }
            pfn = stop.max(ws);
        }
        if !self.classify_needed {
            return Ok(());
        }
        let sp = self.rules.offsets.size as u64;
        while pfn < we {
            let Some((seg_start, _)) = interval_after(&self.in_segs, pfn) else {
                break;
            };
            if seg_start > pfn {
                pfn = seg_start;
                continue;
            }
            let run = self.memmap.run_of(&mut self.source, pfn)?;
            let Some(base) = run.mem_map else {
                pfn = run.end_pfn.max(pfn + 1);
                continue;
            };
            let chunk_hi = ((pfn / STRUCT_PAGE_BLOCK) + 1)
                .saturating_mul(STRUCT_PAGE_BLOCK)
                .min(run.end_pfn);
            let n = (chunk_hi - pfn) as usize;
            let addr = base.wrapping_add((pfn - run.start_pfn).wrapping_mul(sp));
            let buf = &mut self.pages[..n * sp as usize];
            if self.source.read_virtual(addr, buf).is_err() {
                // Keep what cannot be classified; count the frames that would have been.
                let stop = chunk_hi.min(we);
                for &(a, b) in &self.in_segs {
                    let (a, b) = (a.max(pfn), b.min(stop));
                    if a < b {
                        self.stats.unreadable_struct_pages += b - a;
                    }
                }
                pfn = chunk_hi;
                continue;
            }
            let limit = chunk_hi.min(we);
            let mut i = pfn;
            let mut seg_end = 0u64;
            while i < limit {
                if i >= seg_end {
                    match interval_after(&self.in_segs, i) {
                        None => {
                            i = we;
                            break;
                        }
                        Some((a, b)) => {
                            i = i.max(a);
                            seg_end = b;
                        }
                    }
                    continue;
                }
                let off = ((i - pfn) * sp) as usize;
                let spu = sp as usize;
                let page = &self.pages[off..off + spu];
                let next = if i + 1 < chunk_hi {
                    Some(&self.pages[off + spu..off + 2 * spu])
                } else {
                    None
                };
                match self.rules.classify(self.level, i, page, next) {
                    Verdict::Keep | Verdict::Tail => i += 1,
                    Verdict::Exclude { class, nr_pages } => {
                        let end = i.saturating_add(nr_pages);
                        let stop = end.min(we);
                        let n = clear_range(&mut self.bitmap2, i - ws, stop - ws);
                        self.stats.add(class, n);
                        if end > we {
                            self.pending = Some((end, class));
                        }
                        i = end;
                    }
                }
            }
            pfn = i.max(pfn + 1);
        }
        Ok(())
    }

    fn zero_window(&mut self, ws: u64, we: u64) {
        let ps = self.rules.page_size;
        let mut idx = self.in_segs.partition_point(|&(_, e)| e <= ws);
        while let Some(&(a, b)) = self.in_segs.get(idx) {
            if a >= we {
                break;
            }
            for pfn in a.max(ws)..b.min(we) {
                let rel = pfn - ws;
                if !bit(&self.bitmap2, rel) {
                    continue;
                }
                if self
                    .source
                    .read_physical(pfn * ps, &mut self.page_data)
                    .is_ok()
                    && is_zero_page(&self.page_data)
                {
                    let n = clear_range(&mut self.bitmap2, rel, rel + 1);
                    self.stats.add(PageClass::Zero, n);
                }
            }
            idx += 1;
        }
    }
}
