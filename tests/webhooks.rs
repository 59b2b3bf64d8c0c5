//! Webhook delivery through the outbox, against a real HTTP receiver on loopback:
//! exactly once per mention and destination, the Standard Webhooks signature,
//! retries (500s, a receiver down for a minute, 429 with `Retry-After`), permanent
//! refusals, digests and notices, per-webhook labels, a stuck webhook beside email,
//! and hostile post text. SIGKILL is in tests/webhooks_crash.rs.

#[path = "webhook_support/mod.rs"]
mod hooks;
#[path = "webhook_support/rig.rs"]
mod rig;
#[path = "alerts_support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hooks::{verify_standard_webhook, Receiver, SECRET};
use overhear::alerts::{
    build_transport, build_webhooks, Alerter, Clock, OutboxState, Sender, SystemClock,
};
use overhear::store::Store;
use rig::{hostile, Rig};
use support::{alerts_config, file_email, mention, mention_now};

#[tokio::test]
async fn slack_and_json_each_get_the_negative_post_once_and_the_signature_verifies() {
    let rx = Receiver::start();
    let r = Rig::new(rx.port, &[("slack", "slack"), ("hook", "json")], "");
    assert_eq!(r.queue(&mention("7", 0.95)), 2, "one entry per destination");
    let rep = r.sender().deliver_due().await.unwrap();
    assert_eq!(rep.webhook_messages, 2, "{rep:?}");
    // nothing twice: a second pass and a re-queue of the same mention send nothing
    assert_eq!(r.queue(&mention("7", 0.95)), 0);
    assert_eq!(r.sender().deliver_due().await.unwrap().webhook_messages, 0);
    let slack = rx.to("/slack");
    assert_eq!(slack.len(), 1);
    let msg = slack[0].json();
    let blocks = msg["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    let section = blocks[1]["text"]["text"].as_str().unwrap();
    assert!(
        section.contains("*acme corp*"),
        "matched term in bold: {section}"
    );
    let button = &blocks[3]["elements"][0];
    assert_eq!(button["text"]["text"], "Reply on Hacker News");
    assert_eq!(button["url"], "https://news.ycombinator.com/item?id=7");
    let json = rx.to("/hook");
    assert_eq!(json.len(), 1);
    assert!(
        verify_standard_webhook(SECRET, &json[0]),
        "{:?}",
        json[0].headers
    );
    let body = json[0].json();
    assert_eq!(body["version"], 1);
    assert_eq!(body["kind"], "mention");
    assert_eq!(body["id"], json[0].header("webhook-id").unwrap());
    assert_eq!(body["mention"]["post"]["id"], "hackernews:7");
    assert_eq!(body["alert"]["label"], "negative");
    // a tampered body does not verify
    let mut forged = json[0].clone();
    forged.body = forged.text().replace("negative", "positive").into_bytes();
    assert!(!verify_standard_webhook(SECRET, &forged));
}

#[tokio::test]
async fn a_receiver_answering_500_twice_then_200_gets_the_message_once_with_one_id() {
    let rx = Receiver::start();
    rx.respond(500, &[]);
    rx.respond(500, &[]);
    let r = Rig::new(
        rx.port,
        &[("hook", "json")],
        "retry_initial = \"10s\"\nretry_max = \"1m\"",
    );
    r.queue(&mention("8", 0.95));
    let s = r.sender();
    assert_eq!(s.deliver_due().await.unwrap().retried.len(), 1);
    // nothing before the backoff
    r.advance(5);
    s.deliver_due().await.unwrap();
    assert_eq!(rx.requests().len(), 1);
    r.advance(10);
    assert_eq!(s.deliver_due().await.unwrap().retried.len(), 1);
    r.advance(30);
    assert_eq!(s.deliver_due().await.unwrap().webhook_messages, 1);
    r.advance(3600);
    s.deliver_due().await.unwrap();
    let seen = rx.requests();
    let statuses: Vec<u16> = seen.iter().map(|q| q.status).collect();
    assert_eq!(statuses, [500, 500, 200]);
    let ids: Vec<&str> = seen
        .iter()
        .map(|q| q.header("webhook-id").unwrap())
        .collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "the same webhook-id on every retry: {ids:?}"
    );
    assert!(seen.iter().all(|q| verify_standard_webhook(SECRET, q)));
    assert_eq!(r.states(), [OutboxState::Sent]);
}

