//! Stack Exchange's client against a loopback API answering in the API's documented
//! shapes (`tests/fixtures/reply/stackexchange/`).

use std::time::Duration;

use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::reply::test_support::{field, fixture, form, http, mention, reply};

const KEY: &str = "se-app-key-U4DMV";
const TOKEN: &str = "se-token-(x9kQ))";
const QID: &str = "79012345";
const ME: i64 = 22774411;
/// The text of the comment in `comments_add.json` / `comments_withbody.json`.
const TEXT: &str =
    "Sorry about this — the fix is in Acme 2.4.1, see [the changelog](https://acme.example/changelog).";

fn client_at(base: &str) -> StackExchange {
    let account = StackExchangeAccount {
        name: "acme-so".into(),
        site: "stackoverflow".into(),
        key_env: Some("OVERHEAR_TEST_UNUSED".into()),
        key_file: None,
        access_token_env: Some("OVERHEAR_TEST_UNUSED".into()),
        access_token_file: None,
        base_url: Some(base.into()),
    };
    StackExchange::new(&account, KEY.into(), TOKEN.into(), &http()).unwrap()
}

fn answer(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

fn question() -> Post {
    mention(
        KIND,
        &format!("stackexchange:stackoverflow:{QID}"),
        &format!("https://stackoverflow.com/questions/{QID}/acme-sdk-crashes-on-start"),
        "stackoverflow/1543210",
    )
}

/// An API whose `/me` is the account's user.
async fn api() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/me"))
        .and(query_param("site", "stackoverflow"))
        .and(query_param("key", KEY))
        .and(query_param("access_token", TOKEN))
        .respond_with(answer(200, fixture!("stackexchange", "me.json")))
        .mount(&server)
        .await;
    server
}

async fn adds_answer(server: &MockServer, a: ResponseTemplate, times: u64) {
    Mock::given(method("POST"))
        .and(path(format!("/posts/{QID}/comments/add")))
        .respond_with(a)
        .expect(times)
        .mount(server)
        .await;
}

async fn comments_answer(server: &MockServer, body: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/posts/{QID}/comments")))
        .and(query_param("sort", "creation"))
        .and(query_param("order", "desc"))
        .and(query_param("filter", "withbody"))
        .and(query_param("key", KEY))
        .and(query_param("access_token", TOKEN))
        .respond_with(answer(200, body))
        .expect(1)
        .mount(server)
        .await;
}

/// How many requests went to `path`.
async fn count(server: &MockServer, p: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == p)
        .count()
}

#[tokio::test]
async fn a_comment_is_added_to_the_question_with_the_key_the_token_and_the_site() {
    let server = api().await;
    adds_answer(
        &server,
        answer(200, fixture!("stackexchange", "comments_add.json")),
        1,
    )
    .await;
    let post = question();
    let got = client_at(&server.uri())
        .post(reply(&post, "reply-1", TEXT, 1))
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    let add = requests
        .iter()
        .find(|r| r.url.path() == format!("/posts/{QID}/comments/add"))
        .unwrap();
    let f = form(&add.body);
    assert_eq!(field(&f, "body"), Some(TEXT));
    assert_eq!(field(&f, "site"), Some("stackoverflow"));
    assert_eq!(field(&f, "key"), Some(KEY));
    assert_eq!(field(&f, "access_token"), Some(TOKEN));
    assert_eq!(field(&f, "preview"), Some("false"));
    assert_eq!(
        add.url.query(),
        None,
        "the secrets go in the body, not the URL"
    );
    assert_eq!(
        got,
        Posted {
            url: format!(
                "https://stackoverflow.com/questions/{QID}/acme-sdk-crashes-on-start#comment139456789_{QID}"
            ),
            remote_id: "139456789".into(),
            at: from_unix(1733481600),
            by: format!("stackexchange:stackoverflow/{ME}"),
        }
    );
}

#[tokio::test]
async fn a_retry_looks_for_its_comment_first_and_does_not_post_again() {
    let server = api().await;
    comments_answer(&server, fixture!("stackexchange", "comments_withbody.json")).await;
    adds_answer(
        &server,
        answer(200, fixture!("stackexchange", "comments_add.json")),
        0,
    )
    .await;
    let post = question();
    let got = client_at(&server.uri())
        .post(reply(&post, "reply-2", TEXT, 2))
        .await
        .unwrap();
    assert_eq!(got.remote_id, "139456789");
    assert_eq!(
        got.url,
        format!("https://stackoverflow.com/q/{QID}#comment139456789_{QID}"),
        "the comments listing has no link: the URL is built"
    );
}

