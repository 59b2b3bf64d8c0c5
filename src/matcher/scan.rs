//! Matching one post: fold its fields, run the automaton once, keep the hits that
//! respect their term's word boundaries, field and case, then evaluate the candidate
//! queries and say which brands matched and why.
//!
//! Reads the compiled [`Matcher`] only; it never changes it.

use std::cell::OnceCell;
use std::collections::HashSet;

use super::eval::{Ctx, Hit, Witness};
use super::normalize::{self, is_word, joins, Folded, Mode};
use super::query::TermKind;
use super::{field_bit, CTerm, Matcher};
use crate::post::{BrandMatch, Field, MatchedTerm, Post};

/// The query name of a match that an owned channel made (`brand = NAME` on the source).
pub const OWNED_CHANNEL: &str = "owned channel";

/// Occurrences of one term kept per post (bounds memory on pathological posts).
const MAX_HITS_PER_TERM: usize = 10_000;

/// One occurrence of an automaton pattern in a field.
#[derive(Debug, Clone, Copy)]
struct PatternHit {
    pattern: u32,
    field: u16,
    start: u32,
    end: u32,
}

impl Matcher {
    /// The brands `post` mentions, in configuration order, each with the name of
    /// its first matching query and the terms that matched (spans are byte offsets
    /// into the original field text).
    ///
    /// A post from an owned channel ([`Post::owned_by`]) mentions that brand whatever
    /// it says: when none of the brand's queries matched, its match is the query
    /// [`OWNED_CHANNEL`] with no terms. A name that is no configured brand is ignored.
    pub fn match_post(&self, post: &Post) -> Vec<BrandMatch> {
        let mut out = self.match_queries(post);
        let owner = post.owned_by.as_deref().and_then(|o| {
            self.brands.iter().position(|b| b.name == o).or_else(|| {
                let o = o.to_lowercase();
                self.brands.iter().position(|b| b.name.to_lowercase() == o)
            })
        });
        if let Some(i) = owner {
            let name = self
                .brands
                .get(i)
                .map(|b| b.name.clone())
                .unwrap_or_default();
            if !out.iter().any(|m| m.brand == name) {
                // configuration order: after the brands configured before it
                let at = out
                    .iter()
                    .position(|m| {
                        self.brands
                            .iter()
                            .position(|b| b.name == m.brand)
                            .is_some_and(|j| j > i)
                    })
                    .unwrap_or(out.len());
                out.insert(
                    at,
                    BrandMatch {
                        brand: name,
                        query: OWNED_CHANNEL.into(),
                        terms: Vec::new(),
                    },
                );
            }
        }
        out
    }

    fn match_queries(&self, post: &Post) -> Vec<BrandMatch> {
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
