//! Bluesky's Jetstream against a local websocket server: commit/create posts, deletes,
//! identity and account events, malformed frames, a dropped connection; the source
//! resumes from its cursor without gaps or duplicates, in-process and after a restart.

#![allow(clippy::result_large_err)] // the tungstenite handshake callback's error type

mod sources_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use overhear::sources::Source;
use sources_support::*;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;

const T0: i64 = 1_725_000_000_000_000;

fn t(i: i64) -> i64 {
    T0 + i * 1_000_000
}

fn create(i: i64, text: &str) -> String {
    serde_json::json!({
        "did": "did:plc:alice", "time_us": t(i), "kind": "commit",
        "commit": {"rev": "r", "operation": "create", "collection": "app.bsky.feed.post",
            "rkey": format!("rk{i}"), "cid": "bafy",
            "record": {"$type": "app.bsky.feed.post", "text": text,
                "createdAt": "2024-09-09T19:46:02.102Z", "langs": ["en"]}}
    })
    .to_string()
}

fn reply(i: i64, text: &str) -> String {
    serde_json::json!({
        "did": "did:plc:bob", "time_us": t(i), "kind": "commit",
        "commit": {"rev": "r", "operation": "create", "collection": "app.bsky.feed.post",
            "rkey": format!("rk{i}"), "cid": "bafy",
            "record": {"$type": "app.bsky.feed.post", "text": text,
                "createdAt": "2024-09-09T19:47:00Z",
                "reply": {"parent": {"uri": "at://did:plc:alice/app.bsky.feed.post/rk1", "cid": "c"},
                          "root": {"uri": "at://did:plc:alice/app.bsky.feed.post/rk1", "cid": "c"}},
                "facets": [{"features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://acme.example/x"}]}]}}
    })
    .to_string()
}

fn delete(i: i64) -> String {
    serde_json::json!({"did": "did:plc:alice", "time_us": t(i), "kind": "commit",
        "commit": {"rev": "r", "operation": "delete", "collection": "app.bsky.feed.post", "rkey": "rk1"}})
    .to_string()
}

fn identity(i: i64) -> String {
    serde_json::json!({"did": "did:plc:carol", "time_us": t(i), "kind": "identity",
        "identity": {"did": "did:plc:carol", "handle": "carol.bsky.social", "seq": 1, "time": "2024-09-09T19:46:02Z"}})
    .to_string()
}

fn account(i: i64) -> String {
    serde_json::json!({"did": "did:plc:carol", "time_us": t(i), "kind": "account",
        "account": {"active": false, "did": "did:plc:carol", "seq": 2, "status": "deactivated", "time": "2024-09-09T19:46:02Z"}})
    .to_string()
}

/// Serves scripted connections; records each request's query string.
async fn jetstream(scripts: Vec<(Vec<String>, bool)>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let queries = Arc::new(Mutex::new(Vec::new()));
    let q = queries.clone();
    tokio::spawn(async move {
        for (frames, keep_open) in scripts {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let q = q.clone();
            let mut ws =
                tokio_tungstenite::accept_hdr_async(sock, move |req: &Request, resp: Response| {
                    q.lock()
                        .unwrap()
                        .push(req.uri().query().unwrap_or("").to_string());
                    Ok(resp)
                })
                .await
                .unwrap();
            for f in frames {
                ws.send(Message::Text(f)).await.unwrap();
            }
            if keep_open {
                tokio::spawn(async move { while ws.next().await.is_some() {} });
            } else {
                // drop mid-stream: no close frame
                drop(ws);
            }
        }
    });
    (format!("ws://{addr}/subscribe"), queries)
}

