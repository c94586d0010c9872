//! The progress indicator (makedumpfile's message level bit 1): on a terminal one line redrawn
//! in place with the percentage, the input rate and the time left; otherwise a plain line at
//! every tenth of the work, so logs (a kdump serial console, journald) stay readable.

use kdump_compressed::write::Progress;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `--message-level` bit that enables the progress indicator.
pub const PROGRESS_BIT: u8 = 1;

/// How often a terminal line is redrawn at most.
const REDRAW: Duration = Duration::from_millis(200);

/// How the indicator is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// One line redrawn with `\r` (stderr is a terminal).
    Redraw,
    /// A new line at every 10% (stderr is a file or a pipe).
    Lines,
}

/// One progress line: `label: [ 42.0 %]  123.4 MB/s  time left 0:03`. `done` and `total`
/// count units of `unit_bytes` bytes of input.
pub fn render(label: &str, done: u64, total: u64, unit_bytes: u64, elapsed: Duration) -> String {
    let permille = if total == 0 || done >= total {
        1000
    } else {
        (u128::from(done) * 1000 / u128::from(total)) as u64
    };
    let secs = elapsed.as_secs_f64();
    let bytes = done as f64 * unit_bytes as f64;
    let rate = if secs > 0.0 { bytes / secs / 1e6 } else { 0.0 };
    let left = if permille >= 1000 {
        "done".to_string()
    } else if done == 0 || secs <= 0.0 {
        "time left --:--".to_string()
    } else {
        let rest = secs * (total - done) as f64 / done as f64;
        format!("time left {}", clock(rest))
    };
    format!(
        "{label:<18}: [{:>3}.{} %] {rate:>8.1} MB/s  {left}",
        permille / 10,
        permille % 10
    )
}

