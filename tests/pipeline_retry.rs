//! The daemon in-process, with the store's failure points: a step that fails for a
//! moment (here: queuing a mention's alert) is retried while the daemon runs, not
//! only at the next start.

mod daemon_support;
mod sources_support;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use daemon_support::{free_port, rss};
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
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sentiment");
    let text = format!(
        "[daemon]\ndata_dir = \"{data}\"\napi_bind = \"127.0.0.1:{api}\"\n\n[model]\npath = \"{model}\"\nalert_threshold = 0.5\n\n[email]\ntransport = \"file\"\n\n[[brand]]\nname = \"Acme\"\nquery = \"acme\"\nalert_to = [\"support@acme.test\"]\n\n[[source]]\nkind = \"rss\"\nurl = \"{feed}/feed.xml\"\nevery = \"10s\"\n",
        data = data.display(),
        api = free_port(),
        model = model.display(),
        feed = fixtures.uri(),
    );
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
