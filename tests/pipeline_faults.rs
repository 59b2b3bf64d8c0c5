//! Faults around the pipeline: a step that fails for a moment (here: queuing a
//! mention's alert, in-process with the store's failure points) is retried while the
//! daemon runs; a restart in the middle of a source's outage (the real binary,
//! SIGKILLed) keeps the outage's start and sends no second notice.

mod daemon_support;
mod sources_support;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use daemon_support::{
    config_text, free_port, rss, rss_source, signal, smtp_email, start, wait_exit, wait_healthy,
    write_test_config, KeepOnFailure, Setup, ACME,
};
use overhear::store::{Store, StoreError};
use sources_support::serve_get;
use wiremock::{MockServer, ResponseTemplate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_to_queue_an_alert_is_retried_without_a_restart() {
    let fixtures = MockServer::start().await;
    let body = "Acme support kept me on hold for three hours and then refused my refund. Awful.";
    serve_get(
        &fixtures,
        "/feed.xml",
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/rss+xml")
            .set_body_string(rss(&[("p1", "Support", body)])),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rest = format!(
        "[email]\ntransport = \"file\"\n\n{ACME}\n{}",
        rss_source("feed", &format!("{}/feed.xml", fixtures.uri()))
    );
    let text = config_text(dir.path(), free_port(), "", &rest);
    let config = overhear::config::Config::parse(&text, "test.toml").unwrap();

    // The first attempt to queue alerts fails (a full disk, say); later ones work.
    let enqueues = Arc::new(AtomicUsize::new(0));
    {
        let store = Store::open(&data).unwrap();
        let n = enqueues.clone();
        store.set_outbox_fault(Some(Arc::new(move |op: &str| {
            if op == "enqueue" && n.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(StoreError::Invalid(
                    "no space left on device (injected)".into(),
                ))
            } else {
                Ok(())
            }
        })));
    }
    let daemon = tokio::spawn(overhear::daemon::run(None, config));

    let mail = data.join("mail");
    let deadline = Instant::now() + Duration::from_secs(120);
    let delivered = loop {
        let n = std::fs::read_dir(&mail)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or(0);
        if n > 0 || Instant::now() > deadline {
            break n;
        }
        assert!(!daemon.is_finished(), "the daemon stopped");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        enqueues.load(Ordering::SeqCst) >= 2,
        "the failed enqueue was never tried again"
    );
    assert_eq!(
        delivered, 1,
        "the alert was delivered once, without a restart"
    );
    daemon.abort();
}

/// The `.eml` files in `dir` whose text contains `needle`.
fn mails_containing(dir: &Path, needle: &str) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains(needle)))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_a_source_outage_sends_no_second_failing_notice() {
    let fixtures = MockServer::start().await;
    serve_get(&fixtures, "/feed.xml", ResponseTemplate::new(503)).await;
    let dir = KeepOnFailure(Some(tempfile::tempdir().unwrap()));
    let data = dir.path().join("data");
    let api = free_port();
    let rest = format!(
        "[email]\ntransport = \"file\"\n\n[alerts]\nadmin_to = [\"ops@acme.test\"]\nsource_failing_after = \"1s\"\n\n{ACME}\n{}",
        rss_source("flaky-feed", &format!("{}/feed.xml", fixtures.uri()))
    );
    let config = write_test_config(dir.path(), api, "", &rest);
    let setup = Setup { dir, config, api };
    let mail = data.join("mail");
    let notice = "Source failing: flaky-feed";

    let mut child = start(&setup, "run1.log");
    wait_healthy(setup.api, &mut child).await;
    let deadline = Instant::now() + Duration::from_secs(75);
    while mails_containing(&mail, notice) == 0 {
        assert!(Instant::now() < deadline, "no source-failing notice");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    signal(&child, "KILL");
    let _ = wait_exit(&mut child, Duration::from_secs(10));

    // Restarted while the feed still fails: two scheduler ticks later, still one notice.
    let mut child = start(&setup, "run2.log");
    wait_healthy(setup.api, &mut child).await;
    tokio::time::sleep(Duration::from_secs(65)).await;
    assert_eq!(mails_containing(&mail, notice), 1, "one notice per outage");
    signal(&child, "TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
}

/// An SMTP server that accepts connections and never says a word.
fn silent_smtp() -> (u16, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming().take(8) {
            held.push(c);
        }
        std::thread::sleep(Duration::from_secs(120));
    });
    (port, t)
}

/// SIGTERM while the outbox sender waits on a mail server that hangs: the daemon
/// still exits within `[daemon] shutdown_timeout` (systemd would SIGKILL it later).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_fits_its_budget_while_the_mail_server_hangs() {
    let fixtures = MockServer::start().await;
    let body = "Acme support kept me on hold for three hours and then refused my refund. Awful.";
    serve_get(
        &fixtures,
        "/feed.xml",
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/rss+xml")
            .set_body_string(rss(&[("p1", "Support", body)])),
    )
    .await;
    let (smtp, _server) = silent_smtp();
    let dir = KeepOnFailure(Some(tempfile::tempdir().unwrap()));
    let api = free_port();
    let rest = format!(
        "{}\n{ACME}\n{}",
        smtp_email(smtp),
        rss_source("feed", &format!("{}/feed.xml", fixtures.uri()))
    );
    let config = write_test_config(dir.path(), api, "shutdown_timeout = \"4s\"\n", &rest);
    let setup = Setup { dir, config, api };
    let mut child = start(&setup, "run.log");
    wait_healthy(setup.api, &mut child).await;
    // wait until the alert is queued and the sender is stuck talking to the server
    let setup_ref = &setup;
    daemon_support::wait_for("the mention classified", Duration::from_secs(40), || {
        daemon_support::mentions(setup_ref)
            .iter()
            .any(|m| m["sentiment"]["label"] == "negative")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let asked = Instant::now();
    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(60));
    let took = asked.elapsed();
    assert!(status.success(), "{status}");
    assert!(
        took < Duration::from_millis(5500),
        "shutdown took {took:?} with a 4s budget"
    );
}
