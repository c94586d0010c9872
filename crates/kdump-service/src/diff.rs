//! A small unified diff for showing configuration edits.
//!
//! Common leading and trailing lines are trimmed first; the changed middle is aligned with a
//! longest-common-subsequence table when it is small (at most [`MAX_CELLS`] cells), and shown
//! as one replacement otherwise. That is exact for the edits this crate makes.

/// Largest LCS table (lines × lines) built; beyond it the middle is shown as a replacement.
pub const MAX_CELLS: usize = 1 << 20;
const CONTEXT: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Del,
    Ins,
}

fn lines(s: &str) -> Vec<&str> {
    s.split_inclusive('\n').collect()
}

fn align<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<(Op, &'a str)> {
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    let mut ops: Vec<(Op, &str)> = a[..pre].iter().map(|l| (Op::Eq, *l)).collect();
    let (n, m) = (am.len(), bm.len());
    if n.saturating_mul(m) <= MAX_CELLS && n > 0 && m > 0 {
        // lcs[i][j] = LCS length of am[i..], bm[j..]
        let w = m + 1;
        let mut t = vec![0u32; (n + 1) * w];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                t[i * w + j] = if am[i] == bm[j] {
                    t[(i + 1) * w + j + 1] + 1
                } else {
                    t[(i + 1) * w + j].max(t[i * w + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n && j < m {
            if am[i] == bm[j] {
                ops.push((Op::Eq, am[i]));
                i += 1;
                j += 1;
            } else if t[(i + 1) * w + j] >= t[i * w + j + 1] {
                ops.push((Op::Del, am[i]));
                i += 1;
            } else {
                ops.push((Op::Ins, bm[j]));
                j += 1;
            }
        }
        ops.extend(am[i..].iter().map(|l| (Op::Del, *l)));
        ops.extend(bm[j..].iter().map(|l| (Op::Ins, *l)));
    } else {
        ops.extend(am.iter().map(|l| (Op::Del, *l)));
        ops.extend(bm.iter().map(|l| (Op::Ins, *l)));
    }
    ops.extend(a[a.len() - suf..].iter().map(|l| (Op::Eq, *l)));
    ops
}

fn push_line(out: &mut String, tag: char, line: &str) {
    out.push(tag);
    out.push_str(line);
    if !line.ends_with('\n') {
        out.push_str("\n\\ No newline at end of file\n");
    }
}

/// A unified diff of `old` → `new` with headers `--- a/NAME` and `+++ b/NAME`; empty when
/// the texts are equal.
pub fn unified(name: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let (a, b) = (lines(old), lines(new));
    let ops = align(&a, &b);
    let name = name.trim_start_matches('/');
    let mut out = format!("--- a/{name}\n+++ b/{name}\n");
    let changes: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, (o, _))| *o != Op::Eq)
        .map(|(i, _)| i)
        .collect();
    let mut k = 0;
    while k < changes.len() {
        let first = changes[k];
        let mut last = first;
        while k + 1 < changes.len() && changes[k + 1] <= last + 2 * CONTEXT + 1 {
            k += 1;
            last = changes[k];
        }
        k += 1;
        let lo = first.saturating_sub(CONTEXT);
        let hi = (last + CONTEXT + 1).min(ops.len());
        // Line numbers at `lo`.
        let (mut ol, mut nl) = (1usize, 1usize);
        for (o, _) in &ops[..lo] {
            match o {
                Op::Eq => {
                    ol += 1;
                    nl += 1;
                }
                Op::Del => ol += 1,
                Op::Ins => nl += 1,
            }
        }
        let oc = ops[lo..hi].iter().filter(|(o, _)| *o != Op::Ins).count();
        let nc = ops[lo..hi].iter().filter(|(o, _)| *o != Op::Del).count();
        let start = |l: usize, c: usize| if c == 0 { l - 1 } else { l };
        out.push_str(&format!(
            "@@ -{},{} +{},{} @@\n",
            start(ol, oc),
            oc,
            start(nl, nc),
            nc
        ));
        for (o, l) in &ops[lo..hi] {
            let tag = match o {
                Op::Eq => ' ',
                Op::Del => '-',
                Op::Ins => '+',
            };
            push_line(&mut out, tag, l);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_change() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\n";
        assert_eq!(
            unified("/etc/x", old, new),
            "--- a/etc/x\n+++ b/etc/x\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n"
        );
    }

    #[test]
    fn append_without_newline() {
        assert_eq!(
            unified("f", "a", "a\nb\n"),
            "--- a/f\n+++ b/f\n@@ -1,1 +1,2 @@\n-a\n\\ No newline at end of file\n+a\n+b\n"
        );
        assert_eq!(unified("f", "same\n", "same\n"), "");
    }

    #[test]
    fn separate_hunks() {
        let old: String = (0..20).map(|i| format!("{i}\n")).collect();
        let new = old.replace("2\n", "two\n").replace("17\n", "seventeen\n");
        let d = unified("f", &old, &new);
        assert_eq!(d.matches("@@ -").count(), 2, "{d}");
    }
}
