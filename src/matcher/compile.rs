//! Compiling: every brand's queries parsed, their literals folded into one
//! Aho-Corasick automaton, and each query's anchor terms noted so that a post only
//! evaluates the queries it has a hit for.
//!
//! Runs once per configuration (and on reload); it never sees a post.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};

use super::query::{parse, Expr, Scope, TermKind};
use super::{
    dedup_folded, normalize, Brand, BrandConfig, CQuery, CTerm, Matcher, MatcherError, F_AUTHOR,
    F_LINK, F_TEXT, F_TITLE, F_URL,
};

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
