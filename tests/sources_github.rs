//! The GitHub source against a search API on loopback serving the real
//! `/search/issues` response recorded by github3.py (tests/fixtures/feeds/github/,
//! provenance in tests/fixtures/feeds/SOURCES.md), and scripted rate limits. The
//! search quota (10 a minute, 30 with a token) is counted at the server.

mod sources_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use overhear::sources::SourceError;
use serde_json::{json, Value};
use sources_support::*;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const NEWEST: &str = "2017-11-08T02:08:51Z";

fn real() -> Value {
    fixture_json("github/github3py_search_issues_q-github3-label-Bug_2017-12-20.json")
}

/// The real newest issue (EYHN/hexo-helper-live2d#33), renumbered `n` and made at `at`.
fn issue(n: i64, at: &str) -> Value {
    let mut i = real()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["created_at"] == NEWEST)
        .unwrap()
        .clone();
    i["number"] = json!(n);
    i["html_url"] = json!(format!(
        "https://github.com/EYHN/hexo-helper-live2d/issues/{n}"
    ));
    i["created_at"] = json!(at);
    i
}

fn page(items: Vec<Value>, total: usize) -> ResponseTemplate {
    json_body(&json!({"total_count": total, "incomplete_results": false, "items": items}))
}

/// Answers each search by its `q` and `page`, and records them.
#[derive(Clone, Default)]
struct Search {
    seen: Arc<Mutex<Vec<(String, String)>>>,
    answer: Arc<Mutex<Vec<(String, String, Value)>>>,
}

impl Search {
    /// Searches whose `q` contains `q_part`, page `page`, get `body`.
    fn on(&self, q_part: &str, page: &str, body: Value) {
        self.answer
            .lock()
            .unwrap()
            .push((q_part.into(), page.into(), body));
    }

    fn asked(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().clone()
    }
}

impl Respond for Search {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let get = |k: &str| {
            req.url
                .query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let (q, p) = (get("q"), get("page"));
        self.seen.lock().unwrap().push((q.clone(), p.clone()));
        let answer = self.answer.lock().unwrap();
        // the most specific rule: the longest q_part that matches
        let hit = answer
            .iter()
            .filter(|(part, page, _)| q.contains(part.as_str()) && *page == p)
            .max_by_key(|(part, _, _)| part.len());
        match hit {
            Some((_, _, body)) => json_body(body),
            None => page(Vec::new(), 0),
        }
    }
}

async fn search_server(search: &Search) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/search/issues"))
        .respond_with(search.clone())
        .mount(&server)
        .await;
    server
}

fn config(server: &MockServer, extra: &str) -> String {
    format!(
        "[[source]]\nkind = \"github\"\nname = \"gh\"\nbase_url = \"{}\"\n{extra}",
        server.uri()
    )
}

