//! Hostile and broken servers: absurd rate-limit headers, a stuck or lost page, a
//! redirect into the private network. Each test is a promise a source keeps whatever
//! a server sends: no panic, no silent gap, no request where it must not go.

mod sources_support;

use std::time::Duration;

use overhear::sources::SourceError;
use serde_json::json;
use sources_support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const DAY: Duration = Duration::from_secs(86_400);

fn hn_toml(server: &MockServer) -> String {
    format!(
        "[[source]]\nkind = \"hackernews\"\nbase_url = \"{}/api/v1\"\n",
        server.uri()
    )
}

fn se_toml(server: &MockServer) -> String {
    format!(
        "[[source]]\nkind = \"stackexchange\"\nbase_url = \"{}\"\nqueries = [\"acme\"]\n",
        server.uri()
    )
}

fn hn_page(hits: Vec<serde_json::Value>, nb_pages: u32) -> serde_json::Value {
    json!({"hits": hits, "nbPages": nb_pages, "hitsPerPage": 100})
}

/// `x-ratelimit-reset: 1e20` / `inf` / `NaN` used to panic in `Duration::from_secs_f64`;
/// a huge `Retry-After` overflowed `now + d`. Every server-given wait is clamped.
#[tokio::test]
async fn absurd_rate_limit_headers_are_clamped_not_a_panic() {
    for reset in ["1e20", "inf", "-inf", "NaN", "1e308", "-5"] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v1/search_by_date"))
            .respond_with(
                json_body(&hn_page(vec![], 1))
                    .insert_header("x-ratelimit-remaining", "0")
                    .insert_header("x-ratelimit-reset", reset),
            )
            .mount(&server)
            .await;
        let (mut s, _) = fresh_source(&hn_toml(&server), &["acme"]);
        let b = poll_commit(&mut s).await.unwrap();
        assert!(b.posts.is_empty());
        assert!(
            s.next_delay() <= DAY + Duration::from_secs(1),
            "{reset}: {:?}",
            s.next_delay()
        );
        assert!(s.health().next_poll.is_some(), "{reset}");
    }
    for retry_after in [
        "1000000000000000",
        "18446744073709551615",
        "Fri, 31 Dec 9999 23:59:59 GMT",
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", retry_after))
            .mount(&server)
            .await;
        let (mut s, _) = fresh_source(&hn_toml(&server), &["acme"]);
        let e = s.poll().await.unwrap_err();
        match e {
            SourceError::RateLimited {
                retry_after: Some(d),
            } => assert!(d <= DAY, "{d:?}"),
            other => panic!("{retry_after}: {other:?}"),
        }
        assert!(s.next_delay() <= DAY, "{retry_after}: {:?}", s.next_delay());
        assert!(s.health().next_poll.is_some());
    }
}

/// Stack Exchange's `backoff` (and the seconds in a throttle message) are server-given
/// too: `backoff: 10^15` used to overflow `now + d`.
#[tokio::test]
async fn a_huge_stackexchange_backoff_is_clamped() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json_body(
            &json!({"items": [], "has_more": false, "backoff": 1_000_000_000_000_000u64}),
        ))
        .mount(&server)
        .await;
    let (mut s, _) = fresh_source(&se_toml(&server), &[]);
    poll_commit(&mut s).await.unwrap();
    assert!(s.next_delay() <= DAY, "{:?}", s.next_delay());
    assert!(s.health().next_poll.is_some());

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(400).set_body_string(
            json!({"error_id": 502, "error_name": "throttle_violation", "error_message": "too many requests from this IP, more requests available in 99999999999999999 seconds"}).to_string(),
        ))
        .mount(&server)
        .await;
    let (mut s, _) = fresh_source(&se_toml(&server), &[]);
    match s.poll().await.unwrap_err() {
        SourceError::RateLimited {
            retry_after: Some(d),
        } => assert!(d <= DAY, "{d:?}"),
        other => panic!("{other:?}"),
    }
    assert!(s.health().next_poll.is_some());
}

