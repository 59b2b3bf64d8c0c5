//! Table-driven tests of every operator and edge of the query language.

use chrono::Utc;
use toml::Spanned;

use super::*;
use crate::post::Post;

pub(crate) fn brand(name: &str, query: &str) -> BrandConfig {
    BrandConfig::from_query(name, query)
}

pub(crate) fn post(text: &str) -> Post {
    Post {
        rating: None,
        owned_by: None,
        id: "test:1".into(),
        url: "https://example.org/post/1".into(),
        author: None,
        title: None,
        text: text.into(),
        created_at: Utc::now(),
        created_at_is_first_seen: false,
        source: "rss".into(),
        source_name: "test".into(),
        site: String::new(),
        parent_id: None,
        thread_id: None,
        engagement: None,
        lang: None,
        links: Vec::new(),
    }
}

fn matches(query: &str, p: &Post) -> bool {
    let m = Matcher::compile(&[brand("B", query)]).unwrap();
    !m.match_post(p).is_empty()
}

/// (query, text, should match)
fn table(rows: &[(&str, &str, bool)]) {
    for &(q, text, want) in rows {
        assert_eq!(matches(q, &post(text)), want, "query {q:?} on {text:?}");
    }
}

#[test]
fn terms_and_phrases() {
    table(&[
        ("acme", "I love Acme!", true),
        ("acme", "ACME rocks", true),
        ("acme", "acmes are great", false),
        ("acme", "pacmeal", false),
        ("acme", "acme's new phone", true),
        ("acme", "acme-widgets", true),
        ("acme", "acme_corp", false),
        ("acme", "acme2", false),
        ("acme", "", false),
        ("\"acme corp\"", "Acme  Corp is here", true),
        ("\"acme corp\"", "Acme\ncorp is here", true),
        ("\"acme corp\"", "acme corporation", false),
        ("\"acme corp\"", "corp acme", false),
        ("\"acme corp\"", "acme, corp", false),
    ]);
}

#[test]
fn boolean_operators() {
    table(&[
        ("acme widgets", "acme makes widgets", true),
        ("acme widgets", "acme makes gadgets", false),
        ("acme AND widgets", "widgets by acme", true),
        ("acme OR globex", "globex wins", true),
        ("acme OR globex", "initech wins", false),
        ("acme NOT coyote", "acme anvil", true),
        ("acme NOT coyote", "acme anvil fell on the coyote", false),
        ("acme -coyote", "acme anvil fell on the coyote", false),
        ("acme -coyote", "acme anvil", true),
        ("(acme OR globex) phone", "globex phone", true),
        ("(acme OR globex) phone", "globex laptop", false),
        ("acme OR globex phone", "acme laptop", true),
        ("acme -(coyote OR roadrunner)", "acme roadrunner", false),
        ("NOT acme", "nothing here", true),
        ("NOT acme", "acme here", false),
        ("-acme -globex", "initech", true),
        ("NOT NOT acme", "acme", true),
        (
            "\"acme corp\" OR acmecorp OR #acme NOT \"wile e\"",
            "#acme launch",
            true,
        ),
        // NOT binds tighter than OR: only #acme is excluded by "wile e" here
        (
            "\"acme corp\" OR acmecorp OR #acme NOT \"wile e\"",
            "acmecorp and wile e",
            true,
        ),
        (
            "\"acme corp\" OR acmecorp OR #acme NOT \"wile e\"",
            "#acme and wile e",
            false,
        ),
        (
            "(\"acme corp\" OR acmecorp OR #acme) NOT \"wile e\"",
            "acmecorp and wile e",
            false,
        ),
        ("cats or dogs", "cats or dogs", true),
        ("cats or dogs", "cats and dogs", false),
    ]);
}

#[test]
fn case_sensitive_terms() {
    table(&[
        ("=Apple", "I bought an Apple laptop", true),
        ("=Apple", "I ate an apple", false),
        ("=Apple", "APPLE shouting", false),
        ("=Apple", "Ａｐｐｌｅ wide", true),
        ("=\"Apple Inc\"", "Apple  Inc. reported", true),
        ("=\"Apple Inc\"", "apple inc reported", false),
        ("=Café", "Cafe\u{301} Noir", true),
        ("=Café", "Cafe Noir", false),
        ("=Apple*", "Applesauce", true),
        ("=Apple*", "applesauce", false),
        ("title:=Apple", "Apple", false),
    ]);
}

