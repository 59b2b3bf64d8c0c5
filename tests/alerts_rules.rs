//! Alert rules and timing with a controllable clock (file transport: one .eml per email).

#[path = "alerts_support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use overhear::alerts::{tally, Alerter, Clock, Delivery, Payload, Sender, Tally, TestClock};
use overhear::config::Config;
use overhear::store::Store;
use support::*;

fn subject(eml: &str) -> String {
    let head = eml.split("\r\n\r\n").next().unwrap().replace("\r\n ", " ");
    head.lines()
        .find_map(|l| l.strip_prefix("Subject: ").map(str::to_string))
        .unwrap()
}

struct Rig {
    _dir: tempfile::TempDir,
    mail: std::path::PathBuf,
    store: Store,
    clock: Arc<TestClock>,
    alerter: Arc<Alerter>,
    sender: Sender,
}

fn rig(alerts_toml: &str, to: &[&str], start: chrono::DateTime<chrono::Utc>) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let mail = dir.path().join("mail");
    let store = Store::open(&dir.path().join("data")).unwrap();
    let clock = Arc::new(TestClock::new(start));
    let alerter = acme_alerter(alerts_toml, to);
    let sender = sender_for(&store, &alerter, &file_email(&mail), &mail, clock.clone());
    Rig {
        _dir: dir,
        mail,
        store,
        clock,
        alerter,
        sender,
    }
}

impl Rig {
    fn mention(&self, id: &str) {
        self.store
            .enqueue(&self.alerter.evaluate(&mention(id, 0.9), self.clock.now()))
            .unwrap();
    }
}

#[tokio::test]
async fn file_transport_writes_one_eml_per_alert() {
    let r = rig("", &["support@acme.test"], t(2026, 11, 23, 12, 0));
    r.mention("1");
    r.sender.deliver_due().await.unwrap();
    let e = emails(&r.mail);
    assert_eq!(e.len(), 1);
    assert!(subject(&e[0]).contains("Acme"), "{}", e[0]);
}

#[tokio::test]
async fn rate_cap_folds_the_rest_into_the_next_digest() {
    let r = rig(
        "max_per_hour = 2",
        &["support@acme.test"],
        t(2026, 11, 23, 12, 10),
    );
    for id in ["1", "2", "3", "4", "5"] {
        r.mention(id);
    }
    let rep = r.sender.deliver_due().await.unwrap();
    assert_eq!(rep.emails, 2, "{rep:?}");
    assert_eq!(rep.folded.len(), 3);
    assert_eq!(emails(&r.mail).len(), 2);
    // another one in the same hour is folded too
    r.clock.advance(Duration::from_secs(600));
    r.mention("6");
    let rep = r.sender.deliver_due().await.unwrap();
    assert_eq!((rep.emails, rep.folded.len()), (0, 1), "{rep:?}");
    // the folded ones go out together at the next hour, as one digest
    r.clock.set(t(2026, 11, 23, 12, 59));
    assert_eq!(r.sender.deliver_due().await.unwrap().emails, 0);
    r.clock.set(t(2026, 11, 23, 13, 0));
    let rep = r.sender.deliver_due().await.unwrap();
    assert_eq!(rep.emails, 1, "{rep:?}");
    assert_eq!(rep.sent.len(), 4);
    let e = emails(&r.mail);
    assert_eq!(e.len(), 3);
    assert!(
        e.iter().any(|m| subject(m).contains("digest: 4 mentions")),
        "{:?}",
        e.iter().map(|m| subject(m)).collect::<Vec<_>>()
    );
    assert_eq!(r.store.outbox_depth().unwrap().pending, 0);
}

