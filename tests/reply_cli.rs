//! Replying from the command line, end to end: the real `overhear run` binary polls
//! a Mastodon hashtag timeline on loopback and stores a complaint; `overhear
//! mentions reply ID --as acme-social --text …` answers it through the daemon's API
//! as the brand's `[[reply_account]]` on the same (loopback) instance. The instance
//! is a stand-in that keeps Mastodon's promise about `Idempotency-Key` (a repeated
//! key returns the status it made, and makes no new one), built from the real reply
//! status recorded in `tests/fixtures/reply/mastodon/` (see its SOURCES.md).
//!
//! Proves: one reply, one status, with the token, the key and `in_reply_to_id`;
//! the mention answered with the reply's URL and the history naming who and from
//! where; a restart posts nothing again; a daemon killed (SIGKILL) while its request
//! is at the server, or while the reply waits for a retry after a 503, posts it
//! exactly once after the restart; a 401 leaves a visible failure and posts nothing.

mod daemon_support;
mod sources_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use daemon_support::{
    free_port, mentions, signal, start, wait_exit, wait_for, wait_healthy, write_test_config,
    Daemon, KeepOnFailure, Setup,
};
use serde_json::{json, Value};
use sources_support::overhear;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "masto-token-for-tests-0123456789";
const TOKEN_VAR: &str = "OVERHEAR_TEST_REPLY_CLI_TOKEN";
const COMPLAINT: &str = "Acme lost my parcel again and support has not answered in a week.";

fn fixture(name: &str) -> Value {
    let p = format!(
        "{}/tests/fixtures/reply/mastodon/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn toot(id: &str, text: &str) -> Value {
    json!({
        "id": id, "created_at": (chrono::Utc::now() - chrono::Duration::minutes(10)).to_rfc3339(),
        "in_reply_to_id": null, "sensitive": false, "spoiler_text": "", "visibility": "public",
        "language": "en", "uri": format!("http://127.0.0.1/statuses/{id}"),
        "url": format!("http://127.0.0.1/@jo/{id}"), "replies_count": 0, "reblogs_count": 0,
        "favourites_count": 0, "edited_at": null, "content": format!("<p>{text}</p>"), "reblog": null,
        "account": {"id": "7", "username": "jo", "acct": "jo", "display_name": "Jo", "url": "http://127.0.0.1/@jo"},
        "media_attachments": [], "mentions": [], "tags": [], "emojis": [], "card": null, "poll": null
    })
}

/// `POST /api/v1/statuses` as Mastodon answers it: a status per new
/// `Idempotency-Key`, the same status again for a key it has seen. Can be told to
/// answer slowly, with a 503, or with a 401.
#[derive(Clone, Default)]
struct Instance {
    /// Idempotency-Key -> the id of the status it made.
    made: Arc<Mutex<HashMap<String, String>>>,
    mode: Arc<Mutex<Mode>>,
}

#[derive(Clone, Copy, Default, PartialEq)]
enum Mode {
    #[default]
    Ok,
    Slow,
    Unavailable,
    BadToken,
}

impl Instance {
    fn set(&self, m: Mode) {
        *self.mode.lock().unwrap() = m;
    }
    fn statuses(&self) -> usize {
        self.made.lock().unwrap().len()
    }
}

impl Respond for Instance {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mode = *self.mode.lock().unwrap();
        match mode {
            Mode::Unavailable => return ResponseTemplate::new(503),
            Mode::BadToken => {
                return ResponseTemplate::new(401).set_body_json(fixture("error_401.json"))
            }
            _ => {}
        }
        let key = req
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let mut made = self.made.lock().unwrap();
        let n = made.len();
        let id = made
            .entry(key)
            .or_insert_with(|| format!("9000{n}"))
            .clone();
        let mut status = fixture("status_reply_mastodonpy.json");
        status["id"] = json!(id);
        status["url"] = json!(format!("http://127.0.0.1/@acme/{id}"));
        status["in_reply_to_id"] = json!("4242");
        let r = ResponseTemplate::new(200).set_body_json(status);
        if mode == Mode::Slow {
            r.set_delay(Duration::from_secs(4))
        } else {
            r
        }
    }
}

struct Rig {
    setup: Setup,
    server: MockServer,
    instance: Instance,
    daemon: Daemon,
    mention: String,
}

async fn rig() -> Rig {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/timelines/tag/acme"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([toot("4242", COMPLAINT)])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/instance"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("instance_v2.json")))
        .mount(&server)
        .await;
    let instance = Instance::default();
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .respond_with(instance.clone())
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let api = free_port();
    let rest = format!(
        "[[reply_account]]\nname = \"acme-social\"\nkind = \"mastodon\"\ninstance = \"{url}\"\ntoken_env = \"{TOKEN_VAR}\"\n\n\
         [[brand]]\nname = \"Acme\"\nquery = \"acme\"\nreply_as = [\"acme-social\"]\n\n\
         [[source]]\nkind = \"mastodon\"\ninstance = \"{url}\"\ntags = [\"acme\"]\nevery = \"10s\"\n",
        url = server.uri()
    );
    let config = write_test_config(dir.path(), api, "", &rest);
    std::env::set_var(TOKEN_VAR, TOKEN);
    let setup = Setup {
        dir: KeepOnFailure(Some(dir)),
        config,
        api,
    };
    let mut daemon = start(&setup, "daemon.log");
    wait_healthy(api, &mut daemon).await;
    wait_for("the complaint stored", Duration::from_secs(60), || {
        mentions(&setup).len() == 1
    })
    .await;
    let mention = mentions(&setup)[0]["id"].as_str().unwrap().to_string();
    Rig {
        setup,
        server,
        instance,
        daemon,
        mention,
    }
}

