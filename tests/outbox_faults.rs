//! The outbox under faults, against a real SMTP server on loopback that the test
//! stops, restarts, makes answer 4xx or hang: a store that cannot record "sent", two
//! senders on one database, a pass cancelled half-way, an outage of every kind, the
//! Message-ID of an alert sent again, and the real daemon's /healthz while its sender
//! is halted.

mod daemon_support;
mod sources_support;
#[path = "alerts_support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use overhear::alerts::{Alerter, Clock, Sender, TestClock};
use overhear::store::{Store, StoreError};
use support::flaky::{FlakySmtp, Mode};
use support::*;

struct Rig {
    _dir: tempfile::TempDir,
    store: Store,
    clock: Arc<TestClock>,
    alerter: Arc<Alerter>,
    server: FlakySmtp,
}

fn rig(alerts_toml: &str) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = Store::open(&data).unwrap();
    Rig {
        _dir: dir,
        store,
        clock: Arc::new(TestClock::new(t(2026, 11, 23, 12, 5))),
        alerter: acme_alerter(alerts_toml, &["support@acme.test"]),
        server: FlakySmtp::start(free_port()),
    }
}

impl Rig {
    fn sender(&self) -> Sender {
        let email = plain_email(&self.server.url(), Duration::from_millis(250));
        sender_for(
            &self.store,
            &self.alerter,
            &email,
            Path::new("unused"),
            self.clock.clone(),
        )
    }

    fn mention(&self, id: &str) {
        self.store
            .enqueue(&self.alerter.evaluate(&mention(id, 0.9), self.clock.now()))
            .unwrap();
    }
}

fn message_ids(msgs: &[Received]) -> Vec<String> {
    msgs.iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect()
}

/// A disk that fills up: every write of `op` fails while `full` is set.
fn fail_while(store: &Store, op: &'static str, full: &Arc<AtomicBool>) {
    let full = full.clone();
    store.set_outbox_fault(Some(Arc::new(move |o: &str| {
        if o == op && full.load(Ordering::SeqCst) {
            Err(StoreError::Invalid(
                "injected: No space left on device (os error 28)".into(),
            ))
        } else {
            Ok(())
        }
    })));
}

#[tokio::test]
async fn outbox_that_cannot_record_sent_stops_sending_instead_of_resending() {
    let r = rig("");
    r.mention("1");
    r.mention("2");
    let full = Arc::new(AtomicBool::new(true));
    fail_while(&r.store, "mark_sent", &full);
    let s = r.sender();
    for _ in 0..6 {
        let _ = s.deliver_due().await;
        r.clock.advance(Duration::from_secs(600));
    }
    assert_eq!(
        r.server.messages().len(),
        1,
        "accepted once, then nothing while the outbox cannot record it: {:?}",
        message_ids(&r.server.messages())
    );
    // says so: halted, why, and what is waiting to be recorded
    let status = s.health().status();
    let why = status.halted.clone().unwrap_or_default();
    assert!(why.contains("No space left"), "{status:?}");
    assert_eq!(status.unrecorded, 1);
    assert!(matches!(
        s.deliver_due().await,
        Err(overhear::alerts::AlertError::Halted(_))
    ));
    // end of the halt checks

    // the disk has room again: the accepted email is recorded, the other one goes out
    full.store(false, Ordering::SeqCst);
    s.deliver_due().await.unwrap();
    let msgs = r.server.messages();
    assert_eq!(msgs.len(), 2, "{:?}", message_ids(&msgs));
    assert_ne!(msgs[0].header("Message-ID"), msgs[1].header("Message-ID"));
    assert_eq!(r.store.outbox_depth().unwrap().sent, 2);
    assert_eq!(s.health().status().halted, None);
}

#[tokio::test]
async fn two_senders_on_one_database_never_send_an_alert_twice() {
    // what a reload does while a pass is in flight: a new sender on the same store
    let r = rig("");
    r.mention("1");
    r.server.set_mode(Mode::Slow(Duration::from_millis(400)));
    let (old, new) = (r.sender(), r.sender());
    let (a, b) = tokio::join!(old.deliver_due(), new.deliver_due());
    a.unwrap();
    b.unwrap();
    assert_eq!(r.server.messages().len(), 1);
    assert_eq!(r.store.outbox_depth().unwrap().sent, 1);
}

