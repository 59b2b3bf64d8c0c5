//! The Discourse source against a forum on loopback serving the real `/posts.json`
//! of discuss.criticalfallibilism.com (tests/fixtures/feeds/discourse/, provenance in
//! tests/fixtures/feeds/SOURCES.md), paged with `before` as Discourse does, and
//! scripted failures.

mod sources_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use overhear::sources::SourceError;
use serde_json::{json, Value};
use sources_support::*;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A page of the loopback forum (Discourse's are 50 posts; 10 keeps the tests short).
const PAGE: usize = 10;

/// The real posts, newest first (ids 20218 down to 20169).
fn real_posts() -> Vec<Value> {
    fixture_json("discourse/criticalfallibilism_posts.json")["latest_posts"]
        .as_array()
        .unwrap()
        .clone()
}

/// A forum answering `/posts.json?before=ID` from the posts it holds, as Discourse
/// does: the newest `PAGE` with an id below `before`, newest first.
#[derive(Clone, Default)]
struct Forum(Arc<Mutex<Vec<Value>>>);

impl Forum {
    fn hold(&self, posts: Vec<Value>) {
        let mut all = self.0.lock().unwrap();
        all.extend(posts);
        all.sort_by_key(|p| std::cmp::Reverse(p["id"].as_i64().unwrap()));
    }
}

impl Respond for Forum {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let before = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "before")
            .and_then(|(_, v)| v.parse::<i64>().ok())
            .unwrap_or(i64::MAX);
        let page: Vec<Value> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p["id"].as_i64().unwrap() < before)
            .take(PAGE)
            .cloned()
            .collect();
        json_body(&json!({ "latest_posts": page }))
    }
}

async fn forum_server(forum: &Forum) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/posts.json"))
        .respond_with(forum.clone())
        .mount(&server)
        .await;
    server
}

fn config(server: &MockServer, extra: &str) -> String {
    format!(
        "[[source]]\nkind = \"discourse\"\nname = \"forum\"\nbase_url = \"{}\"\n{extra}",
        server.uri()
    )
}

fn post_ids(b: &overhear::sources::Batch) -> Vec<i64> {
    b.posts
        .iter()
        .map(|p| p.id.rsplit(':').next().unwrap().parse().unwrap())
        .collect()
}

fn befores(reqs: &[Request]) -> Vec<Option<String>> {
    reqs.iter()
        .filter(|r| r.url.path() == "/posts.json")
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "before")
                .map(|(_, v)| v.into_owned())
        })
        .collect()
}

#[tokio::test]
async fn discourse_pages_back_to_the_newest_seen_and_resumes_across_restarts_with_nothing_twice() {
    let real = real_posts();
    let forum = Forum::default();
    forum.hold(real[20..].to_vec()); // the 30 oldest: 20169..=20198
    let server = forum_server(&forum).await;
    let toml = config(&server, "");
    let (mut s, state) = fresh_source(&toml, &[]);

    // the first poll takes one page
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(
        post_ids(&b),
        (20189..=20198).collect::<Vec<_>>(),
        "oldest first"
    );
    assert_eq!(saved(&state, "forum").unwrap()["newest"]["posts"], 20198);
    let p = b.posts.iter().find(|p| p.id.ends_with(":20198")).unwrap();
    assert_eq!(p.source, "discourse");
    assert_eq!(p.source_name, "forum");
    assert_eq!(p.author.as_deref(), Some("anonymous105"));
    assert!(
        p.url.ends_with("/t/kpop-demon-hunters/2144/19"),
        "{}",
        p.url
    );

    // 20 new posts: two pages of them, then the page that reaches 20198
    forum.hold(real[..20].to_vec());
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(post_ids(&b), (20199..=20218).collect::<Vec<_>>());
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(
        befores(&reqs),
        [None, None, Some("20209".into()), Some("20199".into())]
    );

    // a restart: another instance on the same state polls nothing twice
    let mut again = source(&toml, state.clone(), &[]);
    let b = poll_commit(&mut again).await.unwrap();
    assert!(b.posts.is_empty(), "{:?}", ids(&b));
    assert_eq!(saved(&state, "forum").unwrap()["newest"]["posts"], 20218);
}

