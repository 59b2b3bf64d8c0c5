//! The brand query language (see README, "Brand queries"): lexer, parser and the
//! syntax tree the matcher compiles.
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

use super::normalize::{self, is_word};

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

/// Parses a query.
pub fn parse(query: &str) -> Result<Query, ParseError> {
    let tokens = lex(query)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        terms: Vec::new(),
        scope: Scope::Default,
    };
    if p.peek().kind == Tok::End {
        return Err(ParseError {
            column: 1,
            message: "expected a term, a \"phrase\" or '(' but the query is empty".into(),
        });
    }
    let expr = p.or("at the start of the query")?;
    let t = p.peek();
    if t.kind != Tok::End {
        let message = match t.kind {
            Tok::RParen => "unexpected ')': there is no '(' to close".to_string(),
            _ => format!("expected OR, AND or a term, found {}", t.kind.describe()),
        };
        return Err(ParseError {
            column: t.column,
            message,
        });
    }
    Ok(Query {
        expr,
        terms: p.terms,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    LParen,
    RParen,
    Or,
    And,
    Not,
    Minus,
    Near(u32),
    /// `title:` etc. (lowercased name, without the colon)
    Field(String),
    Word {
        text: String,
        case_sensitive: bool,
    },
    Phrase {
        text: String,
        case_sensitive: bool,
    },
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Or => "OR".into(),
            Tok::And => "AND".into(),
            Tok::Not => "NOT".into(),
            Tok::Minus => "'-'".into(),
            Tok::Near(n) => format!("NEAR/{n}"),
            Tok::Field(f) => format!("{f}:"),
            Tok::Word { text, .. } => format!("{text:?}"),
            Tok::Phrase { text, .. } => format!("the phrase \"{text}\""),
            Tok::End => "end of query".into(),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: Tok,
    column: usize,
}

const FIELDS: &[&str] = &["title", "text", "author", "site", "source", "lang"];

fn is_special(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"')
}

fn lex(q: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |column: usize, message: String| ParseError { column, message };
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '(' => {
                out.push(Token {
                    kind: Tok::LParen,
                    column,
                });
                i += 1;
            }
            ')' => {
                out.push(Token {
                    kind: Tok::RParen,
                    column,
                });
                i += 1;
            }
            '-' => {
                match chars.get(i + 1) {
                    Some(&n) if !n.is_whitespace() && n != ')' => {}
                    _ => {
                        return Err(err(
                            column,
                            "expected a term, a \"phrase\" or '(' right after '-' (write -term to exclude a term)".into(),
                        ))
                    }
                }
                out.push(Token {
                    kind: Tok::Minus,
                    column,
                });
                i += 1;
            }
            '"' => {
                let (text, next) = phrase(&chars, i)?;
                out.push(Token {
                    kind: Tok::Phrase {
                        text,
                        case_sensitive: false,
                    },
                    column,
                });
                i = next;
            }
            '=' => match chars.get(i + 1) {
                Some('"') => {
                    let (text, next) = phrase(&chars, i + 1)?;
                    out.push(Token {
                        kind: Tok::Phrase {
                            text,
                            case_sensitive: true,
                        },
                        column,
                    });
                    i = next;
                }
                Some(&n) if !is_special(n) => {
                    let start = i + 1;
                    let mut j = start;
                    while j < chars.len() && !is_special(chars[j]) {
                        j += 1;
                    }
                    let text: String = chars[start..j].iter().collect();
                    out.push(Token {
                        kind: Tok::Word {
                            text,
                            case_sensitive: true,
                        },
                        column,
                    });
                    i = j;
                }
                _ => {
                    return Err(err(
                        column,
                        "expected a term or a \"phrase\" right after '=' (write =Apple for a case-sensitive term)".into(),
                    ))
                }
            },
            _ => {
                let start = i;
                let mut j = i;
                while j < chars.len() && !is_special(chars[j]) {
                    j += 1;
                }
                let word: String = chars[start..j].iter().collect();
                i = j;
                match word.as_str() {
                    "OR" | "|" | "||" => out.push(Token {
                        kind: Tok::Or,
                        column,
                    }),
                    "AND" | "&&" => out.push(Token {
                        kind: Tok::And,
                        column,
                    }),
                    "NOT" => out.push(Token {
                        kind: Tok::Not,
                        column,
                    }),
                    _ if word == "NEAR" || word.starts_with("NEAR/") => {
                        let n = word
                            .strip_prefix("NEAR/")
                            .and_then(|n| n.parse::<u32>().ok())
                            .ok_or_else(|| {
                                err(
                                    column,
                                    format!("expected a distance in words after NEAR, as in NEAR/5, found {word:?}"),
                                )
                            })?;
                        out.push(Token {
                            kind: Tok::Near(n),
                            column,
                        });
                    }
                    _ => {
                        if let Some((field, rest)) = word.split_once(':') {
                            let is_name =
                                !field.is_empty() && field.chars().all(|c| c.is_ascii_alphabetic());
                            if is_name {
                                let lower = field.to_ascii_lowercase();
                                if !FIELDS.contains(&lower.as_str()) {
                                    return Err(err(
                                        column,
                                        format!(
                                            "unknown field '{field}:': expected one of title:, text:, author:, site:, source:, lang: (put a term with a colon in quotes)"
                                        ),
                                    ));
                                }
                                out.push(Token {
                                    kind: Tok::Field(lower.clone()),
                                    column,
                                });
                                let rest_col = column + field.chars().count() + 1;
                                if let Some(r) = rest.strip_prefix('=') {
                                    if r.is_empty() {
                                        return Err(err(
                                            rest_col,
                                            "expected a term right after '='".into(),
                                        ));
                                    }
                                    out.push(Token {
                                        kind: Tok::Word {
                                            text: r.to_string(),
                                            case_sensitive: true,
                                        },
                                        column: rest_col,
                                    });
                                } else if !rest.is_empty() {
                                    out.push(Token {
                                        kind: Tok::Word {
                                            text: rest.to_string(),
                                            case_sensitive: false,
                                        },
                                        column: rest_col,
                                    });
                                } else if ends_here(chars.get(i)) {
                                    return Err(err(
                                        rest_col,
                                        format!("expected a term, a \"phrase\" or '(' right after {lower}: (no space)"),
                                    ));
                                }
                                continue;
                            }
                        }
                        out.push(Token {
                            kind: Tok::Word {
                                text: word,
                                case_sensitive: false,
                            },
                            column,
                        });
                    }
                }
            }
        }
    }
    out.push(Token {
        kind: Tok::End,
        column: chars.len() + 1,
    });
    Ok(out)
}

