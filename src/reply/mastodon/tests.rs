//! Mastodon's client against a loopback server answering with recorded responses
//! (`tests/fixtures/reply/mastodon/`).

use std::time::Duration;

use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::reply::test_support::{field, fixture, form, http, mention, reply};

const TOKEN: &str = "m-token-7f3a9c";
/// The recorded reply's parent, on the recording's own server.
const PARENT: &str = "117020583245459824";

fn account(server: &MockServer) -> MastodonAccount {
    MastodonAccount {
        name: "acme-social".into(),
        instance: server.uri(),
        token_env: Some("OVERHEAR_TEST_UNUSED".into()),
        token_file: None,
    }
}

fn client(server: &MockServer) -> Mastodon {
    Mastodon::new(&account(server), TOKEN.into(), &http()).unwrap()
}

/// A mention polled from the account's own instance (the server's host).
fn local_mention(server: &MockServer) -> Post {
    let host = Url::parse(&server.uri())
        .unwrap()
        .host_str()
        .unwrap()
        .to_string();
    mention(
        KIND,
        &format!("mastodon:{host}:{PARENT}"),
        &format!("{}/@mastodonpy_test_2/{PARENT}", server.uri()),
        "mastodonpy_test_2",
    )
}

fn json(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

async fn statuses_answer(server: &MockServer, answer: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .respond_with(answer)
        .mount(server)
        .await;
}

/// The forms of the statuses POSTed, in order.
async fn posted_forms(server: &MockServer) -> Vec<(Vec<(String, String)>, Option<String>)> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path() == "/api/v1/statuses")
        .map(|r| {
            let key = r
                .headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            (form(&r.body), key)
        })
        .collect()
}

