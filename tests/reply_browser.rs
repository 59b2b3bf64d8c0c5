//! Replying from the inbox in a real browser (headless Chromium over WebDriver,
//! fantoccini) against the real `overhear run`, with a loopback Mastodon server
//! (wiremock, answering with recorded responses) standing in for the reply
//! account's home server: a reply posted from the mention page reaches Mastodon
//! exactly once, even after a restart; with `[reply] require_approval` a draft waits
//! until another user approves (and edits) it; a text over the limit cannot be sent.
//! The mention page after posting is kept as `target/tmp/reply/posted.png`.
//!
//! Needs `chromium` and `chromium-driver`; without them the tests are recorded as
//! skipped, or fail when OVERHEAR_REQUIRE_BROWSER=1.

mod api_support;
mod browser_support;
mod inbox_support;
mod skip_support;
mod store_support;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use api_support::{free_port, start, write_config, Daemon, TOKEN};
use browser_support::*;
use chrono::Utc;
use fantoccini::{Client, Locator};
use inbox_support::{add_named_user, restart, PASSWORD};
use overhear::store::Store;
use serde_json::Value;
use store_support::{brand, post, sentiment};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The reply account's access token (read from a file by the daemon).
const MASTODON_TOKEN: &str = "mastodon-test-token-7f3a9c";
/// The complaint's id on the account's own instance.
const STATUS_ID: &str = "113000000000000042";
const AUTHOR: &str = "alice";
const SORRY: &str = "Hi {author}, sorry about this. Could you DM us your order number?";

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/reply/mastodon")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn json(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/json; charset=utf-8")
        .set_body_string(body)
}

/// The account's home server: its instance (limit 500), its credentials, and the
/// recorded answer to a reply.
async fn mastodon() -> MockServer {
    let server = MockServer::start().await;
    let mut instance: Value = serde_json::from_str(&fixture("instance_v2.json")).unwrap();
    instance["configuration"]["statuses"]["max_characters"] = 500.into();
    for (p, body) in [
        ("/api/v2/instance", instance.to_string()),
        (
            "/api/v1/accounts/verify_credentials",
            fixture("verify_credentials.json"),
        ),
    ] {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(json(body))
            .mount(&server)
            .await;
    }
    // the recorded reply, made now on this server
    let mut reply: Value = serde_json::from_str(&fixture("status_reply_mastodonpy.json")).unwrap();
    reply["created_at"] = Utc::now().to_rfc3339().into();
    reply["url"] = format!("{}/@admin/{}", server.uri(), reply["id"].as_str().unwrap()).into();
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .respond_with(json(reply.to_string()))
        .mount(&server)
        .await;
    server
}

/// The complaint, a Mastodon status polled from the account's own instance (its
/// host), stored as the source stores it; its mention id.
fn store_complaint(data: &Path, instance: &str) -> String {
    let host = url::Url::parse(instance).unwrap();
    let host = host.host_str().unwrap();
    let text = "acme lost my order twice and support never answers";
    let mut p = post(
        "mastodon",
        &format!("{host}:{STATUS_ID}"),
        &format!("{instance}/@{AUTHOR}/{STATUS_ID}"),
        text,
        Utc::now() - chrono::Duration::minutes(5),
    );
    p.author = Some(AUTHOR.into());
    p.site = host.to_string();
    let s = Store::open(data).unwrap();
    let up = s
        .upsert_mention(&p, &[brand("Acme")], p.created_at)
        .unwrap();
    s.set_sentiment(up.id(), &sentiment("negative", 0.95))
        .unwrap();
    up.id().to_string()
}

/// A daemon whose brand Acme may answer as the Mastodon account on `instance`,
/// with the saved reply "sorry", users dana and lee, and the complaint stored; the
/// daemon and the mention's id.
fn daemon(instance: &str, require_approval: bool) -> (Daemon, String) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(
        dir.path(),
        &format!("127.0.0.1:{port}"),
        &format!("api_token_env = \"{}\"", api_support::TOKEN_ENV),
    );
    let token = dir.path().join("mastodon-token");
    std::fs::write(&token, MASTODON_TOKEN).unwrap();
    // the config ends inside Acme's [[brand]]
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&config)
        .unwrap();
    write!(
        f,
        "reply_as = [\"acme-social\"]\n\n[[reply_account]]\nname = \"acme-social\"\nkind = \"mastodon\"\ninstance = \"{instance}\"\ntoken_file = \"{}\"\n\n[[reply_template]]\nname = \"sorry\"\ntext = \"{SORRY}\"\n\n[reply]\nrequire_approval = {require_approval}\n",
        token.display()
    )
    .unwrap();
    drop(f);
    let id = store_complaint(&dir.path().join("data"), instance);
    add_named_user(&config, "dana", "dana@acme.test", None);
    add_named_user(&config, "lee", "lee@acme.test", None);
    (start(dir, config, port), id)
}

