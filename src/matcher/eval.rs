//! Evaluating a query's boolean structure (AND, OR, NOT, NEAR/n, `site:`, `source:`,
//! `lang:`) over the hits `scan` found, recording the witnesses that made it true.
//!
//! Works on one post's hits only; it never scans text for terms itself.

use std::cell::OnceCell;

use super::normalize::{is_word, joins, Folded};
use super::query::{Expr, Pred};
use crate::post::{Field, Post};

#[derive(Debug, Clone, Copy)]
pub(super) struct Hit {
    pub(super) term: u32,
    pub(super) field: u16,
    /// Span in the folded field text.
    pub(super) start: u32,
    pub(super) end: u32,
    /// Span in the original field text.
    pub(super) ostart: u32,
    pub(super) oend: u32,
}

pub(super) enum Witness {
    Hit(usize),
    Pred(String, Field, usize),
}

pub(super) struct Ctx<'a> {
    pub(super) post: &'a Post,
    pub(super) folded: &'a [Folded],
    pub(super) word_starts: Vec<OnceCell<Vec<u32>>>,
}

impl Ctx<'_> {
    /// Evaluates `e` over one query's hits (sorted by term), pushing what made it true.
    pub(super) fn eval(&self, e: &Expr, hits: &[Hit], w: &mut Vec<Witness>) -> bool {
        match e {
            Expr::Term(t) => {
                let r = term_hits(hits, *t);
                w.extend(r.clone().map(Witness::Hit));
                !r.is_empty()
            }
            Expr::Pred(p) => self.pred(p, w),
            Expr::Not(x) => {
                let mark = w.len();
                let r = self.eval(x, hits, w);
                w.truncate(mark);
                !r
            }
            Expr::And(xs) => {
                let mark = w.len();
                for x in xs {
                    if !self.eval(x, hits, w) {
                        w.truncate(mark);
                        return false;
                    }
                }
                true
            }
            Expr::Or(xs) => {
                let mut any = false;
                for x in xs {
                    any |= self.eval(x, hits, w);
                }
                any
            }
            Expr::Near {
                left,
                right,
                distance,
            } => self.near(hits, left, right, *distance as usize, w),
        }
    }

    /// Word indices of a hit: (words before its start, words started before its end).
    fn words(&self, h: &Hit) -> (usize, usize) {
        let Some(cell) = self.word_starts.get(h.field as usize) else {
            return (0, 0);
        };
        let starts = cell.get_or_init(|| {
            self.folded
                .get(h.field as usize)
                .map_or_else(Vec::new, |f| word_starts(&f.text))
        });
        (
            starts.partition_point(|&x| x < h.start),
            starts.partition_point(|&x| x < h.end),
        )
    }

    /// `left NEAR/n right`: pairs at most `n` words apart, either order, same field.
    /// Sorts one side by word position so each hit only looks at its neighbours.
    fn near(
        &self,
        hits: &[Hit],
        left: &[usize],
        right: &[usize],
        n: usize,
        w: &mut Vec<Witness>,
    ) -> bool {
        // (field, first word, word after, hit index)
        let mut rs: Vec<(u16, usize, usize, usize)> = right
            .iter()
            .flat_map(|&t| term_hits(hits, t))
            .filter_map(|i| {
                let h = hits.get(i)?;
                let (a, b) = self.words(h);
                Some((h.field, a, b, i))
            })
            .collect();
        if rs.is_empty() {
            return false;
        }
        rs.sort_unstable();
        let longest = rs.iter().map(|r| r.2 - r.1).max().unwrap_or(0);
        let mut marked = vec![false; hits.len()];
        let mut found = false;
        for ia in left.iter().flat_map(|&t| term_hits(hits, t)) {
            let Some(a) = hits.get(ia) else {
                continue;
            };
            let (wa, wb) = self.words(a);
            let from = (a.field, wa.saturating_sub(n + longest));
            let lo = rs.partition_point(|r| (r.0, r.1) < from);
            for &(field, ra, rb, ib) in &rs[lo..] {
                if field != a.field || ra > wb + n {
                    break;
                }
                let Some(b) = hits.get(ib) else {
                    continue;
                };
                let close = if b.start >= a.end {
                    ra >= wb && ra - wb <= n
                } else if b.end <= a.start {
                    rb <= wa && wa - rb <= n
                } else {
                    false
                };
                if close {
                    marked[ia] = true;
                    marked[ib] = true;
                    found = true;
                }
            }
        }
        w.extend(
            marked
                .iter()
                .enumerate()
                .filter(|(_, m)| **m)
                .map(|(i, _)| Witness::Hit(i)),
        );
        found
    }

    fn pred(&self, p: &Pred, w: &mut Vec<Witness>) -> bool {
        let post = self.post;
        match p {
            Pred::Lang(l) => {
                let Some(lang) = &post.lang else {
                    return false;
                };
                let lang_l = lang.to_lowercase().replace('_', "-");
                let ok = lang_l == *l
                    || lang_l
                        .strip_prefix(l.as_str())
                        .is_some_and(|r| r.starts_with('-'));
                if ok {
                    w.push(Witness::Pred(format!("lang:{l}"), Field::Lang, lang.len()));
                }
                ok
            }
            Pred::Site(s) => {
                let ok = site_matches(&post.site, s)
                    || (post.site.is_empty() && site_matches(&post.url, s));
                if ok {
                    w.push(Witness::Pred(
                        format!("site:{s}"),
                        Field::Site,
                        post.site.len(),
                    ));
                }
                ok
            }
            Pred::Source(s) => {
                let ok = post.source.eq_ignore_ascii_case(s)
                    || post.source_name.to_lowercase() == *s
                    || site_matches(&post.site, s);
                if ok {
                    w.push(Witness::Pred(
                        format!("source:{s}"),
                        Field::Site,
                        post.site.len(),
                    ));
                }
                ok
            }
        }
    }
}

/// Indices of the hits of term `t` in hits sorted by term.
fn term_hits(hits: &[Hit], t: usize) -> std::ops::Range<usize> {
    let t = t as u32;
    hits.partition_point(|h| h.term < t)..hits.partition_point(|h| h.term <= t)
}

/// Byte offsets where words start in folded text.
fn word_starts(text: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        if is_word(c) && !prev.is_some_and(|p| joins(p, c)) {
            out.push(i as u32);
        }
        prev = Some(c);
    }
    out
}

/// `site:` semantics: the same host or a subdomain of it, and the same path or
/// one under it (`reddit.com/r/acme` matches `old.reddit.com/r/Acme/comments/1`).
fn site_matches(site: &str, want: &str) -> bool {
    fn split(s: &str) -> (String, String) {
        let s = s.trim().to_lowercase();
        let s = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .unwrap_or(&s)
            .to_string();
        let s = s.strip_prefix("www.").unwrap_or(&s);
        let (host, path) = s.split_once('/').unwrap_or((s, ""));
        let host = host.split(':').next().unwrap_or(host);
        (host.to_string(), path.trim_end_matches('/').to_string())
    }
    if site.is_empty() || want.is_empty() {
        return false;
    }
    let (host, path) = split(site);
    let (whost, wpath) = split(want);
    let host_ok = host == whost
        || host
            .strip_suffix(whost.as_str())
            .is_some_and(|r| r.ends_with('.'));
    let path_ok = wpath.is_empty()
        || path == wpath
        || path
            .strip_prefix(wpath.as_str())
            .is_some_and(|r| r.starts_with('/'));
    host_ok && path_ok
}
