//! The Lobsters and Stack Exchange sources against a real HTTP server on loopback
//! serving recorded responses and scripted failures.

mod sources_support;

use std::time::Duration;

use overhear::sources::SourceError;
use serde_json::json;
use sources_support::*;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

// ---------------------------------------------------------------- Lobsters

const LOBSTERS_COMMENTS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Lobsters: Comments</title><link>https://lobste.rs/comments</link>
<item><title>Re: Acme ships a new widget</title><link>https://lobste.rs/c/xyz789</link><guid>https://lobste.rs/c/xyz789</guid>
<author>carol@users.lobste.rs (carol)</author><pubDate>Tue, 02 Jan 2024 18:00:00 -0000</pubDate>
<description>&lt;p&gt;Acme&amp;#39;s support never answered me.&lt;/p&gt;</description></item>
</channel></rss>"#;

#[tokio::test]
async fn lobsters_stories_and_comments_with_conditional_get() {
    let server = MockServer::start().await;
    let stories = json!([
        {"short_id": "abc123", "short_id_url": "https://lobste.rs/s/abc123", "created_at": "2024-01-02T10:00:00.000-06:00",
         "title": "Acme ships a new widget", "url": "https://acme.example/blog/widget", "score": 12, "comment_count": 3,
         "description": "", "comments_url": "https://lobste.rs/s/abc123/acme_ships_new_widget", "submitter_user": "alice", "tags": ["hardware"]},
        {"short_id": "def456", "short_id_url": "https://lobste.rs/s/def456", "created_at": "2024-01-02T09:00:00.000-06:00",
         "title": "Ask: widgets &amp; gadgets", "url": "", "score": 3, "comment_count": 0,
         "description": "<p>Which widget?</p>", "comments_url": "https://lobste.rs/s/def456/ask", "submitter_user": {"username": "bob"}, "tags": ["ask"]}
    ]);
    for (p, body, ct, etag) in [
        (
            "/newest.json",
            stories.to_string(),
            "application/json",
            "\"s1\"",
        ),
        (
            "/comments.rss",
            LOBSTERS_COMMENTS.to_string(),
            "application/rss+xml",
            "\"c1\"",
        ),
    ] {
        Mock::given(method("GET"))
            .and(path(p))
            .and(header("if-none-match", etag))
            .respond_with(ResponseTemplate::new(304))
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", ct)
                    .insert_header("etag", etag)
                    .set_body_string(body),
            )
            .mount(&server)
            .await;
    }
    let toml = format!(
        "[[source]]\nkind = \"lobsters\"\nbase_url = \"{}\"\n",
        server.uri()
    );
    let (mut s, _) = fresh_source(&toml, &[]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(
        ids(&b),
        vec!["lobsters:def456", "lobsters:abc123", "lobsters:c/xyz789"]
    );
    let st = &b.posts[1];
    assert_eq!(st.url, "https://lobste.rs/s/abc123/acme_ships_new_widget");
    assert_eq!(st.author.as_deref(), Some("alice"));
    assert_eq!(st.engagement, Some(12));
    assert_eq!(st.links, vec!["https://acme.example/blog/widget"]);
    assert_eq!(st.created_at.to_rfc3339(), "2024-01-02T16:00:00+00:00");
    assert_eq!(b.posts[0].author.as_deref(), Some("bob"));
    assert_eq!(b.posts[0].title.as_deref(), Some("Ask: widgets & gadgets"));
    assert_eq!(b.posts[0].text, "Which widget?");
    let c = &b.posts[2];
    assert_eq!(c.url, "https://lobste.rs/c/xyz789");
    assert_eq!(c.text, "Acme's support never answered me.");
    assert_eq!(c.site, "lobste.rs");
    let cur = cursor_json(&b);
    assert_eq!(
        cur["validators"][format!("{}/newest.json", server.uri())]["etag"],
        "\"s1\""
    );

    // both 304 now
    let b = poll_commit(&mut s).await.unwrap();
    assert!(b.posts.is_empty());
    assert_eq!(cursor_json(&b), cur);
}

// ---------------------------------------------------------------- Stack Exchange

