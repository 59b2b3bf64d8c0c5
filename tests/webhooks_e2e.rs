//! Webhooks end to end: the real `overhear run` binary with the bundled model, an
//! RSS feed on loopback, and a real HTTP receiver standing in for Slack and for a
//! signed JSON endpoint. Also `overhear check` and `overhear test-webhook`.

mod daemon_support;
#[path = "webhook_support/mod.rs"]
mod hooks;
mod sources_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use daemon_support::{
    free_port, rss, rss_source, signal, start, wait_exit, wait_for, wait_healthy,
    wait_two_more_polls, write_test_config, KeepOnFailure, Setup,
};
use hooks::{verify_standard_webhook, Receiver, SECRET};
use sources_support::{overhear, overhear_ok, serve_get};
use wiremock::{MockServer, ResponseTemplate};

const NEGATIVE: &str =
    "Acme support kept me on hold for three hours and then refused my refund. Awful.";
const POSITIVE: &str = "Huge thanks to Acme, the fix works perfectly now. Great product!";

/// `[[alerts.webhook]]` "support-slack" (Slack) and "hook" (JSON) posting to
/// `rx`, their URL and secret in files under `dir`; Acme alerts only them.
fn webhooks_toml(dir: &Path, rx: &Receiver) -> String {
    let (slack, hook, secret) = (
        dir.join("slack-url"),
        dir.join("hook-url"),
        dir.join("hook-secret"),
    );
    std::fs::write(&slack, rx.url("/services/T0/B0/slack")).unwrap();
    std::fs::write(&hook, rx.url("/hook")).unwrap();
    std::fs::write(&secret, SECRET).unwrap();
    format!(
        "[alerts]\nsender_poll = \"200ms\"\n\n\
         [[alerts.webhook]]\nname = \"support-slack\"\nkind = \"slack\"\nurl_file = {slack:?}\n\n\
         [[alerts.webhook]]\nname = \"hook\"\nkind = \"json\"\nurl_file = {hook:?}\nsecret_file = {secret:?}\n\n\
         [[brand]]\nname = \"Acme\"\nquery = \"acme\"\nalert_webhooks = [\"support-slack\", \"hook\"]\n\n",
        slack = slack.display().to_string(),
        hook = hook.display().to_string(),
        secret = secret.display().to_string(),
    )
}

fn setup(rx: &Receiver, feed: &str) -> Setup {
    let dir = KeepOnFailure(Some(tempfile::tempdir().unwrap()));
    let api = free_port();
    let rest = format!(
        "{}{}",
        webhooks_toml(dir.path(), rx),
        rss_source("reviews", feed)
    );
    let config: PathBuf = write_test_config(dir.path(), api, "", &rest);
    Setup { dir, config, api }
}