#[tokio::test]
async fn daily_digest_at_a_local_time() {
    let toml = "mode = \"digest\"\ndigest_at = \"09:00\"\ntimezone = \"Europe/Berlin\"";
    let r = rig(toml, &["support@acme.test"], t(2026, 11, 23, 7, 0)); // 08:00 in Berlin
    r.mention("1");
    r.clock.set(t(2026, 11, 23, 7, 30));
    r.mention("2");
    assert_eq!(r.sender.deliver_due().await.unwrap().emails, 0);
    r.clock.set(t(2026, 11, 23, 7, 59));
    assert_eq!(r.sender.deliver_due().await.unwrap().emails, 0);
    r.clock.set(t(2026, 11, 23, 8, 0)); // 09:00 in Berlin
    let rep = r.sender.deliver_due().await.unwrap();
    assert_eq!((rep.emails, rep.sent.len()), (1, 2), "{rep:?}");
    // a mention after the digest waits for tomorrow's
    r.mention("3");
    let items = r.alerter.evaluate(&mention("4", 0.9), r.clock.now());
    assert_eq!(items[0].not_before, t(2026, 11, 24, 8, 0));
    assert_eq!(items[0].delivery, Delivery::Digest);
}

#[tokio::test]
async fn digest_every_n_hours_and_empty_digests() {
    let toml = "mode = \"digest\"\ndigest_every = \"6h\"\ndigest_send_empty = true";
    let r = rig(toml, &["support@acme.test"], t(2026, 11, 23, 1, 0));
    let rule = r.alerter.rule("acme").unwrap();
    assert_eq!(
        rule.next_digest_slot(t(2026, 11, 23, 1, 0)),
        t(2026, 11, 23, 6, 0)
    );
    assert_eq!(
        rule.next_digest_slot(t(2026, 11, 23, 6, 0)),
        t(2026, 11, 23, 12, 0)
    );
    assert_eq!(
        rule.next_digest_slot(t(2026, 11, 23, 19, 0)),
        t(2026, 11, 24, 0, 0)
    );
    // nothing happened: the 06:00 digest still goes out, once
    assert!(r
        .alerter
        .digest_ticks(t(2026, 11, 23, 1, 0), t(2026, 11, 23, 5, 59))
        .is_empty());
    let ticks = r
        .alerter
        .digest_ticks(t(2026, 11, 23, 5, 59), t(2026, 11, 23, 6, 0));
    assert_eq!(ticks.len(), 1);
    r.clock.set(t(2026, 11, 23, 6, 0));
    r.store.enqueue(&ticks).unwrap();
    assert_eq!(r.store.enqueue(&ticks).unwrap(), 0);
    assert_eq!(r.sender.deliver_due().await.unwrap().emails, 1);
    let e = emails(&r.mail);
    assert!(subject(&e[0]).contains("digest: 0 mentions"), "{}", e[0]);
    assert!(e[0].contains("No mentions matched"));
    // with a mention in the slot, tick and mention are one email
    r.mention("1");
    r.clock.set(t(2026, 11, 23, 12, 0));
    r.store
        .enqueue(&r.alerter.digest_ticks(t(2026, 11, 23, 6, 0), r.clock.now()))
        .unwrap();
    let rep = r.sender.deliver_due().await.unwrap();
    assert_eq!((rep.emails, rep.sent.len()), (1, 2), "{rep:?}");
}

#[tokio::test]
async fn quiet_hours_hold_instant_alerts_until_morning() {
    let toml = "[quiet_hours]\nstart = \"22:00\"\nend = \"07:00\"";
    let r = rig(toml, &["support@acme.test"], t(2026, 11, 23, 23, 30));
    r.mention("1");
    r.mention("2");
    let rep = r.sender.deliver_due().await.unwrap();
    assert_eq!((rep.emails, rep.folded.len()), (0, 2));
    r.clock.set(t(2026, 11, 24, 6, 59));
    assert_eq!(r.sender.deliver_due().await.unwrap().emails, 0);
    r.clock.set(t(2026, 11, 24, 7, 0));
    let rep = r.sender.deliver_due().await.unwrap();
    assert_eq!((rep.emails, rep.sent.len()), (1, 2));
    // daytime: instant again
    r.mention("3");
    assert_eq!(r.sender.deliver_due().await.unwrap().emails, 1);
}

