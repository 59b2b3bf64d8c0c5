//! From a [`SearchQuery`] (the parsed text and the list filters) to a tantivy query.
//!
//! Words and phrases are cut into terms by the same analyzer that indexed the
//! title and text, so `Refunds` finds `refunded`; `field:value` and the filters
//! match a whole value, lowercased. Only negative parts (`NOT spam` alone) match
//! every mention except those. This file builds queries and never runs them,
//! never reads the store and never panics on what a user typed (a phrase of one
//! word becomes a term, a word with no letters or digits is a [`SyntaxError`]).

use std::ops::Bound;

use tantivy::query::{AllQuery, BooleanQuery, Occur, PhraseQuery, Query, RangeQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::Term;

use super::parse::{parse, Expr, Keyword, SyntaxError, TextField};
use super::schema::{terms, Fields};
use super::SearchQuery;

/// The analyzers a query is built with (cloned from the index's).
pub(crate) struct Analyzers {
    pub text: TextAnalyzer,
    pub keyword: TextAnalyzer,
}

pub(crate) struct Builder<'a> {
    pub fields: &'a Fields,
    pub analyzers: Analyzers,
}

fn boxed(q: impl Query) -> Box<dyn Query> {
    Box::new(q)
}

/// `Must` every positive part, `MustNot` the negative ones; everything when there is
/// no positive part (tantivy matches nothing for negatives alone).
fn all_of(mut parts: Vec<Box<dyn Query>>, negated: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    if parts.len() == 1 && negated.is_empty() {
        if let Some(only) = parts.pop() {
            return only;
        }
    }
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if parts.is_empty() {
        clauses.push((Occur::Must, boxed(AllQuery)));
    }
    clauses.extend(parts.into_iter().map(|q| (Occur::Must, q)));
    clauses.extend(negated.into_iter().map(|q| (Occur::MustNot, q)));
    boxed(BooleanQuery::new(clauses))
}

fn any_of(mut parts: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    if parts.len() == 1 {
        if let Some(only) = parts.pop() {
            return only;
        }
    }
    boxed(BooleanQuery::new(
        parts.into_iter().map(|q| (Occur::Should, q)).collect(),
    ))
}

impl Builder<'_> {
    /// The whole query: the parsed text (if any) and every filter.
    pub(crate) fn build(&mut self, q: &SearchQuery) -> Result<Box<dyn Query>, SyntaxError> {
        let mut parts = Vec::new();
        if !q.text.trim().is_empty() {
            let expr = parse(&q.text)?;
            parts.push(self.expr(&expr)?);
        }
        let f = self.fields;
        let filters = [
            (f.brand, &q.brand),
            (f.sentiment, &q.sentiment),
            (f.source, &q.source),
            (f.assignee, &q.assignee),
        ];
        for (field, value) in filters {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                parts.push(self.keyword(field, v));
            }
        }
        if let Some(s) = q.status {
            parts.push(self.keyword(f.status, s.as_str()));
        }
        let lo = q
            .since
            .map_or(Bound::Unbounded, |t| Bound::Included(t.timestamp_millis()));
        let mut hi = q
            .until
            .map_or(Bound::Unbounded, |t| Bound::Excluded(t.timestamp_millis()));
        if let Some(a) = &q.after {
            // newest first, after the cursor: at or before its millisecond (the
            // collector drops the cursor's own mention and those before it there)
            hi = match hi {
                Bound::Excluded(u) if u <= a.ms => Bound::Excluded(u),
                _ => Bound::Included(a.ms),
            };
        }
        if lo != Bound::Unbounded || hi != Bound::Unbounded {
            parts.push(boxed(RangeQuery::new_i64_bounds("ts".to_string(), lo, hi)));
        }
        Ok(all_of(parts, Vec::new()))
    }

    fn keyword(&mut self, field: Field, value: &str) -> Box<dyn Query> {
        let term = terms(&mut self.analyzers.keyword, value)
            .into_iter()
            .next()
            .map_or_else(|| value.to_lowercase(), |(_, t)| t);
        boxed(TermQuery::new(
            Term::from_field_text(field, &term),
            IndexRecordOption::Basic,
        ))
    }

    /// A word or phrase in one text field; `None` when it has no terms.
    fn words(&mut self, field: Field, value: &str) -> Option<Box<dyn Query>> {
        let ts = terms(&mut self.analyzers.text, value);
        match ts.len() {
            0 => None,
            1 => ts.into_iter().next().map(|(_, t)| {
                boxed(TermQuery::new(
                    Term::from_field_text(field, &t),
                    IndexRecordOption::WithFreqs,
                ))
            }),
            _ => Some(boxed(PhraseQuery::new_with_offset(
                ts.into_iter()
                    .map(|(pos, t)| (pos, Term::from_field_text(field, &t)))
                    .collect(),
            ))),
        }
    }

    fn expr(&mut self, e: &Expr) -> Result<Box<dyn Query>, SyntaxError> {
        match e {
            Expr::Text {
                value,
                field,
                column,
                ..
            } => {
                let f = self.fields;
                let targets = match field {
                    TextField::Any => vec![f.title, f.text],
                    TextField::Title => vec![f.title],
                    TextField::Text => vec![f.text],
                };
                let mut found = Vec::new();
                for t in targets {
                    if let Some(q) = self.words(t, value) {
                        found.push(q);
                    }
                }
                if found.is_empty() {
                    return Err(SyntaxError {
                        column: *column,
                        message: format!("{value:?} has no letters or digits to search for"),
                    });
                }
                Ok(any_of(found))
            }
            Expr::Keyword { field, value } => {
                let f = self.fields;
                let target = match field {
                    Keyword::Brand => f.brand,
                    Keyword::Source => f.source,
                    Keyword::Site => f.site,
                    Keyword::Author => f.author,
                    Keyword::Sentiment => f.sentiment,
                    Keyword::Status => f.status,
                    Keyword::Assignee => f.assignee,
                };
                Ok(self.keyword(target, value))
            }
            Expr::And(parts) => {
                let (mut pos, mut neg) = (Vec::new(), Vec::new());
                for p in parts {
                    match p {
                        Expr::Not(inner) => neg.push(self.expr(inner)?),
                        other => pos.push(self.expr(other)?),
                    }
                }
                Ok(all_of(pos, neg))
            }
            Expr::Or(parts) => {
                let mut qs = Vec::new();
                for p in parts {
                    qs.push(self.expr(p)?);
                }
                Ok(any_of(qs))
            }
            Expr::Not(inner) => Ok(all_of(Vec::new(), vec![self.expr(inner)?])),
        }
    }
}