#[tokio::test]
async fn discourse_a_burst_past_one_polls_pages_is_read_by_the_next_polls() {
    let real = real_posts();
    let forum = Forum::default();
    forum.hold(real[49..].to_vec()); // 20169 alone
    let server = forum_server(&forum).await;
    let (mut s, state) = fresh_source(&config(&server, ""), &[]);
    assert_eq!(post_ids(&poll_commit(&mut s).await.unwrap()), [20169]);

    // 80 new posts (the real 49 and 31 copies of them, renumbered above): 5 pages
    // a poll reach 50; the other 30 are a gap read by the next poll
    let mut burst = real[..49].to_vec();
    for (k, p) in real[..31].iter().enumerate() {
        let mut p = p.clone();
        p["id"] = json!(30_000 + k as i64);
        burst.push(p);
    }
    forum.hold(burst);
    let mut first = post_ids(&poll_commit(&mut s).await.unwrap());
    first.sort();
    let want: Vec<i64> = (20200..=20218).chain(30_000..=30_030).collect();
    assert_eq!(first, want);
    let gap = &saved(&state, "forum").unwrap()["gaps"]["posts"][0];
    assert_eq!(
        (gap["from"].as_i64(), gap["to"].as_i64()),
        (Some(20170), Some(20199))
    );
    let second = post_ids(&poll_commit(&mut s).await.unwrap());
    assert_eq!(second, (20170..=20199).collect::<Vec<_>>());
    assert!(saved(&state, "forum").unwrap().get("gaps").is_none());
    let third = poll_commit(&mut s).await.unwrap();
    assert!(third.posts.is_empty());
    assert_eq!(s.health().skipped, 0);
}