#[tokio::test]
async fn batch_window_collects_mentions_into_one_email() {
    let r = rig(
        "batch_window = \"2m\"",
        &["support@acme.test"],
        t(2026, 11, 23, 12, 0),
    );
    r.mention("1");
    r.clock.advance(Duration::from_secs(60));
    r.mention("2");
    assert_eq!(r.sender.deliver_due().await.unwrap().emails, 0);
    r.clock.advance(Duration::from_secs(60));
    let rep = r.sender.deliver_due().await.unwrap();
    assert_eq!((rep.emails, rep.sent.len()), (1, 2), "{rep:?}");
    assert!(subject(&emails(&r.mail)[0]).contains("2 negative mentions"));
}

#[test]
fn routes_send_a_source_to_its_own_recipients() {
    let a = acme_alerter("[[route]]\nsource = \"hackernews\"\nto = [\"hn@acme.test\"]\n[[route]]\nsource = \"reddit\"\nto = [\"r@acme.test\"]", &["support@acme.test"]);
    let items = a.evaluate(&mention("1", 0.9), t(2026, 11, 23, 12, 0));
    assert_eq!(
        items.iter().map(|i| i.to.as_str()).collect::<Vec<_>>(),
        ["hn@acme.test"]
    );
    let mut m = mention("2", 0.9);
    m.post.source = "mastodon".into();
    m.post.source_name = "mastodon".into();
    let items = a.evaluate(&m, t(2026, 11, 23, 12, 0));
    assert_eq!(
        items.iter().map(|i| i.to.as_str()).collect::<Vec<_>>(),
        ["support@acme.test"]
    );
}

#[test]
fn brand_threshold_labels_and_mode_off() {
    let mut b = brand("Acme", &["support@acme.test"]);
    b.alert_threshold = Some(0.97);
    let a = Alerter::new(&alerts_config(""), &[b.clone()], 0.8);
    assert!(a
        .evaluate(&mention("1", 0.95), t(2026, 11, 23, 12, 0))
        .is_empty());
    assert_eq!(
        a.evaluate(&mention("1", 0.98), t(2026, 11, 23, 12, 0))
            .len(),
        1
    );
    let mut unclassified = mention("1", 0.99);
    unclassified.sentiment = None;
    assert!(a.evaluate(&unclassified, t(2026, 11, 23, 12, 0)).is_empty());
    let off = Alerter::new(&alerts_config("[brand.acme]\nmode = \"off\""), &[b], 0.8);
    assert!(off
        .evaluate(&mention("1", 0.99), t(2026, 11, 23, 12, 0))
        .is_empty());
}

/// An App Store review by `rating` stars that the model reads as positive.
fn review(id: &str, rating: Option<u8>) -> overhear::post::Mention {
    let mut m = mention(id, 0.05);
    m.post.source = "appstore".into();
    m.post.source_name = "appstore".into();
    m.post.rating = rating;
    if let Some(s) = &mut m.sentiment {
        s.label = "positive".into();
        s.scores = vec![
            ("negative".into(), 0.05),
            ("neutral".into(), 0.15),
            ("positive".into(), 0.8),
        ];
    }
    m
}

