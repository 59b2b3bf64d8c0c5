use super::super::test_support::{answer, fixture, post, replies, time};
use super::super::{parse, target, Bases, Target, Thread};
use crate::post::Post;

fn mention() -> Post {
    let mut p = post(
        "mastodon",
        "mastodon:mastodon.social:111000000000000001",
        "https://mastodon.social/@jdoe/111000000000000001",
        "jdoe",
        "2023-11-14T22:13:20Z",
    );
    p.site = "mastodon.social".into();
    p
}

#[test]
fn targets_are_the_context_on_the_polled_instance() {
    let want = |base: &str, id: &str| {
        Target::Fetch(
            format!("{base}/api/v1/statuses/{id}/context")
                .parse()
                .unwrap(),
        )
    };
    let bases = Bases::default();
    let top = mention();
    assert_eq!(
        target(&top, &bases).unwrap(),
        want("https://mastodon.social", "111000000000000001")
    );
    // a reply, and a remote status whose URL is elsewhere: still the polled instance
    let mut reply = mention();
    reply.id = "mastodon:mastodon.social:111000000000000011".into();
    reply.parent_id = Some("mastodon:mastodon.social:111000000000000010".into());
    reply.url = "https://fosstodon.org/@bob/1234".into();
    assert_eq!(
        target(&reply, &bases).unwrap(),
        want("https://mastodon.social", "111000000000000011")
    );
    // the source's own instance URL (port and path kept), or one by host
    let mut local = Bases::default();
    local.sources.insert(
        "mastodon".into(),
        "http://mastodon.social:4000/m".parse().unwrap(),
    );
    assert_eq!(
        target(&top, &local).unwrap(),
        want("http://mastodon.social:4000/m", "111000000000000001")
    );
    let mut by_host = Bases::default();
    by_host.mastodon.insert(
        "mastodon.social".into(),
        "http://127.0.0.1:4000".parse().unwrap(),
    );
    assert_eq!(
        target(&top, &by_host).unwrap(),
        want("http://127.0.0.1:4000", "111000000000000001")
    );
    let mut bad = mention();
    bad.id = "mastodon:111000000000000001".into();
    assert!(target(&bad, &bases).is_err());
}

#[test]
fn a_thread_without_the_brand_is_not_answered_and_ancestors_are_not_replies() {
    let m = mention();
    let body = fixture!("mastodon", "no_answer.json");
    let r = replies(&m, body);
    let got: Vec<(&str, &str, u32)> = r
        .iter()
        .map(|r| (r.id.as_str(), r.author.as_str(), r.depth))
        .collect();
    assert_eq!(
        got,
        [
            (
                "mastodon:mastodon.social:111000000000000010",
                "alice@mastodon.social",
                1
            ),
            (
                "mastodon:mastodon.social:111000000000000011",
                "bob@fosstodon.org",
                2
            ),
            (
                "mastodon:mastodon.social:111000000000000020",
                "carol@hachyderm.io",
                1
            ),
        ]
    );
    assert_eq!(r[1].at, time("2023-11-14T22:33:20Z"));
    // the brand's post the mention replied to is an ancestor, not an answer
    assert_eq!(answer(&m, body), None);
}

#[test]
fn the_brands_reply_three_levels_down_is_the_answer() {
    let (id, at, url, depth) = answer(&mention(), fixture!("mastodon", "answered.json")).unwrap();
    assert_eq!(id, "mastodon:mastodon.social:111000000000000012");
    assert_eq!(at, time("2023-11-14T23:13:20Z"));
    assert_eq!(url, "https://acme.social/@support/1110000000000000120");
    assert_eq!(depth, 3);
}

#[test]
fn lookalike_and_local_namesake_accounts_are_not_the_brand() {
    let m = mention();
    let body = fixture!("mastodon", "lookalike.json");
    assert_eq!(replies(&m, body)[0].author, "support@mastodon.social");
    assert_eq!(answer(&m, body), None);
}

#[test]
fn a_deleted_reply_by_the_brand_is_not_an_answer() {
    let m = mention();
    let body = fixture!("mastodon", "deleted.json");
    let r = replies(&m, body);
    // the reply to the deleted status is kept, below it
    assert!(r
        .iter()
        .any(|r| r.id.ends_with(":111000000000000012") && r.depth == 2));
    // a suspended account's status is deleted
    assert!(r
        .iter()
        .any(|r| r.author == "support@acme.social" && r.deleted));
    assert_eq!(answer(&m, body), None);
}

#[test]
fn a_brands_own_post_is_never_answered_by_the_brand() {
    let mut m = mention();
    m.author = Some("support@acme.social".into());
    assert_eq!(answer(&m, fixture!("mastodon", "answered.json")), None);
    // a local author: the brand's account on the polled instance
    let mut m = mention();
    m.id = "mastodon:acme.social:111000000000000001".into();
    m.author = Some("support".into());
    assert_eq!(answer(&m, fixture!("mastodon", "answered.json")), None);
}

#[test]
fn a_deleted_status_is_gone() {
    assert_eq!(
        parse(&mention(), 404, fixture!("mastodon", "not_found.json")).unwrap(),
        Thread::Gone
    );
}

#[test]
fn malformed_bodies_are_clear_errors() {
    let m = mention();
    for body in [
        fixture!("mastodon", "malformed.json"),
        fixture!("mastodon", "not_found.json"),
        b"{\"descendants\": [" as &[u8],
    ] {
        let e = parse(&m, 200, body).unwrap_err().to_string();
        assert!(e.starts_with("mastodon thread: malformed response:"), "{e}");
    }
    let e = parse(
        &m,
        401,
        br#"{"error":"This API requires an authenticated user"}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("HTTP 401") && e.contains("authenticated user"),
        "{e}"
    );
}
