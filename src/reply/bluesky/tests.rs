//! Bluesky's client against a loopback PDS answering with recorded responses
//! (`tests/fixtures/reply/bluesky/`).

use std::time::Duration;

use serde_json::Value;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::reply::test_support::{fixture, http, mention, queued, reply};

const PASSWORD: &str = "abcd-efgh-ijkl-mnop";
const DID: &str = "did:plc:5c2r73erhng4bszmxlfdtscf";
/// The recorded post replied to (not itself a reply).
const PARENT_RKEY: &str = "3kexwuoyqj32g";
const PARENT_CID: &str = "bafyreid4i763c2iyr6adhmgriiisz2p7gleztu7tn66pfrl3qhe4hgoyny";
/// The recorded reply to it.
const REPLY_RKEY: &str = "3lprdue7ggw26";
const REPLY_CID: &str = "bafyreia7fptlcy32gmdmtxlqnd3cwjcq7bxae4sdunq5c5i6yr7y72cqmu";

fn client(server: &MockServer) -> Bluesky {
    let account = BlueskyAccount {
        name: "acme-bsky".into(),
        handle: "bskyr.bsky.social".into(),
        app_password_env: Some("OVERHEAR_TEST_UNUSED".into()),
        app_password_file: None,
        pds_url: Some(server.uri()),
    };
    Bluesky::new(&account, PASSWORD.into(), &http()).unwrap()
}

fn uri(rkey: &str) -> String {
    format!("at://{DID}/app.bsky.feed.post/{rkey}")
}

