//! The recursive-descent parser: tokens to [`Query`], or a [`ParseError`] that names
//! the column and what was expected there.
//!
//! It builds the tree only; it never evaluates a query against a post.

use super::super::normalize::{self, is_word};
use super::lex::{lex, Tok, Token};
use super::{Expr, ParseError, Pred, Query, Scope, Term, TermKind};

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