/// The requests `server` saw of `m` on `p`.
async fn seen(server: &MockServer, m: &str, p: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.method.as_str() == m && r.url.path() == p)
        .collect()
}

async fn posts(server: &MockServer) -> Vec<Request> {
    seen(server, "POST", "/api/v1/statuses").await
}

/// A form body's fields.
fn form(r: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&r.body).into_owned().collect()
}

fn field(r: &Request, name: &str) -> String {
    form(r)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {name} in {:?}", form(r)))
}

/// The mention as the daemon's API serves it.
async fn mention(d: &Daemon, id: &str) -> Value {
    reqwest::Client::new()
        .get(d.url(&format!("/api/mentions/{id}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Reloads `/m/ID` until its reply shows `state`.
async fn wait_reply_state(c: &Client, url: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        c.goto(url).await.unwrap();
        if let Ok(e) = c.find(Locator::Css("li.reply-item .reply-state")).await {
            if e.text().await.unwrap_or_default() == state {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the reply never became {state:?}:\n{}",
            c.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn value_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Picks the saved reply "sorry" in the mention page's reply form; the text it
/// filled in.
async fn pick_sorry(c: &Client) -> String {
    click(
        c,
        "form.reply-form select.reply-template option[value=sorry]",
    )
    .await;
    let text = value_of(c, "form.reply-form textarea[name=text]").await;
    assert_eq!(
        text,
        SORRY.replace("{author}", AUTHOR),
        "the saved reply, filled"
    );
    text
}

#[test]
fn a_reply_posted_from_the_mention_page_reaches_mastodon_once() {
    let Some(drv) = driver() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(mastodon());
    let (mut d, id) = daemon(&server.uri(), false);
    let base = d.url("");
    let page = format!("{base}/m/{id}");
    let (c, text) = rt.block_on(async {
        let c = browser(&drv).await;
        login(&c, &base, "dana", PASSWORD).await;
        // the inbox row offers the reply too
        wait_text(
            &c,
            &format!("li[data-id=\"{id}\"] details.reply-row summary"),
            "Reply as acme-social",
        )
        .await;
        c.goto(&page).await.unwrap();
        wait_text(&c, "section.reply", "Reply as").await;
        let text = pick_sorry(&c).await;
        let n = text.chars().count();
        assert_eq!(
            text_of(&c, "form.reply-form .reply-count").await,
            format!("{n} / 500 characters")
        );
        assert_eq!(
            text_of(&c, "form.reply-form button.post-reply").await,
            "Post reply"
        );
        click(&c, "form.reply-form button.post-reply").await;
        wait_reply_state(&c, &page, "posted").await;
        let link = c
            .find(Locator::Css("li.reply-item a.reply-url"))
            .await
            .unwrap();
        let href = link.attr("href").await.unwrap().unwrap();
        assert!(href.ends_with("/@admin/117020583258292382"), "{href}");
        assert!(text_of(&c, "li.reply-item").await.contains("by dana"));
        let history = text_of(&c, ".history").await;
        assert!(
            history.contains("dana") && history.contains("replied as acme-social"),
            "{history}"
        );
        c.set_window_size(1280, 1100).await.unwrap();
        shot(&c, "reply/posted.png").await;
        no_console_errors(&c, &drv).await;

        let sent = posts(&server).await;
        assert_eq!(sent.len(), 1, "exactly one reply reached Mastodon");
        let r = &sent[0];
        assert_eq!(
            r.headers.get("authorization").unwrap().to_str().unwrap(),
            format!("Bearer {MASTODON_TOKEN}")
        );
        let key = r
            .headers
            .get("idempotency-key")
            .expect("an Idempotency-Key");
        assert!(!key.is_empty());
        assert_eq!(field(r, "in_reply_to_id"), STATUS_ID);
        let status = field(r, "status");
        assert!(
            status.starts_with(&format!("@{AUTHOR}@127.0.0.1 ")) && status.ends_with(&text),
            "the author is mentioned, then the text: {status:?}"
        );

        let m = mention(&d, &id).await;
        assert!(m["answered_at"].is_string(), "{m}");
        assert_eq!(m["answered_by"], "mastodon:admin@127.0.0.1", "{m}");
        assert_eq!(m["answer_url"].as_str(), Some(href.as_str()), "{m}");
        (c, text)
    });
    // a restart sends nothing again
    restart(&mut d);
    rt.block_on(async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        c.goto(&page).await.unwrap();
        wait_text(&c, "li.reply-item .reply-state", "posted").await;
        assert_eq!(
            posts(&server).await.len(),
            1,
            "still one reply after a restart"
        );
        assert!(mention(&d, &id).await["answer_url"].is_string());
        assert!(text_of(&c, "li.reply-item").await.contains(&text));
        c.close().await.unwrap();
    });
}

#[test]
fn a_draft_waits_for_another_user_who_approves_it() {
    let Some(drv) = driver() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(mastodon());
    let (d, id) = daemon(&server.uri(), true);
    let base = d.url("");
    let page = format!("{base}/m/{id}");
    rt.block_on(async {
        let dana = browser(&drv).await;
        login(&dana, &base, "dana", PASSWORD).await;
        dana.goto(&page).await.unwrap();
        pick_sorry(&dana).await;
        assert_eq!(
            text_of(&dana, "form.reply-form button.post-reply").await,
            "Save for approval"
        );
        click(&dana, "form.reply-form button.post-reply").await;
        wait_text(
            &dana,
            "li.reply-item .reply-state",
            "reply waiting for approval",
        )
        .await;
        assert!(
            dana.find_all(Locator::Css("form.approve"))
                .await
                .unwrap()
                .is_empty(),
            "the writer cannot approve their own draft"
        );
        // the inbox row says so too
        dana.goto(&format!("{base}/")).await.unwrap();
        wait_text(
            &dana,
            &format!("li[data-id=\"{id}\"] span.waiting"),
            "reply waiting for approval",
        )
        .await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(posts(&server).await.is_empty(), "a draft is not posted");
        dana.close().await.unwrap();

        // lee, in another browser session, edits it and approves
        let lee = browser(&drv).await;
        login(&lee, &base, "lee", PASSWORD).await;
        lee.goto(&page).await.unwrap();
        wait_text(&lee, "li.reply-item", "by dana").await;
        let edited = "Hi alice, so sorry about this. DM us your order number and we fix it today.";
        let area = lee
            .find(Locator::Css("form.approve textarea[name=text]"))
            .await
            .unwrap();
        area.clear().await.unwrap();
        area.send_keys(edited).await.unwrap();
        let approve = lee.find(Locator::Css("form.approve button")).await.unwrap();
        assert_eq!(approve.text().await.unwrap(), "Approve and post");
        approve.click().await.unwrap();
        wait_reply_state(&lee, &page, "posted").await;
        let item = text_of(&lee, "li.reply-item").await;
        assert!(
            item.contains("by dana") && item.contains("approved by lee"),
            "{item}"
        );
        assert!(text_of(&lee, ".history").await.contains("dana"));
        no_console_errors(&lee, &drv).await;

        let sent = posts(&server).await;
        assert_eq!(sent.len(), 1, "exactly one reply reached Mastodon");
        let status = field(&sent[0], "status");
        assert!(status.ends_with(edited), "lee's edited text: {status:?}");
        assert_eq!(field(&sent[0], "in_reply_to_id"), STATUS_ID);
        lee.close().await.unwrap();
    });
}

#[test]
fn a_text_over_the_limit_cannot_be_posted() {
    let Some(drv) = driver() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(mastodon());
    let (d, id) = daemon(&server.uri(), false);
    let base = d.url("");
    rt.block_on(async {
        let c = browser(&drv).await;
        login(&c, &base, "dana", PASSWORD).await;
        c.goto(&format!("{base}/m/{id}")).await.unwrap();
        let area = c
            .find(Locator::Css("form.reply-form textarea[name=text]"))
            .await
            .unwrap();
        let button = c
            .find(Locator::Css("form.reply-form button.post-reply"))
            .await
            .unwrap();
        area.send_keys(&"é".repeat(500)).await.unwrap();
        wait_text(&c, "form.reply-form .reply-count", "500 / 500 characters").await;
        assert!(button.is_enabled().await.unwrap(), "500 fits");
        area.send_keys("!").await.unwrap();
        wait_text(&c, "form.reply-form .reply-count", "501 / 500 characters").await;
        assert!(!button.is_enabled().await.unwrap(), "501 does not");
        let over = c
            .find(Locator::Css("form.reply-form .reply-count.over"))
            .await;
        assert!(over.is_ok(), "the count is marked over the limit");
        // a saved reply brings it back under
        pick_sorry(&c).await;
        assert!(button.is_enabled().await.unwrap());
        no_console_errors(&c, &drv).await;
        c.close().await.unwrap();
    });
    assert!(rt.block_on(posts(&server)).is_empty(), "nothing was posted");
}
