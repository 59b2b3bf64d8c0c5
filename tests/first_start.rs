//! The operator's first start, end to end (the real `overhear run` binary with the
//! bundled model, an RSS feed on loopback, a real SMTP server and a real HTTP
//! receiver standing in for Slack): the first poll of a feed with 40 recent posts,
//! 20 of them complaints, sends one message per destination, never one per post; the
//! next new complaint alerts at once; and the default log carries overhear's own
//! news and nobody else's INFO chatter.

mod daemon_support;
#[path = "webhook_support/mod.rs"]
mod hooks;
mod sources_support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use daemon_support::{
    free_port, log_of, mentions, signal, smtp_email, start_smtp, wait_exit, wait_for, wait_healthy,
    wait_two_more_polls, write_test_config, Daemon, KeepOnFailure, Setup,
};
use hooks::Receiver;
use sources_support::serve_get;
use wiremock::{MockServer, ResponseTemplate};

/// Complaint `i`, each worded a little differently.
fn complaint(i: usize) -> String {
    format!("Acme support kept me on hold for {} hours about order {i} and then refused my refund. Awful, never again.", i % 5 + 2)
}

fn praise(i: usize) -> String {
    format!("Huge thanks to Acme, order {i} arrived early and works perfectly. Great product!")
}

/// An RSS feed of `(guid, text, minutes ago)` items, newest first.
fn feed(items: &[(String, String, i64)]) -> String {
    let now = chrono::Utc::now();
    let mut out = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>reviews</title><link>http://reviews.test/</link><description>d</description>",
    );
    for (guid, text, ago) in items {
        let at = (now - chrono::Duration::minutes(*ago)).to_rfc2822();
        out.push_str(&format!(
            "<item><guid>{guid}</guid><title>Review {guid}</title><link>http://reviews.test/{guid}</link><description>{text}</description><author>{guid}@reviews.test (Reviewer {guid})</author><pubDate>{at}</pubDate></item>"
        ));
    }
    out.push_str("</channel></rss>");
    out
}

async fn serve(server: &MockServer, items: &[(String, String, i64)]) {
    server.reset().await;
    serve_get(
        server,
        "/feed.xml",
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/rss+xml")
            .set_body_string(feed(items)),
    )
    .await;
}