#[test]
fn a_low_star_review_alerts_through_alert_on_rating_whatever_its_sentiment() {
    let now = t(2026, 11, 23, 12, 0);
    let plain = acme_alerter("", &["support@acme.test"]);
    assert!(
        plain.evaluate(&review("1", Some(1)), now).is_empty(),
        "without alert_on_rating a positive one-star review does not alert"
    );
    let a = acme_alerter("alert_on_rating = 2", &["support@acme.test"]);
    for (stars, alerts) in [
        (Some(1), true),
        (Some(2), true),
        (Some(3), false),
        (None, false),
    ] {
        let items = a.evaluate(&review("1", stars), now);
        assert_eq!(!items.is_empty(), alerts, "{stars:?} stars: {items:?}");
        if let Some(i) = items.first() {
            assert_eq!(i.to, "support@acme.test");
            let json = serde_json::to_string(i).unwrap();
            assert!(
                json.contains("-star review") && json.contains("alert_on_rating"),
                "the reason says why: {json}"
            );
        }
    }
    // a brand may set its own, and 0 or 6 stars are refused by check
    let b = acme_alerter(
        "alert_on_rating = 1\n[brand.acme]\nalert_on_rating = 3",
        &["s@acme.test"],
    );
    assert_eq!(b.evaluate(&review("1", Some(3)), now).len(), 1);
    let bad = alerts_config("alert_on_rating = 0");
    let problems = bad.problems(&[brand("Acme", &["s@acme.test"])]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].key, "alerts.alert_on_rating");
}

#[test]
fn spike_and_source_health() {
    let a = acme_alerter(
        "spike_factor = 3.0\nspike_min_count = 5\nsource_failing_after = \"30m\"",
        &["support@acme.test"],
    );
    let now = t(2026, 11, 23, 12, 0);
    assert!(
        a.spike_items("Acme", 4, 0.5, now).is_empty(),
        "below the minimum count"
    );
    assert!(
        a.spike_items("Acme", 8, 3.0, now).is_empty(),
        "below the factor"
    );
    let s = a.spike_items("Acme", 9, 3.0, now);
    assert_eq!(s.len(), 1);
    assert_eq!(
        s[0].key,
        a.spike_items("Acme", 12, 3.0, now + chrono::Duration::minutes(30))[0].key,
        "one per cooldown"
    );
    assert!(matches!(s[0].payload, Payload::Spike(_)));
    let since = t(2026, 11, 23, 11, 45);
    assert!(a
        .source_health_items("reddit", since, "403", now)
        .is_empty());
    let h = a.source_health_items(
        "reddit",
        since,
        "HTTP 403 Forbidden",
        now + chrono::Duration::minutes(15),
    );
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].to, "support@acme.test");
}

#[tokio::test]
async fn summary_counts_and_compares() {
    let r = rig(
        "summary = \"daily\"\nsummary_at = \"08:00\"",
        &["support@acme.test"],
        t(2026, 11, 23, 8, 0),
    );
    assert!(r
        .alerter
        .summaries_due(t(2026, 11, 23, 8, 0), t(2026, 11, 23, 9, 0))
        .is_empty());
    let due = r
        .alerter
        .summaries_due(t(2026, 11, 23, 7, 59), t(2026, 11, 23, 8, 0));
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].start, due[0].end),
        (t(2026, 11, 22, 8, 0), t(2026, 11, 23, 8, 0))
    );
    let mut pos = mention("p", 0.1);
    if let Some(s) = pos.sentiment.as_mut() {
        s.label = "positive".into();
    }
    pos.post.engagement = Some(100);
    let current = vec![mention("1", 0.9), mention("2", 0.9), pos];
    let previous = Tally {
        total: 1,
        by_sentiment: vec![("negative".into(), 1)],
        by_source: vec![],
    };
    assert_eq!(tally(&current).count("negative"), 2);
    // answered in public: 1 of 2 this period (in 20 min), 0 of 1 before
    let answered = overhear::alerts::Answered {
        current: overhear::store::ResponseStats {
            negatives: 2,
            answered: 1,
            within_1h: 1,
            within_24h: 1,
            median_secs: Some(1200.0),
            p90_secs: Some(1200.0),
        },
        previous: overhear::store::ResponseStats {
            negatives: 1,
            ..Default::default()
        },
    };
    let items =
        r.alerter
            .summary_items(&due[0], &current, &previous, Some(answered), r.clock.now());
    assert_eq!(items.len(), 1);
    r.store.enqueue(&items).unwrap();
    r.sender.deliver_due().await.unwrap();
    let e = emails(&r.mail);
    assert_eq!(e.len(), 1);
    assert!(
        subject(&e[0]).contains("daily summary: 3 mentions, 2 negative"),
        "{}",
        e[0]
    );
    let body = e[0].replace("=\r\n", "").replace("\r\n", "\n");
    assert!(
        body.contains("1 of 2 negative mentions answered (50%; the previous period: 0 of 1, 0%)."),
        "{body}"
    );
    assert!(
        body.contains(
            "Time to the first answer: median 20 min, 90th percentile 20 min (previously -, -)."
        ),
        "{body}"
    );
}

