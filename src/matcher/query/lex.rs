//! The query lexer: characters to tokens, with the column of each (from 1, in
//! characters) so that errors can point at it.
//!
//! It knows operators, quotes and field names, never what a term means: the parser
//! decides that.

use super::ParseError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tok {
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
    pub(super) fn describe(&self) -> String {
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
pub(super) struct Token {
    pub(super) kind: Tok,
    pub(super) column: usize,
}

const FIELDS: &[&str] = &["title", "text", "author", "site", "source", "lang"];

fn is_special(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"')
}

pub(super) fn lex(q: &str) -> Result<Vec<Token>, ParseError> {
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