/// Source tokens can come from a file (Docker / Kubernetes secrets), as well as from
/// an environment variable; the file's trailing newline is not part of the token.
#[tokio::test]
async fn source_tokens_are_read_from_a_file() {
    use wiremock::matchers::header;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/timelines/tag/acme"))
        .and(header("authorization", "Bearer file-token"))
        .respond_with(json_body(&json!([])))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("token");
    std::fs::write(&secret, "file-token\n").unwrap();
    let toml = format!(
        "[[source]]\nkind = \"mastodon\"\ninstance = \"{}\"\ntags = [\"acme\"]\naccess_token_file = {:?}\n",
        server.uri(),
        secret.display().to_string()
    );
    let (mut s, _) = fresh_source(&toml, &[]);
    poll_commit(&mut s).await.unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 1);

    // a missing file is a configuration error naming the file, never the token
    let toml = format!(
        "[[source]]\nkind = \"stackexchange\"\nbase_url = \"{}\"\nqueries = [\"a\"]\nkey_file = \"/nonexistent/se-key\"\n",
        server.uri()
    );
    let c = source_config(&toml);
    let e = overhear::sources::build(
        &c,
        &ctx(
            std::sync::Arc::new(overhear::sources::MemoryState::default()),
            &[],
        ),
    )
    .err()
    .expect("a missing key file is an error");
    assert!(e.to_string().contains("/nonexistent/se-key"), "{e}");
    // both an env and a file for one secret is a problem `overhear check` reports
    let c = source_config(
        "[[source]]\nkind = \"mastodon\"\ninstance = \"https://m.example\"\naccess_token_env = \"X\"\naccess_token_file = \"/run/secrets/t\"\n",
    );
    assert_eq!(c.problems(0).len(), 1, "{:?}", c.problems(0));
}

/// An Algolia `search_by_date` over `hits` (created_at_i), newest first, honouring
/// `numericFilters` (`created_at_i>=A`, `created_at_i<=B`), `page` and `hitsPerPage`.
struct Algolia(std::sync::Arc<std::sync::Mutex<Vec<i64>>>);

impl wiremock::Respond for Algolia {
    fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
        let mut from = i64::MIN;
        let mut to = i64::MAX;
        let mut page = 0usize;
        let mut per = 20usize;
        for (k, v) in req.url.query_pairs() {
            match k.as_ref() {
                "page" => page = v.parse().unwrap(),
                "hitsPerPage" => per = v.parse().unwrap(),
                "numericFilters" => {
                    for f in v.split(',') {
                        if let Some(x) = f.strip_prefix("created_at_i>=") {
                            from = x.parse().unwrap();
                        } else if let Some(x) = f.strip_prefix("created_at_i<=") {
                            to = x.parse().unwrap();
                        } else {
                            panic!("unknown filter {f}");
                        }
                    }
                }
                _ => {}
            }
        }
        let mut all: Vec<i64> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .copied()
            .filter(|t| *t >= from && *t <= to)
            .collect();
        all.sort_unstable_by(|a, b| b.cmp(a));
        let nb_pages = all.len().div_ceil(per).min(10); // Algolia's 1,000-hit ceiling
        let hits: Vec<serde_json::Value> = all
            .iter()
            .skip(page * per)
            .take(per)
            .map(|t| json!({"objectID": t.to_string(), "created_at_i": t, "title": "acme", "_tags": ["story"]}))
            .collect();
        json_body(
            &json!({"hits": hits, "nbPages": nb_pages, "nbHits": all.len(), "hitsPerPage": per}),
        )
    }
}

/// 700 new hits since the last poll (more than the 500 one poll takes) used to move the
/// cursor to the newest, and the 200 oldest were never fetched. Now the rest is paged
/// back to the cursor in the next polls.
#[tokio::test]
async fn hackernews_pages_back_to_the_cursor_across_polls() {
    let db = std::sync::Arc::new(std::sync::Mutex::new(vec![1000i64]));
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/search_by_date"))
        .respond_with(Algolia(db.clone()))
        .mount(&server)
        .await;
    let (mut s, _) = fresh_source(&hn_toml(&server), &["acme"]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(ids(&b), vec!["hackernews:1000"]);
    db.lock().unwrap().extend(1001..=1700);
    let mut got: Vec<String> = Vec::new();
    for _ in 0..4 {
        let b = poll_commit(&mut s).await.unwrap();
        got.extend(ids(&b));
    }
    let mut want: Vec<String> = (1001..=1700).map(|t| format!("hackernews:{t}")).collect();
    got.sort();
    want.sort();
    assert_eq!(got.len(), 700, "no duplicates");
    assert_eq!(got, want, "every hit since the cursor, none skipped");
    assert_eq!(s.health().skipped, 0);
}

/// Stack Exchange's `search/advanced` over `items` (creation_date): `fromdate`,
/// `todate` (both inclusive), `page` (from 1), `pagesize`, newest first.
struct StackExchangeApi(std::sync::Arc<std::sync::Mutex<Vec<i64>>>);

impl wiremock::Respond for StackExchangeApi {
    fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
        let (mut from, mut to, mut page, mut size) = (i64::MIN, i64::MAX, 1usize, 30usize);
        for (k, v) in req.url.query_pairs() {
            match k.as_ref() {
                "fromdate" => from = v.parse().unwrap(),
                "todate" => to = v.parse().unwrap(),
                "page" => page = v.parse().unwrap(),
                "pagesize" => size = v.parse().unwrap(),
                _ => {}
            }
        }
        let mut all: Vec<i64> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .copied()
            .filter(|t| *t >= from && *t <= to)
            .collect();
        all.sort_unstable_by(|a, b| b.cmp(a));
        let items: Vec<serde_json::Value> = all
            .iter()
            .skip((page - 1) * size)
            .take(size)
            .map(|t| json!({"question_id": t, "title": "acme", "body": "<p>acme</p>", "creation_date": t}))
            .collect();
        json_body(&json!({"items": items, "has_more": all.len() > page * size}))
    }
}

