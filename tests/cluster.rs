//! The cluster against real parts on loopback: `nats-server -js` (Debian's package;
//! `.ci/run` installs it), the hub (`overhear run` with `[cluster]`) and two workers
//! (`overhear worker`) as real processes, growing RSS feeds on four ports (four
//! hosts, four leases) and a real SMTP server. Every item of every feed is negative,
//! so each must end up stored once and in exactly one alert mail, whatever is killed
//! on the way. Skipped when nats-server is missing (`make test` lists it at the end),
//! unless OVERHEAR_REQUIRE_NATS is set.

mod cluster_support;
mod daemon_support;
mod skip_support;
mod sources_support;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use cluster_support::{link, nats_server_binary, Cluster, LEASE_TTL_SECS, SERIAL};

const HOSTS: usize = 4;
const ITEMS: usize = 24;
const SETTLE: Duration = Duration::from_secs(150);

async fn cluster() -> Option<Cluster> {
    let bin = nats_server_binary()?;
    let mut c = Cluster::start(bin, HOSTS, 2, ITEMS).await;
    c.start_hub().await;
    c.start_worker(0).await;
    c.start_worker(1).await;
    Some(c)
}

/// No host was polled by two workers at once, nor by one twice: the polls of each
/// host stay about the source's interval (10 s) apart, even when a host moves.
fn assert_polite(c: &Cluster) {
    let gap = c.feeds.min_gap();
    assert!(
        gap >= Duration::from_secs(8),
        "a host was polled twice within {gap:?}: {:#?}",
        c.feeds.log()
    );
    assert_eq!(c.feeds.requests.lock().unwrap().len(), HOSTS);
}

