use super::super::test_support::{answer, fixture, mention_in, post, recorded, replies, time};
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

/// A mention on a recorded Lobsters story (`tests/fixtures/threads/real/`).
fn on_record(id: &str, story: Option<&str>) -> Post {
    mention_in(
        "lobsters",
        id,
        story.map(|s| format!("lobsters:{s}")).as_deref(),
    )
}

/// `body` for `post` must say which story it is in.
fn located_in(post: &Post, body: &[u8], story: &str) {
    let want = Thread::Located {
        thread_id: format!("lobsters:{story}"),
    };
    assert_eq!(parse(post, 200, body).unwrap(), want);
}

/// The 2021 story JSON has no `parent_comment`: each comment's `indent_level` and
/// its place in the list say where it is (flr1hj, level 2, is under 6gmzsf).
#[test]
fn a_2021_story_rebuilds_parents_from_indent_level() {
    let body = fixture!("real", "lobsters_s_d9ucpe_2021.answered.json");
    let r = replies(&on_record("lobsters:d9ucpe", None), body);
    let got: Vec<(&str, u32)> = r.iter().map(|r| (r.id.as_str(), r.depth)).collect();
    assert_eq!(
        got,
        [
            ("lobsters:c/42bzeq", 1),
            ("lobsters:c/kejbct", 1),
            ("lobsters:c/vvs5qn", 1),
            ("lobsters:c/6gmzsf", 1),
            ("lobsters:c/flr1hj", 2),
            ("lobsters:c/oeggxb", 1),
            ("lobsters:c/pvti5i", 1)
        ]
    );
    // a comment mention: located from its own JSON, then answered in the story
    let mut c = on_record("lobsters:c/6gmzsf", None);
    located_in(
        &c,
        fixture!("real", "lobsters_c_6gmzsf_from_d9ucpe_2021.json"),
        "d9ucpe",
    );
    c.thread_id = Some("lobsters:d9ucpe".into());
    let at = time("2021-04-04T06:39:39Z");
    let url = "https://lobste.rs/c/flr1hj".to_string();
    let want = ("lobsters:c/flr1hj".to_string(), at, url, 1);
    assert_eq!(answer(&c, body), Some(want));
    // the brand's reply is under another comment than 42bzeq
    let other = on_record("lobsters:c/42bzeq", Some("d9ucpe"));
    assert!(replies(&other, body).is_empty());
    // the recording itself: kodfodrasz, not the brand
    let original = recorded(body, "\"acme\"", "\"kodfodrasz\"");
    assert_eq!(answer(&c, &original), None);
}

/// The 2023 (user objects, `indent_level: null`) and 2025 (names, `depth`) forms of
/// the same story read alike through `parent_comment`.
#[test]
fn the_2023_and_2025_stories_read_alike() {
    for body in [
        fixture!("real", "lobsters_s_tdfoqh_2023.answered.json"),
        fixture!("real", "lobsters_s_tdfoqh_2025.answered.json"),
    ] {
        let story = on_record("lobsters:tdfoqh", None);
        assert_eq!(replies(&story, body).len(), 10);
        let at = time("2022-07-22T19:28:14Z");
        let url = "https://lobste.rs/c/lqqn3a".to_string();
        let want = ("lobsters:c/lqqn3a".to_string(), at, url, 3);
        assert_eq!(answer(&story, body), Some(want));
        let c = on_record("lobsters:c/9vyyu5", Some("tdfoqh"));
        assert_eq!(answer(&c, body).map(|a| a.3), Some(2));
        let original = recorded(body, "\"acme\"", "\"kghose\"");
        assert_eq!(answer(&story, &original), None);
    }
    located_in(
        &on_record("lobsters:c/9vyyu5", None),
        fixture!("real", "lobsters_c_9vyyu5_from_tdfoqh_2025.json"),
        "tdfoqh",
    );
}