#[tokio::test]
async fn github_search_pages_and_resumes_from_the_newest_created_at_across_restarts_with_nothing_twice(
) {
    std::env::set_var("OVERHEAR_TEST_GITHUB_TOKEN", "ghp_test");
    let search = Search::default();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/search/issues"))
        .and(header("authorization", "Bearer ghp_test"))
        .and(header("accept", "application/vnd.github+json"))
        .and(header("x-github-api-version", "2022-11-28"))
        .respond_with(search.clone())
        .mount(&server)
        .await;
    // the first poll: the real page, as github3.py recorded it
    search.on("github3", "1", real());
    // then 120 new ones over two pages (the boundary issue comes again)
    let mut new: Vec<Value> = (1000..1120)
        .rev()
        .map(|n| issue(n, &format!("2017-12-{:02}T00:00:00Z", 1 + (n - 1000) / 5)))
        .collect();
    new.push(issue(33, NEWEST));
    let rest = new.split_off(100);
    let since = "created:>=2017-11-08T02:08:51+00:00".to_string();
    search.on(&since, "1", json!({"total_count": 121, "items": new}));
    search.on(&since, "2", json!({"total_count": 121, "items": rest}));
    let newest = "created:>=2017-12-24T00:00:00+00:00";
    search.on(newest, "1", json!({"total_count": 5, "items": new[..5]}));
    let toml = config(
        &server,
        "queries = [\"github3\"]\nrepos = [\"sigmavirus24/github3.py\", \"EYHN/hexo-helper-live2d\"]\ntoken_env = \"OVERHEAR_TEST_GITHUB_TOKEN\"\n",
    );
    let (mut s, state) = fresh_source(&toml, &[]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(b.posts.len(), 57);
    let p = b
        .posts
        .iter()
        .find(|p| p.id == "github:sigmavirus24/github3.py#187")
        .unwrap();
    assert_eq!(p.author.as_deref(), Some("sigmavirus24"));
    assert_eq!(p.site, "github.com/sigmavirus24/github3.py");
    assert_eq!(
        b.posts.last().unwrap().id,
        "github:EYHN/hexo-helper-live2d#33",
        "oldest first"
    );
    assert_eq!(
        search.asked()[0].0,
        "github3 repo:sigmavirus24/github3.py repo:EYHN/hexo-helper-live2d"
    );

    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(
        b.posts.len(),
        120,
        "the boundary issue is not emitted twice"
    );
    let asked = search.asked();
    assert_eq!(asked.len(), 3);
    assert!(asked[1].0.ends_with(&since) && asked[1].1 == "1");
    assert_eq!(asked[2].1, "2");

    // a restart: another instance on the same state resumes from the newest
    let mut again = source(&toml, state.clone(), &[]);
    let b = poll_commit(&mut again).await.unwrap();
    assert!(b.posts.is_empty(), "{:?}", ids(&b));
    let last = search.asked().pop().unwrap();
    assert!(
        last.0.ends_with("created:>=2017-12-24T00:00:00+00:00"),
        "{last:?}"
    );
}

#[tokio::test]
async fn github_the_search_quota_is_never_exceeded_across_polls_with_many_queries() {
    let search = Search::default();
    let server = search_server(&search).await;
    let queries: Vec<String> = (0..12).map(|i| format!("\"acme{i}\"")).collect();
    let toml = config(&server, &format!("queries = [{}]\n", queries.join(", ")));
    let (mut s, state) = fresh_source(&toml, &[]);
    let b = poll_commit(&mut s).await.unwrap();
    assert!(b.posts.is_empty());
    assert_eq!(search.asked().len(), 10, "10 a minute without a token");
    assert_eq!(cursor_json(&b)["sent"].as_array().map(Vec::len), Some(10));
    let note = s.health().note.unwrap_or_default();
    assert!(note.contains("10 of 12"), "{note}");
    assert!(
        s.next_delay() >= Duration::from_secs(55),
        "{:?}",
        s.next_delay()
    );
    // polled again at once (a restart of the loop, a manual poll): nothing is sent
    for _ in 0..3 {
        poll_commit(&mut s).await.unwrap();
    }
    assert_eq!(search.asked().len(), 10);
    // another worker taking the host over (a new instance on the same cursor) too
    let mut other = source(&toml, state.clone(), &[]);
    let b = poll_commit(&mut other).await.unwrap();
    assert!(b.posts.is_empty());
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 10, "counted at the server");

    // with a token: 30
    std::env::set_var("OVERHEAR_TEST_GITHUB_TOKEN_30", "ghp_30");
    let search = Search::default();
    let server = search_server(&search).await;
    let queries: Vec<String> = (0..35).map(|i| format!("\"acme{i}\"")).collect();
    let toml = config(
        &server,
        &format!(
            "queries = [{}]\ntoken_env = \"OVERHEAR_TEST_GITHUB_TOKEN_30\"\n",
            queries.join(", ")
        ),
    );
    let (mut s, _) = fresh_source(&toml, &[]);
    poll_commit(&mut s).await.unwrap();
    poll_commit(&mut s).await.unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 30);
}

