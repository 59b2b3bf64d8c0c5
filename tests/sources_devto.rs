//! The dev.to source against a loopback server serving the recorded listings and
//! comments (`tests/fixtures/feeds/devto/`, provenance in SOURCES.md), their dates
//! moved to the last hours (comments are read on recent articles only), and scripted
//! failures.

mod sources_support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use overhear::sources::{MemoryState, SourceError};
use serde_json::{json, Value};
use sources_support::*;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const LATEST: &str = "devto/devto-client_get_api-articles-latest.body.json";
const COMMENTS: &str = "devto/devto-client_get_api-comments.body.json";
/// The article whose comments were recorded.
const ARTICLE: i64 = 4160121;

/// The recorded latest articles, the newest published an hour ago (all moved by the
/// same amount), the first one given `ARTICLE`'s id and its 3 comments.
fn latest() -> Vec<Value> {
    let mut all: Vec<Value> = serde_json::from_value(fixture_json(LATEST)).unwrap();
    let t = |v: &Value| {
        DateTime::parse_from_rfc3339(v["published_at"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };
    let shift = Utc::now() - chrono::Duration::hours(1) - t(&all[0]);
    for a in &mut all {
        let moved = (t(a) + shift).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        a["published_at"] = moved.into();
    }
    all[0]["id"] = ARTICLE.into();
    all[0]["comments_count"] = 3.into();
    all
}

/// The recorded comments nested: the second answers the first, the third the second.
fn nested_comments() -> Value {
    let mut all: Vec<Value> = serde_json::from_value(fixture_json(COMMENTS)).unwrap();
    let third = all.pop().unwrap();
    let mut second = all.pop().unwrap();
    second["children"] = json!([third]);
    all[0]["children"] = json!([second]);
    Value::Array(all)
}

fn config(server: &MockServer, extra: &str) -> String {
    format!(
        "[[source]]\nkind = \"devto\"\nname = \"dev\"\nbase_url = \"{}\"\n{extra}",
        server.uri()
    )
}

async fn serve_latest(server: &MockServer, articles: &[Value]) {
    Mock::given(method("GET"))
        .and(path("/api/articles/latest"))
        .and(query_param("per_page", "100"))
        .respond_with(json_body(&Value::Array(articles.to_vec())))
        .mount(server)
        .await;
}

async fn serve_comments(server: &MockServer, expect: u64) {
    Mock::given(method("GET"))
        .and(path("/api/comments"))
        .and(query_param("a_id", ARTICLE.to_string()))
        .respond_with(json_body(&nested_comments()))
        .expect(expect)
        .mount(server)
        .await;
}

#[tokio::test]
async fn the_latest_articles_and_a_comment_tree_are_posts() {
    let server = MockServer::start().await;
    serve_latest(&server, &latest()).await;
    serve_comments(&server, 1).await;
    let (mut s, _) = fresh_source(&config(&server, ""), &[]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(b.posts.len(), 33);
    let article = b
        .posts
        .iter()
        .find(|p| p.id == format!("devto:{ARTICLE}"))
        .unwrap();
    assert_eq!(article.author.as_deref(), Some("chethanblgs99"));
    let c = |code: &str| {
        b.posts
            .iter()
            .find(|p| p.id == format!("devto:c/{code}"))
            .unwrap()
    };
    let thread = format!("devto:{ARTICLE}");
    assert_eq!(c("3bba8").parent_id.as_deref(), Some(thread.as_str()));
    assert_eq!(c("3bbkn").parent_id.as_deref(), Some("devto:c/3bba8"));
    assert_eq!(c("3bc6f").parent_id.as_deref(), Some("devto:c/3bbkn"));
    assert!(["3bba8", "3bbkn", "3bc6f"]
        .iter()
        .all(|code| c(code).thread_id.as_deref() == Some(thread.as_str())));
    assert_eq!(
        c("3bbkn").url,
        format!("{}/nazar-boyko/comment/3bbkn", server.uri())
    );
    // oldest first
    assert!(b
        .posts
        .windows(2)
        .all(|w| w[0].created_at <= w[1].created_at));
}

/// One state, two instances (a restart): the second emits only the articles the
/// first did not, and reads no comments it has read (the count did not grow).
#[tokio::test]
async fn resume_across_restarts_emits_nothing_twice() {
    let server = MockServer::start().await;
    let all = latest();
    serve_latest(&server, &all[10..]).await;
    let state = Arc::new(MemoryState::default());
    let toml = config(&server, "");
    let mut first = source(&toml, state.clone(), &[]);
    let b = poll_commit(&mut first).await.unwrap();
    assert_eq!(b.posts.len(), 20);
    drop(first);

    server.reset().await;
    serve_latest(&server, &all).await;
    serve_comments(&server, 1).await;
    let mut second = source(&toml, state.clone(), &[]);
    let b = poll_commit(&mut second).await.unwrap();
    let articles: Vec<_> = b.posts.iter().filter(|p| p.thread_id.is_none()).collect();
    assert_eq!(articles.len(), 10, "the 10 newer articles only");
    assert_eq!(b.posts.len() - articles.len(), 3, "and the comments");
    let b = poll_commit(&mut second).await.unwrap();
    assert!(b.posts.is_empty());
    let saved = saved(&state, "dev").unwrap();
    assert_eq!(saved["watch"][ARTICLE.to_string()]["read"], json!(3));
}

#[tokio::test]
async fn tags_read_each_tags_articles() {
    let server = MockServer::start().await;
    let articles = fixture_json("devto/devto-client_get_api-articles.body.json");
    for tag in ["rust", "go"] {
        Mock::given(method("GET"))
            .and(path("/api/articles"))
            .and(query_param("tag", tag))
            .respond_with(json_body(&articles))
            .expect(1)
            .mount(&server)
            .await;
    }
    let (mut s, state) = fresh_source(&config(&server, "tags = [\"rust\", \"#Go\"]\n"), &[]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(b.posts.len(), 30, "the same articles under both tags, once");
    let newest = &saved(&state, "dev").unwrap()["newest"];
    assert!(newest["tag:rust"].is_i64() && newest["tag:go"].is_i64());
}

#[tokio::test]
async fn a_429_with_retry_after_fails_the_poll() {
    let server = MockServer::start().await;
    serve_any_get(
        &server,
        ResponseTemplate::new(429).insert_header("retry-after", "30"),
    )
    .await;
    let (mut s, state) = fresh_source(&config(&server, ""), &[]);
    let e = s.poll().await.unwrap_err();
    assert!(
        matches!(e, SourceError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(30)),
        "{e:?}"
    );
    assert!(s.next_delay() >= Duration::from_secs(30));
    assert!(saved(&state, "dev").is_none());
}

#[tokio::test]
async fn hostile_listings_are_clear_errors_and_a_deleted_articles_comments_are_not_asked_again() {
    let server = MockServer::start().await;
    let body = fixture(LATEST);
    Mock::given(method("GET"))
        .and(path("/cut/api/articles/latest"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body[..body.len() / 2].to_vec()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/huge/api/articles/latest"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'['; 2 * 1024 * 1024]))
        .mount(&server)
        .await;
    for (at, want) in [("cut", "malformed"), ("huge", "too_large")] {
        let toml = format!(
            "[[source]]\nkind = \"devto\"\nbase_url = \"{}/{at}\"\n",
            server.uri()
        );
        let (mut s, _) = fresh_source(&toml, &[]);
        let e = s.poll().await.unwrap_err();
        assert_eq!(e.kind(), want, "{e:?}");
    }

    serve_latest(&server, &latest()).await;
    Mock::given(method("GET"))
        .and(path("/api/comments"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let (mut s, _) = fresh_source(&config(&server, ""), &[]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(b.posts.len(), 30);
    // the next poll does not ask again, though the listing still shows 3 comments
    poll_commit(&mut s).await.unwrap();
}