#[test]
fn example_config_alerts_section_is_valid() {
    let c = Config::parse(
        include_str!("../config/example-full.toml"),
        "example-full.toml",
    )
    .unwrap();
    assert_eq!(c.alerts.max_per_hour, Some(20));
    let e = Config::parse(
        "[alerts]\ntimezone = \"Mars/Olympus\"\n[alerts.brand.Nope]\nmode = \"digest\"\n",
        "t.toml",
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("Mars/Olympus") && text.contains("no [[brand]] is named \"Nope\""),
        "{text}"
    );
}

#[test]
fn highlighting_and_header_safety() {
    use overhear::alerts::render::{header_safe, segments};
    let segs = segments(
        "héllo acme corp world",
        &[(7, 11), (9, 16), (100, 200), (1, 2)],
    );
    let hl: Vec<(&str, bool)> = segs.iter().map(|s| (s.text.as_str(), s.hl)).collect();
    assert_eq!(
        hl,
        [("héllo ", false), ("acme corp", true), (" world", false)]
    );
    assert_eq!(header_safe("a\r\nBcc: x@y\t z", 100), "a Bcc: x@y z");
    assert_eq!(header_safe("abcdef", 4), "abc…");
}

#[tokio::test]
async fn run_sender_delivers_when_woken_and_stops_on_shutdown() {
    use overhear::alerts::{run_sender, SystemClock};
    let dir = tempfile::tempdir().unwrap();
    let mail = dir.path().join("mail");
    let store = Store::open(&dir.path().join("data")).unwrap();
    let alerter = acme_alerter("sender_poll = \"1h\"", &["support@acme.test"]);
    let sender = sender_for(
        &store,
        &alerter,
        &file_email(&mail),
        &mail,
        Arc::new(SystemClock),
    );
    let wake = sender.waker();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(run_sender(sender, shutdown.clone()));
    // the first pass runs at start, on an empty outbox; the next one is an hour away
    tokio::time::sleep(Duration::from_secs(1)).await;
    // posted just now (an older post would go with the backlog, not alone)
    let mut m = mention("1", 0.9);
    m.post.created_at = chrono::Utc::now();
    store
        .enqueue(&alerter.evaluate(&m, chrono::Utc::now()))
        .unwrap();
    // queued after that pass: nothing goes out until the sender is woken
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        emails(&mail).is_empty(),
        "delivered without a wake: the alert was queued before the first pass"
    );
    wake.notify_one();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while emails(&mail).is_empty() {
        assert!(std::time::Instant::now() < deadline, "not delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.outbox_depth().unwrap().sent, 1);
}

#[tokio::test]
async fn prune_forgets_only_old_finished_entries() {
    let r = rig("", &["support@acme.test"], t(2026, 11, 23, 12, 0));
    r.mention("1");
    r.sender.deliver_due().await.unwrap();
    r.clock.set(t(2026, 11, 25, 12, 0));
    r.mention("2");
    assert_eq!(r.store.prune_outbox(t(2026, 11, 24, 0, 0)).unwrap(), 1);
    assert_eq!(r.store.outbox_depth().unwrap().pending, 1);
    assert_eq!(r.store.outbox_depth().unwrap().sent, 0);
}
