//! The parser: operators, term kinds, scopes, and the column of every error.

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