#[tokio::test]
async fn stackexchange_fromdate_backoff_and_throttle() {
    let server = MockServer::start().await;
    let items = json!({"items": [
        {"question_id": 101, "title": "Why does Acme&#39;s API return &quot;403&quot;?", "body": "<p>Since <code>v2</code> the Acme API fails &amp; I get:</p><pre>403</pre>",
         "link": "https://stackoverflow.com/questions/101/why-does-acmes-api-return-403", "owner": {"display_name": "Jos&#233;"},
         "creation_date": 1700000000, "score": 4, "tags": ["acme"]},
        {"question_id": 100, "title": "Acme SDK install", "body": "<p>pip install acme</p>",
         "link": "https://stackoverflow.com/questions/100/acme-sdk-install", "owner": {"display_name": "ann"},
         "creation_date": 1699990000, "score": 0}
    ], "has_more": false, "quota_max": 300, "quota_remaining": 250, "backoff": 10});
    Mock::given(method("GET"))
        .and(path("/2.3/search/advanced"))
        .and(query_param("fromdate", "1700000000"))
        .respond_with(json_body(
            &json!({"items": [], "has_more": false, "quota_remaining": 249}),
        ))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/2.3/search/advanced"))
        .and(query_param("site", "stackoverflow"))
        .and(query_param("q", "acme"))
        .and(query_param("sort", "creation"))
        .and(query_param("key", "sekey"))
        .respond_with(json_body(&items))
        .mount(&server)
        .await;
    std::env::set_var("OVERHEAR_TEST_SE_KEY", "sekey");
    let toml = format!(
        "[[source]]\nkind = \"stackexchange\"\nbase_url = \"{}/2.3\"\nkey_env = \"OVERHEAR_TEST_SE_KEY\"\n",
        server.uri()
    );
    let (mut s, state) = fresh_source(&toml, &["acme"]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(
        ids(&b),
        vec![
            "stackexchange:stackoverflow:100",
            "stackexchange:stackoverflow:101"
        ]
    );
    let q = &b.posts[1];
    assert_eq!(
        q.title.as_deref(),
        Some("Why does Acme's API return \"403\"?")
    );
    assert_eq!(q.text, "Since v2 the Acme API fails & I get:\n403");
    assert_eq!(q.author.as_deref(), Some("José"));
    assert_eq!(q.site, "stackoverflow.com");
    assert_eq!(q.engagement, Some(4));
    assert_eq!(cursor_json(&b)["newest"], json!({"acme": 1700000000}));
    // `backoff: 10` is obeyed
    assert!(s.next_delay() >= Duration::from_secs(10));

    let b = poll_commit(&mut s).await.unwrap();
    assert!(b.posts.is_empty());

    // throttle_violation comes as HTTP 400 with an error object
    server.reset().await;
    let throttled = json!({"error_id": 502, "error_name": "throttle_violation",
        "error_message": "too many requests from this IP, more requests available in 80000 seconds"});
    serve_any_get(
        &server,
        ResponseTemplate::new(400)
            .insert_header("content-type", "application/json")
            .set_body_string(throttled.to_string()),
    )
    .await;
    let e = s.poll().await.unwrap_err();
    assert!(
        matches!(e, SourceError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(80000)),
        "{e:?}"
    );
    assert!(s.next_delay() >= Duration::from_secs(80000));
    assert_eq!(
        saved(&state, "stackexchange").unwrap()["newest"],
        json!({"acme": 1700000000})
    );
}

#[tokio::test]
async fn stackexchange_pages_back_and_stops_at_backoff() {
    let server = MockServer::start().await;
    let q = |id: i64, t: i64| json!({"question_id": id, "title": format!("Acme {id}"), "body": "<p>x</p>", "link": format!("https://stackoverflow.com/questions/{id}/x"), "creation_date": t});
    // first poll: one page per query, no fromdate
    Mock::given(method("GET"))
        .and(query_param("q", "acme"))
        .respond_with(json_body(&json!({"items": [q(1, 1000)], "has_more": true})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("q", "widget"))
        .respond_with(json_body(&json!({"items": [q(2, 2000)], "has_more": true})))
        .mount(&server)
        .await;
    let toml = format!(
        "[[source]]\nkind = \"stackexchange\"\nbase_url = \"{}\"\nqueries = [\"acme\", \"widget\"]\n",
        server.uri()
    );
    let (mut s, _) = fresh_source(&toml, &[]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(
        ids(&b),
        vec![
            "stackexchange:stackoverflow:1",
            "stackexchange:stackoverflow:2"
        ]
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);

    // later polls page back to fromdate; a `backoff` stops every further request
    server.reset().await;
    Mock::given(method("GET"))
        .and(query_param("q", "acme"))
        .and(query_param("fromdate", "1000"))
        .and(query_param("page", "1"))
        .respond_with(json_body(&json!({"items": [q(4, 1200)], "has_more": true})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("q", "acme"))
        .and(query_param("page", "2"))
        .respond_with(json_body(
            &json!({"items": [q(3, 1100)], "has_more": true, "backoff": 30}),
        ))
        .mount(&server)
        .await;
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(
        ids(&b),
        vec![
            "stackexchange:stackoverflow:3",
            "stackexchange:stackoverflow:4"
        ]
    );
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        2,
        "no request after backoff"
    );
    assert_eq!(
        cursor_json(&b)["newest"],
        json!({"acme": 1200, "widget": 2000})
    );
    assert!(s.next_delay() >= Duration::from_secs(30));
}
