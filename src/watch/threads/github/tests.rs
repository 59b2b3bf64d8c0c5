//! An issue's comments recorded from the real API (tests/fixtures/threads/github/,
//! provenance in tests/fixtures/threads/SOURCES.md), read unchanged: the brand's
//! account is a login that really commented there.

use super::super::test_support::{fixture, post, replies, time};
use super::super::{first_answer, parse, parse_accounts, target, Bases, Target, Thread};
use crate::post::Post;

const COMMENTS_187: &[u8] = fixture!(
    "github",
    "github3py_issue_comments_sigmavirus24-github3.py-187_2017-12-20.json"
);

/// Issue 187 of sigmavirus24/github3.py, opened by sigmavirus24 (the real one).
fn issue_187() -> Post {
    post(
        "github",
        "github:sigmavirus24/github3.py#187",
        "https://github.com/sigmavirus24/github3.py/issues/187",
        "sigmavirus24",
        "2014-01-08T00:05:55Z",
    )
}

fn answer_by(m: &Post, body: &[u8], account: &str) -> Option<(String, String, u32)> {
    let accounts = parse_accounts(&[account.to_string()]).unwrap();
    let r = replies(m, body);
    first_answer(m, &r, &accounts).map(|r| (r.id.clone(), r.url.clone(), r.depth))
}

#[test]
fn the_target_is_the_issues_comments() {
    let m = issue_187();
    assert_eq!(
        target(&m, &Bases::default()).unwrap(),
        Target::Fetch(
            "https://api.github.com/repos/sigmavirus24/github3.py/issues/187/comments?per_page=100"
                .parse()
                .unwrap()
        )
    );
    let mut local = Bases::default();
    local.sources.insert(
        "github".into(),
        "http://127.0.0.1:9/api/v3".parse().unwrap(),
    );
    assert_eq!(
        target(&m, &local).unwrap(),
        Target::Fetch(
            "http://127.0.0.1:9/api/v3/repos/sigmavirus24/github3.py/issues/187/comments?per_page=100"
                .parse()
                .unwrap()
        )
    );
    let mut bad = m.clone();
    for id in [
        "github:github3.py#187",
        "github:a/b#x",
        "github:../b#1",
        "github:a/b?c#1",
        "github:a/b#0",
    ] {
        bad.id = id.into();
        assert!(target(&bad, &Bases::default()).is_err(), "{id}");
    }
}

#[test]
fn the_brands_comment_is_found_in_the_real_issue_thread() {
    let m = issue_187();
    let r = replies(&m, COMMENTS_187);
    assert_eq!(r.len(), 3);
    assert!(r.iter().all(|r| r.depth == 1 && !r.deleted));
    let authors: Vec<&str> = r.iter().map(|r| r.author.as_str()).collect();
    assert_eq!(authors, ["esacteksab", "sigmavirus24", "esacteksab"]);
    assert_eq!(r[0].at, time("2014-01-08T01:48:28Z"));
    assert_eq!(
        answer_by(&m, COMMENTS_187, "github:EsacTeksab"),
        Some((
            "github:sigmavirus24/github3.py#187/comment:31799031".into(),
            "https://github.com/sigmavirus24/github3.py/issues/187#issuecomment-31799031".into(),
            1
        ))
    );
    // nobody of that name commented
    assert_eq!(answer_by(&m, COMMENTS_187, "github:acme-bot"), None);
    // the brand opened the issue: its own comments do not answer it
    assert_eq!(answer_by(&m, COMMENTS_187, "github:sigmavirus24"), None);
    // a login is matched exactly, not as a part
    assert_eq!(answer_by(&m, COMMENTS_187, "github:esacteksa"), None);
}

#[test]
fn hostile_bodies_are_errors_or_clean_replies_never_a_panic() {
    let m = issue_187();
    assert_eq!(parse(&m, 410, b"").unwrap(), Thread::Gone);
    assert!(parse(&m, 200, &COMMENTS_187[..COMMENTS_187.len() / 2]).is_err());
    assert!(parse(&m, 200, br#"{"message":"Not Found"}"#).is_err());
    assert!(parse(&m, 403, br#"{"message":"API rate limit exceeded"}"#).is_err());
    let body = br#"[{"id": 1, "user": null, "html_url": "javascript:alert(1)", "created_at": null},
        {"id": 2, "user": {"login": "<img src=x onerror=alert(1)>"}, "html_url": "<b>"}]"#;
    let r = replies(&m, body);
    assert!(r[0].deleted && r[0].author.is_empty());
    assert_eq!(r[0].at, m.created_at);
    assert_eq!(
        r[0].url,
        "https://github.com/sigmavirus24/github3.py/issues/187#issuecomment-1"
    );
    assert_eq!(
        r[1].url,
        "https://github.com/sigmavirus24/github3.py/issues/187#issuecomment-2"
    );
    let many: Vec<serde_json::Value> = (0..50_000)
        .map(|i| serde_json::json!({"id": i, "user": {"login": "x"}, "body": "<p>".repeat(10)}))
        .collect();
    assert_eq!(
        replies(&m, serde_json::to_string(&many).unwrap().as_bytes()).len(),
        50_000
    );
}
