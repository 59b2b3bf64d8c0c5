//! The thread watch uses each `[[source]]` entry's own settings, against real HTTP
//! servers on loopback: Stack Exchange's `key` (and never shows it in an error or a
//! log line), Mastodon's access token, Reddit's User-Agent and OAuth (its token
//! endpoint and `oauth.reddit.com`), Bluesky's configured AppView; and a comment
//! mention on a Lobsters story JSON from before 2023 (no `parent_comment`) is
//! answered. The plan is built from the entries as the daemon builds it
//! ([`Plan::from_config`]); secrets come from `*_file`s.

mod sources_support;
mod watch_support;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use overhear::post::Post;
use overhear::sources::{Http, HttpSettings, SourceConfig};
use overhear::store::StoredMention;
use overhear::watch::{round, Checked, Outcome, Plan};
use serde_json::json;
use sources_support::{serve_any_get, serve_get};
use watch_support::{acme, fixture, mention, post, watched};
use wiremock::{MockServer, Request, ResponseTemplate};

/// The watch plan of these `[[source]]` entries, for the brand Acme.
fn plan(entries: &str) -> Plan {
    #[derive(serde::Deserialize)]
    struct Wrap {
        source: Vec<SourceConfig>,
    }
    let w: Wrap = toml::from_str(entries).unwrap();
    let mut plan = Plan::from_config(&[], &w.source).unwrap();
    plan.brands = vec![acme()];
    plan
}

/// A file holding `secret` (and a newline), in `dir`: its path for a `*_file` setting.
fn secret_file(dir: &tempfile::TempDir, name: &str, secret: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    path.display().to_string()
}

/// A server answering every GET with the thread fixture `file` (`KIND/NAME`), and
/// the plan of the entries `toml`, where `{uri}` is the server's URL and `{secret}`
/// a file holding `secret` (kept while the directory returned lives).
async fn serve_with_secret(
    file: &str,
    toml: &str,
    secret: &str,
) -> (MockServer, Plan, tempfile::TempDir) {
    let server = MockServer::start().await;
    let (kind, name) = file.split_once('/').unwrap();
    serve_any_get(&server, json_of(fixture(kind, name))).await;
    let dir = tempfile::tempdir().unwrap();
    let toml = toml
        .replace("{uri}", &server.uri())
        .replace("{secret}", &secret_file(&dir, "secret", secret));
    (server, plan(&toml), dir)
}

/// `rounds` rounds over `p`, watched and due now: what each checked, and the mention.
async fn rounds(p: &Post, plan: &Plan, rounds: usize) -> (Vec<Checked>, StoredMention) {
    let now = Utc::now();
    let (_dir, store, id) = watched(p, now, now + chrono::Duration::hours(1));
    let http = Http::new("overhear-test/1", HttpSettings::default()).unwrap();
    let mut done = Vec::new();
    for _ in 0..rounds {
        done.extend(round(&store, &http, plan, now, 10).await.unwrap());
    }
    (done, store.get_stored(&id).unwrap().unwrap())
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

fn header<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

/// A server answering GET `path` with the thread fixture `KIND/NAME`, for each pair.
async fn server_with(paths: &[(&str, &str)]) -> MockServer {
    let server = MockServer::start().await;
    for (path, file) in paths {
        let (kind, name) = file.split_once('/').unwrap();
        serve_get(&server, path, json_of(fixture(kind, name))).await;
    }
    server
}

fn json_of(body: Vec<u8>) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/json")
        .set_body_bytes(body)
}