#[tokio::test]
async fn a_cancelled_pass_stops_at_a_message_boundary() {
    let r = rig("");
    for id in ["1", "2", "3"] {
        r.mention(id);
    }
    r.server.set_mode(Mode::Slow(Duration::from_millis(300)));
    let s = r.sender();
    let cancel = tokio_util::sync::CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        c.cancel(); // during the first message
    });
    let rep = s.deliver_due_until(&cancel).await.unwrap();
    assert_eq!(
        rep.sent.len(),
        1,
        "the message in flight is finished: {rep:?}"
    );
    assert_eq!(r.server.messages().len(), 1);
    let d = r.store.outbox_depth().unwrap();
    assert_eq!((d.sent, d.pending), (1, 2));
}

#[tokio::test]
async fn outage_of_every_kind_then_recovery_delivers_each_alert_once() {
    let r = rig("retry_initial = \"30s\"\nretry_max = \"1m\"");
    let s = r.sender();
    for id in ["1", "2", "3"] {
        r.mention(id);
    }
    // 1. the server hangs after DATA: each attempt is abandoned after 4 x 250 ms, nothing accepted
    r.server.set_mode(Mode::Hang);
    let rep = s.deliver_due().await.unwrap();
    assert_eq!(rep.retried.len(), 3, "hang: {rep:?}");
    // 2. it answers 451
    r.server.set_mode(Mode::TempFail);
    r.clock.advance(Duration::from_secs(60));
    let rep = s.deliver_due().await.unwrap();
    assert_eq!(rep.retried.len(), 3, "451: {rep:?}");
    assert!(rep.retried[0].1.contains("451"), "{rep:?}");
    // 3. it is stopped in the middle of a session
    r.server.set_mode(Mode::Hang);
    r.clock.advance(Duration::from_secs(60));
    let (rep, ()) = tokio::join!(s.deliver_due(), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        r.server.stop();
    });
    assert_eq!(rep.unwrap().retried.len(), 3);
    // 4. it is down
    r.clock.advance(Duration::from_secs(60));
    assert_eq!(s.deliver_due().await.unwrap().retried.len(), 3);
    // 5. it comes back on the same port
    r.server.set_mode(Mode::Accept);
    r.server.restart();
    r.clock.advance(Duration::from_secs(60));
    assert_eq!(s.deliver_due().await.unwrap().sent.len(), 3);
    r.clock.advance(Duration::from_secs(3600));
    s.deliver_due().await.unwrap();
    let mut ids = message_ids(&r.server.messages());
    assert_eq!(ids.len(), 3, "each alert exactly once");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    assert!(r.store.failed().unwrap().is_empty(), "nothing failed");
}

#[tokio::test]
async fn message_id_is_stable_per_alert_when_a_retry_regroups_the_batch() {
    let r = rig("batch_window = \"2m\"");
    let s = r.sender();
    r.mention("1");
    r.clock.advance(Duration::from_secs(30));
    r.mention("2");
    r.clock.advance(Duration::from_secs(120));
    // the batch of two reaches the server, which never answers (timeout: retried)
    r.server.set_mode(Mode::Hang);
    let rep = s.deliver_due().await.unwrap();
    assert_eq!(rep.retried.len(), 2, "{rep:?}");
    let first = r.server.seen();
    assert_eq!(first.len(), 1, "one email for the batch");
    let batch_id = first[0].header("Message-ID").unwrap();
    // retried: each alert now goes alone
    r.server.stop();
    r.server.set_mode(Mode::Accept);
    r.server.restart();
    r.clock.advance(Duration::from_secs(60));
    assert_eq!(s.deliver_due().await.unwrap().sent.len(), 2);
    let msgs = r.server.messages();
    assert_eq!(msgs.len(), 2);
    let of_1 = msgs
        .iter()
        .find(|m| m.part("text/plain").unwrap().contains("item?id=1"))
        .unwrap();
    assert_eq!(
        of_1.header("Message-ID").unwrap(),
        batch_id,
        "the copy of the first alert keeps the batch's Message-ID, so a client that got \
         the batch (the server may have accepted it before the timeout) can tell"
    );
}