/// `m:ss`, or `h:mm:ss` from an hour on.
fn clock(secs: f64) -> String {
    let s = secs.round().clamp(0.0, 1e9) as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

struct State {
    /// The first report (the rate counts from there, not from classification).
    start: Option<Instant>,
    last_draw: Option<Instant>,
    /// The last tenth printed in [`Style::Lines`] (None: nothing printed yet).
    last_tenth: Option<u64>,
    /// A redrawn line is on the terminal and needs a newline at the end.
    open_line: bool,
    /// Characters of the last redrawn line (a shorter one is padded to cover it).
    drawn: usize,
    finished: bool,
}

/// A progress indicator writing to stderr.
pub struct Indicator {
    label: String,
    unit_bytes: u64,
    style: Style,
    state: Mutex<State>,
}

impl Indicator {
    /// An indicator for `label`, or `None` when `message_level` has no progress bit.
    /// `unit_bytes`: input bytes per unit of progress (the page size for frames).
    pub fn new(message_level: u8, label: &str, unit_bytes: u64) -> Option<Arc<Self>> {
        if message_level & PROGRESS_BIT == 0 {
            return None;
        }
        let style = if std::io::stderr().is_terminal() {
            Style::Redraw
        } else {
            Style::Lines
        };
        Some(Arc::new(Self::with_style(label, unit_bytes, style)))
    }

    fn with_style(label: &str, unit_bytes: u64, style: Style) -> Self {
        Indicator {
            label: label.to_string(),
            unit_bytes: unit_bytes.max(1),
            style,
            state: Mutex::new(State {
                start: None,
                last_draw: None,
                last_tenth: None,
                open_line: false,
                drawn: 0,
                finished: false,
            }),
        }
    }

    /// The text to print for `(done, total)` now, if any (the drawing decision, without I/O).
    fn update(&self, done: u64, total: u64) -> Option<String> {
        let Ok(mut st) = self.state.lock() else {
            return None;
        };
        if st.finished {
            return None;
        }
        let now = Instant::now();
        let start = *st.start.get_or_insert(now);
        let complete = done >= total;
        let line = render(&self.label, done, total, self.unit_bytes, now - start);
        match self.style {
            Style::Redraw => {
                let due = st.last_draw.is_none_or(|t| now - t >= REDRAW);
                if !complete && !due {
                    return None;
                }
                let width = st.drawn;
                st.drawn = line.chars().count();
                let mut s = format!("\r{line:<width$}");
                if complete {
                    s.push('\n');
                    st.finished = true;
                    st.open_line = false;
                } else {
                    st.open_line = true;
                }
                st.last_draw = Some(now);
                Some(s)
            }
            Style::Lines => {
                let tenth = if total == 0 {
                    10
                } else {
                    (u128::from(done.min(total)) * 10 / u128::from(total)) as u64
                };
                // Nothing at 0%: the first line says something has been done.
                if tenth == 0 || st.last_tenth.is_some_and(|t| t >= tenth) {
                    return None;
                }
                st.last_tenth = Some(tenth);
                if complete {
                    st.finished = true;
                }
                Some(format!("{line}\n"))
            }
        }
    }

    /// Report `(done, total)`.
    pub fn report(&self, done: u64, total: u64) {
        if let Some(s) = self.update(done, total) {
            let mut e = std::io::stderr().lock();
            let _ = e.write_all(s.as_bytes());
            let _ = e.flush();
        }
    }

    /// End an open terminal line (after an error, so the message starts on a line of its own).
    pub fn close(&self) {
        if let Ok(mut st) = self.state.lock() {
            if st.open_line {
                st.open_line = false;
                st.finished = true;
                eprintln!();
            }
        }
    }

    /// The writer's callback for this indicator.
    pub fn callback(self: &Arc<Self>) -> Progress {
        let me = Arc::clone(self);
        Arc::new(move |done, total| me.report(done, total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_shows_percent_rate_and_time_left() {
        let s = render("Copying data", 250, 1000, 4096, Duration::from_secs(2));
        // 250 pages of 4 KiB in 2 s = 0.512 MB/s; 750 left at 125/s = 6 s.
        assert_eq!(
            s,
            "Copying data      : [ 25.0 %]      0.5 MB/s  time left 0:06"
        );
        let s = render("x", 1000, 1000, 4096, Duration::from_secs(1));
        assert!(s.contains("[100.0 %]") && s.ends_with("done"), "{s}");
        let s = render("x", 0, 1000, 4096, Duration::ZERO);
        assert!(s.contains("[  0.0 %]") && s.ends_with("--:--"), "{s}");
        assert_eq!(clock(3725.0), "1:02:05");
    }

    #[test]
    fn plain_lines_every_tenth_once() {
        let ind = Indicator::with_style("Copying data", 4096, Style::Lines);
        let mut lines = Vec::new();
        for done in (0..=1000).step_by(7).chain([1000]) {
            if let Some(s) = ind.update(done, 1000) {
                lines.push(s);
            }
        }
        assert_eq!(lines.len(), 10, "{lines:?}");
        assert!(lines.iter().all(|l| l.ends_with('\n') && !l.contains('\r')));
        assert!(lines[0].contains("[ 10.0 %]") || lines[0].contains("[ 10.5 %]"));
        assert!(lines[9].contains("[100.0 %]"));
        // Nothing after completion.
        assert!(ind.update(1000, 1000).is_none());
    }

    #[test]
    fn redraw_throttles_and_ends_with_a_newline() {
        let ind = Indicator::with_style("Copying data", 4096, Style::Redraw);
        let first = ind.update(1, 100).unwrap();
        assert!(first.starts_with('\r') && !first.ends_with('\n'));
        // Within the redraw interval: nothing, except the final line.
        assert!(ind.update(2, 100).is_none());
        let last = ind.update(100, 100).unwrap();
        // The final line covers the longer "--:--" one before it.
        assert!(last.trim_end().len() < last.len() - 1, "{last:?}");
        assert!(last.starts_with('\r') && last.ends_with('\n') && last.contains("100.0 %"));
    }

    #[test]
    fn no_indicator_without_the_progress_bit() {
        assert!(Indicator::new(6, "x", 4096).is_none());
        assert!(Indicator::new(0, "x", 4096).is_none());
        assert!(Indicator::new(7, "x", 4096).is_some());
    }
}
