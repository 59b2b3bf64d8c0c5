//! Brand queries: parse, compile every brand into one automaton, say which brands a
//! post mentions and why.
//!
//! Every literal of every brand's queries (folded: NFKC, no accents, lowercase) goes
//! into one Aho-Corasick automaton. A post's fields are folded the same way, with a
//! map back to the original bytes, and scanned once; each hit is checked against its
//! term's word boundaries (and case, for `=Term`), and only the queries with a hit
//! (plus the rare ones that can match without any, like `NOT acme` or `site:x`)
//! have their boolean structure evaluated.

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};

use aho_corasick::{AhoCorasick, MatchKind};

use crate::post::{BrandMatch, Field, MatchedTerm, Post};

mod config;
mod normalize;
pub mod query;

pub use config::BrandConfig;
pub use query::{parse, ParseError};

use normalize::{is_word, joins, Folded, Mode};
use query::{Expr, Pred, Scope, TermKind};

/// Checks that a query parses. `Err((column, message))`, column counted from 1.
pub fn validate_query(query: &str) -> Result<(), (usize, String)> {
    parse(query).map(|_| ()).map_err(|e| (e.column, e.message))
}

/// Why the brands could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    #[error("brand {brand:?}, query {query:?} ({text:?}): column {column}: {message}")]
    Query {
        brand: String,
        /// The query's name (`"default"` for `query`).
        query: String,
        text: String,
        column: usize,
        message: String,
    },
    #[error("brand {brand:?} has no query: add query = '...'")]
    NoQuery { brand: String },
    #[error("cannot build the term automaton: {0}")]
    Automaton(#[from] aho_corasick::BuildError),
}

/// Occurrences of one term kept per post (bounds memory on pathological posts).
const MAX_HITS_PER_TERM: usize = 10_000;

const F_TITLE: u8 = 1;
const F_TEXT: u8 = 2;
const F_AUTHOR: u8 = 4;
const F_URL: u8 = 8;
const F_LINK: u8 = 16;

fn field_bit(f: Field) -> u8 {
    match f {
        Field::Title => F_TITLE,
        Field::Text => F_TEXT,
        Field::Author => F_AUTHOR,
        Field::Url => F_URL,
        Field::Link => F_LINK,
        Field::Site | Field::Lang => 0,
    }
}

#[derive(Debug)]
struct CTerm {
    /// Index of the term's folded literal in the automaton.
    pattern: u32,
    kind: TermKind,
    open_start: bool,
    open_end: bool,
    /// For case-sensitive terms: the exact (NFKC) form the original must have.
    exact: Option<String>,
    fields: u8,
    display: String,
}

#[derive(Debug)]
struct CQuery {
    brand: usize,
    name: String,
    expr: Expr,
    terms: Vec<CTerm>,
}

#[derive(Debug)]
struct Brand {
    name: String,
    search_terms: Vec<String>,
}

/// Every brand's queries, compiled. Cheap to share in an `Arc`.
#[derive(Debug)]
pub struct Matcher {
    ac: Option<AhoCorasick>,
    /// For each automaton pattern, the (query, term) pairs whose hit makes the
    /// query worth evaluating (its anchor terms, see [`anchors`]).
    anchor_users: Vec<Vec<(u32, u32)>>,
    queries: Vec<CQuery>,
    brands: Vec<Brand>,
    /// Queries that can match without any term hit (`NOT x`, `site:y`).
    always: Vec<u32>,
    scan_author: bool,
    scan_links: bool,
}

/// One occurrence of an automaton pattern in a field.
#[derive(Debug, Clone, Copy)]
struct PatternHit {
    pattern: u32,
    field: u16,
    start: u32,
    end: u32,
}

#[derive(Debug, Clone, Copy)]
struct Hit {
    term: u32,
    field: u16,
    /// Span in the folded field text.
    start: u32,
    end: u32,
    /// Span in the original field text.
    ostart: u32,
    oend: u32,
}

enum Witness {
    Hit(usize),
    Pred(String, Field, usize),
}