#[tokio::test]
async fn a_receiver_down_for_a_minute_then_back_gets_every_message_once() {
    let port = support::free_port();
    let r = Rig::new(
        port,
        &[("slack", "slack"), ("hook", "json")],
        "retry_initial = \"5s\"\nretry_max = \"20s\"",
    );
    for id in ["21", "22", "23"] {
        r.queue(&mention(id, 0.95));
    }
    let s = r.sender();
    // nobody listens for a minute: every pass fails to connect, nothing is lost
    for _ in 0..12 {
        let rep = s.deliver_due().await.unwrap();
        assert!(rep.sent.is_empty() && rep.failed.is_empty(), "{rep:?}");
        r.advance(5);
    }
    let rx = Receiver::start_on(port);
    r.advance(30);
    let rep = s.deliver_due().await.unwrap();
    assert_eq!(rep.sent.len(), 6, "{rep:?}");
    r.advance(3600);
    s.deliver_due().await.unwrap();
    assert_eq!(rx.to("/slack").len(), 3);
    let json = rx.to("/hook");
    assert_eq!(json.len(), 3);
    let mut posts: Vec<String> = json
        .iter()
        .map(|q| {
            q.json()["mention"]["post"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    posts.sort();
    assert_eq!(posts, ["hackernews:21", "hackernews:22", "hackernews:23"]);
    assert!(r.states().iter().all(|s| *s == OutboxState::Sent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_is_honoured_before_the_next_request() {
    let rx = Receiver::start();
    rx.respond(429, &[("retry-after", "2")]);
    let r = Rig::new(
        rx.port,
        &[("slack", "slack")],
        "retry_initial = \"50ms\"\nsender_poll = \"100ms\"",
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    r.store
        .enqueue(&r.alerter.evaluate(&mention_now("9", 0.95), clock.now()))
        .unwrap();
    r.store
        .enqueue(&r.alerter.evaluate(&mention_now("10", 0.95), clock.now()))
        .unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(overhear::alerts::run_sender(
        r.sender_with_clock(clock),
        cancel.clone(),
    ));
    let seen = tokio::task::spawn_blocking(move || {
        let seen = rx.wait_for(3, Duration::from_secs(20));
        (seen, rx)
    })
    .await
    .unwrap()
    .0;
    cancel.cancel();
    task.await.unwrap();
    assert_eq!(seen[0].status, 429);
    let waited = seen[1].at - seen[0].at;
    assert!(
        waited >= Duration::from_millis(1950),
        "the next request came {waited:?} after the 429 (Retry-After: 2)"
    );
    assert_eq!(
        seen.len(),
        3,
        "the paused message and the other one: {seen:?}"
    );
    assert!(seen[1..].iter().all(|q| q.status == 200));
}

#[tokio::test]
async fn a_refused_webhook_gives_up_at_once_and_tells_the_admins() {
    let rx = Receiver::start();
    rx.respond(404, &[]);
    let r = Rig::new(
        rx.port,
        &[("slack", "slack")],
        "admin_to = [\"ops@acme.test\"]",
    );
    r.queue(&mention("11", 0.95));
    let rep = r.sender().deliver_due().await.unwrap();
    assert_eq!(rep.failed.len(), 1, "{rep:?}");
    assert!(rep.failed[0].1.contains("404"), "{rep:?}");
    assert!(
        !rep.failed[0].1.contains("127.0.0.1"),
        "the URL is a secret: {rep:?}"
    );
    r.advance(3600);
    let rep = r.sender().deliver_due().await.unwrap();
    assert_eq!(rep.emails, 1, "the notice to ops: {rep:?}");
    assert_eq!(rx.requests().len(), 1, "never retried");
    let mail: Vec<_> = std::fs::read_dir(r.dir.path().join("mail"))
        .unwrap()
        .collect();
    assert_eq!(mail.len(), 1);
}

#[tokio::test]
async fn a_hostile_post_arrives_inert_in_every_format() {
    let rx = Receiver::start();
    let r = Rig::new(
        rx.port,
        &[
            ("slack", "slack"),
            ("discord", "discord"),
            ("teams", "teams"),
            ("hook", "json"),
        ],
        "",
    );
    r.queue(&hostile("12"));
    assert_eq!(r.sender().deliver_due().await.unwrap().webhook_messages, 4);
    let slack = rx.to("/slack")[0].text();
    for raw in ["<!channel>", "<script>", "<https://evil"] {
        assert!(
            !slack.contains(raw),
            "{raw} reached Slack as markup: {slack}"
        );
    }
    assert!(slack.contains("&lt;!channel&gt;"), "{slack}");
    let discord = rx.to("/discord")[0].json();
    assert_eq!(discord["allowed_mentions"]["parse"], serde_json::json!([]));
    let d = discord.to_string();
    assert!(!d.contains("@everyone") && !d.contains("@here"), "{d}");
    let teams = rx.to("/teams")[0].json();
    let text = teams["attachments"][0]["content"]["body"][1]["items"][1]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains("\\*\\*now\\*\\*"),
        "markdown stays text: {text}"
    );
    let json = rx.to("/hook")[0].json();
    assert_eq!(
        json["mention"]["post"]["text"].as_str().unwrap(),
        hostile("12").post.text,
        "the JSON body carries the text as data, unchanged"
    );
}

#[tokio::test]
async fn a_digest_of_twelve_goes_to_slack_as_two_messages_and_to_json_as_twelve() {
    let rx = Receiver::start();
    let r = Rig::new(
        rx.port,
        &[("slack", "slack"), ("hook", "json")],
        "mode = \"digest\"\ndigest_every = \"1h\"",
    );
    for i in 0..12 {
        r.queue(&mention(&format!("3{i:02}"), 0.95));
    }
    assert_eq!(
        r.sender().deliver_due().await.unwrap().sent.len(),
        0,
        "not before the slot"
    );
    r.advance(3600);
    let rep = r.sender().deliver_due().await.unwrap();
    assert_eq!(rep.sent.len(), 24, "{rep:?}");
    let slack = rx.to("/slack");
    assert_eq!(slack.len(), 2, "ten mentions a message at most");
    let first = slack[0].json();
    assert!(
        first["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("digest: 10 mentions"),
        "{first}"
    );
    let json = rx.to("/hook");
    assert_eq!(json.len(), 12, "one signed body per alert");
    assert!(json.iter().all(|q| q.json()["kind"] == "mention.digest"));
}

#[tokio::test]
async fn source_health_notices_reach_the_brands_chat_and_a_webhook_can_hear_other_labels() {
    let rx = Receiver::start();
    let mut cfg_extra = String::from("source_failing_after = \"10m\"");
    cfg_extra.push('\n');
    let r = Rig::new(rx.port, &[("slack", "slack")], &cfg_extra);
    let now = r.clock.now();
    let items =
        r.alerter
            .source_health_items("hn", now - chrono::Duration::hours(1), "HTTP 503", now);
    assert_eq!(
        items.len(),
        1,
        "the admins default to the brands' destinations"
    );
    r.store.enqueue(&items).unwrap();
    r.sender().deliver_due().await.unwrap();
    let slack = rx.to("/slack");
    assert_eq!(slack.len(), 1);
    let text = slack[0].text();
    assert!(
        text.contains("Source failing: hn") && text.contains("HTTP 503"),
        "{text}"
    );

    // `labels` on a webhook: it hears positive mentions the brand's email does not
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("url");
    std::fs::write(&url, rx.url("/praise")).unwrap();
    let cfg = alerts_config(&format!(
        "[[webhook]]\nname = \"praise\"\nkind = \"slack\"\nurl_file = {:?}\nlabels = [\"positive\"]\n",
        url.display().to_string()
    ));
    let brand = toml::from_str(
        "name = \"Acme\"\nquery = 'acme'\nalert_to = [\"support@acme.test\"]\nalert_webhooks = [\"praise\"]\n",
    )
    .unwrap();
    let alerter = Alerter::new(&cfg, &[brand], 0.8);
    let mut happy = mention("40", 0.05);
    if let Some(s) = happy.sentiment.as_mut() {
        s.label = "positive".into();
        s.scores = vec![("negative".into(), 0.05), ("positive".into(), 0.9)];
    }
    let to: Vec<String> = alerter
        .evaluate(&happy, now)
        .into_iter()
        .map(|i| i.to)
        .collect();
    assert_eq!(to, ["webhook:praise"]);
    let to: Vec<String> = alerter
        .evaluate(&mention("41", 0.95), now)
        .into_iter()
        .map(|i| i.to)
        .collect();
    assert_eq!(to, ["support@acme.test"], "and not the negative ones");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_never_answers_does_not_delay_email() {
    // accepts connections (the kernel's backlog) and never answers
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("url");
    std::fs::write(
        &url,
        format!("http://127.0.0.1:{}/x", silent.local_addr().unwrap().port()),
    )
    .unwrap();
    let cfg = alerts_config(&format!(
        "sender_poll = \"100ms\"\n[[webhook]]\nname = \"stuck\"\nkind = \"slack\"\nurl_file = {:?}\ntimeout = \"30s\"\n",
        url.display().to_string()
    ));
    let brand = toml::from_str(
        "name = \"Acme\"\nquery = 'acme'\nalert_to = [\"support@acme.test\"]\nalert_webhooks = [\"stuck\"]\n",
    )
    .unwrap();
    let alerter = Arc::new(Alerter::new(&cfg, &[brand], 0.8));
    let store = Store::open(&dir.path().join("data")).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    store
        .enqueue(&alerter.evaluate(&mention_now("50", 0.95), clock.now()))
        .unwrap();
    let mail = dir.path().join("mail");
    let email = file_email(&mail);
    let sender = Sender::new(
        store.clone(),
        alerter,
        build_transport(&email, &mail).unwrap(),
        email.from.parse().unwrap(),
        clock,
    )
    .with_webhooks(build_webhooks(&cfg.webhook).unwrap());
    let cancel = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(overhear::alerts::run_sender(sender, cancel.clone()));
    let start = Instant::now();
    while std::fs::read_dir(&mail).map_or(0, |d| d.count()) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the email waited for the stuck webhook"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let states: Vec<(String, OutboxState)> = store
        .outbox_entries()
        .unwrap()
        .into_iter()
        .map(|e| (e.item.to, e.state))
        .collect();
    assert!(
        states.contains(&("support@acme.test".into(), OutboxState::Sent)),
        "{states:?}"
    );
    assert!(
        states.contains(&("webhook:stuck".into(), OutboxState::Pending)),
        "{states:?}"
    );
    cancel.cancel();
    task.abort();
    drop(silent);
}
