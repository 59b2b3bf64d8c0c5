use super::super::test_support::{answer, fixture, post, replies, time};
use super::super::{parse, target, Bases, Target, Thread};
use crate::post::Post;

fn mention() -> Post {
    post(
        "hackernews",
        "hackernews:8863001",
        "https://news.ycombinator.com/item?id=8863001",
        "jdoe",
        "2023-11-14T22:13:20Z",
    )
}

#[test]
fn targets_are_the_item_itself_for_stories_and_comments() {
    let bases = Bases::default();
    let mut story = mention();
    story.id = "hackernews:8863000".into();
    assert_eq!(
        target(&story, &bases).unwrap(),
        Target::Fetch(
            "https://hn.algolia.com/api/v1/items/8863000"
                .parse()
                .unwrap()
        )
    );
    let mut comment = mention();
    comment.parent_id = Some("hackernews:8863000".into());
    comment.thread_id = Some("hackernews:8863000".into());
    assert_eq!(
        target(&comment, &bases).unwrap(),
        Target::Fetch(
            "https://hn.algolia.com/api/v1/items/8863001"
                .parse()
                .unwrap()
        )
    );
    let mut local = Bases::default();
    local.sources.insert(
        "hackernews".into(),
        "http://127.0.0.1:9/hn".parse().unwrap(),
    );
    assert_eq!(
        target(&comment, &local).unwrap(),
        Target::Fetch("http://127.0.0.1:9/hn/items/8863001".parse().unwrap())
    );
    comment.id = "hackernews:88a".into();
    let e = target(&comment, &bases).unwrap_err().to_string();
    assert!(e.contains("hackernews:88a"), "{e}");
}

#[test]
fn a_thread_without_the_brand_is_not_answered() {
    let m = mention();
    let body = fixture!("hackernews", "no_answer.json");
    let r = replies(&m, body);
    let got: Vec<(&str, u32)> = r.iter().map(|r| (r.id.as_str(), r.depth)).collect();
    assert_eq!(
        got,
        [
            ("hackernews:8863010", 1),
            ("hackernews:8863011", 2),
            ("hackernews:8863020", 1)
        ]
    );
    assert_eq!(r[1].author, "bob");
    assert_eq!(r[1].at, time("2023-11-14T22:33:20Z"));
    assert_eq!(answer(&m, body), None);
}

#[test]
fn the_brands_reply_three_levels_down_is_the_answer() {
    let m = mention();
    let (id, at, url, depth) = answer(&m, fixture!("hackernews", "answered.json")).unwrap();
    assert_eq!(id, "hackernews:8863012");
    assert_eq!(at, time("2023-11-14T23:13:20Z"));
    assert_eq!(url, "https://news.ycombinator.com/item?id=8863012");
    assert_eq!(depth, 3);
    // the deleted comment is kept, as deleted, with the reply below it
    let r = replies(&m, fixture!("hackernews", "answered.json"));
    let deleted: Vec<&str> = r
        .iter()
        .filter(|r| r.deleted)
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(deleted, ["hackernews:8863040"]);
    assert!(r
        .iter()
        .any(|r| r.id == "hackernews:8863041" && r.depth == 2));
}

#[test]
fn lookalike_accounts_are_not_the_brand() {
    assert_eq!(
        answer(&mention(), fixture!("hackernews", "lookalike.json")),
        None
    );
}

#[test]
fn a_deleted_reply_by_the_brand_is_not_an_answer() {
    let m = mention();
    let r = replies(&m, fixture!("hackernews", "deleted.json"));
    assert!(r.iter().all(|r| r.deleted || r.author == "alice"), "{r:?}");
    assert_eq!(answer(&m, fixture!("hackernews", "deleted.json")), None);
}

#[test]
fn a_brands_own_post_is_never_answered_by_the_brand() {
    let mut m = mention();
    m.author = Some("ACME_support".into());
    assert_eq!(answer(&m, fixture!("hackernews", "answered.json")), None);
}

#[test]
fn a_missing_or_deleted_mention_is_gone() {
    let m = mention();
    assert_eq!(
        parse(&m, 404, fixture!("hackernews", "not_found.json")).unwrap(),
        Thread::Gone
    );
    assert_eq!(
        parse(&m, 200, fixture!("hackernews", "deleted_mention.json")).unwrap(),
        Thread::Gone
    );
}

#[test]
fn malformed_bodies_and_errors_are_clear() {
    let m = mention();
    let e = parse(&m, 200, fixture!("hackernews", "malformed.json")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("hackernews thread: malformed response:"),
        "{e}"
    );
    let e = parse(&m, 503, b"<html>busy</html>").unwrap_err();
    assert_eq!(
        e.to_string(),
        "hackernews thread: HTTP 503: <html>busy</html>"
    );
    assert!(parse(&m, 200, b"").is_err());
    assert!(parse(&m, 200, b"[]").is_err());
}
