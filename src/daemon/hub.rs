//! The hub of a cluster: consumes the workers' poll results from the results stream
//! with a durable consumer, stores the mentions (idempotent by post id), hands the
//! workers' verdicts to the alert stage (or the text to the hub's own classifier
//! when a worker's model failed or differs), commits the source's cursor to the
//! cursors bucket only after the store is flushed, and acknowledges the message only
//! then. A hub that dies mid-batch gets the unacknowledged messages again; the store
//! absorbs the duplicates. It also publishes its config for the workers, and shows
//! who owns which host and how far behind each worker's results are in `/metrics`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::{AckKind, Message};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::classify::Job;
use super::shared::Shared;
use crate::classifier::Prediction;
use crate::cluster::wire::{host_key, PollResult};
use crate::cluster::{lease, Cluster, CONFIG_KEY};
use crate::sources::StateStore;

/// The durable consumer's name.
const CONSUMER: &str = "hub";

/// A committed cursor in the cursors bucket: the stream sequence of the result that
/// reached it (a redelivered older result never moves it back) and the bytes.
#[derive(Debug, Serialize, Deserialize)]
pub struct Committed {
    pub seq: u64,
    pub cursor: String,
    /// When the poll that reached it was published (ms since the epoch): a worker
    /// that takes the host over waits out the source's interval from there.
    #[serde(default)]
    pub polled_ms: i64,
}

/// The cursors bucket's key of a source (hex: any `[[source]]` name is a valid key).
pub fn cursor_key(source: &str) -> String {
    host_key(source)
}

/// What the hub's consumer hands its results to.
pub(super) struct Hub {
    pub(super) cluster: Cluster,
    pub(super) shared: Arc<Shared>,
    pub(super) classify: mpsc::Sender<Job<String>>,
    pub(super) verdicts: mpsc::Sender<(String, Result<Prediction, String>)>,
    /// The last committed stream sequence per source.
    committed: HashMap<String, u64>,
}

impl Hub {
    pub(super) fn new(
        cluster: Cluster,
        shared: Arc<Shared>,
        classify: mpsc::Sender<Job<String>>,
        verdicts: mpsc::Sender<(String, Result<Prediction, String>)>,
    ) -> Hub {
        for (name, kind, help) in [
            (
                "overhear_cluster_results_total",
                "counter",
                "Poll results stored, by worker.",
            ),
            (
                "overhear_cluster_results_refused_total",
                "counter",
                "Messages that were not poll results of this version (terminated).",
            ),
            (
                "overhear_cluster_worker_lag_seconds",
                "gauge",
                "Time from a worker's publish to the hub's store, for each worker's last result.",
            ),
            (
                "overhear_cluster_hosts_owned",
                "gauge",
                "Hosts each worker holds the lease of.",
            ),
            (
                "overhear_cluster_host_owner",
                "gauge",
                "1 for the worker that owns each host.",
            ),
            (
                "overhear_cluster_workers",
                "gauge",
                "Workers with a live heartbeat.",
            ),
            (
                "overhear_cluster_pending_results",
                "gauge",
                "Results in the stream not yet acknowledged by the hub.",
            ),
        ] {
            shared.metrics.describe(name, kind, help);
        }
        Hub {
            cluster,
            shared,
            classify,
            verdicts,
            committed: HashMap::new(),
        }
    }