#[test]
fn wildcards() {
    table(&[
        ("acme*", "acmes everywhere", true),
        ("acme*", "acme", true),
        ("acme*", "pacman", false),
        ("acme*", "pacmes", false),
        ("*acme", "megaacme", true),
        ("*acme", "acmes", false),
        ("*acme*", "xxacmexx", true),
        ("#acme*", "#AcmeCorp", true),
    ]);
}

#[test]
fn social_forms() {
    table(&[
        ("#acme", "love #Acme", true),
        ("#acme", "love acme", false),
        ("#acme", "love #acmecorp", false),
        ("#acme", "love ＃ａｃｍｅ", true),
        ("#acme", "x#acme", false),
        ("acme", "love #acme", true),
        ("@acme", "hey @Acme fix this", true),
        ("@acme", "hey @acme@mastodon.social", true),
        ("@acme", "mail support@acme.com", false),
        ("@acme", "hey @acme_support", false),
        ("$acme", "$ACME to the moon", true),
        ("$acme", "$ACMEX", false),
        ("$acme", "acme", false),
    ]);
}

#[test]
fn domains() {
    table(&[
        ("acme.com", "see acme.com for details", true),
        ("acme.com", "see ACME.COM.", true),
        ("acme.com", "see https://shop.acme.com/x", true),
        ("acme.com", "see acme[.]com", true),
        ("acme.com", "see acme(dot)com", true),
        ("acme.com", "see notacme.com", false),
        ("acme.com", "see my-acme.com", false),
        ("acme.com", "see acme.com.au", false),
        ("acme.com", "see acme.community", false),
        ("acme.com", "mail bob@acme.com", true),
        ("acme.com", "acme com", false),
    ]);
    let mut p = post("a link");
    p.links = vec!["https://blog.acme.com/post".into()];
    assert!(matches("acme.com", &p));
    p.links = vec!["https://notacme.com/post".into()];
    assert!(!matches("acme.com", &p));
    // plain words do not look into links
    p.links = vec!["https://acme.org/".into()];
    assert!(!matches("acme", &p));
    let mut p = post("story");
    p.url = "https://www.acme.com/news".into();
    assert!(matches("acme.com", &p));
}

#[test]
fn proximity() {
    table(&[
        (
            "acme NEAR/3 refund",
            "acme would not give me a refund",
            false,
        ),
        (
            "acme NEAR/5 refund",
            "acme would not give me a refund",
            true,
        ),
        ("acme NEAR/0 refund", "acme refund", true),
        ("acme NEAR/0 refund", "refund, acme!", true),
        ("acme NEAR/0 refund", "acme a refund", false),
        (
            "refund NEAR/5 acme",
            "acme would not give me a refund",
            true,
        ),
        ("\"acme corp\" NEAR/1 outage", "acme corp big outage", true),
        (
            "\"acme corp\" NEAR/1 outage",
            "acme corp had a big outage",
            false,
        ),
        (
            "\"acme\" NEAR/5 (support OR refund OR outage)",
            "acme support is slow",
            true,
        ),
        (
            "\"acme\" NEAR/5 (support OR refund OR outage)",
            "acme is great",
            false,
        ),
        ("acme NEAR/2 foo NEAR/2 bar", "acme foo bar", true),
        ("acme NEAR/2 foo NEAR/2 bar", "acme foo x y z bar", false),
        ("acme NEAR/5 acme", "acme", false),
        ("acme NEAR/5 acme", "acme acme", true),
    ]);
}

#[test]
fn near_stays_in_one_field() {
    let mut p = post("refund please");
    p.title = Some("acme".into());
    assert!(!matches("acme NEAR/5 refund", &p));
    assert!(matches("acme refund", &p));
}

