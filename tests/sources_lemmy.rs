//! The Lemmy source against a loopback server serving the recorded search response
//! (`tests/fixtures/feeds/lemmy/`, provenance in SOURCES.md), edited copies of it, and
//! scripted failures.

mod sources_support;

use std::sync::Arc;
use std::time::Duration;

use overhear::sources::{MemoryState, SourceError};
use serde_json::{json, Value};
use sources_support::*;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SEARCH: &str = "lemmy/lemmykit_searchResponseV3.json";

fn config(server: &MockServer, extra: &str) -> String {
    format!(
        "[[source]]\nkind = \"lemmy\"\nname = \"lemmy\"\ninstance = \"{}\"\n{extra}",
        server.uri()
    )
}

async fn serve_search(server: &MockServer, q: &str, body: &Value) {
    Mock::given(method("GET"))
        .and(path("/api/v3/search"))
        .and(query_param("q", q))
        .and(query_param("type_", "All"))
        .and(query_param("sort", "New"))
        .and(query_param("limit", "50"))
        .respond_with(json_body(body))
        .mount(server)
        .await;
}

/// The recorded search with one more comment (id 502, an hour later, answering 501).
fn with_newer_comment() -> Value {
    let mut v = fixture_json(SEARCH);
    let mut c = v["comments"][0].clone();
    c["comment"]["id"] = 502.into();
    c["comment"]["path"] = "0.501.502".into();
    c["comment"]["content"] = "Acme fixed it for me 🎉".into();
    c["comment"]["published"] = "2026-06-13T00:39:00.000000Z".into();
    c["comment"]["ap_id"] = "https://test1.lemmy.ddenis.info/comment/502".into();
    v["comments"].as_array_mut().unwrap().insert(0, c);
    v
}

#[tokio::test]
async fn a_search_gives_posts_and_comments_for_the_brands_terms() {
    let server = MockServer::start().await;
    serve_search(&server, "acme", &fixture_json(SEARCH)).await;
    let (mut s, state) = fresh_source(&config(&server, ""), &["acme"]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(
        ids(&b),
        ["lemmy:127.0.0.1:post/180", "lemmy:127.0.0.1:comment/501"]
    );
    let c = &b.posts[1];
    assert_eq!(
        c.author.as_deref(),
        Some("seed_mod1@test1.lemmy.ddenis.info")
    );
    assert_eq!(c.url, "https://test1.lemmy.ddenis.info/comment/501");
    assert_eq!(c.thread_id.as_deref(), Some("lemmy:127.0.0.1:post/180"));
    assert_eq!(c.source_name, "lemmy");
    assert_eq!(
        saved(&state, "lemmy").unwrap()["newest"],
        json!({"acme": 1781307540})
    );
}

/// One state, two instances (a restart): the second emits only the newer comment;
/// each query keeps its own cursor.
#[tokio::test]
async fn resume_per_query_across_restarts_emits_nothing_twice() {
    let server = MockServer::start().await;
    serve_search(&server, "acme", &fixture_json(SEARCH)).await;
    serve_search(&server, "acme corp", &json!({"posts": [], "comments": []})).await;
    let state = Arc::new(MemoryState::default());
    let toml = config(&server, "queries = [\"acme\", \"acme corp\"]\n");
    let mut first = source(&toml, state.clone(), &[]);
    assert_eq!(poll_commit(&mut first).await.unwrap().posts.len(), 2);
    drop(first);

    server.reset().await;
    serve_search(&server, "acme", &with_newer_comment()).await;
    serve_search(&server, "acme corp", &json!({"posts": [], "comments": []})).await;
    let mut second = source(&toml, state.clone(), &[]);
    let b = poll_commit(&mut second).await.unwrap();
    assert_eq!(ids(&b), ["lemmy:127.0.0.1:comment/502"]);
    assert_eq!(b.posts[0].text, "Acme fixed it for me 🎉");
    assert_eq!(
        b.posts[0].parent_id.as_deref(),
        Some("lemmy:127.0.0.1:comment/501")
    );
    assert!(poll_commit(&mut second).await.unwrap().posts.is_empty());
    let saved = saved(&state, "lemmy").unwrap();
    assert_eq!(saved["newest"]["acme"], json!(1781311140));
    assert!(saved["newest"].get("acme corp").is_none());
    let asked: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter_map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "q")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    assert_eq!(asked, ["acme", "acme corp", "acme", "acme corp"]);
}