    /// Consumes until cancelled; a lost consumer is made again after a pause.
    pub(super) async fn run(mut self, cancel: CancellationToken) {
        loop {
            match self.consume(&cancel).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::error!(error = %e, "cluster: the results consumer stopped; starting it again");
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    }

    async fn consume(&mut self, cancel: &CancellationToken) -> Result<(), String> {
        let stream = self
            .cluster
            .results_stream()
            .await
            .map_err(|e| e.to_string())?;
        let consumer = stream
            .get_or_create_consumer(
                CONSUMER,
                pull::Config {
                    durable_name: Some(CONSUMER.into()),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(60),
                    max_ack_pending: self.cluster.settings.max_ack_pending,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| format!("cannot make the consumer: {e}"))?;
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| format!("cannot consume: {e}"))?;
        tracing::info!(stream = %self.cluster.stream_name(), "cluster: consuming the workers' results");
        loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                m = messages.next() => m,
            };
            match next {
                None => return Err("the message stream ended".into()),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "cluster: consumer error");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Some(Ok(m)) => self.handle(m).await,
            }
        }
    }

    /// One message: store, route the verdicts, commit the cursor, then ack.
    async fn handle(&mut self, msg: Message) {
        let seq = msg.info().map(|i| i.stream_sequence).unwrap_or(0);
        let result = match PollResult::decode(&msg.payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(seq, error = %e, "cluster: refusing a message on the results stream");
                self.shared
                    .metrics
                    .inc("overhear_cluster_results_refused_total", &[], 1.0);
                let _ = msg.ack_with(AckKind::Term).await;
                return;
            }
        };
        let shared = self.shared.clone();
        let source = result.source.clone();
        let matched: Vec<_> = result
            .items
            .iter()
            .map(|i| (i.post.clone(), i.brands.clone()))
            .collect();
        let verdicts: HashMap<String, Prediction> = result
            .items
            .iter()
            .filter(|_| result.model == shared.model_id)
            .filter_map(|i| Some((i.post.id.clone(), i.verdict.clone()?.into())))
            .collect();
        shared.metrics.inc(
            "overhear_posts_matched_total",
            &[("source", &source)],
            matched.len() as f64,
        );
        if !matched.is_empty() {
            let (kept, stored) = super::ingest::store_matched(&shared, &source, matched);
            let outcomes = match stored {
                Ok(o) => o,
                Err(e) => {
                    tracing::error!(%source, error = %e, "cluster: cannot store mentions; the result comes back later");
                    let _ = msg
                        .ack_with(AckKind::Nak(Some(Duration::from_secs(2))))
                        .await;
                    return;
                }
            };
            for ((post, _), outcome) in kept.iter().zip(outcomes) {
                let Some(id) = super::ingest::to_classify(outcome) else {
                    continue;
                };
                shared.retries.sent(&id);
                let sent = match verdicts.get(&post.id) {
                    Some(p) => self.verdicts.send((id, Ok(p.clone()))).await.is_ok(),
                    None => self
                        .classify
                        .send(Job {
                            item: id,
                            text: post.classifier_text(),
                        })
                        .await
                        .is_ok(),
                };
                if !sent {
                    // shutting down: unacked, so it comes back after the restart
                    return;
                }
            }
        }
        if let Some(cursor) = result.cursor_bytes() {
            if let Err(e) = self
                .commit(&source, seq, &cursor, result.published_ms)
                .await
            {
                tracing::error!(%source, error = %e, "cluster: cannot commit the cursor; the result comes back later");
                let _ = msg
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(2))))
                    .await;
                return;
            }
        }
        if let Err(e) = msg.double_ack().await {
            // stored and committed: a redelivery is absorbed
            tracing::warn!(%source, error = %e, "cluster: the ack was not confirmed");
        }
        let now = chrono::Utc::now().timestamp_millis();
        let lag = (now.saturating_sub(result.published_ms)).max(0) as f64 / 1000.0;
        let m = &shared.metrics;
        m.inc(
            "overhear_cluster_results_total",
            &[("worker", &result.worker)],
            1.0,
        );
        m.set(
            "overhear_cluster_worker_lag_seconds",
            &[("worker", &result.worker)],
            lag,
        );
    }

    /// Commits `cursor` for `source` unless a later result already moved it on.
    async fn commit(
        &mut self,
        source: &str,
        seq: u64,
        cursor: &[u8],
        polled_ms: i64,
    ) -> Result<(), String> {
        let key = cursor_key(source);
        let last = match self.committed.get(source) {
            Some(s) => *s,
            None => match self.cluster.cursors.get(&key).await {
                Ok(Some(v)) => serde_json::from_slice::<Committed>(&v).map_or(0, |c| c.seq),
                Ok(None) => 0,
                Err(e) => return Err(e.to_string()),
            },
        };
        if seq != 0 && seq <= last {
            return Ok(());
        }
        let value = serde_json::to_vec(&Committed {
            seq,
            cursor: hex::encode(cursor),
            polled_ms,
        })
        .map_err(|e| e.to_string())?;
        self.cluster
            .cursors
            .put(&key, value.into())
            .await
            .map_err(|e| e.to_string())?;
        self.committed.insert(source.to_string(), seq);
        // The hub's own copy: a return to one process resumes from here.
        if let Err(e) = self.shared.store.save(source, cursor) {
            tracing::warn!(%source, error = %e, "cannot keep a copy of the cursor in the store");
        }
        Ok(())
    }
}

/// Puts the hub's config file where workers read it (on start and every reload).
pub(super) async fn publish_config(cluster: &Cluster, text: &str) -> Result<(), String> {
    cluster
        .config
        .put(CONFIG_KEY, text.to_string().into())
        .await
        .map(|_| ())
        .map_err(|e| format!("cannot publish the config to the workers: {e}"))
}

/// Every few seconds: who owns which host, how many workers live, what is pending.
pub(super) async fn observe(cluster: Cluster, shared: Arc<Shared>, cancel: CancellationToken) {
    let m = &shared.metrics;
    loop {
        if let Ok(owners) = lease::owners(&cluster.leases).await {
            let mut per: HashMap<String, f64> = HashMap::new();
            let mut series = Vec::new();
            for (host, worker) in &owners {
                *per.entry(worker.clone()).or_default() += 1.0;
                series.push((
                    vec![("host", host.clone()), ("worker", worker.clone())],
                    1.0,
                ));
            }
            m.set_all("overhear_cluster_host_owner", &series);
            let owned: Vec<_> = per
                .into_iter()
                .map(|(w, n)| (vec![("worker", w)], n))
                .collect();
            m.set_all("overhear_cluster_hosts_owned", &owned);
        }
        if let Ok(n) = lease::live_workers(&cluster.workers).await {
            m.set("overhear_cluster_workers", &[], n as f64);
        }
        if let Ok(mut s) = cluster.js.get_stream(cluster.stream_name()).await {
            if let Ok(info) = s.info().await {
                m.set(
                    "overhear_cluster_pending_results",
                    &[],
                    info.state.messages as f64,
                );
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}