/// 400 new questions (more than the 300 one poll takes) used to move the cursor to the
/// newest; now the rest is paged back in the next polls.
#[tokio::test]
async fn stackexchange_pages_back_to_the_cursor_across_polls() {
    let db = std::sync::Arc::new(std::sync::Mutex::new(vec![1000i64]));
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(StackExchangeApi(db.clone()))
        .mount(&server)
        .await;
    let (mut s, _) = fresh_source(&se_toml(&server), &[]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(ids(&b), vec!["stackexchange:stackoverflow:1000"]);
    db.lock().unwrap().extend(1001..=1400);
    let mut got: Vec<String> = Vec::new();
    for _ in 0..3 {
        got.extend(ids(&poll_commit(&mut s).await.unwrap()));
    }
    got.sort();
    let mut want: Vec<String> = (1001..=1400)
        .map(|t| format!("stackexchange:stackoverflow:{t}"))
        .collect();
    want.sort();
    assert_eq!(got.len(), 400, "no duplicates");
    assert_eq!(got, want, "every question since the cursor, none skipped");
}

const ONE_ITEM_FEED: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>Acme news</title><link>https://news.example/1</link><guid>https://news.example/1</guid><description>acme</description></item></channel></rss>"#;

fn one_item_feed() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/rss+xml")
        .set_body_string(ONE_ITEM_FEED)
}

/// A source context whose client resolves `feed.example` to `addr`: a public name
/// (as far as the URL says) served from loopback.
fn ctx_resolving(addr: std::net::SocketAddr) -> overhear::sources::SourceContext {
    let mut settings = overhear::sources::HttpSettings {
        connect_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_millis(700),
        ..Default::default()
    };
    settings.resolve.push(("feed.example".into(), addr));
    overhear::sources::SourceContext::new(
        "overhear-test/0.1",
        Duration::from_secs(60),
        vec![],
        std::sync::Arc::new(overhear::sources::MemoryState::default()),
        settings,
    )
    .unwrap()
}

/// A public feed that redirects into loopback / private / link-local addresses is
/// refused (a public server must not make overhear fetch from the intranet), unless
/// the source sets `allow_private = true`.
#[tokio::test]
async fn a_public_feed_cannot_redirect_into_a_private_address() {
    let inner = MockServer::start().await;
    serve_get(&inner, "/feed", one_item_feed()).await;
    let outer = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/feed"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", format!("{}/feed", inner.uri())),
        )
        .mount(&outer)
        .await;
    let port = outer.address().port();
    let ctx = ctx_resolving(*outer.address());
    let entry = format!("[[source]]\nkind = \"rss\"\nurl = \"http://feed.example:{port}/feed\"\n");
    let mut s = overhear::sources::build(&source_config(&entry), &ctx).unwrap();
    let e = s.poll().await.unwrap_err();
    assert!(e.to_string().contains("private"), "{e}");
    assert!(
        inner.received_requests().await.unwrap().is_empty(),
        "never asked"
    );

    let entry = format!("{entry}allow_private = true\n");
    let mut s = overhear::sources::build(&source_config(&entry), &ctx).unwrap();
    let b = s.poll().await.unwrap();
    assert_eq!(b.posts.len(), 1);
}

/// A feed on loopback (the source's own URL is there) may redirect within it; at
/// most 5 redirects are followed.
#[tokio::test]
async fn at_most_five_redirects() {
    let server = MockServer::start().await;
    for i in 0..6 {
        Mock::given(method("GET"))
            .and(path(format!("/r{i}")))
            .respond_with(
                ResponseTemplate::new(302).insert_header("location", format!("/r{}", i + 1)),
            )
            .mount(&server)
            .await;
    }
    serve_get(&server, "/r6", one_item_feed()).await;
    let toml = |from: u32| {
        format!(
            "[[source]]\nkind = \"rss\"\nurl = \"{}/r{from}\"\n",
            server.uri()
        )
    };
    let (mut s, _) = fresh_source(&toml(1), &[]);
    assert_eq!(
        s.poll().await.unwrap().posts.len(),
        1,
        "5 redirects are followed"
    );
    let (mut s, _) = fresh_source(&toml(0), &[]);
    let e = s.poll().await.unwrap_err();
    assert!(e.to_string().contains("redirect"), "{e}");
}