impl Rig {
    fn reply(&self, extra: &[&str]) -> std::process::Output {
        let mut args = vec![
            "mentions",
            "reply",
            &self.mention,
            "--as",
            "acme-social",
            "--text",
            "Sorry about this, we are on it",
            "--by",
            "dana",
        ];
        args.extend_from_slice(extra);
        overhear(&args, &self.setup.config)
    }

    async fn posts(&self) -> Vec<Request> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.method.as_str() == "POST" && r.url.path() == "/api/v1/statuses")
            .collect()
    }

    fn show(&self) -> Value {
        let out = overhear(
            &["mentions", "show", &self.mention, "--json"],
            &self.setup.config,
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn kill(&mut self) {
        signal(&self.daemon, "KILL");
        wait_exit(&mut self.daemon, Duration::from_secs(10));
    }

    async fn restart(&mut self) {
        self.daemon = start(&self.setup, "daemon2.log");
        wait_healthy(self.setup.api, &mut self.daemon).await;
    }
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_posts_one_reply_that_answers_the_mention_and_a_restart_posts_nothing_again() {
    let mut r = rig().await;
    let out = r.reply(&[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(
            "posted as acme-social (mastodon:admin@127.0.0.1): http://127.0.0.1/@acme/90000"
        ),
        "{}",
        text(&out)
    );
    let posts = r.posts().await;
    assert_eq!(posts.len(), 1);
    let p = &posts[0];
    assert_eq!(
        p.headers.get("authorization").unwrap().to_str().unwrap(),
        format!("Bearer {TOKEN}")
    );
    let key = p.headers.get("idempotency-key").unwrap().to_str().unwrap();
    assert_eq!(key.len(), 16, "the reply's id: {key}");
    let body: String = url::form_urlencoded::parse(&p.body)
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    assert!(body.contains("in_reply_to_id=4242\n"), "{body}");
    assert!(
        body.contains("status=@jo@127.0.0.1 Sorry about this"),
        "the author is mentioned first: {body}"
    );
    assert!(body.contains("we are on it"), "{body}");

    let m = r.show();
    assert_eq!(m["answered_by"], "mastodon:admin@127.0.0.1", "{m}");
    assert_eq!(m["answer_url"], "http://127.0.0.1/@acme/90000", "{m}");
    let history = m["history"].to_string();
    assert!(
        history.contains("dana")
            && history.contains("cli")
            && history.contains("replied as acme-social"),
        "{history}"
    );
    assert!(!text(&out).contains(TOKEN));

    signal(&r.daemon, "TERM");
    wait_exit(&mut r.daemon, Duration::from_secs(30));
    r.restart().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(r.posts().await.len(), 1, "nothing posted again");
    assert_eq!(r.instance.statuses(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_killed_mid_request_or_mid_retry_posts_the_reply_exactly_once() {
    let mut r = rig().await;
    // killed while its request is at the server (which makes the status, then answers late)
    r.instance.set(Mode::Slow);
    let out = r.reply(&["--wait", "0s"]);
    assert_eq!(out.status.code(), Some(3), "queued: {}", text(&out));
    wait_for("the request at the server", Duration::from_secs(20), || {
        r.instance.statuses() == 1
    })
    .await;
    r.kill();
    r.instance.set(Mode::Ok);
    r.restart().await;
    let setup = &r.setup;
    let mention = r.mention.clone();
    wait_for("the reply recorded", Duration::from_secs(60), || {
        let out = overhear(&["mentions", "show", &mention, "--json"], &setup.config);
        serde_json::from_slice::<Value>(&out.stdout)
            .map(|m| m["answer_url"].is_string())
            .unwrap_or(false)
    })
    .await;
    let posts = r.posts().await;
    assert_eq!(posts.len(), 2, "the same reply asked twice");
    let keys: Vec<&str> = posts
        .iter()
        .map(|p| p.headers.get("idempotency-key").unwrap().to_str().unwrap())
        .collect();
    assert_eq!(keys[0], keys[1], "with the same key");
    assert_eq!(r.instance.statuses(), 1, "one status made");
    assert_eq!(r.show()["answer_url"], "http://127.0.0.1/@acme/90000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_waiting_after_a_503_survives_a_kill_and_goes_out_once() {
    let mut r = rig().await;
    r.instance.set(Mode::Unavailable);
    let out = r.reply(&["--wait", "2s"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("not posted yet"), "{}", text(&out));
    r.kill();
    r.instance.set(Mode::Ok);
    r.restart().await;
    let setup = &r.setup;
    let mention = r.mention.clone();
    wait_for(
        "the reply posted after its backoff",
        Duration::from_secs(60),
        || {
            let out = overhear(&["mentions", "show", &mention, "--json"], &setup.config);
            serde_json::from_slice::<Value>(&out.stdout)
                .map(|m| m["answer_url"].is_string())
                .unwrap_or(false)
        },
    )
    .await;
    assert_eq!(r.instance.statuses(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_leaves_a_visible_failure_and_posts_nothing() {
    let r = rig().await;
    r.instance.set(Mode::BadToken);
    let out = r.reply(&["--json"]);
    assert!(!out.status.success());
    let rec: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rec["state"], "failed", "{rec}");
    assert_eq!(
        rec["last_error"], "Mastodon POST /api/v1/statuses: HTTP 401: The access token is invalid",
        "{rec}"
    );
    assert_eq!(r.instance.statuses(), 0);
    assert!(r.show()["answered_at"].is_null());
    assert!(!text(&out).contains(TOKEN));
}