#[test]
fn unicode() {
    table(&[
        ("Café", "un cafe\u{301} noir", true),
        ("cafe\u{301}", "un Café noir", true),
        ("cafe", "un CAFÉ noir", true),
        ("café", "un cafeteria", false),
        ("acme", "ＡＣＭＥ", true),
        ("ＡＣＭＥ", "acme", true),
        ("straße", "STRASSE", true),
        ("Ωmega", "ωMEGA", true),
        ("ﬁne", "fine", true),
        ("苹果", "我喜欢苹果手机", true),
        ("東京", "東京タワー", true),
        ("müller", "Mu\u{308}ller", true),
    ]);
}

#[test]
fn fields() {
    let mut p = post("body mentions globex");
    p.title = Some("Acme launches".into());
    p.author = Some("acme_support".into());
    p.site = "reddit.com/r/Acme".into();
    p.lang = Some("en-GB".into());
    let rows: &[(&str, bool)] = &[
        ("title:acme", true),
        ("title:globex", false),
        ("text:globex", true),
        ("text:acme", false),
        ("acme", true),
        ("author:acme_support", true),
        ("author:@acme_support", true),
        ("author:acme", false),
        ("acme_support", false),
        ("title:(launches OR globex)", true),
        ("title:\"acme launches\"", true),
        ("site:reddit.com/r/acme", true),
        ("site:reddit.com", true),
        ("site:reddit.com/r/acmecorp", false),
        ("site:old.reddit.com", false),
        ("site:news.ycombinator.com", false),
        ("source:rss", true),
        ("source:test", true),
        ("source:reddit.com/r/acme", true),
        ("source:hackernews", false),
        ("lang:en", true),
        ("lang:en-gb", true),
        ("lang:de", false),
        ("globex -lang:de", true),
        ("globex site:reddit.com/r/acme", true),
        ("globex -site:reddit.com/r/acme", false),
    ];
    for &(q, want) in rows {
        assert_eq!(matches(q, &p), want, "{q}");
    }
    let mut p = post("acme");
    p.site = "old.reddit.com/r/acme/comments/1".into();
    assert!(matches("site:reddit.com/r/acme", &p));
    p.lang = None;
    assert!(!matches("lang:en", &p));
    assert!(matches("acme -lang:en", &p));
}

#[test]
fn spans_point_into_the_original_text() {
    let text = "Ｈｉ, I ❤ ACME[.]com and Cafe\u{301}  Corp!";
    let m = Matcher::compile(&[brand("B", "acme.com OR \"café corp\"")]).unwrap();
    let got = m.match_post(&post(text));
    assert_eq!(got.len(), 1);
    let spans: Vec<(&str, &str)> = got[0]
        .terms
        .iter()
        .map(|t| (t.term.as_str(), &text[t.start..t.end]))
        .collect();
    assert_eq!(
        spans,
        [
            ("acme.com", "ACME[.]com"),
            ("café corp", "Cafe\u{301}  Corp")
        ]
    );
    assert!(got[0].terms.iter().all(|t| t.field == Field::Text));
}

#[test]
fn witnesses_leave_out_negated_and_far_terms() {
    let m = Matcher::compile(&[brand("B", "acme NEAR/1 refund OR (globex -initech)")]).unwrap();
    let got = m.match_post(&post("refund acme, then much later a refund"));
    let terms: Vec<(String, usize)> = got[0]
        .terms
        .iter()
        .map(|t| (t.term.clone(), t.start))
        .collect();
    assert_eq!(terms, [("refund".to_string(), 0), ("acme".to_string(), 7)]);
    assert!(m.match_post(&post("globex initech")).is_empty());
}

#[test]
fn several_brands_and_named_queries() {
    let mut b = brand("Acme", "acme");
    b.queries.insert(
        "support".into(),
        Spanned::new(0..1, "roadrunner NEAR/2 help".into()),
    );
    let brands = [
        b,
        brand("Globex", "globex OR \"acme\""),
        brand("Nobody", "initech"),
    ];
    let m = Matcher::compile(&brands).unwrap();
    let got = m.match_post(&post("acme and globex"));
    let names: Vec<(&str, &str)> = got
        .iter()
        .map(|b| (b.brand.as_str(), b.query.as_str()))
        .collect();
    assert_eq!(names, [("Acme", "default"), ("Globex", "default")]);
    let got = m.match_post(&post("roadrunner needs help"));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].query, "support");
    assert_eq!(m.brands(), ["Acme", "Globex", "Nobody"]);
}