#[tokio::test]
async fn a_reply_carries_in_reply_to_id_the_token_and_the_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("idempotency-key", "reply-1"))
        .respond_with(json(
            200,
            fixture!("mastodon", "status_reply_mastodonpy.json"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/instance"))
        .respond_with(json(200, fixture!("mastodon", "instance_v2.json")))
        .mount(&server)
        .await;
    let c = client(&server);
    assert_eq!(
        c.limit().max,
        500,
        "Mastodon's own limit until the instance says"
    );
    let post = local_mention(&server);
    let got = c.post(reply(&post, "reply-1", "same!", 1)).await.unwrap();

    let forms = posted_forms(&server).await;
    assert_eq!(forms.len(), 1);
    let (f, _) = &forms[0];
    let host = Url::parse(&server.uri())
        .unwrap()
        .host_str()
        .unwrap()
        .to_string();
    assert_eq!(field(f, "in_reply_to_id"), Some(PARENT));
    assert_eq!(
        field(f, "status"),
        Some(format!("@mastodonpy_test_2@{host} same!").as_str()),
        "the local author is mentioned with the instance's host"
    );
    assert_eq!(field(f, "visibility"), Some("public"));
    assert_eq!(
        got,
        Posted {
            url: "http://localhost:3000/@admin/117020583258292382".into(),
            remote_id: "117020583258292382".into(),
            at: DateTime::parse_from_rfc3339("2026-08-01T13:53:15.910Z")
                .unwrap()
                .with_timezone(&Utc),
            by: format!("mastodon:admin@{host}"),
        }
    );
    assert_eq!(
        c.limit().max,
        1000,
        "the instance's own limit, once fetched"
    );
}

#[tokio::test]
async fn every_attempt_sends_the_same_idempotency_key() {
    let server = MockServer::start().await;
    statuses_answer(
        &server,
        json(200, fixture!("mastodon", "status_reply_mastodonpy.json")),
    )
    .await;
    let c = client(&server);
    let post = local_mention(&server);
    c.post(reply(&post, "reply-7", "Sorry!", 1)).await.unwrap();
    c.post(reply(&post, "reply-7", "Sorry!", 2)).await.unwrap();
    let keys: Vec<Option<String>> = posted_forms(&server)
        .await
        .into_iter()
        .map(|(_, k)| k)
        .collect();
    assert_eq!(
        keys,
        vec![Some("reply-7".to_string()), Some("reply-7".to_string())]
    );
}

#[tokio::test]
async fn an_instance_without_a_limit_keeps_500_and_is_asked_once() {
    let server = MockServer::start().await;
    statuses_answer(
        &server,
        json(200, fixture!("mastodon", "status_reply_mastodonpy.json")),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/instance"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let post = local_mention(&server);
    c.post(reply(&post, "reply-8", "Sorry!", 1)).await.unwrap();
    c.post(reply(&post, "reply-9", "Sorry!", 1)).await.unwrap();
    assert_eq!(c.limit().max, 500);
}

#[tokio::test]
async fn a_status_from_another_instance_is_resolved_there_first() {
    let server = MockServer::start().await;
    let url = "https://mastodon.social/@alice/109294719267373593";
    Mock::given(method("GET"))
        .and(path("/api/v2/search"))
        .and(query_param("q", url))
        .and(query_param("type", "statuses"))
        .and(query_param("resolve", "true"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(json(200, fixture!("mastodon", "search_resolved.json")))
        .expect(1)
        .mount(&server)
        .await;
    statuses_answer(
        &server,
        json(200, fixture!("mastodon", "status_reply_mastodonpy.json")),
    )
    .await;
    let post = mention(
        KIND,
        "mastodon:mastodon.social:109294719267373593",
        url,
        "alice",
    );
    client(&server)
        .post(reply(&post, "reply-2", "Sorry about this", 1))
        .await
        .unwrap();

    let order: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .filter(|p| p != "/api/v2/instance")
        .collect();
    assert_eq!(order, ["/api/v2/search", "/api/v1/statuses"]);
    let (f, _) = &posted_forms(&server).await[0];
    // the resolved status's id on this instance, not mastodon.social's
    assert_eq!(field(f, "in_reply_to_id"), Some("114869919130670547"));
    assert_eq!(
        field(f, "visibility"),
        Some("unlisted"),
        "as private as the mention"
    );
    assert_eq!(
        field(f, "status"),
        Some("@alice@mastodon.social Sorry about this")
    );
}

#[tokio::test]
async fn a_status_the_instance_cannot_find_is_refused_and_nothing_is_posted() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/search"))
        .respond_with(json(200, fixture!("mastodon", "search_empty.json")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .respond_with(json(
            200,
            fixture!("mastodon", "status_reply_mastodonpy.json"),
        ))
        .expect(0)
        .mount(&server)
        .await;
    let url = "https://mastodon.social/@alice/109294719267373593";
    let post = mention(
        KIND,
        "mastodon:mastodon.social:109294719267373593",
        url,
        "alice",
    );
    let err = client(&server)
        .post(reply(&post, "reply-3", "Sorry", 1))
        .await
        .unwrap_err();
    let PostError::Refused { why, .. } = err else {
        panic!("{err:?}")
    };
    assert!(
        why.contains("cannot find the post") && why.contains(url),
        "{why}"
    );
}

#[tokio::test]
async fn a_401_is_refused_with_mastodons_message_and_no_token() {
    let server = MockServer::start().await;
    statuses_answer(&server, json(401, fixture!("mastodon", "error_401.json"))).await;
    let post = local_mention(&server);
    let err = client(&server)
        .post(reply(&post, "reply-4", "Sorry", 1))
        .await
        .unwrap_err();
    let PostError::Refused { status, why } = err else {
        panic!("{err:?}")
    };
    assert_eq!(status, Some(401));
    assert!(why.contains("The access token is invalid"), "{why}");
    assert!(!why.contains(TOKEN), "{why}");
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_after_that_wait() {
    let server = MockServer::start().await;
    statuses_answer(
        &server,
        json(429, fixture!("mastodon", "error_429.json")).insert_header("retry-after", "30"),
    )
    .await;
    let post = local_mention(&server);
    let err = client(&server)
        .post(reply(&post, "reply-5", "Sorry", 1))
        .await
        .unwrap_err();
    let PostError::Retry { why, after } = err else {
        panic!("{err:?}")
    };
    assert_eq!(after, Some(Duration::from_secs(30)));
    assert!(why.contains("Too many requests"), "{why}");
}

#[tokio::test]
async fn a_503_is_retried() {
    let server = MockServer::start().await;
    statuses_answer(&server, ResponseTemplate::new(503)).await;
    let post = local_mention(&server);
    let err = client(&server)
        .post(reply(&post, "reply-6", "Sorry", 1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PostError::Retry { after: None, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn verify_names_the_account_as_the_thread_watch_does() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/accounts/verify_credentials"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(json(200, fixture!("mastodon", "verify_credentials.json")))
        .mount(&server)
        .await;
    let host = Url::parse(&server.uri())
        .unwrap()
        .host_str()
        .unwrap()
        .to_string();
    assert_eq!(
        client(&server).verify().await.unwrap(),
        format!("mastodon:admin@{host}")
    );
}

#[test]
fn the_author_is_mentioned_once() {
    let post = mention(
        KIND,
        "mastodon:mastodon.social:1",
        "https://mastodon.social/@alice/1",
        "alice",
    );
    let m = |text: &str| with_mention(text, &post, "acme.social");
    assert_eq!(m("Sorry!"), "@alice@mastodon.social Sorry!");
    assert_eq!(
        m("Hi @Alice@Mastodon.social, sorry!"),
        "Hi @Alice@Mastodon.social, sorry!"
    );
    assert_eq!(
        m("@alicex@mastodon.social hi"),
        "@alice@mastodon.social @alicex@mastodon.social hi"
    );
    // `@alice` alone is someone on the account's own instance
    assert_eq!(m("@alice hi"), "@alice@mastodon.social @alice hi");
    let remote = mention(
        KIND,
        "mastodon:mastodon.social:1",
        "https://x/1",
        "bob@acme.social",
    );
    assert_eq!(with_mention("Hi @bob.", &remote, "acme.social"), "Hi @bob.");
}

#[test]
fn fits_mastodon_posts_only() {
    let c = Mastodon::new(
        &MastodonAccount {
            name: "a".into(),
            instance: "https://acme.social".into(),
            token_env: None,
            token_file: None,
        },
        TOKEN.into(),
        &http(),
    )
    .unwrap();
    let ok = mention(
        KIND,
        "mastodon:mastodon.social:1",
        "https://mastodon.social/@a/1",
        "a",
    );
    assert_eq!(c.fits(&ok), Ok(()));
    let bsky = mention(
        "bluesky",
        "bluesky:at://did:plc:x/app.bsky.feed.post/1",
        "https://bsky.app/x",
        "a",
    );
    assert!(c.fits(&bsky).is_err());
    assert_eq!(
        c.limit(),
        Limit {
            unit: "characters",
            max: 500,
            min: 0
        }
    );
}
