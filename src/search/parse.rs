//! The search syntax users type: words, "quoted phrases", `AND`, `OR`, `NOT` (and a
//! leading `-`), parentheses, and `field:value` (`brand:Acme`, `source:reddit`,
//! `title:refund`, `status:new`, ...). Words next to each other must all match.
//!
//! This file only turns the text into an [`Expr`] tree, or a [`SyntaxError`] that
//! names the column; it never panics on any input, never looks at an index and
//! never decides how words are cut into terms (`query` does, with the index's
//! analyzers). Input is bounded ([`MAX_CHARS`], [`MAX_CLAUSES`], [`MAX_DEPTH`]).

use crate::store::Status;

/// The longest query, in characters.
pub const MAX_CHARS: usize = 1000;
/// The most words, phrases and `field:value`s in one query.
pub const MAX_CLAUSES: usize = 64;
/// The deepest nesting of parentheses and `NOT`s.
pub const MAX_DEPTH: usize = 16;

/// Where a word or phrase is searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    /// The title or the text.
    Any,
    Title,
    Text,
}

/// A field matched by whole value, case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    Brand,
    /// The source kind (`reddit`) or the `[[source]]` name.
    Source,
    Site,
    Author,
    Sentiment,
    Status,
    Assignee,
}

impl Keyword {
    pub const ALL: [(&'static str, Keyword); 7] = [
        ("brand", Keyword::Brand),
        ("source", Keyword::Source),
        ("site", Keyword::Site),
        ("author", Keyword::Author),
        ("sentiment", Keyword::Sentiment),
        ("status", Keyword::Status),
        ("assignee", Keyword::Assignee),
    ];
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A word (`phrase: false`) or a quoted phrase, at `column` of the query.
    Text {
        value: String,
        phrase: bool,
        field: TextField,
        column: usize,
    },
    Keyword {
        field: Keyword,
        value: String,
    },
    /// Every part matches.
    And(Vec<Expr>),
    /// At least one part matches.
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

/// What is wrong with a query, and where (1-based column, in characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query syntax error at column {column}: {message}")]
pub struct SyntaxError {
    pub column: usize,
    pub message: String,
}

fn err<T>(column: usize, message: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError {
        column,
        message: message.into(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Phrase(String),
    /// `name:` followed by its value (a word or a phrase).
    Field(&'static str, String, bool),
    And,
    Or,
    Not,
    Minus,
    Open,
    Close,
}

const FIELD_NAMES: &str = "brand, source, site, author, sentiment, status, assignee, title, text";

fn known_field(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let all = Keyword::ALL
        .iter()
        .map(|(n, _)| *n)
        .chain(["title", "text"]);
    all.into_iter().find(|n| *n == lower)
}

/// Splits the query into tokens, each with its column.
fn lex(input: &str) -> Result<Vec<(usize, Tok)>, SyntaxError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let stop = |c: char| c.is_whitespace() || matches!(c, '(' | ')' | '"');
    // a quoted phrase starting at `at` (the quote); returns its text and the index after it
    let phrase = |at: usize| -> Result<(String, usize), SyntaxError> {
        let rest = chars.get(at + 1..).unwrap_or(&[]);
        match rest.iter().position(|c| *c == '"') {
            Some(n) => Ok((rest[..n].iter().collect(), at + n + 2)),
            None => err(
                at + 1,
                "this quote is never closed (a phrase is written \"like this\")",
            ),
        }
    };
    while let Some(&c) = chars.get(i) {
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '(' => {
                out.push((column, Tok::Open));
                i += 1;
            }
            ')' => {
                out.push((column, Tok::Close));
                i += 1;
            }
            '"' => {
                let (text, next) = phrase(i)?;
                out.push((column, Tok::Phrase(text)));
                i = next;
            }
            '-' | '+' => {
                // `-word`, `-"a phrase"`, `-(..)`: not. A lone `-` or `+` is punctuation.
                let next = chars.get(i + 1).copied();
                if c == '-' && next.is_some_and(|n| !n.is_whitespace() && n != ')') {
                    out.push((column, Tok::Minus));
                }
                i += 1;
            }
            _ => {
                let start = i;
                while chars.get(i).is_some_and(|c| !stop(*c)) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let field = word
                    .split_once(':')
                    .filter(|(_, value)| !value.starts_with('/'));
                match (word.as_str(), field) {
                    ("AND" | "&&", _) => out.push((column, Tok::And)),
                    ("OR" | "||", _) => out.push((column, Tok::Or)),
                    ("NOT", _) => out.push((column, Tok::Not)),
                    (_, Some((name, value))) if !name.is_empty() => {
                        let Some(name) = known_field(name) else {
                            return err(
                                column,
                                format!(
                                    "unknown field {name:?} (fields: {FIELD_NAMES}); to search \
                                     for the text itself, put it in quotes: \"{word}\""
                                ),
                            );
                        };
                        if !value.is_empty() {
                            out.push((column, Tok::Field(name, value.to_string(), false)));
                        } else if chars.get(i) == Some(&'"') {
                            let (text, next) = phrase(i)?;
                            out.push((column, Tok::Field(name, text, true)));
                            i = next;
                        } else {
                            return err(
                                column,
                                format!("{name}: needs a value right after the colon ({name}:acme or {name}:\"two words\")"),
                            );
                        }
                    }
                    _ => out.push((column, Tok::Word(word))),
                }
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
    clauses: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }

    fn column(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |(c, _)| *c)
    }

    /// Is the next token one that cannot start an operand?
    fn at_operand_end(&self) -> bool {
        matches!(
            self.peek(),
            None | Some(Tok::Close) | Some(Tok::Or) | Some(Tok::And)
        )
    }

    fn or(&mut self, depth: usize) -> Result<Expr, SyntaxError> {
        let mut parts = vec![self.and(depth)?];
        while self.peek() == Some(&Tok::Or) {
            let column = self.column();
            self.at += 1;
            if self.at_operand_end() {
                return err(column, "OR needs something to search for after it");
            }
            parts.push(self.and(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Expr, SyntaxError> {
        let mut parts = vec![self.unary(depth)?];
        loop {
            match self.peek() {
                None | Some(Tok::Close) | Some(Tok::Or) => break,
                Some(Tok::And) => {
                    let column = self.column();
                    self.at += 1;
                    if self.at_operand_end() {
                        return err(column, "AND needs something to search for after it");
                    }
                }
                _ => {}
            }
            parts.push(self.unary(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, SyntaxError> {
        let column = self.column();
        if depth >= MAX_DEPTH {
            return err(
                column,
                format!("nested too deeply (at most {MAX_DEPTH} levels of parentheses and NOT)"),
            );
        }
        match self.peek() {
            Some(Tok::Not) => {
                self.at += 1;
                if self.at_operand_end() {
                    return err(column, "NOT needs something to leave out after it");
                }
                Ok(Expr::Not(Box::new(self.unary(depth + 1)?)))
            }
            Some(Tok::Minus) => {
                self.at += 1;
                Ok(Expr::Not(Box::new(self.atom(depth + 1)?)))
            }
            _ => self.atom(depth),
        }
    }

    fn atom(&mut self, depth: usize) -> Result<Expr, SyntaxError> {
        let column = self.column();
        let Some((_, tok)) = self.toks.get(self.at).cloned() else {
            return err(
                column,
                "the query ends where something to search for was expected",
            );
        };
        self.at += 1;
        let text = |value: String, phrase: bool, field: TextField| Expr::Text {
            value,
            phrase,
            field,
            column,
        };
        let e = match tok {
            Tok::Word(w) => text(w, false, TextField::Any),
            Tok::Phrase(p) => text(p, true, TextField::Any),
            Tok::Field(name, value, phrase) => match name {
                "title" => text(value, phrase, TextField::Title),
                "text" => text(value, phrase, TextField::Text),
                _ => {
                    let field = Keyword::ALL
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map_or(Keyword::Brand, |(_, k)| *k);
                    if field == Keyword::Status
                        && !Status::ALL
                            .iter()
                            .any(|s| s.as_str() == value.to_lowercase())
                    {
                        return err(
                            column,
                            format!("unknown status {value:?} (new, acknowledged, resolved or dismissed)"),
                        );
                    }
                    Expr::Keyword { field, value }
                }
            },
            Tok::Open => {
                if self.peek() == Some(&Tok::Close) {
                    return err(column, "nothing inside these parentheses");
                }
                let inner = self.or(depth + 1)?;
                if self.peek() != Some(&Tok::Close) {
                    return err(column, "this parenthesis is never closed");
                }
                self.at += 1;
                return Ok(inner);
            }
            Tok::Close => return err(column, "unexpected ) with no ( before it"),
            Tok::And | Tok::Or => {
                return err(column, "AND and OR go between two things to search for")
            }
            Tok::Not | Tok::Minus => return err(column, "NOT needs something after it"),
        };
        self.clauses += 1;
        if self.clauses > MAX_CLAUSES {
            return err(
                column,
                format!("too many words (at most {MAX_CLAUSES} words, phrases and fields)"),
            );
        }
        Ok(e)
    }
}

/// Parses a query. An empty query (nothing but spaces) is an error: a search with
/// no words lists mentions instead.
pub fn parse(input: &str) -> Result<Expr, SyntaxError> {
    let n = input.chars().count();
    if n > MAX_CHARS {
        return err(
            MAX_CHARS + 1,
            format!("the query is too long ({n} characters; at most {MAX_CHARS})"),
        );
    }
    let toks = lex(input)?;
    if toks.is_empty() {
        return err(1, "the query is empty");
    }
    let mut p = Parser {
        toks,
        at: 0,
        end: n + 1,
        clauses: 0,
    };
    let e = p.or(0)?;
    if p.at < p.toks.len() {
        return err(p.column(), "unexpected ) with no ( before it");
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(v: &str, column: usize) -> Expr {
        Expr::Text {
            value: v.into(),
            phrase: false,
            field: TextField::Any,
            column,
        }
    }

    fn ph(v: &str, column: usize) -> Expr {
        Expr::Text {
            value: v.into(),
            phrase: true,
            field: TextField::Any,
            column,
        }
    }

    fn not(e: Expr) -> Expr {
        Expr::Not(Box::new(e))
    }

    #[test]
    fn words_phrases_and_operators() {
        assert_eq!(parse("refund").unwrap(), w("refund", 1));
        assert_eq!(
            parse("refund NOT shipping").unwrap(),
            Expr::And(vec![w("refund", 1), not(w("shipping", 12))])
        );
        assert_eq!(
            parse("refund -shipping").unwrap(),
            Expr::And(vec![w("refund", 1), not(w("shipping", 9))])
        );
        assert_eq!(
            parse("\"lost my order\" OR refund AND late").unwrap(),
            Expr::Or(vec![
                ph("lost my order", 1),
                Expr::And(vec![w("refund", 20), w("late", 31)])
            ])
        );
        assert_eq!(
            parse("(a OR b) c").unwrap(),
            Expr::And(vec![Expr::Or(vec![w("a", 2), w("b", 7)]), w("c", 10)])
        );
        // lowercase and/or/not are words; a lone hyphen is punctuation
        assert_eq!(
            parse("rock and roll - not").unwrap(),
            Expr::And(vec![w("rock", 1), w("and", 6), w("roll", 10), w("not", 17)])
        );
        assert_eq!(parse("NOT spam").unwrap(), not(w("spam", 5)));
        assert_eq!(parse("-\"free trial\"").unwrap(), not(ph("free trial", 2)));
        assert_eq!(
            parse("https://acme.test/x").unwrap(),
            w("https://acme.test/x", 1)
        );
    }

    #[test]
    fn fields() {
        assert_eq!(
            parse("brand:Acme source:reddit").unwrap(),
            Expr::And(vec![
                Expr::Keyword {
                    field: Keyword::Brand,
                    value: "Acme".into()
                },
                Expr::Keyword {
                    field: Keyword::Source,
                    value: "reddit".into()
                },
            ])
        );
        assert_eq!(
            parse("Brand:\"Acme Corp\"").unwrap(),
            Expr::Keyword {
                field: Keyword::Brand,
                value: "Acme Corp".into()
            }
        );
        assert_eq!(
            parse("title:\"never again\"").unwrap(),
            Expr::Text {
                value: "never again".into(),
                phrase: true,
                field: TextField::Title,
                column: 1
            }
        );
        assert_eq!(
            parse("-status:resolved").unwrap(),
            not(Expr::Keyword {
                field: Keyword::Status,
                value: "resolved".into()
            })
        );
    }

    #[test]
    fn errors_name_the_column_and_never_panic() {
        let cases = [
            ("", 1, "empty"),
            ("   ", 1, "empty"),
            ("refund \"lost my", 8, "never closed"),
            ("(refund OR late", 1, "never closed"),
            ("refund)", 7, "no ( before it"),
            ("refund AND", 8, "AND needs"),
            ("refund OR", 8, "OR needs"),
            ("OR refund", 1, "between two"),
            ("refund NOT", 8, "NOT needs"),
            ("a ()", 3, "nothing inside"),
            ("brnad:acme", 1, "unknown field \"brnad\""),
            ("brand:", 1, "needs a value"),
            ("brand: acme", 1, "needs a value"),
            ("status:closed", 1, "unknown status"),
        ];
        for (q, column, what) in cases {
            let e = parse(q).expect_err(q);
            assert_eq!(e.column, column, "{q}: {e}");
            assert!(e.to_string().contains(what), "{q}: {e}");
            assert!(e.to_string().starts_with("query syntax error at column"));
        }
        let deep = format!("{}x{}", "(".repeat(40), ")".repeat(40));
        assert!(parse(&deep)
            .unwrap_err()
            .message
            .contains("nested too deeply"));
        let nots = "NOT ".repeat(40) + "x";
        assert!(parse(&nots)
            .unwrap_err()
            .message
            .contains("nested too deeply"));
        let many = "w ".repeat(MAX_CLAUSES + 1);
        assert!(parse(&many).unwrap_err().message.contains("too many words"));
        let long = "a".repeat(MAX_CHARS + 1);
        assert!(parse(&long).unwrap_err().message.contains("too long"));
    }

    proptest::proptest! {
        #[test]
        fn any_input_parses_or_says_where(q in "[a-z \"()\\-:ANDORT]{0,60}") {
            match parse(&q) {
                Ok(_) => {}
                Err(e) => proptest::prop_assert!(e.column >= 1 && e.column <= q.chars().count() + 1),
            }
        }
    }
}
