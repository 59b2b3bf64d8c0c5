use super::super::test_support::{answer, fixture, post, replies, time};
use super::super::{parse, target, Bases, Target, Thread};
use crate::post::Post;

const STORY_URL: &str = "https://www.reddit.com/r/acme/comments/17abcde/acme_support_is_useless/";

fn story() -> Post {
    post(
        "reddit",
        "reddit:t3_17abcde",
        STORY_URL,
        "jdoe",
        "2023-11-14T22:13:20Z",
    )
}

fn comment() -> Post {
    let mut p = post(
        "reddit",
        "reddit:t1_k5a10",
        &format!("{STORY_URL}k5a10/"),
        "jdoe",
        "2023-11-14T22:23:20Z",
    );
    p.parent_id = Some("reddit:t3_17abcde".into());
    p.thread_id = Some("reddit:t3_17abcde".into());
    p
}

#[test]
fn targets_for_a_post_and_a_comment() {
    let bases = Bases::default();
    let q = "raw_json=1&sort=old&limit=500&depth=10";
    assert_eq!(
        target(&story(), &bases).unwrap(),
        Target::Fetch(
            format!("https://www.reddit.com/comments/17abcde.json?{q}")
                .parse()
                .unwrap()
        )
    );
    let want = Target::Fetch(
        format!("https://www.reddit.com/comments/17abcde/_/k5a10.json?{q}")
            .parse()
            .unwrap(),
    );
    assert_eq!(target(&comment(), &bases).unwrap(), want);
    // a comment from the Atom feed has no thread_id: the URL says which post
    let mut atom = comment();
    atom.thread_id = None;
    assert_eq!(target(&atom, &bases).unwrap(), want);
    atom.url = "https://www.reddit.com/user/jdoe/".into();
    let e = target(&atom, &bases).unwrap_err().to_string();
    assert!(
        e.contains("reddit:t1_k5a10") && e.contains("thread_id"),
        "{e}"
    );
    let mut odd = story();
    odd.id = "reddit:t5_acme".into();
    assert!(target(&odd, &bases).is_err());
}

#[test]
fn a_thread_without_the_brand_is_not_answered_and_more_stubs_are_skipped() {
    let m = story();
    let body = fixture!("reddit", "no_answer.json");
    let r = replies(&m, body);
    let got: Vec<(&str, u32)> = r.iter().map(|r| (r.id.as_str(), r.depth)).collect();
    assert_eq!(
        got,
        [
            ("reddit:t1_k5a10", 1),
            ("reddit:t1_k5a11", 2),
            ("reddit:t1_k5a20", 1)
        ]
    );
    assert_eq!(r[1].author, "bob");
    assert_eq!(r[1].at, time("2023-11-14T22:33:20Z"));
    assert_eq!(answer(&m, body), None);
}

#[test]
fn the_brands_reply_three_levels_down_is_the_answer() {
    let m = story();
    let (id, at, url, depth) = answer(&m, fixture!("reddit", "answered.json")).unwrap();
    assert_eq!(id, "reddit:t1_k5a12");
    assert_eq!(at, time("2023-11-14T23:13:20Z"));
    assert_eq!(url, format!("{STORY_URL}k5a12/"));
    assert_eq!(depth, 3);
    let r = replies(&m, fixture!("reddit", "answered.json"));
    assert!(r.iter().any(|r| r.id == "reddit:t1_k5a40" && r.deleted));
    assert!(r.iter().any(|r| r.id == "reddit:t1_k5a41" && r.depth == 2));
}

#[test]
fn below_a_comment_mention_the_depth_counts_from_the_comment() {
    let m = comment();
    let body = fixture!("reddit", "comment_answered.json");
    let r = replies(&m, body);
    assert!(r.iter().all(|r| r.id != "reddit:t1_k5a10"), "{r:?}");
    let (id, at, _, depth) = answer(&m, body).unwrap();
    assert_eq!((id.as_str(), depth), ("reddit:t1_k5a14", 3));
    assert_eq!(at, time("2023-11-14T23:13:20Z"));
    assert_eq!(
        parse(&m, 200, fixture!("reddit", "comment_deleted_mention.json")).unwrap(),
        Thread::Gone
    );
    // the comment is not in the response: gone too
    let mut other = comment();
    other.id = "reddit:t1_zzz".into();
    assert_eq!(parse(&other, 200, body).unwrap(), Thread::Gone);
}

#[test]
fn lookalike_accounts_are_not_the_brand() {
    assert_eq!(answer(&story(), fixture!("reddit", "lookalike.json")), None);
}

#[test]
fn a_deleted_or_removed_reply_by_the_brand_is_not_an_answer() {
    let m = story();
    let r = replies(&m, fixture!("reddit", "deleted.json"));
    assert!(r.iter().filter(|r| r.author != "alice").all(|r| r.deleted));
    assert_eq!(answer(&m, fixture!("reddit", "deleted.json")), None);
}

#[test]
fn a_missing_or_removed_post_is_gone() {
    let m = story();
    assert_eq!(
        parse(&m, 404, fixture!("reddit", "not_found.json")).unwrap(),
        Thread::Gone
    );
    assert_eq!(
        parse(&m, 200, fixture!("reddit", "removed_mention.json")).unwrap(),
        Thread::Gone
    );
}

#[test]
fn malformed_bodies_are_clear_errors() {
    let m = story();
    let e = parse(&m, 200, fixture!("reddit", "malformed.json")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("reddit thread: malformed response:"),
        "{e}"
    );
    let e = parse(
        &m,
        200,
        br#"[{"kind": "Listing", "data": {"children": []}}]"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("two Listings"), "{e}");
    let e = parse(&m, 200, fixture!("reddit", "not_found.json")).unwrap_err();
    assert!(e.to_string().starts_with("reddit thread: malformed"), "{e}");
    let e = parse(&m, 403, b"blocked").unwrap_err();
    assert_eq!(e.to_string(), "reddit thread: HTTP 403: blocked");
}