/// Nothing usable follows: end of query, whitespace or ')'.
fn ends_here(c: Option<&char>) -> bool {
    match c {
        None => true,
        Some(c) => c.is_whitespace() || *c == ')',
    }
}

/// A phrase starting at the quote `chars[open]`: its text and the index after it.
fn phrase(chars: &[char], open: usize) -> Result<(String, usize), ParseError> {
    let mut j = open + 1;
    while j < chars.len() && chars[j] != '"' {
        j += 1;
    }
    if j >= chars.len() {
        return Err(ParseError {
            column: open + 1,
            message:
                "this '\"' is never closed: expected a closing '\"' before the end of the query"
                    .into(),
        });
    }
    let text: String = chars[open + 1..j].iter().collect();
    Ok((text, j + 1))
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    terms: Vec<Term>,
    scope: Scope,
}

const EXPECTED: &str = "expected a term, a \"phrase\" or '('";

impl Parser {
    fn peek(&self) -> Token {
        self.tokens.get(self.pos).cloned().unwrap_or(Token {
            kind: Tok::End,
            column: self.tokens.last().map_or(1, |t| t.column),
        })
    }

    fn bump(&mut self) -> Token {
        let t = self.peek();
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn or(&mut self, context: &str) -> Result<Expr, ParseError> {
        let mut parts = vec![self.and(context)?];
        while self.peek().kind == Tok::Or {
            self.bump();
            parts.push(self.and("after OR")?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self, context: &str) -> Result<Expr, ParseError> {
        let mut parts = vec![self.unary(context)?];
        loop {
            match self.peek().kind {
                Tok::And => {
                    self.bump();
                    parts.push(self.unary("after AND")?);
                }
                Tok::LParen
                | Tok::Not
                | Tok::Minus
                | Tok::Field(_)
                | Tok::Word { .. }
                | Tok::Phrase { .. } => parts.push(self.unary(context)?),
                _ => break,
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn unary(&mut self, context: &str) -> Result<Expr, ParseError> {
        match self.peek().kind {
            Tok::Not => {
                self.bump();
                Ok(Expr::Not(Box::new(self.unary("after NOT")?)))
            }
            Tok::Minus => {
                self.bump();
                Ok(Expr::Not(Box::new(self.unary("after '-'")?)))
            }
            _ => self.near(context),
        }
    }

    fn near(&mut self, context: &str) -> Result<Expr, ParseError> {
        let first_col = self.peek().column;
        let first = self.primary(context)?;
        let Tok::Near(_) = self.peek().kind else {
            return Ok(first);
        };
        let mut prev = near_operand(&first, first_col)?;
        let mut pairs = Vec::new();
        while let Tok::Near(distance) = self.peek().kind {
            self.bump();
            let col = self.peek().column;
            let next = self.primary(&format!("after NEAR/{distance}"))?;
            let right = near_operand(&next, col)?;
            pairs.push(Expr::Near {
                left: prev,
                right: right.clone(),
                distance,
            });
            prev = right;
        }
        Ok(if pairs.len() == 1 {
            pairs.remove(0)
        } else {
            Expr::And(pairs)
        })
    }

    fn primary(&mut self, context: &str) -> Result<Expr, ParseError> {
        let t = self.bump();
        match t.kind {
            Tok::LParen => {
                let inner = self.or("after '('")?;
                let close = self.peek();
                if close.kind != Tok::RParen {
                    return Err(ParseError {
                        column: close.column,
                        message: format!(
                            "expected ')' to close the '(' at column {}, found {}",
                            t.column,
                            close.kind.describe()
                        ),
                    });
                }
                self.bump();
                Ok(inner)
            }
            Tok::Word {
                text,
                case_sensitive,
            } => self.word(&text, case_sensitive, t.column),
            Tok::Phrase {
                text,
                case_sensitive,
            } => {
                let literal = text.split_whitespace().collect::<Vec<_>>().join(" ");
                if !literal.chars().any(is_word) || normalize::loose(&literal).is_empty() {
                    return Err(ParseError {
                        column: t.column,
                        message: "this phrase has no letters or digits: expected a \"phrase\" with words in it".into(),
                    });
                }
                Ok(self.push_term(Term {
                    display: literal.clone(),
                    literal,
                    kind: TermKind::Phrase,
                    case_sensitive,
                    open_end: false,
                    open_start: false,
                    scope: self.scope,
                    column: t.column,
                }))
            }
            Tok::Field(name) => self.field(&name, t.column),
            other => Err(ParseError {
                column: t.column,
                message: format!("{EXPECTED} {context}, found {}", other.describe()),
            }),
        }
    }

    fn field(&mut self, name: &str, column: usize) -> Result<Expr, ParseError> {
        let scope = match name {
            "title" => Scope::Title,
            "text" => Scope::Text,
            "author" => Scope::Author,
            _ => {
                let t = self.bump();
                let Tok::Word { text, .. } = t.kind else {
                    let example = match name {
                        "lang" => "lang:en",
                        "source" => "source:hackernews",
                        _ => "site:reddit.com/r/acme",
                    };
                    return Err(ParseError {
                        column: t.column,
                        message: format!(
                            "expected a value right after {name}:, as in {example}, found {}",
                            t.kind.describe()
                        ),
                    });
                };
                let value = text.to_lowercase();
                return Ok(Expr::Pred(match name {
                    "lang" => Pred::Lang(value),
                    "source" => Pred::Source(value),
                    _ => Pred::Site(value),
                }));
            }
        };
        if self.scope != Scope::Default && self.scope != scope {
            return Err(ParseError {
                column,
                message: format!(
                    "{name}: inside another field scope: expected a term, a \"phrase\" or '('"
                ),
            });
        }
        let saved = self.scope;
        self.scope = scope;
        let r = self.primary(&format!("after {name}:"));
        self.scope = saved;
        r
    }

    fn word(
        &mut self,
        text: &str,
        case_sensitive: bool,
        column: usize,
    ) -> Result<Expr, ParseError> {
        let mut body = text;
        let open_start = body.starts_with('*');
        if open_start {
            body = &body[1..];
        }
        let open_end = body.ends_with('*');
        if open_end {
            body = &body[..body.len() - 1];
        }
        if let Some(k) = body.find('*') {
            return Err(ParseError {
                column: column
                    + usize::from(case_sensitive)
                    + text[..k + usize::from(open_start)].chars().count(),
                message: "'*' is only allowed at the start or end of a term (acme*, *acme)".into(),
            });
        }
        let kind = match body.chars().next() {
            Some('#') => TermKind::Hashtag,
            Some('@') => TermKind::Handle,
            Some('$') => TermKind::Cashtag,
            _ if is_domain(body) && !open_start && !open_end => TermKind::Domain,
            _ => TermKind::Word,
        };
        if !body.chars().any(is_word) || normalize::loose(body).is_empty() {
            return Err(ParseError {
                column,
                message: format!("{text:?} has no letters or digits: expected a term"),
            });
        }
        let body = if self.scope == Scope::Author {
            body.trim_start_matches('@')
        } else {
            body
        };
        let mut display = String::new();
        if open_start {
            display.push('*');
        }
        display.push_str(body);
        if open_end {
            display.push('*');
        }
        Ok(self.push_term(Term {
            literal: body.to_string(),
            display,
            kind,
            case_sensitive,
            open_end,
            open_start,
            scope: self.scope,
            column,
        }))
    }

    fn push_term(&mut self, term: Term) -> Expr {
        self.terms.push(term);
        Expr::Term(self.terms.len() - 1)
    }
}

/// `acme.com`, `shop.acme.co.uk`: labels of letters, digits and '-', the last one
/// letters only.
fn is_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
        && labels
            .last()
            .is_some_and(|l| l.chars().count() >= 2 && l.chars().all(char::is_alphabetic))
}

fn near_operand(e: &Expr, column: usize) -> Result<Vec<usize>, ParseError> {
    let bad = || {
        ParseError {
        column,
        message: "NEAR/n joins a term, a \"phrase\" or a group of them joined by OR, as in acme NEAR/5 (refund OR outage)".into(),
    }
    };
    match e {
        Expr::Term(t) => Ok(vec![*t]),
        Expr::Or(xs) => {
            let mut out = Vec::new();
            for x in xs {
                out.extend(near_operand(x, column).map_err(|_| bad())?);
            }
            Ok(out)
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(q: &str) -> ParseError {
        parse(q).expect_err(q)
    }

    #[test]
    fn parses_operators() {
        let q = parse(r#""acme corp" OR acmecorp OR #acme NOT "wile e""#).unwrap();
        assert_eq!(q.terms.len(), 4);
        assert!(matches!(q.expr, Expr::Or(ref xs) if xs.len() == 3));
        let q = parse("a b AND c").unwrap();
        assert_eq!(
            q.expr,
            Expr::And(vec![Expr::Term(0), Expr::Term(1), Expr::Term(2)])
        );
        let q = parse("a -b").unwrap();
        assert_eq!(
            q.expr,
            Expr::And(vec![Expr::Term(0), Expr::Not(Box::new(Expr::Term(1)))])
        );
        let q = parse("(a OR b) c").unwrap();
        assert_eq!(
            q.expr,
            Expr::And(vec![
                Expr::Or(vec![Expr::Term(0), Expr::Term(1)]),
                Expr::Term(2)
            ])
        );
        let q = parse(r#""acme" NEAR/5 (support OR refund OR outage)"#).unwrap();
        assert_eq!(
            q.expr,
            Expr::Near {
                left: vec![0],
                right: vec![1, 2, 3],
                distance: 5
            }
        );
    }

    #[test]
    fn term_kinds() {
        let table = [
            ("acme", TermKind::Word, "acme", false, false, false),
            ("acme*", TermKind::Word, "acme", false, true, false),
            ("*acme", TermKind::Word, "acme", false, false, true),
            ("=Apple", TermKind::Word, "Apple", true, false, false),
            ("#acme", TermKind::Hashtag, "#acme", false, false, false),
            ("@acme", TermKind::Handle, "@acme", false, false, false),
            ("$ACME", TermKind::Cashtag, "$ACME", false, false, false),
            (
                "acme.com",
                TermKind::Domain,
                "acme.com",
                false,
                false,
                false,
            ),
            (
                "shop.acme.co.uk",
                TermKind::Domain,
                "shop.acme.co.uk",
                false,
                false,
                false,
            ),
            ("node.js", TermKind::Domain, "node.js", false, false, false),
            ("v1.2", TermKind::Word, "v1.2", false, false, false),
            (
                "\"Acme  Corp\"",
                TermKind::Phrase,
                "Acme Corp",
                false,
                false,
                false,
            ),
            (
                "=\"Apple Inc\"",
                TermKind::Phrase,
                "Apple Inc",
                true,
                false,
                false,
            ),
        ];
        for (q, kind, lit, cs, end, start) in table {
            let p = parse(q).unwrap();
            let t = &p.terms[0];
            assert_eq!(
                (
                    t.kind,
                    t.literal.as_str(),
                    t.case_sensitive,
                    t.open_end,
                    t.open_start
                ),
                (kind, lit, cs, end, start),
                "{q}"
            );
        }
    }

    #[test]
    fn scopes_and_predicates() {
        let q = parse(r#"title:"acme corp" author:@acme text:(a OR b)"#).unwrap();
        assert_eq!(q.terms[0].scope, Scope::Title);
        assert_eq!(q.terms[1].scope, Scope::Author);
        assert_eq!(q.terms[1].literal, "acme");
        assert_eq!(q.terms[2].scope, Scope::Text);
        assert_eq!(q.terms[3].scope, Scope::Text);
        let q = parse("acme site:Reddit.com/r/Acme lang:EN source:hackernews").unwrap();
        assert_eq!(
            q.expr,
            Expr::And(vec![
                Expr::Term(0),
                Expr::Pred(Pred::Site("reddit.com/r/acme".into())),
                Expr::Pred(Pred::Lang("en".into())),
                Expr::Pred(Pred::Source("hackernews".into())),
            ])
        );
        let q = parse("title:=Apple").unwrap();
        assert!(q.terms[0].case_sensitive);
        assert_eq!(q.terms[0].scope, Scope::Title);
    }

    #[test]
    fn lowercase_operators_are_terms() {
        let q = parse("cats or dogs").unwrap();
        assert_eq!(q.terms.len(), 3);
    }

    #[test]
    fn errors_point_at_the_column() {
        let table: &[(&str, usize, &str)] = &[
            ("", 1, "empty"),
            ("   ", 1, "empty"),
            ("acme OR", 8, "after OR, found end of query"),
            ("acme OR OR x", 9, "after OR, found OR"),
            ("acme AND", 9, "after AND"),
            ("acme NOT", 9, "after NOT"),
            ("OR acme", 1, "at the start of the query, found OR"),
            ("(acme", 6, "expected ')' to close the '(' at column 1"),
            ("acme)", 5, "unexpected ')'"),
            ("()", 2, "after '(', found ')'"),
            ("\"acme corp", 1, "never closed"),
            ("x \"\"", 3, "no letters"),
            ("acme NEAR x", 6, "NEAR/5"),
            ("acme NEAR/x y", 6, "NEAR/5"),
            ("acme NEAR/3", 12, "after NEAR/3"),
            ("(a b) NEAR/3 c", 1, "NEAR/n joins"),
            ("ac*me", 3, "'*'"),
            ("*", 1, "no letters"),
            ("#", 1, "no letters"),
            ("foo - bar", 5, "after '-'"),
            ("= Apple", 1, "after '='"),
            ("tilte:acme", 1, "unknown field 'tilte:'"),
            ("title: acme", 7, "right after title:"),
            ("site:", 6, "right after site:"),
            ("site:(a OR b)", 6, "right after site:"),
            ("Café OR", 8, "after OR"),
            ("a OR b OR", 10, "after OR, found end of query"),
        ];
        for &(q, col, msg) in table {
            let e = err(q);
            assert_eq!(e.column, col, "{q:?}: {e}");
            assert!(e.message.contains(msg), "{q:?}: {e}");
        }
    }

    #[test]
    fn the_readme_error_example() {
        let e = err("acme corp OR");
        assert_eq!(
            e.to_string(),
            "column 13: expected a term, a \"phrase\" or '(' after OR, found end of query"
        );
    }

    #[test]
    fn positive_terms_skip_negated() {
        let q = parse(r#""acme corp" OR acme* NOT "wile e" -(coyote OR roadrunner)"#).unwrap();
        let lits: Vec<&str> = q
            .positive_terms()
            .iter()
            .map(|t| t.literal.as_str())
            .collect();
        assert_eq!(lits, ["acme corp", "acme"]);
    }
}