/// What is logged while the test runs (its own thread: a current-thread runtime).
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn stack_exchange_threads_are_read_with_the_sources_key_which_is_never_shown() {
    let log = Log::default();
    let writer = log.clone();
    let _logging = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .finish(),
    );
    const KEY: &str = "se-app-key-5ecret";
    let (server, plan, _dir) = serve_with_secret(
        "stackexchange/no_answer.json",
        "[[source]]\nkind = \"stackexchange\"\nbase_url = \"{uri}/2.3\"\nkey_file = \"{secret}\"\n",
        KEY,
    )
    .await;
    let p = mention("stackexchange");
    let (done, _) = rounds(&p, &plan, 1).await;
    assert_eq!(done[0].outcome, Outcome::Unanswered);
    let got = requests(&server).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].url.path(), "/2.3/questions/77000001/timeline");
    let query: HashMap<String, String> = got[0].url.query_pairs().into_owned().collect();
    assert_eq!(query.get("key").map(String::as_str), Some(KEY), "{query:?}");
    assert_eq!(query.get("site").map(String::as_str), Some("stackoverflow"));

    // refused: the error (logged by the watcher) names the URL, never the key
    server.reset().await;
    serve_any_get(&server, ResponseTemplate::new(403)).await;
    let (done, _) = rounds(&p, &plan, 1).await;
    let Outcome::Failed(e) = &done[0].outcome else {
        panic!("{done:?}");
    };
    assert!(e.contains("403") && e.contains("/timeline"), "{e}");
    assert!(!e.contains(KEY), "the key in an error: {e}");
    let logged = log.text();
    assert!(logged.contains("/questions/77000001/timeline"), "{logged}");
    assert!(!logged.contains(KEY), "the key in the log: {logged}");
}

#[tokio::test]
async fn mastodon_contexts_are_read_with_the_sources_access_token() {
    let (server, plan, _dir) = serve_with_secret(
        "mastodon/answered.json",
        "[[source]]\nkind = \"mastodon\"\ninstance = \"{uri}\"\naccess_token_file = \"{secret}\"\n",
        "masto-t0ken",
    )
    .await;
    let p = post(
        "mastodon",
        "mastodon:127.0.0.1:111000000000000001",
        "https://127.0.0.1/@jdoe/111000000000000001",
        "jdoe",
        "2023-11-14T22:13:20Z",
    );
    let (done, m) = rounds(&p, &plan, 1).await;
    assert_eq!(done[0].outcome, Outcome::Answered, "{done:?}");
    assert!(m.answer.answered_at.is_some());
    let got = requests(&server).await;
    assert_eq!(
        got[0].url.path(),
        "/api/v1/statuses/111000000000000001/context"
    );
    assert_eq!(header(&got[0], "authorization"), Some("Bearer masto-t0ken"));
}

const AGENT: &str = "linux:overhear-test:2.0 (by /u/acme_ops)";

#[tokio::test]
async fn reddit_threads_are_read_with_the_sources_user_agent() {
    let server = MockServer::start().await;
    serve_any_get(&server, json_of(fixture("reddit", "answered.json"))).await;
    let plan = plan(&format!(
        "[[source]]\nkind = \"reddit\"\nbase_url = \"{}\"\nsubreddits = [\"acme\"]\nuser_agent = \"{AGENT}\"\n",
        server.uri()
    ));
    let (done, _) = rounds(&mention("reddit"), &plan, 1).await;
    assert_eq!(done[0].outcome, Outcome::Answered, "{done:?}");
    let got = requests(&server).await;
    assert_eq!(got[0].url.path(), "/comments/17abcde.json");
    assert_eq!(header(&got[0], "user-agent"), Some(AGENT));
    assert_eq!(header(&got[0], "authorization"), None);
}

