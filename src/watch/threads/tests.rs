//! The kind-independent parts: kinds without threads, statuses, bases from sources.

use super::test_support::{acme, post, time};
use super::*;

fn rss() -> Post {
    post(
        "rss",
        "rss:https://acme.example/blog/1",
        "https://acme.example/blog/1",
        "acme",
        "2024-01-02T10:00:00Z",
    )
}

#[test]
fn kinds_without_threads_say_so() {
    let bases = Bases::default();
    assert_eq!(
        target(&rss(), &bases).unwrap(),
        Target::NoThreads("rss, Atom and JSON feeds have no threads to watch")
    );
    let mut other = rss();
    other.source = "gopher".into();
    assert!(matches!(
        target(&other, &bases).unwrap(),
        Target::NoThreads(_)
    ));
    let e = parse(&rss(), 200, b"{}").unwrap_err();
    assert_eq!(e.to_string(), "rss posts have no threads");
    assert!(parse(&rss(), 404, b"").is_err());
    assert_eq!(server_wait(&rss(), br#"{"backoff": 5}"#), None);
}

#[test]
fn no_account_of_the_kind_means_no_answer() {
    let reply = Reply {
        id: "hackernews:2".into(),
        author: "acme_support".into(),
        at: time("2024-01-02T10:00:00Z"),
        url: "https://news.ycombinator.com/item?id=2".into(),
        depth: 1,
        deleted: false,
    };
    let mut p = post(
        "hackernews",
        "hackernews:1",
        "https://news.ycombinator.com/item?id=1",
        "jdoe",
        "2024-01-02T09:00:00Z",
    );
    let replies = [reply];
    assert!(first_answer(&p, &replies, &acme()).is_some());
    let only_reddit: Vec<Account> = acme().into_iter().filter(|a| a.kind == "reddit").collect();
    assert_eq!(first_answer(&p, &replies, &only_reddit), None);
    assert_eq!(first_answer(&p, &replies, &[]), None);
    // an author the source does not give cannot be the brand
    p.author = None;
    assert!(first_answer(&p, &replies, &acme()).is_some());
}

#[test]
fn bases_come_from_the_sources_entries() {
    let toml = r#"
[[source]]
kind = "hackernews"
name = "hn-test"
base_url = "http://127.0.0.1:9001/hn/"

[[source]]
kind = "mastodon"
instance = "http://127.0.0.1:9002"

[[source]]
kind = "stackexchange"
site = "superuser"

[[source]]
kind = "rss"
url = "https://acme.example/feed.xml"
"#;
    #[derive(serde::Deserialize)]
    struct Wrap {
        source: Vec<SourceConfig>,
    }
    let sources = toml::from_str::<Wrap>(toml).unwrap().source;
    let bases = Bases::from_sources(&sources).unwrap();
    assert_eq!(bases.sources.len(), 2);
    assert_eq!(
        bases.sources["hn-test"].as_str(),
        "http://127.0.0.1:9001/hn"
    );
    assert_eq!(
        bases.mastodon["127.0.0.1"].as_str(),
        "http://127.0.0.1:9002/"
    );
    assert_eq!(bases.stackexchange, Bases::default().stackexchange);

    let mut hn = post(
        "hackernews",
        "hackernews:1",
        "https://news.ycombinator.com/item?id=1",
        "jdoe",
        "2024-01-02T09:00:00Z",
    );
    hn.source_name = "hn-test".into();
    assert_eq!(
        target(&hn, &bases).unwrap(),
        Target::Fetch("http://127.0.0.1:9001/hn/items/1".parse().unwrap())
    );
    hn.source_name = "hackernews".into();
    assert_eq!(
        target(&hn, &bases).unwrap(),
        Target::Fetch("https://hn.algolia.com/api/v1/items/1".parse().unwrap())
    );
    let mut m = post(
        "mastodon",
        "mastodon:127.0.0.1:42",
        "http://127.0.0.1:9002/@jdoe/42",
        "jdoe",
        "2024-01-02T09:00:00Z",
    );
    m.source_name = "mastodon".into();
    assert_eq!(
        target(&m, &bases).unwrap(),
        Target::Fetch(
            "http://127.0.0.1:9002/api/v1/statuses/42/context"
                .parse()
                .unwrap()
        )
    );
}

#[test]
fn error_bodies_are_cut_short() {
    let long = "x".repeat(500);
    let e = parse(
        &post(
            "hackernews",
            "hackernews:1",
            "https://news.ycombinator.com/item?id=1",
            "jdoe",
            "2024-01-02T09:00:00Z",
        ),
        500,
        long.as_bytes(),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e.chars().count(),
        "hackernews thread: HTTP 500: ".len() + 201
    );
}

/// Every fixture cut off anywhere, or with a byte flipped, parses to a value or an
/// error: never a panic.
#[test]
fn broken_bodies_never_panic() {
    use super::test_support::fixture;
    let mention = |kind: &str, id: &str| {
        let mut p = post(
            kind,
            id,
            "https://example.com/x/1",
            "jdoe",
            "2024-01-02T09:00:00Z",
        );
        p.thread_id = Some("lobsters:abc123".into());
        p
    };
    let cases: [(Post, &[u8]); 10] = [
        (
            mention("hackernews", "hackernews:8863001"),
            fixture!("hackernews", "answered.json"),
        ),
        (
            mention("reddit", "reddit:t3_17abcde"),
            fixture!("reddit", "answered.json"),
        ),
        (
            mention("reddit", "reddit:t1_k5a10"),
            fixture!("reddit", "comment_answered.json"),
        ),
        (
            mention("mastodon", "mastodon:mastodon.social:111000000000000001"),
            fixture!("mastodon", "deleted.json"),
        ),
        (
            mention("bluesky", "bluesky:at://did:plc:x/app.bsky.feed.post/1"),
            fixture!("bluesky", "answered.json"),
        ),
        (
            mention("lobsters", "lobsters:abc123"),
            fixture!("lobsters", "answered.json"),
        ),
        (
            mention("lobsters", "lobsters:c/xyz789"),
            fixture!("lobsters", "comment_answered.json"),
        ),
        (
            mention("lobsters", "lobsters:c/xyz789"),
            fixture!("lobsters", "comment_locate.json"),
        ),
        (
            mention("stackexchange", "stackexchange:stackoverflow:77000001"),
            fixture!("stackexchange", "answered.json"),
        ),
        (
            mention("stackexchange", "stackexchange:stackoverflow:77000001"),
            fixture!("stackexchange", "throttled.json"),
        ),
    ];
    for (p, body) in cases {
        // whole, each parses (the throttle is an API error)
        assert_eq!(
            parse(&p, 200, body).is_ok(),
            !body.starts_with(b"{\"error_id\""),
            "{}",
            p.id
        );
        for cut in (0..body.len()).step_by(7) {
            let _ = parse(&p, 200, &body[..cut]);
        }
        for at in (0..body.len()).step_by(13) {
            let mut b = body.to_vec();
            b[at] ^= 0x5a;
            let _ = parse(&p, 200, &b);
        }
    }
}
