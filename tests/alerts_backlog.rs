//! The backlog (`[alerts] backlog`, `max_age`): what a first poll finds, and posts
//! older than `max_age`, never go out one message per post. The rules and the real
//! sender with a test clock and the file transport (one .eml per email).

#[path = "alerts_support/mod.rs"]
mod support;

use std::sync::Arc;

use overhear::alerts::{Alerter, Clock, Sender, TestClock};
use overhear::store::Store;
use support::*;

/// The .eml with folded headers unfolded and quoted-printable soft breaks undone.
fn body(eml: &str) -> String {
    eml.replace("\r\n ", " ")
        .replace("=\r\n", "")
        .replace("=3D", "=")
}

struct Rig {
    _dir: tempfile::TempDir,
    mail: std::path::PathBuf,
    store: Store,
    clock: Arc<TestClock>,
    alerter: Arc<Alerter>,
    sender: Sender,
}

fn rig(alerts_toml: &str, to: &[&str]) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let mail = dir.path().join("mail");
    let store = Store::open(&dir.path().join("data")).unwrap();
    // the support mention is posted at 12:00 and first seen at 12:01
    let clock = Arc::new(TestClock::new(t(2026, 11, 23, 12, 2)));
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
    /// Classifies mention `id` (P(negative) = `p`): from a first poll or not.
    fn heard(&self, id: &str, p: f32, first_poll: bool) -> bool {
        let e = self
            .alerter
            .evaluate_heard(&mention(id, p), self.clock.now(), &|_| first_poll);
        self.store.enqueue(&e.items).unwrap();
        e.selected
    }

    async fn deliver_after(&self, secs: u64) {
        self.clock.advance(std::time::Duration::from_secs(secs));
        self.sender.deliver_due().await.unwrap();
    }
}

#[tokio::test]
async fn a_first_poll_of_forty_sends_one_message_per_destination_then_news_alerts_at_once() {
    let r = rig("", &["support@acme.test", "lead@acme.test"]);
    // 40 posts came with the first poll; 20 are complaints (the other 20 would not
    // alert at all: the rules never see them as alerts)
    for i in 0..20 {
        assert!(r.heard(&format!("{i}"), 0.81 + i as f32 / 200.0, true));
    }
    // nothing leaves before the backlog's wait (the rest of the poll may still come)
    r.deliver_after(1).await;
    assert_eq!(emails(&r.mail).len(), 0);
    r.deliver_after(30).await;
    let sent = emails(&r.mail);
    assert_eq!(sent.len(), 2, "one message per destination");
    for eml in &sent {
        let b = body(eml);
        assert!(
            b.contains("Subject: [overhear] Acme: 20 earlier mentions found when overhear started listening"),
            "{b}"
        );
        assert!(b.contains("Acme: 20 negative"), "{b}");
        assert!(
            b.contains("The worst 5 are below; the other 15 are in the inbox"),
            "{b}"
        );
        // the worst (highest probability) five are shown, the others are not
        assert!(b.contains("item?id=19") && b.contains("item?id=15"), "{b}");
        assert!(
            !b.contains("item?id=14\r\n") && !b.contains("item?id=0\r\n"),
            "{b}"
        );
    }
    // from then on, a new complaint alerts at once, alone
    r.heard("new", 0.9, false);
    r.deliver_after(1).await;
    let sent = emails(&r.mail);
    assert_eq!(sent.len(), 4, "one instant alert per destination");
    assert!(
        sent.iter()
            .filter(|e| e.contains("Subject: [overhear] Acme: negative mention on hackernews"))
            .count()
            == 2,
        "{sent:?}"
    );
    // and the backlog is never sent again
    r.deliver_after(3600).await;
    assert_eq!(emails(&r.mail).len(), 4);
}

#[tokio::test]
async fn backlog_alert_keeps_one_alert_per_post_and_none_sends_nothing_but_selects() {
    let r = rig("backlog = \"alert\"", &["support@acme.test"]);
    for i in 0..3 {
        r.heard(&format!("{i}"), 0.9, true);
    }
    r.deliver_after(1).await;
    assert_eq!(emails(&r.mail).len(), 3);

    let r = rig("backlog = \"none\"", &["support@acme.test"]);
    for i in 0..3 {
        // selected: its thread is watched and it is escalated like any alert
        assert!(r.heard(&format!("{i}"), 0.9, true));
    }
    r.deliver_after(3600).await;
    assert_eq!(emails(&r.mail).len(), 0);
    // a live one still alerts
    r.heard("live", 0.9, false);
    r.deliver_after(1).await;
    assert_eq!(emails(&r.mail).len(), 1);
}

#[tokio::test]
async fn posts_older_than_max_age_never_alert_one_by_one() {
    // the support mention was posted at 12:00 on the 23rd; classified three days later
    let r = rig("", &["support@acme.test"]);
    r.clock.advance(std::time::Duration::from_secs(3 * 86_400));
    r.heard("old1", 0.9, false);
    r.heard("old2", 0.8, false);
    r.deliver_after(1).await;
    assert_eq!(emails(&r.mail).len(), 0, "not one by one");
    r.deliver_after(30).await;
    let sent = emails(&r.mail);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let b = body(&sent[0]);
    assert!(b.contains("longer ago than [alerts] max_age"), "{b}");
    assert!(b.contains("They are below, and in the inbox"), "{b}");

    // with backlog = "alert", an old post is still summarised, not alerted alone
    let r = rig("backlog = \"alert\"", &["support@acme.test"]);
    r.clock.advance(std::time::Duration::from_secs(3 * 86_400));
    r.heard("old", 0.9, false);
    r.deliver_after(31).await;
    let sent = emails(&r.mail);
    assert_eq!(sent.len(), 1);
    assert!(
        body(&sent[0]).contains("earlier mention found"),
        "{}",
        sent[0]
    );

    // max_age = "0s": no limit
    let r = rig("max_age = \"0s\"", &["support@acme.test"]);
    r.clock.advance(std::time::Duration::from_secs(3 * 86_400));
    r.heard("old", 0.9, false);
    r.deliver_after(1).await;
    let sent = emails(&r.mail);
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].contains("Subject: [overhear] Acme: negative mention on hackernews"),
        "{}",
        sent[0]
    );
}

#[tokio::test]
async fn a_backlog_classified_after_its_first_part_went_still_goes_once_per_mention() {
    let r = rig("", &["support@acme.test"]);
    r.heard("a", 0.9, true);
    r.deliver_after(5).await;
    // more of the same poll, classified a little later, joins the same message
    r.heard("b", 0.8, true);
    r.deliver_after(20).await;
    let sent = emails(&r.mail);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(body(&sent[0]).contains("Acme: 2 negative"), "{}", sent[0]);
    // classified again (a restart before it was marked classified): queued once only
    r.heard("a", 0.9, true);
    r.deliver_after(60).await;
    assert_eq!(emails(&r.mail).len(), 1);
}