impl Matcher {
    /// Parses and compiles every brand's queries.
    pub fn compile(brands: &[BrandConfig]) -> Result<Matcher, MatcherError> {
        let mut patterns: Vec<String> = Vec::new();
        let mut pattern_ids: HashMap<String, usize> = HashMap::new();
        let mut users: Vec<Vec<(u32, u32)>> = Vec::new();
        let mut queries = Vec::new();
        let mut out_brands = Vec::new();
        let mut always = Vec::new();
        let (mut scan_author, mut scan_links) = (false, false);
        for (bi, b) in brands.iter().enumerate() {
            let all = b.all_queries();
            if all.is_empty() {
                return Err(MatcherError::NoQuery {
                    brand: b.name.clone(),
                });
            }
            let mut positive: Vec<String> = Vec::new();
            for (name, text) in all {
                let parsed = parse(text.get_ref()).map_err(|e| MatcherError::Query {
                    brand: b.name.clone(),
                    query: name.to_string(),
                    text: text.get_ref().clone(),
                    column: e.column,
                    message: e.message,
                })?;
                for t in parsed.positive_terms() {
                    if t.scope != Scope::Author {
                        positive.push(t.literal.clone());
                    }
                }
                let qi = queries.len() as u32;
                let mut terms = Vec::with_capacity(parsed.terms.len());
                for t in &parsed.terms {
                    let fields = match t.scope {
                        Scope::Title => F_TITLE,
                        Scope::Text => F_TEXT,
                        Scope::Author => F_AUTHOR,
                        Scope::Default if t.kind == TermKind::Domain => {
                            F_TITLE | F_TEXT | F_URL | F_LINK
                        }
                        Scope::Default => F_TITLE | F_TEXT,
                    };
                    scan_author |= fields & F_AUTHOR != 0;
                    scan_links |= fields & (F_URL | F_LINK) != 0;
                    let folded = normalize::loose(&t.literal);
                    let pid = *pattern_ids.entry(folded.clone()).or_insert_with(|| {
                        patterns.push(folded);
                        users.push(Vec::new());
                        patterns.len() - 1
                    });
                    terms.push(CTerm {
                        pattern: pid as u32,
                        kind: t.kind,
                        open_start: t.open_start,
                        open_end: t.open_end,
                        exact: t.case_sensitive.then(|| normalize::exact(&t.literal)),
                        fields,
                        display: t.display.clone(),
                    });
                }
                match anchors(&parsed.expr) {
                    Some(ts) => {
                        for t in ts {
                            if let Some(u) =
                                terms.get(t).and_then(|c| users.get_mut(c.pattern as usize))
                            {
                                u.push((qi, t as u32));
                            }
                        }
                    }
                    None => always.push(qi),
                }
                queries.push(CQuery {
                    brand: bi,
                    name: name.to_string(),
                    expr: parsed.expr,
                    terms,
                });
            }
            let search_terms = if b.search_terms.is_empty() {
                dedup_folded(positive)
            } else {
                b.search_terms.clone()
            };
            out_brands.push(Brand {
                name: b.name.clone(),
                search_terms,
            });
        }
        let ac = if patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&patterns)?,
            )
        };
        Ok(Matcher {
            ac,
            anchor_users: users,
            queries,
            brands: out_brands,
            always,
            scan_author,
            scan_links,
        })
    }

    /// The brands `post` mentions, in configuration order, each with the name of
    /// its first matching query and the terms that matched (spans are byte offsets
    /// into the original field text).
    pub fn match_post(&self, post: &Post) -> Vec<BrandMatch> {
        let mut fields: Vec<(Field, &str)> = Vec::with_capacity(2);
        if let Some(t) = &post.title {
            fields.push((Field::Title, t));
        }
        fields.push((Field::Text, &post.text));
        if self.scan_author {
            if let Some(a) = &post.author {
                fields.push((Field::Author, a));
            }
        }
        if self.scan_links {
            fields.push((Field::Url, &post.url));
            fields.extend(post.links.iter().map(|l| (Field::Link, l.as_str())));
        }
        let folded: Vec<Folded> = fields
            .iter()
            .map(|(_, t)| Folded::new(t, Mode::Loose))
            .collect();
        let mut phits: Vec<PatternHit> = Vec::new();
        let mut candidates: Vec<u32> = Vec::new();
        if let Some(ac) = &self.ac {
            for (fi, (f, (field, orig))) in folded.iter().zip(&fields).enumerate() {
                let bit = field_bit(*field);
                for m in ac.find_overlapping_iter(f.text.as_str()) {
                    let pattern = m.pattern().as_u32();
                    phits.push(PatternHit {
                        pattern,
                        field: fi as u16,
                        start: m.start() as u32,
                        end: m.end() as u32,
                    });
                    let Some(users) = self.anchor_users.get(pattern as usize) else {
                        continue;
                    };
                    for &(q, t) in users {
                        if candidates.last() == Some(&q) {
                            continue;
                        }
                        let ok = self.term(q, t).is_some_and(|term| {
                            term.fields & bit != 0
                                && term_ok(term, f, orig, m.start(), m.end()).is_some()
                        });
                        if ok {
                            candidates.push(q);
                        }
                    }
                }
            }
        }
        if candidates.is_empty() && self.always.is_empty() {
            return Vec::new();
        }
        phits.sort_unstable_by_key(|h| (h.pattern, h.field, h.start));
        candidates.extend(&self.always);
        candidates.sort_unstable();
        candidates.dedup();

        let ctx = Ctx {
            post,
            folded: &folded,
            word_starts: (0..folded.len()).map(|_| OnceCell::new()).collect(),
        };
        let mut out: Vec<BrandMatch> = Vec::new();
        let mut out_brand: Vec<usize> = Vec::new();
        let mut hits: Vec<Hit> = Vec::new();
        for q in candidates {
            let Some(query) = self.queries.get(q as usize) else {
                continue;
            };
            // every occurrence of every term of this query, sorted by term
            hits.clear();
            for (ti, term) in query.terms.iter().enumerate() {
                let lo = phits.partition_point(|h| h.pattern < term.pattern);
                let hi = phits.partition_point(|h| h.pattern <= term.pattern);
                let first = hits.len();
                for h in &phits[lo..hi] {
                    if hits.len() - first >= MAX_HITS_PER_TERM {
                        break;
                    }
                    let Some(((field, orig), f)) = fields
                        .get(h.field as usize)
                        .zip(folded.get(h.field as usize))
                    else {
                        continue;
                    };
                    if term.fields & field_bit(*field) == 0 {
                        continue;
                    }
                    let (s, e) = (h.start as usize, h.end as usize);
                    if let Some((os, oe)) = term_ok(term, f, orig, s, e) {
                        hits.push(Hit {
                            term: ti as u32,
                            field: h.field,
                            start: h.start,
                            end: h.end,
                            ostart: os as u32,
                            oend: oe as u32,
                        });
                    }
                }
            }
            let qh = &hits[..];
            let mut w = Vec::new();
            if !ctx.eval(&query.expr, qh, &mut w) {
                continue;
            }
            let mut terms: Vec<MatchedTerm> = w
                .into_iter()
                .filter_map(|w| match w {
                    Witness::Hit(i) => {
                        let h = qh.get(i)?;
                        Some(MatchedTerm {
                            term: query.terms.get(h.term as usize)?.display.clone(),
                            field: fields.get(h.field as usize)?.0,
                            start: h.ostart as usize,
                            end: h.oend as usize,
                        })
                    }
                    Witness::Pred(term, field, len) => Some(MatchedTerm {
                        term,
                        field,
                        start: 0,
                        end: len,
                    }),
                })
                .collect();
            let brand = query.brand;
            if out_brand.last() == Some(&brand) {
                if let Some(m) = out.last_mut() {
                    m.terms.append(&mut terms);
                }
            } else {
                out_brand.push(brand);
                out.push(BrandMatch {
                    brand: self
                        .brands
                        .get(brand)
                        .map_or_else(String::new, |b| b.name.clone()),
                    query: query.name.clone(),
                    terms,
                });
            }
        }
        for m in &mut out {
            let mut seen = HashSet::new();
            m.terms
                .retain(|t| seen.insert((t.term.clone(), t.field, t.start, t.end)));
            m.terms
                .sort_by_key(|t| (field_bit(t.field), t.start, t.end));
        }
        out
    }

    /// The terms to send to sources that search server-side: the brand's
    /// `search_terms`, else its queries' positive terms and phrases (without
    /// quotes, `=` or `*`). Empty for an unknown brand.
    pub fn search_terms(&self, brand: &str) -> Vec<String> {
        self.brands
            .iter()
            .find(|b| b.name == brand)
            .or_else(|| {
                self.brands
                    .iter()
                    .find(|b| b.name.to_lowercase() == brand.to_lowercase())
            })
            .map_or_else(Vec::new, |b| b.search_terms.clone())
    }

    /// Every brand's search terms, without duplicates (compared folded).
    pub fn all_search_terms(&self) -> Vec<String> {
        dedup_folded(
            self.brands
                .iter()
                .flat_map(|b| b.search_terms.iter().cloned())
                .collect(),
        )
    }

    /// Names of the compiled brands, in configuration order.
    pub fn brands(&self) -> Vec<&str> {
        self.brands.iter().map(|b| b.name.as_str()).collect()
    }

    fn term(&self, q: u32, t: u32) -> Option<&CTerm> {
        self.queries.get(q as usize)?.terms.get(t as usize)
    }
}