fn answer(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

/// The recorded session (its tokens blanked upstream) with tokens `n`.
fn session_answer(n: u32) -> ResponseTemplate {
    let body = fixture!("bluesky", "createSession_bskyr.json")
        .replace(r#""accessJwt":"""#, &format!(r#""accessJwt":"access-{n}""#))
        .replace(
            r#""refreshJwt":"""#,
            &format!(r#""refreshJwt":"refresh-{n}""#),
        );
    answer(200, &body)
}

/// A PDS that logs in, has the record `rkey` (`body`), and creates records.
async fn pds(parent_rkey: &str, parent: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.createSession"))
        .respond_with(session_answer(1))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/xrpc/com.atproto.repo.getRecord"))
        .and(query_param("rkey", parent_rkey))
        .respond_with(answer(200, parent))
        .mount(&server)
        .await;
    server
}

async fn creates_answer(server: &MockServer, a: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.createRecord"))
        .respond_with(a)
        .mount(server)
        .await;
}

/// The bodies of the createRecord calls, and how many logins, in order.
async fn calls(server: &MockServer, name: &str) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == format!("/xrpc/{name}"))
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}

fn bluesky_mention(rkey: &str) -> Post {
    mention(
        KIND,
        &format!("bluesky:{}", uri(rkey)),
        &format!("https://bsky.app/profile/bskyr.bsky.social/post/{rkey}"),
        "bskyr.bsky.social",
    )
}

#[tokio::test]
async fn a_reply_names_root_and_parent_by_uri_and_cid_under_a_fixed_record_key() {
    let server = pds(
        PARENT_RKEY,
        fixture!("bluesky", "getRecord_post_bskyr.json"),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.createRecord"))
        .and(header("authorization", "Bearer access-1"))
        .respond_with(answer(
            200,
            fixture!("bluesky", "createRecord_reply_bskyr.json"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let post = bluesky_mention(PARENT_RKEY);
    let got = client(&server)
        .post(reply(&post, "reply-1", "Sorry about this 👍🏽", 1))
        .await
        .unwrap();

    let body = &calls(&server, "com.atproto.repo.createRecord").await[0];
    let parent = serde_json::json!({"uri": uri(PARENT_RKEY), "cid": PARENT_CID});
    assert_eq!(body["repo"], DID);
    assert_eq!(body["collection"], "app.bsky.feed.post");
    assert_eq!(body["rkey"], tid(queued(), "reply-1"));
    assert_eq!(body["record"]["$type"], "app.bsky.feed.post");
    assert_eq!(body["record"]["text"], "Sorry about this 👍🏽");
    assert_eq!(body["record"]["createdAt"], "2026-12-06T21:30:00.123Z");
    // the parent is the thread's first post: it is the root too
    assert_eq!(body["record"]["reply"]["parent"], parent);
    assert_eq!(body["record"]["reply"]["root"], parent);
    assert_eq!(got.remote_id, uri(REPLY_RKEY));
    assert_eq!(
        got.url,
        format!("https://bsky.app/profile/bskyr.bsky.social/post/{REPLY_RKEY}")
    );
    assert_eq!(got.by, "bluesky:bskyr.bsky.social");
}

#[tokio::test]
async fn the_root_of_a_reply_to_a_reply_is_the_threads_first_post() {
    let server = pds(REPLY_RKEY, fixture!("bluesky", "getRecord_reply.json")).await;
    creates_answer(
        &server,
        answer(200, fixture!("bluesky", "createRecord_reply_bskyr.json")),
    )
    .await;
    let post = bluesky_mention(REPLY_RKEY);
    client(&server)
        .post(reply(&post, "reply-2", "Sorry", 1))
        .await
        .unwrap();
    let body = &calls(&server, "com.atproto.repo.createRecord").await[0];
    assert_eq!(
        body["record"]["reply"]["parent"],
        serde_json::json!({"uri": uri(REPLY_RKEY), "cid": REPLY_CID})
    );
    assert_eq!(
        body["record"]["reply"]["root"],
        serde_json::json!({"uri": uri(PARENT_RKEY), "cid": PARENT_CID})
    );
}

#[tokio::test]
async fn two_replies_log_in_once() {
    let server = pds(
        PARENT_RKEY,
        fixture!("bluesky", "getRecord_post_bskyr.json"),
    )
    .await;
    creates_answer(
        &server,
        answer(200, fixture!("bluesky", "createRecord_reply_bskyr.json")),
    )
    .await;
    let c = client(&server);
    let post = bluesky_mention(PARENT_RKEY);
    c.post(reply(&post, "reply-a", "Sorry", 1)).await.unwrap();
    c.post(reply(&post, "reply-b", "Sorry again", 1))
        .await
        .unwrap();
    assert_eq!(
        calls(&server, "com.atproto.server.createSession")
            .await
            .len(),
        1
    );
    assert_eq!(
        calls(&server, "com.atproto.repo.createRecord").await.len(),
        2
    );
}

#[tokio::test]
async fn an_expired_token_is_refreshed_and_the_call_sent_again() {
    let server = pds(
        PARENT_RKEY,
        fixture!("bluesky", "getRecord_post_bskyr.json"),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.refreshSession"))
        .and(header("authorization", "Bearer refresh-1"))
        .respond_with(session_answer(2))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.createRecord"))
        .and(header("authorization", "Bearer access-1"))
        .respond_with(answer(400, fixture!("bluesky", "error_expired_token.json")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.createRecord"))
        .and(header("authorization", "Bearer access-2"))
        .respond_with(answer(
            200,
            fixture!("bluesky", "createRecord_reply_bskyr.json"),
        ))
        .mount(&server)
        .await;
    let c = client(&server);
    let post = bluesky_mention(PARENT_RKEY);
    let got = c.post(reply(&post, "reply-3", "Sorry", 1)).await.unwrap();
    assert_eq!(got.remote_id, uri(REPLY_RKEY));
    let creates = calls(&server, "com.atproto.repo.createRecord").await;
    assert_eq!(creates.len(), 2);
    assert_eq!(creates[0]["rkey"], creates[1]["rkey"]);
    assert_eq!(
        calls(&server, "com.atproto.server.createSession")
            .await
            .len(),
        1
    );
    // the next reply uses the refreshed session
    c.post(reply(&post, "reply-4", "Sorry", 1)).await.unwrap();
    assert_eq!(
        calls(&server, "com.atproto.server.createSession")
            .await
            .len(),
        1
    );
    assert_eq!(
        calls(&server, "com.atproto.repo.createRecord").await.len(),
        3
    );
}

#[tokio::test]
async fn every_attempt_uses_the_same_record_key() {
    let server = pds(
        PARENT_RKEY,
        fixture!("bluesky", "getRecord_post_bskyr.json"),
    )
    .await;
    let rkey = tid(queued(), "reply-5");
    Mock::given(method("GET"))
        .and(path("/xrpc/com.atproto.repo.getRecord"))
        .and(query_param("rkey", rkey.as_str()))
        .respond_with(answer(
            400,
            fixture!("bluesky", "error_record_not_found.json"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    creates_answer(
        &server,
        answer(200, fixture!("bluesky", "createRecord_reply_bskyr.json")),
    )
    .await;
    let c = client(&server);
    let post = bluesky_mention(PARENT_RKEY);
    c.post(reply(&post, "reply-5", "Sorry", 1)).await.unwrap();
    // the second attempt looks for its record first (not there), then creates it
    c.post(reply(&post, "reply-5", "Sorry", 2)).await.unwrap();
    let creates = calls(&server, "com.atproto.repo.createRecord").await;
    assert_eq!(creates.len(), 2);
    assert_eq!(creates[0]["rkey"], rkey.as_str());
    assert_eq!(creates[1]["rkey"], rkey.as_str());
}

#[tokio::test]
async fn a_record_that_already_exists_is_returned_as_posted() {
    let server = pds(
        PARENT_RKEY,
        fixture!("bluesky", "getRecord_post_bskyr.json"),
    )
    .await;
    let rkey = tid(queued(), "reply-6");
    Mock::given(method("GET"))
        .and(path("/xrpc/com.atproto.repo.getRecord"))
        .and(query_param("repo", DID))
        .and(query_param("rkey", rkey.as_str()))
        .respond_with(answer(200, fixture!("bluesky", "getRecord_reply.json")))
        .mount(&server)
        .await;
    creates_answer(
        &server,
        answer(409, fixture!("bluesky", "error_record_exists.json")),
    )
    .await;
    let post = bluesky_mention(PARENT_RKEY);
    let got = client(&server)
        .post(reply(&post, "reply-6", "Sorry", 1))
        .await
        .unwrap();
    assert_eq!(got.remote_id, uri(REPLY_RKEY));
    assert_eq!(got.at.to_rfc3339(), "2025-05-22T14:39:57.101+00:00");
}

#[tokio::test]
async fn a_retry_finds_the_record_an_earlier_attempt_made_and_creates_nothing() {
    let server = pds(
        PARENT_RKEY,
        fixture!("bluesky", "getRecord_post_bskyr.json"),
    )
    .await;
    let rkey = tid(queued(), "reply-7");
    Mock::given(method("GET"))
        .and(path("/xrpc/com.atproto.repo.getRecord"))
        .and(query_param("rkey", rkey.as_str()))
        .respond_with(answer(200, fixture!("bluesky", "getRecord_reply.json")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.createRecord"))
        .respond_with(answer(
            200,
            fixture!("bluesky", "createRecord_reply_bskyr.json"),
        ))
        .expect(0)
        .mount(&server)
        .await;
    let post = bluesky_mention(PARENT_RKEY);
    let got = client(&server)
        .post(reply(&post, "reply-7", "Sorry", 2))
        .await
        .unwrap();
    assert_eq!(got.remote_id, uri(REPLY_RKEY));
}

#[tokio::test]
async fn a_wrong_app_password_is_refused_with_blueskys_message_and_no_password() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.createSession"))
        .respond_with(answer(401, fixture!("bluesky", "error_auth.json")))
        .mount(&server)
        .await;
    let post = bluesky_mention(PARENT_RKEY);
    let err = client(&server)
        .post(reply(&post, "reply-8", "Sorry", 1))
        .await
        .unwrap_err();
    let PostError::Refused { status, why } = err else {
        panic!("{err:?}")
    };
    assert_eq!(status, Some(401));
    assert!(why.contains("Invalid identifier or password"), "{why}");
    assert!(!why.contains(PASSWORD), "{why}");
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_after_that_wait() {
    let server = pds(
        PARENT_RKEY,
        fixture!("bluesky", "getRecord_post_bskyr.json"),
    )
    .await;
    creates_answer(
        &server,
        answer(
            429,
            r#"{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}"#,
        )
        .insert_header("retry-after", "120"),
    )
    .await;
    let post = bluesky_mention(PARENT_RKEY);
    let err = client(&server)
        .post(reply(&post, "reply-9", "Sorry", 1))
        .await
        .unwrap_err();
    let PostError::Retry { why, after } = err else {
        panic!("{err:?}")
    };
    assert_eq!(after, Some(Duration::from_secs(120)));
    assert!(why.contains("RateLimitExceeded"), "{why}");
}

#[tokio::test]
async fn a_503_is_retried() {
    let server = pds(
        PARENT_RKEY,
        fixture!("bluesky", "getRecord_post_bskyr.json"),
    )
    .await;
    creates_answer(&server, ResponseTemplate::new(503)).await;
    let post = bluesky_mention(PARENT_RKEY);
    let err = client(&server)
        .post(reply(&post, "reply-10", "Sorry", 1))
        .await
        .unwrap_err();
    assert!(matches!(err, PostError::Retry { .. }), "{err:?}");
}

#[tokio::test]
async fn verify_names_the_account_by_its_handle() {
    let server = pds(
        PARENT_RKEY,
        fixture!("bluesky", "getRecord_post_bskyr.json"),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/xrpc/com.atproto.server.getSession"))
        .and(header("authorization", "Bearer access-1"))
        .respond_with(answer(200, fixture!("bluesky", "getSession.json")))
        .mount(&server)
        .await;
    assert_eq!(
        client(&server).verify().await.unwrap(),
        "bluesky:bskyr.bsky.social"
    );
}

#[test]
fn graphemes_count_an_emoji_with_its_skin_tone_and_an_accented_e_as_one_each() {
    assert_eq!(graphemes("👍🏽"), 1);
    assert_eq!("👍🏽".chars().count(), 2);
    assert_eq!(graphemes("e\u{301}"), 1);
    assert_eq!(graphemes("Caf\u{65}\u{301} 👍🏽!"), 7);
    assert_eq!(graphemes(&"👍🏽".repeat(300)), MAX_GRAPHEMES);
}

#[test]
fn the_record_key_is_a_tid_fixed_by_the_queue_time_and_the_key() {
    let a = tid(queued(), "reply-1");
    assert_eq!(a, tid(queued(), "reply-1"));
    assert_ne!(a, tid(queued(), "reply-2"));
    assert_eq!(a.len(), 13);
    assert!(a
        .bytes()
        .all(|b| b"234567abcdefghijklmnopqrstuvwxyz".contains(&b)));
    // sortable: a later reply has a larger key
    let later = tid(queued() + chrono::Duration::seconds(1), "reply-1");
    assert!(later > a);
    // the first character of a TID of these times is one of 2..7 and a..j
    assert!(b"234567abcdefghij".contains(&a.as_bytes()[0]));
}
