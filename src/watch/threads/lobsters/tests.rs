use super::super::test_support::{answer, fixture, post, replies, time};
use super::super::{parse, target, Bases, Target, Thread};
use crate::post::Post;

fn story() -> Post {
    post(
        "lobsters",
        "lobsters:abc123",
        "https://lobste.rs/s/abc123/acme_ships_new_widget",
        "alice",
        "2024-01-02T16:00:00Z",
    )
}

/// A comment as the comments feed gives it: no story id.
fn comment() -> Post {
    post(
        "lobsters",
        "lobsters:c/xyz789",
        "https://lobste.rs/c/xyz789",
        "carol@users.lobste.rs (carol)",
        "2024-01-02T18:00:00Z",
    )
}

#[test]
fn targets_for_a_story_and_a_comment() {
    let bases = Bases::default();
    let fetch = |u: &str| Target::Fetch(u.parse().unwrap());
    assert_eq!(
        target(&story(), &bases).unwrap(),
        fetch("https://lobste.rs/s/abc123.json")
    );
    let mut c = comment();
    assert_eq!(
        target(&c, &bases).unwrap(),
        fetch("https://lobste.rs/c/xyz789.json")
    );
    c.thread_id = Some("lobsters:abc123".into());
    assert_eq!(
        target(&c, &bases).unwrap(),
        fetch("https://lobste.rs/s/abc123.json")
    );
    let local = Bases {
        lobsters: "http://127.0.0.1:3000".parse().unwrap(),
        ..Bases::default()
    };
    assert_eq!(
        target(&c, &local).unwrap(),
        fetch("http://127.0.0.1:3000/s/abc123.json")
    );
    c.id = "lobsters:c/../x".into();
    assert!(target(&c, &bases).is_err());
}

#[test]
fn a_comment_from_the_feed_is_located_first() {
    let mut c = comment();
    let t = parse(&c, 200, fixture!("lobsters", "comment_locate.json")).unwrap();
    assert_eq!(
        t,
        Thread::Located {
            thread_id: "lobsters:abc123".into()
        }
    );
    c.thread_id = Some("lobsters:abc123".into());
    let (id, at, url, depth) = answer(&c, fixture!("lobsters", "comment_answered.json")).unwrap();
    assert_eq!(id, "lobsters:c/z7a8s9");
    assert_eq!(at, time("2024-01-02T19:00:00Z"));
    assert_eq!(url, "https://lobste.rs/c/z7a8s9");
    assert_eq!(depth, 3);
    // only the comment's subtree: not the brand's earlier reply elsewhere, nor itself
    let r = replies(&c, fixture!("lobsters", "comment_answered.json"));
    let ids: Vec<&str> = r.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "lobsters:c/m1n2b3",
            "lobsters:c/v4c5x6",
            "lobsters:c/z7a8s9"
        ]
    );
}

#[test]
fn a_story_without_the_brand_is_not_answered() {
    let m = story();
    let body = fixture!("lobsters", "no_answer.json");
    let r = replies(&m, body);
    let got: Vec<(&str, &str, u32)> = r
        .iter()
        .map(|r| (r.id.as_str(), r.author.as_str(), r.depth))
        .collect();
    assert_eq!(
        got,
        [
            ("lobsters:c/q1w2e3", "bob", 1),
            ("lobsters:c/r4t5y6", "carol", 2),
            ("lobsters:c/u7i8o9", "dave", 1)
        ]
    );
    assert_eq!(r[1].at, time("2024-01-02T16:40:00Z"));
    assert_eq!(answer(&m, body), None);
}

#[test]
fn the_brands_reply_three_levels_down_is_the_answer_with_user_objects() {
    let m = story();
    let body = fixture!("lobsters", "answered.json");
    let (id, at, url, depth) = answer(&m, body).unwrap();
    assert_eq!(id, "lobsters:c/a1s2d3");
    assert_eq!(at, time("2024-01-02T18:00:00Z"));
    assert_eq!(url, "https://lobste.rs/c/a1s2d3");
    assert_eq!(depth, 3);
    let r = replies(&m, body);
    assert!(r.iter().any(|r| r.id == "lobsters:c/j7k8l9" && r.deleted));
}

#[test]
fn lookalike_accounts_are_not_the_brand() {
    assert_eq!(
        answer(&story(), fixture!("lobsters", "lookalike.json")),
        None
    );
}

#[test]
fn deleted_and_moderated_replies_by_the_brand_are_not_answers() {
    let m = story();
    let r = replies(&m, fixture!("lobsters", "deleted.json"));
    assert_eq!(
        r.iter().filter(|r| r.author == "acme" && r.deleted).count(),
        2
    );
    assert_eq!(answer(&m, fixture!("lobsters", "deleted.json")), None);
}

#[test]
fn a_brands_own_comment_is_never_answered_by_the_brand() {
    let mut c = comment();
    c.thread_id = Some("lobsters:abc123".into());
    c.author = Some("acme@users.lobste.rs (acme)".into());
    assert_eq!(
        answer(&c, fixture!("lobsters", "comment_answered.json")),
        None
    );
}

#[test]
fn missing_deleted_and_unknown_are_gone() {
    let mut c = comment();
    assert_eq!(
        parse(&c, 400, fixture!("lobsters", "comment_not_found.txt")).unwrap(),
        Thread::Gone
    );
    assert_eq!(
        parse(&c, 200, fixture!("lobsters", "comment_locate_deleted.json")).unwrap(),
        Thread::Gone
    );
    assert_eq!(parse(&story(), 404, b"").unwrap(), Thread::Gone);
    // a comment not in its story any more
    c.id = "lobsters:c/nothere".into();
    c.thread_id = Some("lobsters:abc123".into());
    assert_eq!(
        parse(&c, 200, fixture!("lobsters", "no_answer.json")).unwrap(),
        Thread::Gone
    );
}

#[test]
fn malformed_bodies_are_clear_errors() {
    let m = story();
    for body in [
        fixture!("lobsters", "malformed.json"),
        b"{\"short_id\": \"abc123\"}" as &[u8],
        b"<html>",
    ] {
        let e = parse(&m, 200, body).unwrap_err().to_string();
        assert!(e.starts_with("lobsters thread: malformed response:"), "{e}");
    }
    let e = parse(&m, 400, b"bad request").unwrap_err().to_string();
    assert_eq!(e, "lobsters thread: HTTP 400: bad request");
}