#[test]
fn search_terms() {
    let mut a = brand(
        "Acme",
        "\"acme corp\" OR acme* OR #acme NOT \"wile e\" author:acme",
    );
    let b = brand("Globex", "Globex OR \"ACME corp\" site:x.com");
    let m = Matcher::compile(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(m.search_terms("Acme"), ["acme corp", "acme", "#acme"]);
    assert_eq!(m.search_terms("acme"), ["acme corp", "acme", "#acme"]);
    assert!(m.search_terms("nobody").is_empty());
    assert_eq!(
        m.all_search_terms(),
        ["acme corp", "acme", "#acme", "Globex"]
    );
    a.search_terms = vec!["acme corporation".into()];
    let m = Matcher::compile(&[a, b]).unwrap();
    assert_eq!(m.search_terms("Acme"), ["acme corporation"]);
}

#[test]
fn compile_errors_name_brand_query_and_column() {
    let mut b = brand("Acme", "acme");
    b.queries
        .insert("bad".into(), Spanned::new(0..1, "acme corp OR".into()));
    let e = Matcher::compile(&[b]).unwrap_err();
    let s = e.to_string();
    assert!(
        s.contains("\"Acme\"") && s.contains("\"bad\"") && s.contains("column 13"),
        "{s}"
    );
    let mut b = brand("Empty", "x");
    b.query = None;
    assert!(matches!(
        Matcher::compile(&[b]),
        Err(MatcherError::NoQuery { .. })
    ));
    assert_eq!(
        validate_query("a OR"),
        Err((
            5,
            "expected a term, a \"phrase\" or '(' after OR, found end of query".into()
        ))
    );
    assert_eq!(validate_query("a OR b"), Ok(()));
}

#[test]
fn no_brands_no_matches() {
    let m = Matcher::compile(&[]).unwrap();
    assert!(m.match_post(&post("anything")).is_empty());
    assert!(m.all_search_terms().is_empty());
}

#[test]
fn matcher_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Matcher>();
}

proptest::proptest! {
    #[test]
    fn never_panics(query in "\\PC{0,40}", text in "\\PC{0,120}") {
        let _ = validate_query(&query);
        if let Ok(m) = Matcher::compile(&[brand("B", &query)]) {
            let mut p = post(&text);
            p.title = Some(text.chars().rev().collect());
            p.links = vec![text.clone()];
            for bm in m.match_post(&p) {
                for t in bm.terms {
                    let field = match t.field {
                        Field::Title => p.title.clone().unwrap_or_default(),
                        Field::Text => p.text.clone(),
                        Field::Link => p.links[0].clone(),
                        Field::Url => p.url.clone(),
                        _ => continue,
                    };
                    proptest::prop_assert!(field.get(t.start..t.end).is_some());
                }
            }
        }
    }

    #[test]
    fn folding_keeps_spans_on_char_boundaries(text in "\\PC{0,80}") {
        let f = normalize::Folded::new(&text, normalize::Mode::Loose);
        for (s, _) in f.text.char_indices() {
            for (e, c) in f.text[s..].char_indices().take(4) {
                let (os, oe) = f.orig_span(s, s + e + c.len_utf8());
                proptest::prop_assert!(text.get(os..oe).is_some());
            }
        }
    }

    #[test]
    fn a_term_finds_itself(word in "[a-zA-Zà-öø-ÿ]{1,12}") {
        let m = Matcher::compile(&[brand("B", &word)]).unwrap();
        let text = format!("x {} y", word.to_uppercase());
        proptest::prop_assert_eq!(m.match_post(&post(&text)).len(), 1);
    }
}

#[test]
fn pathological_repetition_stays_fast() {
    let text = "acme ".repeat(5_000) + &"refund ".repeat(5_000);
    let m = Matcher::compile(&[brand("B", "acme NEAR/2 refund")]).unwrap();
    let t = std::time::Instant::now();
    let got = m.match_post(&post(&text));
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].terms.len(), 6); // 3 acme, 3 refund
    assert!(m.match_post(&post(&"acme ".repeat(5_000))).is_empty());
}