async fn collect(s: &mut Box<dyn Source>, want: usize) -> (Vec<String>, serde_json::Value) {
    let mut got = Vec::new();
    let mut cursor = serde_json::Value::Null;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while got.len() < want && tokio::time::Instant::now() < deadline {
        if let Ok(b) = poll_commit(s).await {
            got.extend(ids(&b));
            cursor = cursor_json(&b);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // one more poll: nothing else arrives
    tokio::time::sleep(Duration::from_millis(100)).await;
    if let Ok(b) = poll_commit(s).await {
        got.extend(ids(&b));
        cursor = cursor_json(&b);
    }
    (got, cursor)
}

fn id(did: &str, i: i64) -> String {
    format!("bluesky:at://{did}/app.bsky.feed.post/rk{i}")
}

#[tokio::test]
async fn jetstream_resumes_without_gaps_or_duplicates() {
    let (url, queries) = jetstream(vec![
        (
            vec![
                create(1, "My Acme widget broke again"),
                create(2, "nothing to see"),
                delete(3),
                identity(4),
                account(5),
                "{not json".to_string(),
                serde_json::json!({"did": "x", "kind": "commit"}).to_string(),
                reply(6, "@alice have you tried ACME support?"),
            ],
            false,
        ),
        // the reconnect: the server replays from the cursor (inclusive)
        (
            vec![
                reply(6, "@alice have you tried ACME support?"),
                create(7, "acme 7"),
                create(8, "acme 8 and more"),
            ],
            true,
        ),
        // after a restart
        (
            vec![
                create(7, "acme 7"),
                create(8, "acme 8 and more"),
                create(9, "acme 9"),
            ],
            true,
        ),
    ])
    .await;
    let toml = format!("[[source]]\nkind = \"bluesky\"\njetstream_url = \"{url}\"\nqueue = 2\n");
    let (mut s, state) = fresh_source(&toml, &["acme"]);
    let (got, cursor) = collect(&mut s, 4).await;
    assert_eq!(
        got,
        vec![
            id("did:plc:alice", 1),
            id("did:plc:bob", 6),
            id("did:plc:alice", 7),
            id("did:plc:alice", 8)
        ]
    );
    assert_eq!(cursor["cursor"], t(8));
    assert_eq!(saved(&state, "bluesky").unwrap()["cursor"], t(8));
    {
        let q = queries.lock().unwrap();
        assert_eq!(q[0], "wantedCollections=app.bsky.feed.post");
        assert_eq!(
            q[1],
            format!("wantedCollections=app.bsky.feed.post&cursor={}", t(6))
        );
    }
    let h = s.health();
    assert_eq!(h.consecutive_failures, 0);
    assert!(h.note.unwrap().contains("2 malformed"));
    drop(s);

    // a restart resumes from the saved cursor (rewound a little); nothing is re-emitted
    let mut s = source(&toml, state.clone(), &["acme"]);
    let (got, cursor) = collect(&mut s, 1).await;
    assert_eq!(got, vec![id("did:plc:alice", 9)]);
    assert_eq!(cursor["cursor"], t(9));
    let q = queries.lock().unwrap();
    assert_eq!(
        q[2],
        format!(
            "wantedCollections=app.bsky.feed.post&cursor={}",
            t(8) - 2_000_000
        )
    );
}

#[tokio::test]
async fn jetstream_post_fields() {
    let (url, _) = jetstream(vec![(
        vec![reply(6, "@alice have you tried ACME support?")],
        true,
    )])
    .await;
    let toml = format!("[[source]]\nkind = \"bluesky\"\njetstream_url = \"{url}\"\n");
    let (mut s, _) = fresh_source(&toml, &["acme"]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let post = loop {
        let b = s.poll().await.unwrap();
        if let Some(p) = b.posts.into_iter().next() {
            break p;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(post.url, "https://bsky.app/profile/did:plc:bob/post/rk6");
    assert_eq!(post.author.as_deref(), Some("did:plc:bob"));
    assert_eq!(post.text, "@alice have you tried ACME support?");
    assert_eq!(post.created_at.to_rfc3339(), "2024-09-09T19:47:00+00:00");
    assert_eq!(
        post.parent_id.as_deref(),
        Some("bluesky:at://did:plc:alice/app.bsky.feed.post/rk1")
    );
    assert_eq!(post.thread_id, post.parent_id);
    assert_eq!(post.lang, None);
    assert_eq!(post.links, vec!["https://acme.example/x"]);
    assert_eq!(post.site, "bsky.app");
}

#[tokio::test]
async fn an_unreachable_jetstream_is_an_error_not_a_panic() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let toml =
        format!("[[source]]\nkind = \"bluesky\"\njetstream_url = \"ws://{addr}/subscribe\"\n");
    let (mut s, state) = fresh_source(&toml, &["acme"]);
    let _ = s.poll().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let e = s.poll().await.unwrap_err();
    assert!(e.to_string().contains("cannot connect"), "{e}");
    assert!(s.health().consecutive_failures >= 1);
    assert_eq!(saved(&state, "bluesky"), None);
}

#[tokio::test]
async fn search_posts_with_an_app_password() {
    use wiremock::matchers::{body_json, header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    std::env::set_var("OVERHEAR_TEST_BSKY_PASSWORD", "app-pass");
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.createSession"))
        .and(body_json(serde_json::json!({"identifier": "acme.bsky.social", "password": "app-pass"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"accessJwt": "jwt", "refreshJwt": "r", "handle": "acme.bsky.social", "did": "did:plc:acme"})))
        .expect(1)
        .mount(&server)
        .await;
    let view = serde_json::json!({
        "uri": "at://did:plc:dan/app.bsky.feed.post/3kabc", "cid": "bafy",
        "author": {"did": "did:plc:dan", "handle": "dan.bsky.social"},
        "record": {"$type": "app.bsky.feed.post", "text": "acme support is great", "createdAt": "2025-01-01T00:00:00Z"},
        "likeCount": 3, "repostCount": 1, "indexedAt": "2025-01-01T00:00:01Z"
    });
    Mock::given(method("GET"))
        .and(path("/xrpc/app.bsky.feed.searchPosts"))
        .and(query_param("since", "2025-01-01T00:00:01Z"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"posts": [view]})),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/xrpc/app.bsky.feed.searchPosts"))
        .and(query_param("q", "acme"))
        .and(query_param("sort", "latest"))
        .and(header("authorization", "Bearer jwt"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"posts": [view], "cursor": "1"})),
        )
        .mount(&server)
        .await;
    let toml = format!(
        "[[source]]\nkind = \"bluesky\"\njetstream = false\nhandle = \"acme.bsky.social\"\napp_password_env = \"OVERHEAR_TEST_BSKY_PASSWORD\"\npds_url = \"{}\"\n",
        server.uri()
    );
    let (mut s, _) = fresh_source(&toml, &["acme"]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(
        ids(&b),
        vec!["bluesky:at://did:plc:dan/app.bsky.feed.post/3kabc"]
    );
    let p = &b.posts[0];
    assert_eq!(p.author.as_deref(), Some("dan.bsky.social"));
    assert_eq!(p.url, "https://bsky.app/profile/did:plc:dan/post/3kabc");
    assert_eq!(p.engagement, Some(4));
    assert_eq!(
        cursor_json(&b)["search_since"],
        serde_json::json!({"acme": "2025-01-01T00:00:01Z"})
    );
    // the next poll asks since the newest; the same post is not emitted twice
    let b = poll_commit(&mut s).await.unwrap();
    assert!(b.posts.is_empty());
}

/// Polls (without committing) until the firehose has queued something.
async fn poll_until_posts(s: &mut Box<dyn Source>) -> overhear::sources::Batch {
    for _ in 0..250 {
        if let Ok(b) = s.poll().await {
            if !b.posts.is_empty() {
                return b;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the firehose never delivered");
}

/// A firehose post taken from the queue is not lost when the poll fails afterwards
/// (searchPosts answers 404) or when the daemon could not store it (no commit): the
/// next poll returns it again. A poll's posts are committed together or not at all.
#[tokio::test]
async fn firehose_posts_survive_a_failed_search_and_a_failed_store() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let pds = MockServer::start().await;
    std::env::set_var("OVERHEAR_TEST_BSKY_PASSWORD_3", "app-pass");
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.createSession"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"accessJwt": "jwt"})),
        )
        .mount(&pds)
        .await;
    let (url, _) = jetstream(vec![(vec![create(1, "acme rocks")], true)]).await;
    let toml = format!(
        "[[source]]\nkind = \"bluesky\"\njetstream_url = \"{url}\"\nhandle = \"acme.bsky.social\"\napp_password_env = \"OVERHEAR_TEST_BSKY_PASSWORD_3\"\npds_url = \"{}\"\n",
        pds.uri()
    );
    let (mut s, state) = fresh_source(&toml, &["acme"]);
    // searchPosts fails (no route yet: 404) for half a second of polls, while the
    // firehose delivers: every poll takes the queue, then fails
    for _ in 0..25 {
        assert!(s.poll().await.is_err());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Mock::given(method("GET"))
        .and(path("/xrpc/app.bsky.feed.searchPosts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"posts": []})))
        .mount(&pds)
        .await;
    // the post taken before the failure comes back with the next poll
    let b = poll_until_posts(&mut s).await;
    assert_eq!(ids(&b), vec![id("did:plc:alice", 1)]);
    // not committed (the store failed): the next poll returns it again
    let again = s.poll().await.unwrap();
    assert_eq!(ids(&again), vec![id("did:plc:alice", 1)]);
    assert_eq!(saved(&state, "bluesky"), None);
    // once committed, it is not emitted again
    s.commit(again.cursor.unwrap()).unwrap();
    let after = s.poll().await.unwrap();
    assert!(after.posts.is_empty(), "{:?}", ids(&after));
}

/// A Jetstream that accepts the upgrade, sends `first`, then goes silent: it holds the
/// socket without reading (pings go unanswered) or writing, as a half-open connection
/// does. The next connection sends `second` and stays up. Records each query.
async fn jetstream_that_goes_silent(
    first: String,
    second: String,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let queries = Arc::new(Mutex::new(Vec::new()));
    let q = queries.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        for frame in [first, second] {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let q = q.clone();
            let mut ws =
                tokio_tungstenite::accept_hdr_async(sock, move |req: &Request, resp: Response| {
                    q.lock()
                        .unwrap()
                        .push(req.uri().query().unwrap_or("").to_string());
                    Ok(resp)
                })
                .await
                .unwrap();
            ws.send(Message::Text(frame)).await.unwrap();
            held.push(ws);
        }
        // the second stays up, answering pings
        let mut last = held.pop().unwrap();
        tokio::spawn(async move { while last.next().await.is_some() {} });
        // the first is never read again
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(held);
    });
    (format!("ws://{addr}/subscribe"), queries)
}

/// A half-open Jetstream used to leave the reader waiting forever while health said
/// "connected". Now silence is met with a ping, then a reconnect from the cursor
/// (the test context's request timeout, 700 ms, is the idle limit).
#[tokio::test]
async fn a_silent_jetstream_is_dropped_and_resumed_from_the_cursor() {
    let (url, queries) =
        jetstream_that_goes_silent(create(1, "acme one"), create(2, "acme two")).await;
    let toml = format!("[[source]]\nkind = \"bluesky\"\njetstream_url = \"{url}\"\n");
    let (mut s, _) = fresh_source(&toml, &["acme"]);
    let (got, cursor) = collect(&mut s, 2).await;
    assert_eq!(got, vec![id("did:plc:alice", 1), id("did:plc:alice", 2)]);
    assert_eq!(cursor["cursor"], serde_json::json!(t(2)));
    let q = queries.lock().unwrap().clone();
    assert_eq!(q.len(), 2, "{q:?}");
    assert!(
        q[1].contains(&format!("cursor={}", t(1))),
        "resumes from the cursor: {q:?}"
    );
}

/// A server that accepts TCP but never answers the upgrade: the connect times out and
/// the poll says the firehose is down, instead of waiting forever.
#[tokio::test]
async fn a_jetstream_that_never_answers_the_upgrade_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let toml =
        format!("[[source]]\nkind = \"bluesky\"\njetstream_url = \"ws://{addr}/subscribe\"\n");
    let (mut s, _) = fresh_source(&toml, &["acme"]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
    let mut failed = None;
    while tokio::time::Instant::now() < deadline {
        if let Err(e) = s.poll().await {
            failed = Some(e);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let e = failed.expect("the poll reports the firehose as down");
    assert!(e.to_string().contains("timed out"), "{e}");
}
