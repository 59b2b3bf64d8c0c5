//! Brand queries: parse, compile every brand into one automaton, say which brands a
//! post mentions and why.
//!
//! Every literal of every brand's queries (folded: NFKC, no accents, lowercase) goes
//! into one Aho-Corasick automaton. A post's fields are folded the same way, with a
//! map back to the original bytes, and scanned once; each hit is checked against its
//! term's word boundaries (and case, for `=Term`), and only the queries with a hit
//! (plus the rare ones that can match without any, like `NOT acme` or `site:x`)
//! have their boolean structure evaluated.
//!
//! [`query`] parses, `compile` builds the automaton, `scan` finds and checks hits in a
//! post, `eval` runs a query's boolean structure over them. The matcher is pure: it
//! never fetches, stores or classifies anything, and keeps no state between posts.

use std::collections::HashSet;

use aho_corasick::AhoCorasick;

use crate::post::Field;

mod compile;
mod config;
mod eval;
mod normalize;
pub mod query;
mod scan;

pub use config::BrandConfig;
pub use query::{parse, ParseError};
pub use scan::OWNED_CHANNEL;

use query::{Expr, TermKind};

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
    /// query worth evaluating (its anchor terms, see `compile::anchors`).
    anchor_users: Vec<Vec<(u32, u32)>>,
    queries: Vec<CQuery>,
    brands: Vec<Brand>,
    /// Queries that can match without any term hit (`NOT x`, `site:y`).
    always: Vec<u32>,
    scan_author: bool,
    scan_links: bool,
}

impl Matcher {
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

#[cfg(test)]
pub(crate) mod tests;
