//! The API sources Hacker News, Reddit and Mastodon against a real HTTP server on
//! loopback serving recorded responses and scripted failures (Lobsters and Stack
//! Exchange: `sources_lobsters_stackexchange.rs`).

mod sources_support;

use std::sync::Arc;
use std::time::Duration;

use overhear::sources::{MemoryState, SourceError};
use serde_json::json;
use sources_support::*;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

// ---------------------------------------------------------------- Hacker News

fn hn_hit(name: &str) -> serde_json::Value {
    fixture_json(name)["hits"][0].clone()
}

#[tokio::test]
async fn hackernews_first_poll_resume_and_failures() {
    let server = MockServer::start().await;
    let comment = hn_hit("hn_algolia_search_by_date_comment_apple.json");
    let story = hn_hit("hn_algolia_search_by_date_story_apple.json");
    Mock::given(method("GET"))
        .and(path("/api/v1/search_by_date"))
        .and(query_param("query", "apple"))
        .and(query_param("tags", "(story,comment)"))
        .respond_with(json_body(
            &json!({"hits": [story, comment], "nbPages": 1, "hitsPerPage": 100}),
        ))
        .mount(&server)
        .await;
    let state = Arc::new(MemoryState::default());
    let toml = format!(
        "[[source]]\nkind = \"hackernews\"\nbase_url = \"{}/api/v1\"\n",
        server.uri()
    );
    let mut s = source(&toml, state.clone(), &["apple"]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(ids(&b), vec!["hackernews:7919418", "hackernews:7919424"]);
    let c = &b.posts[0];
    assert_eq!(c.url, "https://news.ycombinator.com/item?id=7919418");
    assert_eq!(c.author.as_deref(), Some("fleitz"));
    assert_eq!(
        c.title.as_deref(),
        Some("Re: Starbucks admits it's not contributing to scholarship fund")
    );
    assert!(c.text.starts_with(
        "Yeah the article seems stupid, while technically they aren't contributing to the scholarship they do pay tuition for the last 2 years.\nI'm not the biggest fan of starbucks"
    ), "{}", c.text);
    assert_eq!(c.created_at.timestamp(), 1403235154);
    assert_eq!(c.parent_id.as_deref(), Some("hackernews:7919290"));
    assert_eq!(c.thread_id.as_deref(), Some("hackernews:7918547"));
    assert_eq!(c.site, "news.ycombinator.com");
    let st = &b.posts[1];
    assert_eq!(
        st.title.as_deref(),
        Some("Judge says concerned about Apple, Google hiring settlement")
    );
    assert_eq!(st.text, "");
    assert_eq!(st.engagement, Some(1));
    assert_eq!(
        st.links,
        vec!["http://in.reuters.com/article/2014/06/19/apple-google-settlement-idINL2N0P01ZI20140619"]
    );
    assert_eq!(cursor_json(&b)["newest"], json!({"apple": 1403235346}));

    // second poll: asks from the newest created_at_i; the boundary item is not re-emitted
    let mut newer = hn_hit("hn_algolia_search_by_date_comment_apple.json");
    newer["objectID"] = json!("7919500");
    newer["created_at_i"] = json!(1403235400);
    newer["comment_text"] = json!("Apple &amp; <b>Google</b>");
    Mock::given(method("GET"))
        .and(path("/api/v1/search_by_date"))
        .and(query_param("numericFilters", "created_at_i>=1403235346"))
        .respond_with(json_body(&json!({"hits": [newer, story], "nbPages": 1})))
        .with_priority(1)
        .mount(&server)
        .await;
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(ids(&b), vec!["hackernews:7919500"]);
    assert_eq!(b.posts[0].text, "Apple & Google");
    assert_eq!(cursor_json(&b)["newest"], json!({"apple": 1403235400}));
    let before = saved(&state, "hackernews");

    // failures leave the cursor alone
    let cases: Vec<(ResponseTemplate, &str)> = vec![
        (
            ResponseTemplate::new(429).insert_header("retry-after", "7"),
            "RateLimited",
        ),
        (
            ResponseTemplate::new(503).insert_header("retry-after", "3"),
            "Server",
        ),
        (ResponseTemplate::new(403), "Forbidden"),
        (
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/html")
                .set_body_string("<html><body>Oops</body></html>"),
            "Malformed",
        ),
        (
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string("{\"hits\": [{\"objectID\": \"1\", \"crea"),
            "Malformed",
        ),
        (
            ResponseTemplate::new(200)
                .set_body_string("{}")
                .set_delay(Duration::from_secs(3)),
            "Timeout",
        ),
    ];
    for (resp, want) in cases {
        server.reset().await;
        serve_any_get(&server, resp).await;
        let e = s.poll().await.unwrap_err();
        assert!(format!("{e:?}").starts_with(want), "{want}: {e:?}");
    }
    assert_eq!(s.health().consecutive_failures, 6);
    assert_eq!(saved(&state, "hackernews"), before);

    // invalid UTF-8 inside a JSON string: replaced, not fatal
    server.reset().await;
    let mut body = br#"{"hits":[{"objectID":"7919600","created_at_i":1403235500,"_tags":["comment"],"comment_text":"Apple "#.to_vec();
    body.extend_from_slice(b"\xff\xfe rocks\"}]}");
    serve_any_get(
        &server,
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/json")
            .set_body_bytes(body),
    )
    .await;
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(b.posts[0].text, "Apple \u{fffd}\u{fffd} rocks");
    assert_eq!(s.health().consecutive_failures, 0);
}

#[tokio::test]
async fn hackernews_every_recorded_response_parses() {
    let server = MockServer::start().await;
    let all = fixture_json("hn_algolia_fixtures_2014_all.json");
    let mut n = 0;
    for rec in all.as_array().unwrap() {
        let url = rec["url"].as_str().unwrap();
        if !url.contains("search") {
            continue;
        }
        server.reset().await;
        serve_any_get(&server, json_body(&rec["reply"])).await;
        let toml = format!(
            "[[source]]\nkind = \"hackernews\"\nbase_url = \"{}\"\nqueries = [\"x\"]\n",
            server.uri()
        );
        let (mut s, _) = fresh_source(&toml, &[]);
        let b = s.poll().await.unwrap_or_else(|e| panic!("{url}: {e}"));
        for p in &b.posts {
            assert!(p.id.starts_with("hackernews:"));
            assert!(
                !p.text.contains("&#x27;") && !p.text.contains("<p>"),
                "{}",
                p.text
            );
        }
        n += b.posts.len();
    }
    assert!(n >= 10, "{n}");
}

// ---------------------------------------------------------------- Reddit

#[tokio::test]
async fn reddit_search_and_subreddit_listings() {
    let server = MockServer::start().await;
    let search = fixture_json("reddit_search_listing_praw_2016.json");
    let comments = fixture_json("reddit_subreddit_comments_listing_before_cursor_2023.json");
    let c0 = &comments["interactions"][0];
    Mock::given(method("GET"))
        .and(path("/search.json"))
        .and(query_param("q", "praw"))
        .and(query_param("sort", "new"))
        .and(query_param("raw_json", "1"))
        .and(header("user-agent", "overhear-test by u/acme"))
        .respond_with(json_body(&search))
        .mount(&server)
        .await;
    serve_get(
        &server,
        "/r/acme/new.json",
        json_body(&json!({"kind": "Listing", "data": {"children": []}})),
    )
    .await;
    serve_get(
        &server,
        "/r/acme/comments.json",
        json_body(&c0["body"])
            .insert_header("x-ratelimit-remaining", "0.0")
            .insert_header("x-ratelimit-reset", "525"),
    )
    .await;
    let toml = format!(
        "[[source]]\nkind = \"reddit\"\nbase_url = \"{}\"\nqueries = [\"praw\"]\nsubreddits = [\"r/acme\"]\nuser_agent = \"overhear-test by u/acme\"\n",
        server.uri()
    );
    let (mut s, state) = fresh_source(&toml, &[]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(b.posts.len(), 10);
    assert_eq!(b.posts[0].id, "reddit:t3_1qvzkd"); // oldest first
    let p = b.posts.iter().find(|p| p.id == "reddit:t3_3x4kt2").unwrap();
    assert_eq!(
        p.url,
        "https://www.reddit.com/r/redditdev/comments/3x4kt2/praw_is_there_an_easy_way_of_getting_a_list_of/"
    );
    assert_eq!(p.site, "reddit.com/r/redditdev");
    assert_eq!(p.engagement, Some(2));
    assert!(p
        .title
        .as_deref()
        .unwrap()
        .starts_with("[PRAW] Is there an easy way"));
    let c = b
        .posts
        .iter()
        .find(|p| p.id == "reddit:t1_k3ynm7c")
        .unwrap();
    assert_eq!(c.parent_id.as_deref(), Some("reddit:t3_172thsp"));
    assert_eq!(c.thread_id.as_deref(), Some("reddit:t3_172thsp"));
    assert_eq!(c.title.as_deref(), Some("Re: bot <TEST_SUBREDDIT>"));
    assert_eq!(c.created_at.timestamp(), 1696751778);
    // the used-up rate-limit window is honoured
    assert!(s.next_delay() >= Duration::from_secs(525));

    // the same listings again: nothing new
    let b = poll_commit(&mut s).await.unwrap();
    assert!(b.posts.is_empty());

    // 403 (Reddit blocks many servers): a warning and an error, no crash, no cursor change
    let before = saved(&state, "reddit");
    server.reset().await;
    serve_any_get(
        &server,
        ResponseTemplate::new(403).set_body_string("<html>blocked</html>"),
    )
    .await;
    let e = s.poll().await.unwrap_err();
    assert!(matches!(e, SourceError::Forbidden(_)), "{e:?}");
    assert_eq!(s.health().consecutive_failures, 1);
    assert_eq!(saved(&state, "reddit"), before);
}

#[tokio::test]
async fn reddit_oauth_and_atom() {
    let server = MockServer::start().await;
    std::env::set_var("OVERHEAR_TEST_REDDIT_ID", "cid");
    std::env::set_var("OVERHEAR_TEST_REDDIT_SECRET", "csecret");
    Mock::given(method("POST"))
        .and(path("/api/v1/access_token"))
        .and(header("authorization", "Basic Y2lkOmNzZWNyZXQ="))
        .respond_with(json_body(
            &json!({"access_token": "tok", "token_type": "bearer", "expires_in": 86400}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/oauth/search.json"))
        .and(header("authorization", "Bearer tok"))
        .respond_with(json_body(&fixture_json(
            "reddit_search_listing_praw_2016.json",
        )))
        .mount(&server)
        .await;
    let toml = format!(
        "[[source]]\nkind = \"reddit\"\nqueries = [\"praw\"]\noauth_base_url = \"{0}/oauth\"\ntoken_url = \"{0}/api/v1/access_token\"\nclient_id_env = \"OVERHEAR_TEST_REDDIT_ID\"\nclient_secret_env = \"OVERHEAR_TEST_REDDIT_SECRET\"\n",
        server.uri()
    );
    let (mut s, _) = fresh_source(&toml, &[]);
    assert_eq!(poll_commit(&mut s).await.unwrap().posts.len(), 6);
    assert_eq!(poll_commit(&mut s).await.unwrap().posts.len(), 0); // token reused

    // the Atom variant: double-escaped HTML content
    serve_get(
        &server,
        "/search.rss",
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/atom+xml; charset=UTF-8")
            .set_body_bytes(fixture("reddit_search_rss.atom.xml")),
    )
    .await;
    let toml = format!(
        "[[source]]\nkind = \"reddit\"\nname = \"reddit-rss\"\nformat = \"rss\"\nbase_url = \"{}\"\nqueries = [\"site:kevincox.ca\"]\n",
        server.uri()
    );
    let (mut s, _) = fresh_source(&toml, &[]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(ids(&b), vec!["reddit:t3_qksbf1"]);
    let p = &b.posts[0];
    assert_eq!(p.author.as_deref(), Some("kevincox_ca"));
    assert_eq!(p.site, "reddit.com/r/kevincox");
    assert_eq!(p.title.as_deref(), Some("Announcing FeedMail"));
    assert_eq!(
        p.url,
        "https://www.reddit.com/r/kevincox/comments/qksbf1/announcing_feedmail/"
    );
    assert!(
        p.text
            .starts_with("submitted by /u/kevincox_ca to r/kevincox\n[link] [comments]"),
        "{}",
        p.text
    );
}

// ---------------------------------------------------------------- Mastodon

#[tokio::test]
async fn mastodon_tag_timeline_min_id_and_failures() {
    let server = MockServer::start().await;
    let rec = fixture_json("mastodon_timelines_tag.json");
    let link = rec["headers"]["link"][0]
        .as_str()
        .unwrap()
        .replace("http://localhost:3000", &server.uri());
    Mock::given(method("GET"))
        .and(path("/api/v1/timelines/tag/hoot"))
        .and(query_param("min_id", "117020593741189701"))
        .respond_with(json_body(&json!([])))
        .with_priority(1)
        .mount(&server)
        .await;
    serve_get(
        &server,
        "/api/v1/timelines/tag/hoot",
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/json; charset=utf-8")
            .insert_header("link", link.as_str())
            .insert_header("x-ratelimit-remaining", "299")
            .set_body_bytes(fixture("mastodon_timelines_tag.body.json")),
    )
    .await;
    let toml = format!(
        "[[source]]\nkind = \"mastodon\"\ninstance = \"{}\"\ntags = [\"#hoot\"]\n",
        server.uri()
    );
    let (mut s, state) = fresh_source(&toml, &[]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(ids(&b), vec!["mastodon:127.0.0.1:117020593741189701"]);
    let p = &b.posts[0];
    assert_eq!(
        p.url,
        "http://localhost:3000/@mastodonpy_test_2/117020593741189701"
    );
    assert_eq!(p.author.as_deref(), Some("mastodonpy_test_2"));
    assert_eq!(p.text, "#hoot (hashtag toot)");
    assert_eq!(p.lang.as_deref(), Some("ja"));
    assert_eq!(p.engagement, Some(0));
    assert_eq!(
        cursor_json(&b)["min_id"],
        json!({"hoot": "117020593741189701"})
    );

    // second poll asks with min_id and gets nothing
    let b = poll_commit(&mut s).await.unwrap();
    assert!(b.posts.is_empty());
    assert_eq!(
        cursor_json(&b)["min_id"],
        json!({"hoot": "117020593741189701"})
    );

    // 401: the instance wants a login
    server.reset().await;
    serve_any_get(
        &server,
        ResponseTemplate::new(401)
            .set_body_string("{\"error\":\"This method requires an authenticated user\"}"),
    )
    .await;
    let e = s.poll().await.unwrap_err();
    assert!(matches!(e, SourceError::Unauthorized(_)), "{e:?}");
    assert!(e.to_string().contains("access_token_env"), "{e}");
    assert_eq!(
        saved(&state, "mastodon").unwrap()["min_id"],
        json!({"hoot": "117020593741189701"})
    );
}

#[tokio::test]
async fn mastodon_empty_answer_token_and_html_content() {
    let server = MockServer::start().await;
    std::env::set_var("OVERHEAR_TEST_MASTODON_TOKEN", "mtok");
    Mock::given(method("GET"))
        .and(path("/api/v1/timelines/tag/empty"))
        .and(header("authorization", "Bearer mtok"))
        .respond_with(json_body(&json!([])))
        .mount(&server)
        .await;
    let status = fixture_json("mastodon_status_docs_example.json");
    serve_get(
        &server,
        "/api/v1/timelines/tag/news",
        json_body(&json!([status])),
    )
    .await;
    let toml = format!(
        "[[source]]\nkind = \"mastodon\"\ninstance = \"{}\"\ntags = [\"empty\", \"news\"]\naccess_token_env = \"OVERHEAR_TEST_MASTODON_TOKEN\"\n",
        server.uri()
    );
    let (mut s, _) = fresh_source(&toml, &[]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(b.posts.len(), 1);
    let p = &b.posts[0];
    assert!(
        !p.text.contains('<') && !p.text.contains("&#39;") && !p.text.contains("&amp;"),
        "{}",
        p.text
    );
    assert!(!p.links.is_empty());
    assert!(s
        .health()
        .note
        .unwrap()
        .contains("empty timeline for #empty"));
}