fn dedup_folded(terms: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    terms
        .into_iter()
        .filter(|t| seen.insert(normalize::loose(t)))
        .collect()
}

/// Whether the matched folded span `s..e` of `text` stands on its own as `t` wants.
fn boundaries_ok(t: &CTerm, text: &str, s: usize, e: usize) -> bool {
    let (Some(before), Some(m), Some(after)) = (text.get(..s), text.get(s..e), text.get(e..))
    else {
        return false;
    };
    let prev = before.chars().next_back();
    let next = after.chars().next();
    if t.kind == TermKind::Domain {
        // acme.com: also shop.acme.com, not notacme.com, my-acme.com or acme.com.au
        let label = |c: char| is_word(c) || c == '-';
        let bad_prev = prev.is_some_and(label);
        let bad_next = match next {
            Some('.') => after[1..].chars().next().is_some_and(label),
            Some(n) => label(n),
            None => false,
        };
        return !bad_prev && !bad_next;
    }
    if !t.open_start {
        if let (Some(p), Some(f)) = (prev, m.chars().next()) {
            if joins(p, f) {
                return false;
            }
            // #acme, @acme, $acme: not inside a word or an email address
            if matches!(
                t.kind,
                TermKind::Hashtag | TermKind::Handle | TermKind::Cashtag
            ) && (is_word(p) || matches!(p, '#' | '@' | '$' | '.'))
            {
                return false;
            }
        }
    }
    if !t.open_end {
        if let (Some(l), Some(n)) = (m.chars().next_back(), next) {
            if joins(l, n) {
                return false;
            }
        }
    }
    true
}