#[tokio::test]
async fn the_negative_post_reaches_slack_and_the_json_webhook_exactly_once() {
    let feed = MockServer::start().await;
    serve_get(
        &feed,
        "/feed.xml",
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/rss+xml")
            .set_body_string(rss(&[
                ("r1", "Review", NEGATIVE),
                ("r2", "Thanks", POSITIVE),
            ])),
    )
    .await;
    let rx = Receiver::start();
    let s = setup(&rx, &format!("{}/feed.xml", feed.uri()));
    overhear_ok(&["check"], &s.config);
    let mut d = start(&s, "run1.log");
    wait_healthy(s.api, &mut d).await;
    wait_for(
        "the Slack message and the JSON webhook",
        Duration::from_secs(90),
        || rx.requests().len() >= 2,
    )
    .await;
    // polls keep coming; nothing is sent again (two more polls: one whole interval
    // after the next), nor after a restart
    wait_two_more_polls(&feed, &["/feed.xml"], Duration::from_secs(60)).await;
    // a destination's state is for the token holder only
    let stranger = reqwest::get(format!("http://127.0.0.1:{}/healthz", s.api))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(stranger, "ok\n");
    let health = s.api_get("/healthz").await;
    assert!(health.starts_with("ok\n"), "{health}");
    assert!(
        health.contains("destination support-slack (slack): ok"),
        "{health}"
    );
    assert!(health.contains("destination hook (json): ok"), "{health}");
    assert!(
        !health.contains("/services/T0"),
        "the URL is a secret: {health}"
    );
    let metrics = s.api_get("/metrics").await;
    assert!(
        metrics.contains("overhear_destination_sent_total{destination=\"support-slack\"} 1"),
        "{metrics}"
    );
    signal(&d, "TERM");
    assert!(wait_exit(&mut d, Duration::from_secs(30)).success());
    let mut d = start(&s, "run2.log");
    wait_healthy(s.api, &mut d).await;
    wait_two_more_polls(&feed, &["/feed.xml"], Duration::from_secs(60)).await;
    signal(&d, "TERM");
    wait_exit(&mut d, Duration::from_secs(30));

    let slack = rx.to("/services/T0/B0/slack");
    assert_eq!(slack.len(), 1, "exactly one Slack message: {slack:?}");
    // kept as an artifact: what a Slack channel receives
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("webhooks");
    std::fs::create_dir_all(&artifacts).unwrap();
    let pretty = serde_json::to_string_pretty(&slack[0].json()).unwrap();
    std::fs::write(artifacts.join("slack-message.json"), pretty).unwrap();
    let text = slack[0].text();
    assert!(text.contains("hold for three hours"), "{text}");
    assert!(
        !text.contains("Great product"),
        "the positive post does not alert"
    );
    let json = rx.to("/hook");
    assert_eq!(json.len(), 1, "exactly one JSON webhook: {json:?}");
    assert!(verify_standard_webhook(SECRET, &json[0]));
    let body = json[0].json();
    assert_eq!(body["kind"], "mention");
    assert_eq!(body["brand"], "Acme");
    // the mention as `overhear mentions show --json` prints it
    let id = body["mention"]["id"].as_str().unwrap();
    let shown = overhear_ok(&["mentions", "show", id, "--json"], &s.config);
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["post"], body["mention"]["post"]);
}

#[tokio::test]
async fn check_and_test_webhook_say_what_is_wrong_and_what_the_server_answered() {
    let rx = Receiver::start();
    let s = setup(&rx, "http://127.0.0.1:9/feed.xml");
    let out = overhear_ok(&["test-webhook", "support-slack"], &s.config);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("accepted: 200 OK: ok"), "{stdout}");
    let sent = rx.requests();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].text().contains("test message"),
        "{}",
        sent[0].text()
    );
    let out = overhear_ok(&["test-webhook", "hook"], &s.config);
    assert!(String::from_utf8_lossy(&out.stdout).contains("accepted"));
    assert!(verify_standard_webhook(SECRET, &rx.requests()[1]));

    // a refusal is reported with the server's answer, never with the URL
    rx.respond(404, &[]);
    let out = overhear(&["test-webhook", "support-slack"], &s.config);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused") && err.contains("404"), "{err}");
    assert!(!err.contains("/services/T0"), "{err}");

    // a name no webhook has, and a URL variable that is not set
    let text = std::fs::read_to_string(&s.config).unwrap();
    let bad = s.dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        text.replace(
            "alert_webhooks = [\"support-slack\", \"hook\"]",
            "alert_webhooks = [\"support-slak\"]",
        ),
    )
    .unwrap();
    let out = overhear(&["check"], &bad);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no [[alerts.webhook]] is named \"support-slak\""),
        "{err}"
    );
    let env = s.dir.path().join("env.toml");
    let slack_file = format!(
        "url_file = {:?}",
        s.dir.path().join("slack-url").display().to_string()
    );
    std::fs::write(
        &env,
        text.replace(&slack_file, "url_env = \"OVERHEAR_TEST_UNSET_SLACK_URL\""),
    )
    .unwrap();
    let out = overhear(&["check"], &env);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("OVERHEAR_TEST_UNSET_SLACK_URL is not set"),
        "{err}"
    );
}