#[tokio::test]
async fn a_429_with_retry_after_fails_the_poll_and_keeps_the_cursor() {
    let server = MockServer::start().await;
    serve_search(&server, "acme", &fixture_json(SEARCH)).await;
    let (mut s, state) = fresh_source(&config(&server, ""), &["acme"]);
    poll_commit(&mut s).await.unwrap();
    server.reset().await;
    serve_any_get(
        &server,
        ResponseTemplate::new(429).insert_header("retry-after", "45"),
    )
    .await;
    let e = s.poll().await.unwrap_err();
    assert!(
        matches!(e, SourceError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(45)),
        "{e:?}"
    );
    assert_eq!(
        saved(&state, "lemmy").unwrap()["newest"],
        json!({"acme": 1781307540})
    );
}

#[tokio::test]
async fn hostile_responses_are_clean_text_or_clear_errors() {
    let server = MockServer::start().await;
    let mut v = fixture_json(SEARCH);
    v["posts"][0]["post"]["name"] = "<marquee>Acme</marquee> <b>down</b>".into();
    v["posts"][0]["post"]["body"] = "<script>alert(1)</script><p>Is <i>Acme</i> down?</p>".into();
    v["comments"][0]["comment"]["content"] = "<iframe src=x></iframe>&lt;nope&gt;".into();
    v["comments"][0]["creator"]["name"] = "<img src=x>".into();
    serve_search(&server, "html", &v).await;
    let full = fixture(SEARCH);
    Mock::given(method("GET"))
        .and(query_param("q", "cut"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(full[..full.len() / 2].to_vec()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("q", "huge"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'{'; 2 * 1024 * 1024]))
        .mount(&server)
        .await;

    let (mut s, _) = fresh_source(&config(&server, ""), &["html"]);
    let b = s.poll().await.unwrap();
    assert_eq!(b.posts[0].title.as_deref(), Some("Acme down"));
    assert_eq!(b.posts[0].text, "Is Acme down?");
    assert_eq!(b.posts[1].text, "<nope>");
    assert_eq!(b.posts[1].author, None);
    for (q, want) in [("cut", "malformed"), ("huge", "too_large")] {
        let (mut s, _) = fresh_source(&config(&server, ""), &[q]);
        let e = s.poll().await.unwrap_err();
        assert_eq!(e.kind(), want, "{e:?}");
    }
}

/// More new results than 3 pages of 50: the poll reads 3 pages and says what it left.
#[tokio::test]
async fn more_new_results_than_three_pages_are_read_to_the_bound_and_noted() {
    let server = MockServer::start().await;
    serve_search(&server, "acme", &fixture_json(SEARCH)).await;
    let (mut s, _) = fresh_source(&config(&server, ""), &["acme"]);
    poll_commit(&mut s).await.unwrap();

    server.reset().await;
    let real = fixture_json(SEARCH)["comments"][0].clone();
    for page in 1..=4u32 {
        let comments: Vec<Value> = (0..50u32)
            .map(|i| {
                let id = 10_000 - page * 100 - i;
                let mut c = real.clone();
                c["comment"]["id"] = id.into();
                c["comment"]["path"] = format!("0.{id}").into();
                c["comment"]["published"] = format!("2026-07-0{}T00:00:00Z", 5 - page).into();
                c
            })
            .collect();
        Mock::given(method("GET"))
            .and(path("/api/v3/search"))
            .and(query_param("page", page.to_string()))
            .respond_with(json_body(&json!({"posts": [], "comments": comments})))
            .expect(if page == 4 { 0 } else { 1 })
            .mount(&server)
            .await;
    }
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(b.posts.len(), 150);
    let note = s.health().note.unwrap_or_default();
    assert!(note.contains("more than 3 pages"), "{note}");
}