/// The daemon with the default log level: no OVERHEAR_LOG, no -v.
fn start_quiet(s: &Setup) -> Daemon {
    let log = std::fs::File::create(s.dir.path().join("run.log")).unwrap();
    Daemon(
        Command::new(env!("CARGO_BIN_EXE_overhear"))
            .args(["run", "--config"])
            .arg(&s.config)
            .env_remove("OVERHEAR_LOG")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

#[tokio::test]
async fn a_first_poll_of_forty_posts_sends_one_message_per_destination_and_the_next_complaint_alerts_at_once(
) {
    let server = MockServer::start().await;
    // 40 recent posts: 20 complaints, 20 thanks, posted in the last 80 minutes
    let mut items: Vec<(String, String, i64)> = (0..40)
        .map(|i| {
            let text = if i % 2 == 0 { complaint(i) } else { praise(i) };
            (format!("r{i}"), text, 2 * i as i64 + 5)
        })
        .collect();
    serve(&server, &items).await;
    let (smtp, mail) = start_smtp();
    let rx = Receiver::start();

    let dir = KeepOnFailure(Some(tempfile::tempdir().unwrap()));
    let slack_url = dir.path().join("slack-url");
    std::fs::write(&slack_url, rx.url("/services/T0/B0/slack")).unwrap();
    let api = free_port();
    let rest = format!(
        "{email}\n[alerts]\nsender_poll = \"200ms\"\nbacklog = \"digest\" # the default, said here because the test helper sets \"alert\"\n\n\
         [[alerts.webhook]]\nname = \"support-slack\"\nkind = \"slack\"\nurl_file = {slack:?}\n\n\
         [[brand]]\nname = \"Acme\"\nquery = \"acme\"\nalert_to = [\"support@acme.test\"]\nalert_webhooks = [\"support-slack\"]\n\n\
         [[source]]\nkind = \"rss\"\nname = \"reviews\"\nurl = \"{url}/feed.xml\"\nevery = \"10s\"\n",
        email = smtp_email(smtp),
        slack = slack_url.display().to_string(),
        url = server.uri(),
    );
    let config: PathBuf = write_test_config(dir.path(), api, "", &rest);
    let s = Setup { dir, config, api };
    let mut d = start_quiet(&s);
    wait_healthy(s.api, &mut d).await;

    // every post is stored and classified, and shown (the inbox reads the same store)
    wait_for("40 classified mentions", Duration::from_secs(120), || {
        let m = mentions(&s);
        m.len() == 40 && m.iter().all(|m| m["sentiment"].is_object())
    })
    .await;
    let stored = mentions(&s);
    let complaints = stored
        .iter()
        .filter(|m| {
            m["sentiment"]["label"] == "negative"
                && m["sentiment"]["scores"]
                    .as_array()
                    .and_then(|s| s.iter().find(|p| p[0] == "negative"))
                    .and_then(|p| p[1].as_f64())
                    .is_some_and(|p| p >= 0.5)
        })
        .count();
    assert!(
        (15..=25).contains(&complaints),
        "the model should call most complaints negative: {complaints}"
    );
    // the RSS author is the reviewer's name, not the word "author"
    assert!(
        stored.iter().all(|m| m["post"]["author"]
            .as_str()
            .unwrap_or("")
            .starts_with("Reviewer r")),
        "{:?}",
        stored
            .iter()
            .map(|m| &m["post"]["author"])
            .collect::<Vec<_>>()
    );

    // one email and one Slack message summarise the backlog
    wait_for(
        "the backlog email and Slack message",
        Duration::from_secs(60),
        || !mail.lock().unwrap().is_empty() && !rx.requests().is_empty(),
    )
    .await;
    // two more polls and many sender passes: nothing else goes out
    wait_two_more_polls(&server, &["/feed.xml"], Duration::from_secs(60)).await;
    {
        let sent = mail.lock().unwrap();
        assert_eq!(sent.len(), 1, "one email, not one per post: {sent:?}");
        let eml = sent[0].data.replace("\r\n ", " ").replace("=\r\n", "");
        assert!(
            eml.contains(&format!("Subject: [overhear] Acme: {complaints} earlier mentions found when overhear started listening")),
            "{eml}"
        );
        assert!(
            eml.contains(&format!("Acme: {complaints} negative")),
            "{eml}"
        );
        assert!(eml.contains("The worst 5 are below"), "{eml}");
    }
    let slack = rx.to("/services/T0/B0/slack");
    assert_eq!(slack.len(), 1, "one Slack message: {slack:?}");
    let text = slack[0].text();
    assert!(
        text.contains(&format!(
            "{complaints} mentions written before overhear listened"
        )),
        "{text}"
    );

    // the next new complaint alerts at once, alone
    items.insert(0, ("new1".into(), complaint(99), 0));
    serve(&server, &items).await;
    wait_for("the new complaint's alert", Duration::from_secs(60), || {
        mail.lock().unwrap().len() >= 2 && rx.to("/services/T0/B0/slack").len() >= 2
    })
    .await;
    wait_two_more_polls(&server, &["/feed.xml"], Duration::from_secs(60)).await;
    {
        let sent = mail.lock().unwrap();
        assert_eq!(sent.len(), 2, "{sent:?}");
        let eml = sent[1].data.replace("\r\n ", " ");
        assert!(
            eml.contains("Subject: [overhear] Acme: negative mention on rss"),
            "{eml}"
        );
        assert!(eml.contains("order 99"), "{eml}");
    }
    assert_eq!(rx.to("/services/T0/B0/slack").len(), 2);

    signal(&d, "TERM");
    assert!(wait_exit(&mut d, Duration::from_secs(30)).success());

    // the default log: overhear's own INFO lines, everyone else's only from WARN up
    let log = log_of(&s, "run.log");
    let info: Vec<&str> = log.lines().filter(|l| l.contains(" INFO ")).collect();
    assert!(
        info.iter().any(|l| l.contains(" INFO overhear")),
        "overhear's own news is shown: {log}"
    );
    let others: Vec<&&str> = info
        .iter()
        .filter(|l| !l.contains(" INFO overhear"))
        .collect();
    assert!(others.is_empty(), "other crates' INFO lines: {others:#?}");
}