#[tokio::test]
async fn reddit_threads_are_read_through_oauth_where_the_source_has_it() {
    let www = MockServer::start().await;
    serve_any_get(&www, json_of(fixture("reddit", "no_answer.json"))).await;
    let oauth = server_with(&[("/comments/17abcde.json", "reddit/answered.json")]).await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/api/v1/access_token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "reddit-t0ken", "expires_in": 3600})),
        )
        .mount(&oauth)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(&format!(
        "[[source]]\nkind = \"reddit\"\nbase_url = \"{www}\"\nsubreddits = [\"acme\"]\nuser_agent = \"{AGENT}\"\n\
         client_id_file = \"{}\"\nclient_secret_file = \"{}\"\n\
         oauth_base_url = \"{oauth}\"\ntoken_url = \"{oauth}/api/v1/access_token\"\n",
        secret_file(&dir, "id", "client-id"),
        secret_file(&dir, "secret", "client-5ecret"),
        www = www.uri(),
        oauth = oauth.uri(),
    ));
    let (done, _) = rounds(&mention("reddit"), &plan, 1).await;
    assert_eq!(done[0].outcome, Outcome::Answered, "{done:?}");
    assert!(requests(&www).await.is_empty(), "not the logged-out host");
    let got = requests(&oauth).await;
    let token = got
        .iter()
        .find(|r| r.url.path() == "/api/v1/access_token")
        .expect("a token was asked for");
    assert!(header(token, "authorization").is_some_and(|a| a.starts_with("Basic ")));
    let thread = got
        .iter()
        .find(|r| r.url.path() == "/comments/17abcde.json")
        .expect("the thread came from the OAuth host");
    assert_eq!(header(thread, "authorization"), Some("Bearer reddit-t0ken"));
    assert_eq!(header(thread, "user-agent"), Some(AGENT));
}

/// A comment from the comments feed (no story id) on a story whose JSON is the 2021
/// form: located through `c/SHORT.json`, then answered by the brand's reply one
/// `indent_level` below it.
#[tokio::test]
async fn a_lobsters_comment_on_a_story_json_from_before_2023_is_answered() {
    let server = server_with(&[
        (
            "/c/6gmzsf.json",
            "real/lobsters_c_6gmzsf_from_d9ucpe_2021.json",
        ),
        (
            "/s/d9ucpe.json",
            "real/lobsters_s_d9ucpe_2021.answered.json",
        ),
    ])
    .await;
    let plan = plan(&format!(
        "[[source]]\nkind = \"lobsters\"\nbase_url = \"{}\"\n",
        server.uri()
    ));
    let p = post(
        "lobsters",
        "lobsters:c/6gmzsf",
        "https://lobste.rs/c/6gmzsf",
        "dmbaturin",
        "2021-04-04T04:57:47Z",
    );
    let (done, m) = rounds(&p, &plan, 2).await;
    assert_eq!(done.len(), 1, "located first, then read: {done:?}");
    assert_eq!(done[0].outcome, Outcome::Answered, "{done:?}");
    assert_eq!(m.answer.answered_by.as_deref(), Some("lobsters:acme"));
    assert_eq!(
        m.answer.answer_url.as_deref(),
        Some("https://lobste.rs/c/flr1hj")
    );
    let paths: Vec<String> = requests(&server)
        .await
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(paths, ["/c/6gmzsf.json", "/s/d9ucpe.json"]);
}

#[tokio::test]
async fn bluesky_threads_come_from_the_configured_appview() {
    let thread = "real/bluesky_getPostThread_3k7rmyigapw2y_2023.answered.json";
    let server = server_with(&[("/xrpc/app.bsky.feed.getPostThread", thread)]).await;
    let plan = plan(&format!(
        "[[source]]\nkind = \"bluesky\"\nappview_url = \"{}\"\n",
        server.uri()
    ));
    let root = "at://did:plc:uy7ehrx332p6dow5sk32hxzq/app.bsky.feed.post/3k7rmyigapw2y";
    let p = post(
        "bluesky",
        &format!("bluesky:{root}"),
        "https://bsky.app/profile/did:plc:uy7ehrx332p6dow5sk32hxzq/post/3k7rmyigapw2y",
        "someone.bsky.social",
        "2023-09-19T21:00:00Z",
    );
    let (done, m) = rounds(&p, &plan, 1).await;
    assert_eq!(done[0].outcome, Outcome::Answered, "{done:?}");
    assert_eq!(m.answer.answered_by.as_deref(), Some("bluesky:acme.com"));
    let got = requests(&server).await;
    let query: HashMap<String, String> = got[0].url.query_pairs().into_owned().collect();
    assert_eq!(query.get("uri").map(String::as_str), Some(root));
}