/// Waits until `f` holds for the owners the hub reports.
async fn wait_owners(
    c: &Cluster,
    what: &str,
    within: Duration,
    f: impl Fn(&std::collections::HashMap<String, String>) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let o = c.owners().await;
        if o.len() == HOSTS && f(&o) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "timed out waiting for {what}: owners {o:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn some_stored(c: &Cluster) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while c.stored_links().is_empty() {
        assert!(Instant::now() < deadline, "nothing stored");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_the_hosts_and_every_mention_is_stored_and_alerted_once() {
    let _one = SERIAL.lock().await;
    let Some(c) = cluster().await else { return };
    wait_owners(
        &c,
        "both workers to hold two hosts",
        Duration::from_secs(30),
        |o| {
            let w1 = o.values().filter(|w| *w == "w1").count();
            w1 == 2
        },
    )
    .await;
    c.assert_once_each(SETTLE).await;
    // the hub saw results from both, and shows their lag
    let m = c.hub_metrics().await;
    for w in ["w1", "w2"] {
        assert!(
            m.contains(&format!(
                "overhear_cluster_worker_lag_seconds{{worker=\"{w}\"}}"
            )),
            "{m}"
        );
    }
    assert_polite(&c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_s_hosts_move_to_the_other_within_the_lease_period() {
    let _one = SERIAL.lock().await;
    let Some(mut c) = cluster().await else { return };
    wait_owners(
        &c,
        "both workers to hold hosts",
        Duration::from_secs(30),
        |o| o.values().any(|w| w == "w1") && o.values().any(|w| w == "w2"),
    )
    .await;
    some_stored(&c).await;
    c.kill_worker(0);
    let took = wait_owners(&c, "w2 to own every host", Duration::from_secs(30), |o| {
        o.values().all(|w| w == "w2")
    })
    .await;
    // the lease period, plus a tick of the survivor and of the hub's view
    assert!(
        took <= Duration::from_secs(LEASE_TTL_SECS + 4),
        "the hosts moved after {took:?}"
    );
    eprintln!("hosts moved to w2 {took:?} after w1 was killed");
    c.assert_once_each(SETTLE).await;
    assert_polite(&c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_killed_mid_batch_and_restarted_loses_and_repeats_nothing() {
    let _one = SERIAL.lock().await;
    let Some(mut c) = cluster().await else { return };
    some_stored(&c).await;
    c.kill_hub();
    // the workers go on publishing into the stream meanwhile
    tokio::time::sleep(Duration::from_secs(5)).await;
    c.start_hub().await;
    c.assert_once_each(SETTLE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_server_restarted_under_load_loses_and_repeats_nothing() {
    let _one = SERIAL.lock().await;
    let Some(mut c) = cluster().await else { return };
    some_stored(&c).await;
    c.nats.kill();
    tokio::time::sleep(Duration::from_secs(4)).await;
    c.nats.restart();
    c.assert_once_each(SETTLE).await;
    let w = c.log("w");
    assert!(!w.contains("panicked"), "{w}");
}

/// When the worker's log (from `offset` on) says it took each host's lease.
fn leases_taken(log: &str) -> Vec<(String, DateTime<Utc>)> {
    log.lines()
        .filter(|l| l.contains("took the lease"))
        .filter_map(|l| {
            let at = DateTime::parse_from_rfc3339(l.split_whitespace().next()?).ok()?;
            let host = l.split("host=").nth(1)?.split_whitespace().next()?;
            Some((host.to_string(), at.with_timezone(&Utc)))
        })
        .collect()
}

/// Waits until every host has been polled (by anyone) after `since`: a whole poll
/// interval of the cluster has passed.
async fn a_poll_of_every_host_after(c: &Cluster, since: DateTime<Utc>, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let log = c.feeds.log();
        if (0..HOSTS).all(|h| log.iter().any(|r| r.host == h && r.at > since)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not every host was polled after {since}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_worker_never_polls_a_host_another_worker_owns() {
    let _one = SERIAL.lock().await;
    let Some(c) = cluster().await else { return };
    let w2 = c.worker_pid(1);
    wait_owners(
        &c,
        "both workers to hold hosts",
        Duration::from_secs(30),
        |o| o.values().any(|w| w == "w2"),
    )
    .await;
    // The feed server tells w2's requests apart (it polled the hosts it holds). It is
    // stopped between polls, not in the middle of one: what each of its last polls
    // was served is stored at the hub, so the worker that takes its hosts knows when
    // they were polled (a poll frozen before it is published is polled again early).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = c.feeds.log();
        let last: std::collections::HashMap<usize, usize> = log
            .iter()
            .filter(|r| r.pid == Some(w2))
            .map(|r| (r.host, r.served))
            .collect();
        let stored = c.stored_links();
        if !last.is_empty()
            && last
                .iter()
                .all(|(h, n)| (0..*n).all(|i| stored.contains(&link(*h, i))))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "w2 (pid {w2}) made no request, or its results were not stored: {log:#?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    c.signal_worker(1, "STOP");
    let stopped = Instant::now();
    // past its lease: w1 takes everything
    wait_owners(
        &c,
        "w1 to own every host while w2 is stopped",
        Duration::from_secs(30),
        |o| o.values().all(|w| w == "w1"),
    )
    .await;
    // and past the poll interval, so that w2 wakes with polls due
    let past = Duration::from_secs(12).saturating_sub(stopped.elapsed());
    tokio::time::sleep(past.max(Duration::from_secs(LEASE_TTL_SECS))).await;
    let before = c.log("w2").len();
    let woke = Utc::now();
    c.signal_worker(1, "CONT");
    // w2 wakes with due polls and stale leases: it must notice before polling. A
    // whole poll interval later, whatever it was going to poll it has.
    a_poll_of_every_host_after(&c, woke, Duration::from_secs(30)).await;
    let log = c.feeds.log();
    let after = c.log("w2");
    let taken = leases_taken(&after[before..]);
    let host_of = |h: usize| c.feed_host(h);
    let bad: Vec<_> = log
        .iter()
        .filter(|r| r.pid == Some(w2) && r.at > woke)
        .filter(|r| {
            !taken
                .iter()
                .any(|(h, at)| *h == host_of(r.host) && *at <= r.at)
        })
        .collect();
    assert!(
        bad.is_empty(),
        "w2 polled hosts it did not hold (leases it took since waking: {taken:?}): {bad:#?}"
    );
    assert!(
        log.iter().all(|r| r.pid.is_some()),
        "requests the feed server could not attribute: {log:#?}"
    );
    assert!(
        after[before..].contains("lease"),
        "w2 said nothing about its leases: {}",
        &after[before..]
    );
    c.assert_once_each(SETTLE).await;
    assert_polite(&c);
}

#[test]
fn the_compose_files_configs_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/cluster");
    let hub = overhear::config::Config::load(&dir.join("hub.toml")).unwrap();
    let worker = overhear::config::Config::load(&dir.join("worker.toml")).unwrap();
    let (h, w) = (hub.cluster.unwrap(), worker.cluster.unwrap());
    assert_eq!(
        h.lease_ttl, w.lease_ttl,
        "hub and workers must agree on the lease period"
    );
    assert_eq!((h.nats_url, h.prefix), (w.nats_url, w.prefix));
    // the hub and the workers are different NATS users, both in nats-server.conf
    let nats = std::fs::read_to_string(dir.join("nats-server.conf")).unwrap();
    let (hu, wu) = (h.user.unwrap(), w.user.unwrap());
    assert_ne!(hu, wu, "the hub and the workers share a NATS user");
    for u in [&hu, &wu] {
        assert!(
            nats.contains(&format!("user: {u}\n")),
            "{u} is not in nats-server.conf"
        );
    }
    assert!(w.allow_secrets.is_empty() && !w.allow_private);
    assert!(hub.sources.len() >= 2 && worker.sources.is_empty());
    let compose = std::fs::read_to_string(dir.join("compose.yaml")).unwrap();
    for f in ["hub.toml", "worker.toml", "nats-server.conf"] {
        assert!(compose.contains(f), "compose.yaml does not mount {f}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_on_the_hub_reconfigures_the_workers() {
    let _one = SERIAL.lock().await;
    let Some(c) = cluster().await else { return };
    wait_owners(&c, "every host owned", Duration::from_secs(30), |_| true).await;
    // drop the last feed from the hub's config and reload the hub only
    let text = std::fs::read_to_string(&c.hub_config).unwrap();
    let last = text.rfind("[[source]]").unwrap();
    let end = text[last..]
        .find("\n\n")
        .map_or(text.len(), |e| last + e + 2);
    std::fs::write(&c.hub_config, format!("{}{}", &text[..last], &text[end..])).unwrap();
    daemon_support::signal(c.hub.as_ref().unwrap(), "HUP");
    let start = Instant::now();
    loop {
        let o = c.owners().await;
        if o.len() == HOSTS - 1 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the workers kept {o:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let w = c.log("w");
    assert!(w.matches("the hub's config is in").count() >= 4, "{w}");
}