/// Whether the folded span `s..e` of field `f` (original text `orig`) is an
/// occurrence of `t`: its original span if so.
fn term_ok(t: &CTerm, f: &Folded, orig: &str, s: usize, e: usize) -> Option<(usize, usize)> {
    if !boundaries_ok(t, &f.text, s, e) {
        return None;
    }
    let (os, oe) = f.orig_span(s, e);
    if let Some(exact) = &t.exact {
        if normalize::exact(orig.get(os..oe)?) != *exact {
            return None;
        }
    }
    Some((os, oe))
}

/// Terms of which at least one must be found for `e` to be true; `None` when `e`
/// can be true without any (`NOT x`, `site:y`): such queries run on every post.
fn anchors(e: &Expr) -> Option<Vec<usize>> {
    match e {
        Expr::Term(t) => Some(vec![*t]),
        Expr::Near { left, right, .. } => Some(if left.len() <= right.len() {
            left.clone()
        } else {
            right.clone()
        }),
        Expr::Pred(_) | Expr::Not(_) => None,
        Expr::And(xs) => xs.iter().filter_map(anchors).min_by_key(Vec::len),
        Expr::Or(xs) => {
            let mut out = Vec::new();
            for x in xs {
                out.extend(anchors(x)?);
            }
            Some(out)
        }
    }
}

struct Ctx<'a> {
    post: &'a Post,
    folded: &'a [Folded],
    word_starts: Vec<OnceCell<Vec<u32>>>,
}

impl Ctx<'_> {
    /// Evaluates `e` over one query's hits (sorted by term), pushing what made it true.
    fn eval(&self, e: &Expr, hits: &[Hit], w: &mut Vec<Witness>) -> bool {
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

#[cfg(test)]
mod tests;