#[tokio::test]
async fn discourse_categories_keep_only_their_posts_and_are_looked_up_once() {
    let forum = Forum::default();
    forum.hold(real_posts());
    let server = forum_server(&forum).await;
    // by id: the first page holds categories 9 and 13
    let (mut s, _) = fresh_source(&config(&server, "categories = [\"9\"]\n"), &[]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(post_ids(&b), [20218], "the other 9 are in category 13");

    // by slug: `/categories.json` (written for this test) names 13 "general" with
    // subcategory 18
    Mock::given(method("GET"))
        .and(path("/categories.json"))
        .respond_with(json_body(&json!({"category_list": {"categories": [
            {"id": 9, "slug": "learning"},
            {"id": 13, "slug": "general", "subcategory_ids": [18]}
        ]}})))
        .expect(1)
        .mount(&server)
        .await;
    let toml = config(&server, "name = \"slugs\"\ncategories = [\"General\"]\n")
        .replace("name = \"forum\"\n", "");
    let (mut s, _) = fresh_source(&toml, &[]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(b.posts.len(), 9);
    assert!(!post_ids(&b).contains(&20218));
    forum.hold(vec![
        json!({"id": 40_000, "category_id": 18, "post_number": 3, "topic_id": 1,
        "username": "sub", "cooked": "<p>in a subcategory</p>"}),
    ]);
    forum.hold(vec![
        json!({"id": 40_001, "category_id": 14, "post_number": 3, "topic_id": 1}),
    ]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(post_ids(&b), [40_000]);
    server.verify().await;
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/categories.json"))
        .respond_with(json_body(
            &json!({"category_list": {"categories": [{"id": 9, "slug": "learning"}]}}),
        ))
        .mount(&server)
        .await;

    // a slug the forum does not have: the poll fails and says which
    let toml = config(&server, "name = \"typo\"\ncategories = [\"supprt\"]\n")
        .replace("name = \"forum\"\n", "");
    let (mut s, _) = fresh_source(&toml, &[]);
    let e = s.poll().await.unwrap_err();
    assert!(e.to_string().contains("supprt"), "{e}");
}

#[tokio::test]
async fn discourse_429_retry_after_is_honoured_and_the_cursor_kept() {
    let forum = Forum::default();
    forum.hold(real_posts());
    let server = forum_server(&forum).await;
    let (mut s, state) = fresh_source(&config(&server, ""), &[]);
    poll_commit(&mut s).await.unwrap();
    let before = saved(&state, "forum");
    server.reset().await;
    serve_any_get(
        &server,
        ResponseTemplate::new(429).insert_header("retry-after", "120"),
    )
    .await;
    let e = s.poll().await.unwrap_err();
    assert!(
        matches!(e, SourceError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(120)),
        "{e:?}"
    );
    assert!(s.next_delay() >= Duration::from_secs(120));
    assert_eq!(saved(&state, "forum"), before);
}

#[tokio::test]
async fn discourse_sends_the_api_key_and_username_of_a_private_forum() {
    std::env::set_var("OVERHEAR_TEST_DISCOURSE_KEY", "k-123");
    let forum = Forum::default();
    forum.hold(real_posts());
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/posts.json"))
        .and(header("api-key", "k-123"))
        .and(header("api-username", "system"))
        .respond_with(forum.clone())
        .mount(&server)
        .await;
    let toml = config(&server, "api_key_env = \"OVERHEAR_TEST_DISCOURSE_KEY\"\n");
    let (mut s, _) = fresh_source(&toml, &[]);
    assert_eq!(poll_commit(&mut s).await.unwrap().posts.len(), PAGE);
}

#[tokio::test]
async fn discourse_an_owned_forum_stamps_every_post_with_the_brand() {
    let forum = Forum::default();
    forum.hold(real_posts());
    let server = forum_server(&forum).await;
    let (mut s, _) = fresh_source(&config(&server, "brand = \"Acme\"\n"), &[]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(b.posts.len(), PAGE);
    assert!(b
        .posts
        .iter()
        .all(|p| p.owned_by.as_deref() == Some("Acme")));
}

#[tokio::test]
async fn discourse_hostile_payloads_are_clear_errors_or_clean_text() {
    // huge: past the body cap
    let server = MockServer::start().await;
    let huge = format!(
        "{{\"latest_posts\":[{{\"id\":1,\"cooked\":\"{}\"}}]}}",
        "<b>x</b>".repeat(200_000)
    );
    serve_any_get(
        &server,
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/json")
            .set_body_string(huge),
    )
    .await;
    let (mut s, _) = fresh_source(&config(&server, ""), &[]);
    let e = s.poll().await.unwrap_err();
    assert!(matches!(e, SourceError::TooLarge { .. }), "{e:?}");

    // truncated: the real page cut in half
    let real = fixture("discourse/criticalfallibilism_posts.json");
    server.reset().await;
    serve_any_get(
        &server,
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/json")
            .set_body_bytes(real[..real.len() / 2].to_vec()),
    )
    .await;
    let e = s.poll().await.unwrap_err();
    assert!(matches!(e, SourceError::Malformed(_)), "{e:?}");

    // HTML in every field, and a date that is not one
    server.reset().await;
    let evil = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    serve_any_get(
        &server,
        json_body(
            &json!({"latest_posts": [{"id": 5, "username": evil, "topic_slug": evil,
            "topic_title": format!("Acme {evil}"), "post_number": 1, "topic_id": 2,
            "cooked": format!("<p>Acme &amp; co {evil}<a href=\"javascript:x\">link</a></p>"),
            "created_at": evil}]}),
        ),
    )
    .await;
    let b = poll_commit(&mut s).await.unwrap();
    let p = &b.posts[0];
    assert_eq!(p.text, "Acme & co link");
    assert!(
        p.links.iter().all(|l| !l.starts_with("javascript")),
        "{:?}",
        p.links
    );
    assert!(
        p.url.ends_with("/t/2/1"),
        "an unsafe slug is left out: {}",
        p.url
    );
    assert_eq!(p.title.as_deref(), Some(format!("Acme {evil}").as_str()));
    assert!(p.created_at_is_first_seen);
}