#[tokio::test]
async fn github_rate_limit_answers_403_remaining_0_and_429_retry_after_are_honoured() {
    let server = MockServer::start().await;
    let toml = config(&server, "queries = [\"acme\", \"widget\"]\n");
    let (mut s, state) = fresh_source(&toml, &[]);
    // 403 with the primary limit's headers
    let reset = chrono::Utc::now().timestamp() + 300;
    serve_any_get(
        &server,
        ResponseTemplate::new(403)
            .insert_header("x-ratelimit-remaining", "0")
            .insert_header("x-ratelimit-reset", reset.to_string().as_str())
            .set_body_string("{\"message\":\"API rate limit exceeded\"}"),
    )
    .await;
    let e = s.poll().await.unwrap_err();
    assert!(
        matches!(e, SourceError::RateLimited { retry_after: Some(d) } if d > Duration::from_secs(290)),
        "{e:?}"
    );
    assert!(s.next_delay() > Duration::from_secs(290));
    assert_eq!(saved(&state, "gh"), None);

    // 429 with Retry-After
    server.reset().await;
    serve_any_get(
        &server,
        ResponseTemplate::new(429).insert_header("retry-after", "60"),
    )
    .await;
    let e = s.poll().await.unwrap_err();
    assert!(
        matches!(e, SourceError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(60)),
        "{e:?}"
    );

    // a 200 that used up the window: its issues are kept, the next query waits
    server.reset().await;
    let search = Search::default();
    search.on(
        "acme",
        "1",
        json!({"total_count": 1, "items": [issue(1, "2024-01-01T00:00:00Z")]}),
    );
    Mock::given(method("GET"))
        .and(path("/search/issues"))
        .respond_with(move |req: &Request| {
            search
                .respond(req)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header(
                    "x-ratelimit-reset",
                    (chrono::Utc::now().timestamp() + 120).to_string().as_str(),
                )
        })
        .mount(&server)
        .await;
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(ids(&b), ["github:EYHN/hexo-helper-live2d#1"]);
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "widget not asked"
    );
    assert!(s.next_delay() > Duration::from_secs(110));
    let cur = saved(&state, "gh").unwrap();
    assert!(cur["newest"].get("acme").is_some());
    assert!(
        cur["newest"].get("widget").is_none(),
        "its cursor is untouched"
    );

    // a secondary limit (403 + Retry-After) on the second query keeps the first's
    server.reset().await;
    let search = Search::default();
    search.on(
        "widget",
        "1",
        json!({"total_count": 1, "items": [issue(2, "2024-02-01T00:00:00Z")]}),
    );
    Mock::given(method("GET"))
        .and(path("/search/issues"))
        .respond_with(move |req: &Request| {
            if req.url.query().unwrap_or("").contains("acme") {
                ResponseTemplate::new(403).insert_header("retry-after", "90")
            } else {
                search.respond(req)
            }
        })
        .mount(&server)
        .await;
    // the last poll stopped before "widget": this one starts there
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(ids(&b), ["github:EYHN/hexo-helper-live2d#2"]);
    assert!(s.next_delay() >= Duration::from_secs(90));
}

#[tokio::test]
async fn github_hostile_payloads_are_clear_errors_or_clean_posts() {
    let server = MockServer::start().await;
    let toml = config(&server, "queries = [\"acme\"]\n");
    let (mut s, _) = fresh_source(&toml, &[]);
    // huge: past the body cap
    let huge = json!({"items": [{"number": 1, "body": "<b>x</b>".repeat(200_000)}]});
    serve_any_get(&server, json_body(&huge)).await;
    let e = s.poll().await.unwrap_err();
    assert!(matches!(e, SourceError::TooLarge { .. }), "{e:?}");
    // truncated: the real page cut in half
    server.reset().await;
    let body = fixture("github/github3py_search_issues_q-github3-label-Bug_2017-12-20.json");
    serve_any_get(
        &server,
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/json")
            .set_body_bytes(body[..body.len() / 2].to_vec()),
    )
    .await;
    let e = s.poll().await.unwrap_err();
    assert!(matches!(e, SourceError::Malformed(_)), "{e:?}");
    // HTML in every field
    server.reset().await;
    let evil = "<script>alert(1)</script>";
    serve_any_get(
        &server,
        json_body(&json!({"items": [
            {"number": 7, "repository_url": format!("https://api.github.com/repos/{evil}/x"), "title": evil},
            {"number": 8, "repository_url": "https://api.github.com/repos/acme/sdk",
             "html_url": "javascript:alert(1)", "title": evil, "created_at": evil,
             "user": {"login": evil}, "body": format!("<!-- template -->{evil} Acme")}
        ]})),
    )
    .await;
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(ids(&b), ["github:acme/sdk#8"], "no repository, no post");
    let p = &b.posts[0];
    assert_eq!(p.url, "https://github.com/acme/sdk/issues/8");
    assert_eq!(
        p.text,
        format!("{evil} Acme"),
        "markdown as written, less comments"
    );
    assert!(p.created_at_is_first_seen);
}
