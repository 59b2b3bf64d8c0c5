//! The alerts' one-click action links against the real daemon: an RSS feed on
//! loopback, the bundled model, the file transport writing the alert email into
//! `<data_dir>/mail`, and a user whose email the alert goes to. The links are in
//! both parts of the email; a GET (what a mail scanner does) only asks; the POST
//! acts once, via email, as that user; changed and expired links are refused.

mod alerts_support;
mod api_support;
mod daemon_support;
#[path = "webhook_support/mod.rs"]
mod hooks;
mod inbox_support;
mod sources_support;
mod store_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use overhear::alerts::render::AlertAction;
use overhear::web::links::{sign, Claims, Key, KEY_FILE};
use serde_json::Value;
use wiremock::{MockServer, ResponseTemplate};

use alerts_support::Received;
use daemon_support::{rss, rss_source, wait_for, write_test_config};
use hooks::Receiver;
use inbox_support::{add_user, Browser, EMAIL, USER};

const NEGATIVE: &str =
    "Acme support kept me on hold for three hours and then refused my refund. Awful.";

/// A daemon polling a feed with one negative post of Acme, alerting `EMAIL` with
/// the file transport; with `links`, `public_url` is set and the alerts also go to
/// the Slack webhook "team-chat" (the receiver); without, a mention still new a
/// second after its alert escalates to `LEAD`. The user is added first.
async fn daemon(links: bool) -> (api_support::Daemon, MockServer, Receiver) {
    let feed = MockServer::start().await;
    sources_support::serve_get(
        &feed,
        "/feed.xml",
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/rss+xml")
            // posted ten minutes ago: escalation looks at the last days' posts only
            .set_body_string(rss(&[("r1", "Review", NEGATIVE)])),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let port = api_support::free_port();
    let rx = Receiver::start();
    let slack = dir.path().join("slack-url");
    std::fs::write(&slack, rx.url("/slack")).unwrap();
    let (extra, chat, hooks) = if links {
        (
            format!("public_url = \"http://127.0.0.1:{port}/\"\n"),
            format!(
                "[[alerts.webhook]]\nname = \"team-chat\"\nkind = \"slack\"\nurl_file = {:?}\n\n",
                slack.display().to_string()
            ),
            "alert_webhooks = [\"team-chat\"]\n",
        )
    } else {
        (
            String::new(),
            format!("escalate_after = \"1s\"\nescalate_to = [\"{LEAD}\"]\n\n"),
            "",
        )
    };
    let rest = format!(
        "[email]\ntransport = \"file\"\nfrom = \"overhear <alerts@overhear.test>\"\n\n\
         [alerts]\nsender_poll = \"200ms\"\n\n{chat}\
         [[brand]]\nname = \"Acme\"\nquery = \"acme\"\nalert_to = [\"{EMAIL}\"]\n{hooks}\n{}",
        rss_source("reviews", &format!("{}/feed.xml", feed.uri()))
    );
    let config: PathBuf = write_test_config(dir.path(), port, &extra, &rest);
    add_user(&config, None);
    let d = tokio::task::spawn_blocking(move || api_support::start(dir, config, port))
        .await
        .unwrap();
    (d, feed, rx)
}

fn data(d: &api_support::Daemon) -> PathBuf {
    d.dir.path().join("data")
}

const LEAD: &str = "lead@acme.test";

/// The one alert email, once it is written.
async fn the_email(d: &api_support::Daemon) -> Received {
    emails(d, 1).await.remove(0)
}

/// The `n` emails, once they are written, oldest first.
async fn emails(d: &api_support::Daemon, n: usize) -> Vec<Received> {
    let mail = data(d).join("mail");
    let emls = || -> Vec<PathBuf> {
        std::fs::read_dir(&mail)
            .map(|r| {
                r.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default()
    };
    wait_for("the alert emails", Duration::from_secs(120), || {
        emls().len() >= n
    })
    .await;
    let mut files = emls();
    assert_eq!(files.len(), n, "{n} emails: {files:?}");
    files.sort_by_key(|f| std::fs::metadata(f).and_then(|m| m.modified()).unwrap());
    files
        .iter()
        .map(|f| Received {
            from: String::new(),
            to: Vec::new(),
            raw: std::fs::read_to_string(f).unwrap(),
        })
        .collect()
}

/// The token of the `label` link in the plain-text part.
fn token_in(text: &str, label: &str, base: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{label}: ")))
        .unwrap_or_else(|| panic!("no {label} link in {text}"));
    let url = line.split_once(": ").unwrap().1.trim();
    url.strip_prefix(&format!("{base}/a/"))
        .unwrap_or_else(|| panic!("{url} is not under {base}/a/"))
        .to_string()
}

fn claims_of(token: &str) -> Claims {
    let payload = token.split_once('.').unwrap().0;
    serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap()
}

/// `token` with its payload changed and its MAC kept.
fn tampered(token: &str, change: impl FnOnce(&mut Claims)) -> String {
    let mut c = claims_of(token);
    change(&mut c);
    let tag = token.split_once('.').unwrap().1;
    format!("{}.{tag}", B64.encode(serde_json::to_vec(&c).unwrap()))
}

/// The mention as the API shows it (with the daemon's own token).
async fn mention(d: &api_support::Daemon, id: &str) -> Value {
    let r = api_support::client(Duration::from_secs(30))
        .get(d.url(&format!("/api/mentions/{id}")))
        .header("Authorization", d.auth())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_links_ask_on_get_act_once_on_post_and_refuse_changed_or_expired_ones() {
    let (d, _feed, rx) = daemon(true).await;
    let base = d.url("");
    let email = the_email(&d).await;
    let text = email.part("text/plain").unwrap();
    let html = email.part("text/html").unwrap();
    // kept as an artifact: what the recipient reads
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("inbox_links");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("alert.txt"), &text).unwrap();
    std::fs::write(artifacts.join("alert.html"), &html).unwrap();
    let take = token_in(&text, "I'll take it", &base);
    let resolve = token_in(&text, "Resolved", &base);
    let not_negative = token_in(&text, "Not negative", &base);
    assert!(
        text.contains("Reply on reviews.test: http://reviews.test/r1"),
        "{text}"
    );
    assert!(!text.contains("public_url"), "{text}");
    for t in [&take, &resolve, &not_negative] {
        assert!(html.contains(t.as_str()), "{t} not in {html}");
    }
    assert!(
        html.contains(">Resolved</a>") && html.contains(">Not negative</a>"),
        "{html}"
    );
    let c = claims_of(&resolve);
    assert_eq!(c.recipient, EMAIL);
    assert_eq!(c.action, "resolve");
    let id = c.mention.clone();
    let days = (c.expires_at() - chrono::Utc::now()).num_hours();
    assert!((335..=336).contains(&days), "14 days: {days} h");
    // the key: made on first start, 0600
    let key_file = data(&d).join(KEY_FILE);
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let mut b = Browser::new(&d);
    // a GET (a mail scanner, a preview) asks and changes nothing
    for _ in 0..2 {
        let p = b.get(&format!("/a/{resolve}")).await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert!(p.body.contains("Mark this mention resolved?"), "{}", p.body);
        assert!(p.body.contains("Acme") && p.body.contains("hold for three hours"));
        assert!(p
            .body
            .contains(&format!("name=\"token\" value=\"{resolve}\"")));
        assert!(p.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("form-action 'self'"));
    }
    assert_eq!(mention(&d, &id).await["status"], "new");

    // the Slack message has the same buttons, signed for the webhook
    let slack = rx.wait_for(1, Duration::from_secs(60));
    let blocks = slack[0].json()["blocks"].clone();
    let buttons: Vec<Value> = blocks
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().clone())
        .collect();
    let labels: Vec<&str> = buttons
        .iter()
        .map(|b| b["text"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "Reply on reviews.test",
            "I'll take it",
            "Resolved",
            "Not negative"
        ]
    );
    let chat_token = buttons[2]["url"].as_str().unwrap();
    let chat_token = chat_token.strip_prefix(&format!("{base}/a/")).unwrap();
    let c = claims_of(chat_token);
    assert_eq!(
        (c.recipient.as_str(), c.action.as_str()),
        ("webhook:team-chat", "resolve")
    );
    assert_eq!(c.mention, id);
    let p = b.get(&format!("/a/{chat_token}")).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(
        p.body.contains("Recorded as webhook:team-chat"),
        "{}",
        p.body
    );

    // changed links: 403, nothing changes
    let changed = [
        tampered(&resolve, |c| c.mention = store_like_id(&c.mention)),
        tampered(&resolve, |c| c.action = "ack".into()),
        tampered(&resolve, |c| c.expires += 86_400 * 365),
        tampered(&resolve, |c| c.recipient = "mallory@evil.test".into()),
        format!("{}x", resolve),
    ];
    for bad in &changed {
        let p = b.get(&format!("/a/{bad}")).await;
        assert_eq!(p.status, 403, "{bad}: {}", p.body);
        assert!(p.body.contains("This link is not valid"), "{}", p.body);
        let p = b.post(&format!("/a/{bad}"), &[("token", bad)]).await;
        assert_eq!(p.status, 403, "{}", p.body);
    }
    // a form that is not this link's
    let p = b.post(&format!("/a/{resolve}"), &[("token", &take)]).await;
    assert_eq!(p.status, 403, "{}", p.body);
    // an expired link, signed with the daemon's own key, says so
    let key = Key::load(&data(&d)).unwrap();
    let when = chrono::Utc::now() - chrono::Duration::days(1);
    let old = sign(&key, &Claims::new(&id, AlertAction::Resolve, EMAIL, when));
    for p in [
        b.get(&format!("/a/{old}")).await,
        b.post(&format!("/a/{old}"), &[("token", &old)]).await,
    ] {
        assert_eq!(p.status, 410, "{}", p.body);
        let day = when.format("%Y-%m-%d").to_string();
        assert!(
            p.body.contains(&format!("this link expired on {day}")),
            "{}",
            p.body
        );
        assert!(p.body.contains("open the inbox to act on it"), "{}", p.body);
    }
    assert_eq!(mention(&d, &id).await["status"], "new");

    // "I'll take it": acknowledged, assigned to the user whose email it is, via email
    let done = "now acknowledged (assigned to dana) by dana via email";
    click(&mut b, &take, done).await;
    let m = mention(&d, &id).await;
    assert_eq!(m["status"], "acknowledged");
    assert_eq!(m["assignee"], USER);
    assert_eq!(m["history"][0]["by"], USER);
    assert_eq!(m["history"][0]["via"], "email");
    // again: already done, said kindly, with no button
    let p = click(
        &mut b,
        &take,
        "already acknowledged (assigned to dana) by dana",
    )
    .await;
    assert!(!p.body.contains("name=\"token\""), "{}", p.body);
    // "Resolved", then again, then its GET
    click(&mut b, &resolve, "now resolved by dana via email").await;
    click(&mut b, &resolve, "already resolved by dana via email").await;
    let p = b.get(&format!("/a/{resolve}")).await;
    assert!(p.body.contains("already resolved"), "{}", p.body);
    // "Not negative" on a resolved mention: says where it is, changes nothing
    click(&mut b, &not_negative, "already resolved by dana").await;
    let m = mention(&d, &id).await;
    assert_eq!(m["status"], "resolved");
    assert_eq!(m["history"].as_array().unwrap().len(), 2);

    // reopened, "Not negative" with what it really was: dismissed, kept as feedback
    reopen(&d, &id).await;
    let p = b.get(&format!("/a/{not_negative}")).await;
    assert!(
        p.body.contains("Mark this mention not negative"),
        "{}",
        p.body
    );
    let form = [("token", not_negative.as_str()), ("label", "positive")];
    let p = b.post(&format!("/a/{not_negative}"), &form).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(
        p.body
            .contains("now dismissed (not-negative) by dana via email"),
        "{}",
        p.body
    );
    let m = mention(&d, &id).await;
    assert_eq!(
        (&m["status"], &m["reason"]),
        (&Value::from("dismissed"), &Value::from("not-negative"))
    );
    assert_eq!(m["history"][3]["via"], "email");
}

/// Sends the confirmation form of `token`: a 200 page that says `says`.
async fn click(b: &mut Browser, token: &str, says: &str) -> inbox_support::Page {
    let p = b.post(&format!("/a/{token}"), &[("token", token)]).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains(says), "{says:?} not in {}", p.body);
    p
}

/// Another id of the same shape.
fn store_like_id(id: &str) -> String {
    let mut s: Vec<char> = id.chars().collect();
    if let Some(c) = s.first_mut() {
        *c = if *c == '0' { '1' } else { '0' };
    }
    s.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_public_url_the_email_says_how_to_enable_links_and_untaken_mentions_escalate() {
    let (d, _feed, _rx) = daemon(false).await;
    // the alert, then (at the scheduler's next tick) the escalation
    let mut both = emails(&d, 2).await;
    let (email, overdue) = (both.remove(0), both.remove(0));
    assert!(email.header("To").unwrap().contains(EMAIL));
    assert!(overdue.header("To").unwrap().contains(LEAD));
    let subject = overdue.header("Subject").unwrap();
    assert!(
        subject.starts_with("[overhear] overdue: Acme:"),
        "{subject}"
    );
    let why = overdue.part("text/plain").unwrap();
    assert!(why.contains("still new, nobody has taken it"), "{why}");
    // once: later ticks queue nothing more
    tokio::time::sleep(Duration::from_secs(35)).await;
    assert_eq!(emails(&d, 2).await.len(), 2);
    let text = email.part("text/plain").unwrap();
    let html = email.part("text/html").unwrap();
    for part in [&text, &html] {
        assert!(part.contains("[daemon] public_url"), "{part}");
        assert!(!part.contains("/a/"), "{part}");
    }
    assert!(!text.contains("I'll take it: "), "{text}");
    assert!(text.contains("Reply on reviews.test: "), "{text}");
    // the key is made anyway, so links work once public_url is set
    assert!(Path::new(&data(&d).join(KEY_FILE)).exists());
}

/// `POST /api/mentions/ID/reopen` (with the daemon's own token).
async fn reopen(d: &api_support::Daemon, id: &str) {
    let r = api_support::client(Duration::from_secs(30))
        .post(d.url(&format!("/api/mentions/{id}/reopen")))
        .header("Authorization", d.auth())
        .json(&serde_json::json!({"by": "sam"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_link_stays_used_after_a_reopen_and_links_die_with_their_user_or_recipient() {
    let (d, _feed, rx) = daemon(true).await;
    let base = d.url("");
    let text = the_email(&d).await.part("text/plain").unwrap();
    let take = token_in(&text, "I'll take it", &base);
    let resolve = token_in(&text, "Resolved", &base);
    let id = claims_of(&take).mention;
    let mut b = Browser::new(&d);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    click(
        &mut b,
        &take,
        "now acknowledged (assigned to dana) by dana via email",
    )
    .await;
    reopen(&d, &id).await;
    assert_eq!(mention(&d, &id).await["status"], "new");
    // the same link again, GET or POST: it says what was done, by whom, when
    for p in [
        b.get(&format!("/a/{take}")).await,
        b.post(&format!("/a/{take}"), &[("token", &take)]).await,
    ] {
        assert!(p.body.contains("This link was already used"), "{}", p.body);
        assert!(
            p.body.contains("I&#x27;ll take it by dana on")
                || p.body.contains("I'll take it by dana on"),
            "{}",
            p.body
        );
        assert!(p.body.contains(&today), "{}", p.body);
        assert!(!p.body.contains("name=\"token\""), "no button: {}", p.body);
    }
    let m = mention(&d, &id).await;
    assert_eq!(m["status"], "new", "the reused link changed nothing");
    assert_eq!(m["history"].as_array().unwrap().len(), 2, "{m}");

    // the chat's link dies with its webhook: the brand no longer alerts it
    let slack = rx.wait_for(1, Duration::from_secs(60));
    let chat = slack[0].json()["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().clone())
        .find(|e| e["text"]["text"] == "Resolved")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .strip_prefix(&format!("{base}/a/"))
        .unwrap()
        .to_string();
    assert_eq!(b.get(&format!("/a/{chat}")).await.status, 200);
    let cfg = std::fs::read_to_string(&d.config).unwrap();
    std::fs::write(
        &d.config,
        cfg.replace("alert_webhooks = [\"team-chat\"]\n", ""),
    )
    .unwrap();
    let r = api_support::client(Duration::from_secs(30))
        .post(d.url("/api/reload"))
        .header("Authorization", d.auth())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text().await);
    for p in [
        b.get(&format!("/a/{chat}")).await,
        b.post(&format!("/a/{chat}"), &[("token", &chat)]).await,
    ] {
        assert_eq!(p.status, 410, "{}", p.body);
        assert!(p.body.contains("This link no longer works"), "{}", p.body);
    }

    // the email's links die with the user they were sent to
    assert_eq!(b.get(&format!("/a/{resolve}")).await.status, 200);
    let out = api_support::overhear(&d.config, &["user", "remove", USER]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for p in [
        b.get(&format!("/a/{resolve}")).await,
        b.post(&format!("/a/{resolve}"), &[("token", &resolve)])
            .await,
    ] {
        assert_eq!(p.status, 410, "{}", p.body);
        assert!(p.body.contains("This link no longer works"), "{}", p.body);
    }
    let m = mention(&d, &id).await;
    assert_eq!(m["status"], "new", "the revoked links changed nothing");
    assert_eq!(m["history"].as_array().unwrap().len(), 2, "{m}");
}
