//! The brand query language (see docs/queries.md): the syntax tree the
//! matcher compiles, with its lexer (`lex`) and parser (`parser`) beside it.
//!
//! ```text
//! query   := or EOF
//! or      := and (OR and)*
//! and     := unary ([AND] unary)*          whitespace between terms means AND
//! unary   := (NOT | -) unary | near
//! near    := primary (NEAR/n primary)*
//! primary := ( or ) | term | "phrase" | =term | ="phrase"
//!          | title: primary | text: primary | author: primary
//!          | site:VALUE | source:VALUE | lang:VALUE
//! term    := word | word* | *word | #tag | @handle | $cashtag | domain.tld
//! ```
//!
//! Pure syntax: nothing here looks at a post, folds text for matching or knows about
//! the automaton; that is the matcher's job.

mod lex;
mod parser;

pub use parser::parse;

/// A query that does not parse: where (1-based column, in characters) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ParseError {
    pub column: usize,
    pub message: String,
}

/// Which fields of a post a term is looked for in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Title and text (and links and the post's URL for domain terms).
    Default,
    Title,
    Text,
    Author,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TermKind {
    Word,
    Phrase,
    Hashtag,
    Handle,
    Cashtag,
    Domain,
}

/// One literal of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The literal as written, without quotes, `=` or `*`.
    pub literal: String,
    /// How it is shown in matches (`acme*`, `#acme`, `acme corp`).
    pub display: String,
    pub kind: TermKind,
    /// `=Apple`: case and accents must match too.
    pub case_sensitive: bool,
    /// `acme*`: more letters may follow.
    pub open_end: bool,
    /// `*acme`: more letters may precede.
    pub open_start: bool,
    pub scope: Scope,
    /// 1-based column of the term in the query.
    pub column: usize,
}

/// Conditions on where a post comes from rather than what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pred {
    /// `site:reddit.com/r/acme`: the post's site, a subdomain of it or a path under it.
    Site(String),
    /// `source:hackernews`: the source kind or `[[source]]` name, else as `site:`.
    Source(String),
    /// `lang:en`: the post's language tag, or a subtag of it (`en-GB`).
    Lang(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Index into [`Query::terms`].
    Term(usize),
    Pred(Pred),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    /// Some term of `left` within `distance` words of some term of `right`, in
    /// either order, in the same field.
    Near {
        left: Vec<usize>,
        right: Vec<usize>,
        distance: u32,
    },
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub expr: Expr,
    pub terms: Vec<Term>,
}

impl Query {
    /// Terms that count for the brand when found (not under NOT), in query order.
    pub fn positive_terms(&self) -> Vec<&Term> {
        let mut ids = Vec::new();
        collect_positive(&self.expr, false, &mut ids);
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter().filter_map(|i| self.terms.get(i)).collect()
    }
}

fn collect_positive(e: &Expr, negated: bool, out: &mut Vec<usize>) {
    match e {
        Expr::Term(t) if !negated => out.push(*t),
        Expr::Term(_) | Expr::Pred(_) => {}
        Expr::Not(x) => collect_positive(x, !negated, out),
        Expr::And(xs) | Expr::Or(xs) => xs.iter().for_each(|x| collect_positive(x, negated, out)),
        Expr::Near { left, right, .. } if !negated => {
            out.extend(left);
            out.extend(right);
        }
        Expr::Near { .. } => {}
    }
}

#[cfg(test)]
mod tests;