#[tokio::test]
async fn a_retry_posts_when_its_comment_is_not_there() {
    let server = api().await;
    // the same text by another user is not this reply's comment
    comments_answer(&server, fixture!("stackexchange", "comments_other.json")).await;
    adds_answer(
        &server,
        answer(200, fixture!("stackexchange", "comments_add.json")),
        1,
    )
    .await;
    let post = question();
    client_at(&server.uri())
        .post(reply(&post, "reply-3", TEXT, 2))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_user_is_looked_up_once() {
    let server = api().await;
    adds_answer(
        &server,
        answer(200, fixture!("stackexchange", "comments_add.json")),
        2,
    )
    .await;
    let c = client_at(&server.uri());
    let post = question();
    c.post(reply(&post, "reply-4", TEXT, 1)).await.unwrap();
    c.post(reply(&post, "reply-5", TEXT, 1)).await.unwrap();
    assert_eq!(count(&server, "/me").await, 1);
    assert_eq!(
        c.verify().await.unwrap(),
        format!("stackexchange:stackoverflow/{ME}")
    );
    assert_eq!(count(&server, "/me").await, 1);
}

#[tokio::test]
async fn a_401_is_refused_with_the_apis_message_and_no_key_or_token() {
    let server = api().await;
    adds_answer(
        &server,
        answer(401, fixture!("stackexchange", "error_access_token.json")),
        1,
    )
    .await;
    let post = question();
    let err = client_at(&server.uri())
        .post(reply(&post, "reply-6", TEXT, 1))
        .await
        .unwrap_err();
    let PostError::Refused { status, why } = err else {
        panic!("{err:?}")
    };
    assert_eq!(status, Some(401));
    assert!(
        why.contains("access_token_required") && why.contains("No access_token was passed"),
        "{why}"
    );
    assert!(!why.contains(KEY) && !why.contains(TOKEN), "{why}");
}

#[tokio::test]
async fn an_invalid_token_answered_with_400_is_refused() {
    let server = api().await;
    adds_answer(
        &server,
        answer(400, fixture!("stackexchange", "error_invalid_token.json")),
        1,
    )
    .await;
    let post = question();
    let err = client_at(&server.uri())
        .post(reply(&post, "reply-7", TEXT, 1))
        .await
        .unwrap_err();
    let PostError::Refused { status, why } = err else {
        panic!("{err:?}")
    };
    assert_eq!(status, Some(400));
    assert!(
        why.contains("access_token is invalid, expired, or revoked"),
        "{why}"
    );
}

#[tokio::test]
async fn a_throttle_violation_is_retried_after_the_wait_it_names() {
    let server = api().await;
    adds_answer(
        &server,
        answer(400, fixture!("stackexchange", "error_throttle.json")),
        1,
    )
    .await;
    let post = question();
    let err = client_at(&server.uri())
        .post(reply(&post, "reply-8", TEXT, 1))
        .await
        .unwrap_err();
    let PostError::Retry { after, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(after, Some(Duration::from_secs(35)));
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_after_that_wait() {
    let server = api().await;
    adds_answer(
        &server,
        ResponseTemplate::new(429).insert_header("retry-after", "60"),
        1,
    )
    .await;
    let post = question();
    let err = client_at(&server.uri())
        .post(reply(&post, "reply-9", TEXT, 1))
        .await
        .unwrap_err();
    let PostError::Retry { after, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(after, Some(Duration::from_secs(60)));
}

#[tokio::test]
async fn a_503_is_retried() {
    let server = api().await;
    adds_answer(&server, ResponseTemplate::new(503), 1).await;
    let post = question();
    let err = client_at(&server.uri())
        .post(reply(&post, "reply-10", TEXT, 1))
        .await
        .unwrap_err();
    assert!(matches!(err, PostError::Retry { .. }), "{err:?}");
}

#[tokio::test]
async fn a_network_error_is_retried_and_names_no_secret() {
    // nothing listens on port 9 of the loopback address
    let c = client_at("http://127.0.0.1:9/2.3");
    let err = c.verify().await.unwrap_err();
    let PostError::Retry { why, .. } = err else {
        panic!("{err:?}")
    };
    assert!(why.contains("127.0.0.1"), "{why}");
    assert!(!why.contains(KEY) && !why.contains(TOKEN), "{why}");
}

#[test]
fn fits_questions_of_its_own_site_only() {
    let c = client_at("https://api.stackexchange.com/2.3");
    assert_eq!(c.fits(&question()), Ok(()));
    let dotcom = mention(
        KIND,
        "stackexchange:stackoverflow.com:1",
        "https://stackoverflow.com/q/1",
        "a",
    );
    assert_eq!(c.fits(&dotcom), Ok(()));
    let unix = mention(
        KIND,
        "stackexchange:unix:1",
        "https://unix.stackexchange.com/q/1",
        "a",
    );
    assert!(c.fits(&unix).unwrap_err().contains("unix"));
    let toot = mention(
        "mastodon",
        "mastodon:m.example:1",
        "https://m.example/@a/1",
        "a",
    );
    assert!(c.fits(&toot).is_err());
    assert_eq!(
        c.limit(),
        Limit {
            unit: "characters",
            max: 600,
            min: 15
        }
    );
}

#[test]
fn a_comment_is_known_by_its_words_whatever_the_markup() {
    assert_eq!(
        plain(TEXT),
        html_plain(
            "Sorry about this &mdash; the fix is in Acme 2.4.1, see <a href=\"https://acme.example/changelog\" rel=\"nofollow noreferrer\">the changelog</a>."
        )
    );
    assert_ne!(plain("Sorry, version 2"), html_plain("Sorry, version 3"));
    assert_eq!(site_host("stackoverflow"), "stackoverflow.com");
    assert_eq!(site_host("unix"), "unix.stackexchange.com");
}