/// `GET /healthz` (code, body) and, with the daemon's token, `/metrics`, until `done`
/// holds for them; they are returned.
async fn wait_health(
    api: u16,
    token_file: &Path,
    what: &str,
    done: impl Fn(u16, &str, &str) -> bool,
) -> (u16, String, String) {
    let base = format!("http://127.0.0.1:{api}");
    let deadline = std::time::Instant::now() + Duration::from_secs(75);
    loop {
        let token = std::fs::read_to_string(token_file).unwrap_or_default();
        let health = reqwest::get(format!("{base}/healthz")).await;
        let metrics = reqwest::Client::new()
            .get(format!("{base}/metrics"))
            .bearer_auth(token.trim())
            .send()
            .await;
        if let (Ok(h), Ok(m)) = (health, metrics) {
            let code = h.status().as_u16();
            let (body, metrics) = (h.text().await.unwrap(), m.text().await.unwrap());
            if done(code, &body, &metrics) {
                return (code, body, metrics);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}: /healthz {code} {body}"
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The real daemon (in-process, so that the test can fill its disk: the store's
/// failure point on "mark_sent"), a real feed with one complaint and a real SMTP
/// server: the server accepts the alert, the outbox cannot record it, and the sender
/// halts rather than send it again. /healthz says `degraded` and the scheduler sets
/// `overhear_outbox_halted` 1 from the sender's own health; once the disk has room,
/// the delivery is recorded, /healthz is `ok` and the gauge 0, and the alert was
/// never sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_is_degraded_while_the_sender_is_halted() {
    let feed = wiremock::MockServer::start().await;
    let body = "Acme support kept me on hold for three hours and then refused my refund. Awful.";
    sources_support::serve_get(
        &feed,
        "/feed.xml",
        wiremock::ResponseTemplate::new(200)
            .insert_header("content-type", "application/rss+xml")
            .set_body_string(daemon_support::rss(&[("p1", "Support", body)])),
    )
    .await;
    let server = FlakySmtp::start(free_port());
    let dir = daemon_support::KeepOnFailure(Some(tempfile::tempdir().unwrap()));
    let data = dir.path().join("data");
    let api = free_port();
    let rest = format!(
        "{}\n{}\n{}",
        daemon_support::smtp_email(server.port),
        daemon_support::ACME,
        daemon_support::rss_source("feed", &format!("{}/feed.xml", feed.uri()))
    );
    let text = daemon_support::config_text(dir.path(), api, "", &rest);
    let config = overhear::config::Config::parse(&text, "test.toml").unwrap();
    let full = Arc::new(AtomicBool::new(true));
    fail_while(&Store::open(&data).unwrap(), "mark_sent", &full);
    let daemon = tokio::spawn(overhear::daemon::run(None, config));
    let token = data.join("api-token");

    let (_, body, metrics) = wait_health(api, &token, "degraded", |code, b, _| {
        code == 503 && b.starts_with("degraded")
    })
    .await;
    assert!(
        body.starts_with("degraded: the alert sender is stopped"),
        "{body}"
    );
    assert!(metrics.contains("overhear_outbox_halted 1"), "{metrics}");
    assert!(!daemon.is_finished(), "the daemon stopped");
    assert_eq!(
        server.seen().len(),
        1,
        "the server accepted the alert once, and it was not sent again while halted"
    );

    full.store(false, Ordering::SeqCst);
    let (_, body, metrics) = wait_health(api, &token, "ok again", |code, _, m| {
        code == 200 && m.contains("overhear_outbox_halted 0")
    })
    .await;
    assert!(body.starts_with("ok\n"), "{body}");
    assert!(
        metrics.contains("overhear_alerts_delivered{result=\"sent\"} 1"),
        "the delivery is recorded: {metrics}"
    );
    assert_eq!(server.seen().len(), 1, "the alert was sent once");
    daemon.abort();
}
