use super::super::test_support::{acme, answer, fixture, post, replies, time};
use super::super::{first_answer, parse, target, Account, Bases, Target, Thread};
use crate::post::Post;

const ROOT: &str = "at://did:plc:jdoe2jdoe2jdoe2jdoe2jdoe/app.bsky.feed.post/3kfa2root222";
const ACME_DID: &str = "did:plc:acme6acme6acme6acme6acme6";

fn mention() -> Post {
    post(
        "bluesky",
        &format!("bluesky:{ROOT}"),
        "https://bsky.app/profile/did:plc:jdoe2jdoe2jdoe2jdoe2jdoe/post/3kfa2root222",
        "jdoe.bsky.social",
        "2023-11-14T22:13:20Z",
    )
}

fn acme_did() -> Vec<Account> {
    vec![Account::parse(&format!("bluesky:{ACME_DID}")).unwrap()]
}

#[test]
fn targets_are_the_post_thread_of_the_at_uri() {
    let want = |base: &str, uri: &str| {
        let mut u: url::Url = format!("{base}/xrpc/app.bsky.feed.getPostThread")
            .parse()
            .unwrap();
        u.query_pairs_mut()
            .append_pair("uri", uri)
            .append_pair("depth", "10")
            .append_pair("parentHeight", "0");
        Target::Fetch(u)
    };
    let top = mention();
    assert_eq!(
        target(&top, &Bases::default()).unwrap(),
        want("https://public.api.bsky.app", ROOT)
    );
    if let Target::Fetch(u) = target(&top, &Bases::default()).unwrap() {
        assert!(
            u.as_str().contains("uri=at%3A%2F%2Fdid%3Aplc%3Ajdoe"),
            "{u}"
        );
    }
    let reply_uri = "at://did:plc:alice3alice3alice3alice3a/app.bsky.feed.post/3kfa2a10";
    let mut reply = mention();
    reply.id = format!("bluesky:{reply_uri}");
    reply.parent_id = Some(format!("bluesky:{ROOT}"));
    reply.thread_id = Some(format!("bluesky:{ROOT}"));
    let local = Bases {
        bluesky: "http://127.0.0.1:2583".parse().unwrap(),
        ..Bases::default()
    };
    assert_eq!(
        target(&reply, &local).unwrap(),
        want("http://127.0.0.1:2583", reply_uri)
    );
    for bad in [
        "bluesky:did:plc:x",
        "bluesky:at://did:plc:x/app.bsky.feed.like/1",
        "bluesky:at://x/app.bsky.feed.post/1",
    ] {
        reply.id = bad.into();
        assert!(target(&reply, &local).is_err(), "{bad}");
    }
}

#[test]
fn a_thread_without_the_brand_is_not_answered() {
    let m = mention();
    let body = fixture!("bluesky", "no_answer.json");
    let r = replies(&m, body);
    let got: Vec<(&str, u32)> = r.iter().map(|r| (r.author.as_str(), r.depth)).collect();
    assert_eq!(
        got,
        [
            ("alice.bsky.social", 1),
            ("bob.bsky.social", 2),
            ("carol.bsky.social", 1)
        ]
    );
    assert_eq!(
        r[1].id,
        "bluesky:at://did:plc:bob4bob4bob4bob4bob4bob4/app.bsky.feed.post/3kfa2a11"
    );
    assert_eq!(r[1].at, time("2023-11-14T22:33:20Z"));
    assert_eq!(answer(&m, body), None);
}

#[test]
fn the_brands_reply_three_levels_down_is_the_answer() {
    let m = mention();
    let body = fixture!("bluesky", "answered.json");
    let (id, at, url, depth) = answer(&m, body).unwrap();
    assert_eq!(
        id,
        format!("bluesky:at://{ACME_DID}/app.bsky.feed.post/3kfa2a12")
    );
    assert_eq!(at, time("2023-11-14T23:13:20Z"));
    assert_eq!(url, "https://bsky.app/profile/acme.com/post/3kfa2a12");
    assert_eq!(depth, 3);
    // by DID: the same reply
    let r = replies(&m, body);
    assert_eq!(first_answer(&m, &r, &acme_did()).unwrap().url, url);
    // a deleted reply is kept, as deleted, with its time its parent's
    let gone = r.iter().find(|r| r.deleted).unwrap();
    assert_eq!(gone.author, "did:web:dave.example");
    assert_eq!((gone.depth, gone.at), (1, m.created_at));
}

#[test]
fn lookalike_handles_are_not_the_brand() {
    let m = mention();
    let body = fixture!("bluesky", "lookalike.json");
    assert_eq!(answer(&m, body), None);
    assert_eq!(first_answer(&m, &replies(&m, body), &acme_did()), None);
}

#[test]
fn deleted_and_blocked_replies_by_the_brand_are_not_answers() {
    let m = mention();
    let body = fixture!("bluesky", "deleted.json");
    let r = replies(&m, body);
    assert_eq!(r.iter().filter(|r| r.deleted).count(), 2);
    assert!(r.iter().filter(|r| r.deleted).all(|r| r.author == ACME_DID));
    assert_eq!(answer(&m, body), None);
    assert_eq!(first_answer(&m, &r, &acme_did()), None);
}

#[test]
fn a_brands_own_post_is_never_answered_by_the_brand() {
    let body = fixture!("bluesky", "answered.json");
    let mut m = mention();
    m.author = Some("Acme.com".into());
    assert_eq!(answer(&m, body), None);
    // from the firehose the author is a DID: a DID account knows it
    let mut m = mention();
    m.id = format!("bluesky:at://{ACME_DID}/app.bsky.feed.post/3kfa2root222");
    m.author = Some(ACME_DID.into());
    let r = replies(&m, body);
    assert_eq!(first_answer(&m, &r, &acme_did()), None);
    assert!(first_answer(&m, &r, &acme()).is_some());
}

#[test]
fn a_deleted_post_is_gone() {
    let m = mention();
    assert_eq!(
        parse(&m, 400, fixture!("bluesky", "not_found.json")).unwrap(),
        Thread::Gone
    );
    assert_eq!(
        parse(&m, 200, fixture!("bluesky", "gone_thread.json")).unwrap(),
        Thread::Gone
    );
    assert_eq!(parse(&m, 404, b"").unwrap(), Thread::Gone);
}

#[test]
fn malformed_bodies_and_api_errors_are_clear() {
    let m = mention();
    for body in [
        fixture!("bluesky", "malformed.json"),
        fixture!("bluesky", "not_found.json"),
        b"{\"thread\": {\"$type\": \"app.bsky.feed.defs#threadViewPost\"" as &[u8],
    ] {
        let e = parse(&m, 200, body).unwrap_err().to_string();
        assert!(e.starts_with("bluesky thread: malformed response:"), "{e}");
    }
    let e = parse(
        &m,
        200,
        br#"{"thread": {"$type": "app.bsky.feed.defs#somethingNew"}}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("unknown $type"), "{e}");
    let e = parse(
        &m,
        400,
        br#"{"error":"InvalidRequest","message":"Error: uri must be a valid at-uri"}"#,
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "bluesky thread: the API said: InvalidRequest: Error: uri must be a valid at-uri"
    );
}
