//! The hub of a cluster: consumes the workers' poll results from the results stream
//! with a durable consumer, stores the mentions (idempotent by post id), hands the
//! workers' verdicts to the alert stage (or the text to the hub's own classifier
//! when a worker's model failed or differs), commits the source's cursor to the
//! cursors bucket only after the store is flushed, and acknowledges the message only
//! then. A hub that dies mid-batch gets the unacknowledged messages again; the store
//! absorbs the duplicates. It also publishes its config for the workers, and shows
//! who owns which host and how far behind each worker's results are in `/metrics`.
//!
//! Whoever may publish results can forge one, so the hub trusts a result only as
//! far as it can check it (see [`Hub::handle`]): its own sources, its own brands, the
//! lease holder's cursors moving forward, bounded metric labels.

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
use crate::cluster::{lease, Cluster};
use crate::sources::StateStore;
use labels::{label, plain_name, MAX_WORKER_LABELS, OTHER};
pub(super) use observe::{observe, publish_config};

mod labels;
mod observe;

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
    /// The last committed stream sequence and cursor per source.
    committed: HashMap<String, (u64, Option<Vec<u8>>)>,
    /// The worker names the metrics carry (bounded by [`MAX_WORKER_LABELS`]).
    workers_seen: std::collections::HashSet<String>,
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
                "Poll results stored, by worker (`other`: a worker without the host's lease).",
            ),
            (
                "overhear_cluster_results_refused_total",
                "counter",
                "Messages refused (terminated): not a poll result of this version (why=format), or for a source the hub does not have (why=source).",
            ),
            (
                "overhear_cluster_posts_dropped_total",
                "counter",
                "Posts of a result that the hub's own brands do not match (or not of the source's kind): not stored.",
            ),
            (
                "overhear_cluster_cursors_refused_total",
                "counter",
                "Cursors not committed: from a worker without the host's lease, or moving the committed one back.",
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
            workers_seen: Default::default(),
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

    /// One message: check it, store, route the verdicts, commit the cursor, then ack.
    ///
    /// A result is what a worker *says* it polled, and anyone who may publish results
    /// says it: the hub takes results only for its own sources, re-matches every post
    /// against its own brands (a brand its matcher does not give is dropped, and so
    /// is a post none matches or one of another kind than its source's), commits a
    /// cursor only from the worker that holds the host's lease and only forward, and
    /// names in metrics only its sources and lease-holding workers. The verdict stays
    /// the worker's (the hub has no model of its own to check it with).
    async fn handle(&mut self, msg: Message) {
        let (seq, delivered) = msg
            .info()
            .map(|i| (i.stream_sequence, i.delivered))
            .unwrap_or((0, 1));
        let result = match PollResult::decode(&msg.payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(seq, error = %e, "cluster: refusing a message on the results stream");
                self.refused("format");
                let _ = msg.ack_with(AckKind::Term).await;
                return;
            }
        };
        let shared = self.shared.clone();
        let source = result.source.clone();
        let Some(configured) = shared.sources().get(&source).cloned() else {
            // A reload may have added it a moment ago: a few tries, then refused.
            if delivered < 4 {
                let _ = msg
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(2))))
                    .await;
            } else {
                tracing::warn!(
                    seq,
                    "cluster: refusing a result for a source the hub's config does not have"
                );
                self.refused("source");
                let _ = msg.ack_with(AckKind::Term).await;
            }
            return;
        };
        let holds = match self.holds_lease(&configured.host, &result).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(%source, error = %e, "cluster: cannot read the lease; the result comes back later");
                let _ = msg
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(2))))
                    .await;
                return;
            }
        };
        let matcher = shared.matcher();
        let prefix = format!("{}:", configured.kind);
        let mut dropped = 0usize;
        let mut verdicts: HashMap<String, Prediction> = HashMap::new();
        let mut matched = Vec::with_capacity(result.items.len());
        for item in &result.items {
            let mut post = item.post.clone();
            post.source_name = source.clone();
            post.owned_by = configured.brand.clone();
            let brands = if post.source == configured.kind && post.id.starts_with(&prefix) {
                matcher.match_post(&post)
            } else {
                Vec::new()
            };
            if brands.is_empty() {
                dropped += 1;
                continue;
            }
            if result.model == shared.model_id {
                if let Some(v) = item.verdict.clone() {
                    verdicts.insert(post.id.clone(), v.into());
                }
            }
            matched.push((post, brands));
        }
        if dropped > 0 {
            tracing::warn!(%source, worker = %label(&result.worker), dropped, "cluster: posts the hub's own brands do not match (or not of the source's kind) were dropped");
            shared.metrics.inc(
                "overhear_cluster_posts_dropped_total",
                &[("source", &source)],
                dropped as f64,
            );
        }
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
        super::ingest::note_polled(&shared, &source);
        if let Some(cursor) = result.cursor_bytes() {
            let committed = if holds {
                self.commit(&source, seq, &cursor, result.published_ms)
                    .await
            } else {
                Ok(Commit::NotHolder)
            };
            match committed {
                Ok(Commit::Done) => {}
                Ok(refusal) => {
                    tracing::warn!(%source, worker = %label(&result.worker), why = refusal.as_str(), "cluster: the result's cursor is not committed");
                    shared.metrics.inc(
                        "overhear_cluster_cursors_refused_total",
                        &[("source", &source), ("why", refusal.as_str())],
                        1.0,
                    );
                }
                Err(e) => {
                    tracing::error!(%source, error = %e, "cluster: cannot commit the cursor; the result comes back later");
                    let _ = msg
                        .ack_with(AckKind::Nak(Some(Duration::from_secs(2))))
                        .await;
                    return;
                }
            }
        }
        if let Err(e) = msg.double_ack().await {
            // stored and committed: a redelivery is absorbed
            tracing::warn!(%source, error = %e, "cluster: the ack was not confirmed");
        }
        let now = chrono::Utc::now().timestamp_millis();
        let lag = (now.saturating_sub(result.published_ms)).max(0) as f64 / 1000.0;
        let worker = self.worker_label(&result.worker, holds);
        let m = &shared.metrics;
        m.inc(
            "overhear_cluster_results_total",
            &[("worker", &worker)],
            1.0,
        );
        m.set(
            "overhear_cluster_worker_lag_seconds",
            &[("worker", &worker)],
            lag,
        );
    }

    fn refused(&self, why: &str) {
        self.shared.metrics.inc(
            "overhear_cluster_results_refused_total",
            &[("why", why)],
            1.0,
        );
    }

    /// Whether the result's worker (its name *and* process id) holds `host`'s lease
    /// now, read from the leases bucket.
    async fn holds_lease(&self, host: &str, result: &PollResult) -> Result<bool, String> {
        if result.worker_id.is_empty() || result.host != host {
            return Ok(false);
        }
        let value = self
            .cluster
            .leases
            .get(host_key(host))
            .await
            .map_err(|e| e.to_string())?;
        let me = lease::holder(&result.worker, &result.worker_id);
        Ok(value.is_some_and(|v| v.as_ref() == me.as_bytes()))
    }

    /// The `worker` label of a result: its worker's name when that worker holds the
    /// lease and the name is plain, among at most [`MAX_WORKER_LABELS`]; else `other`.
    fn worker_label(&mut self, worker: &str, holds: bool) -> String {
        if !holds || !plain_name(worker) {
            return OTHER.into();
        }
        if self.workers_seen.contains(worker) || self.workers_seen.len() < MAX_WORKER_LABELS {
            self.workers_seen.insert(worker.to_string());
            return worker.to_string();
        }
        OTHER.into()
    }

    /// Commits `cursor` for `source` unless a later result already moved it on or it
    /// moves the committed cursor back.
    async fn commit(
        &mut self,
        source: &str,
        seq: u64,
        cursor: &[u8],
        polled_ms: i64,
    ) -> Result<Commit, String> {
        let key = cursor_key(source);
        let (last, last_cursor) = match self.committed.get(source) {
            Some((s, c)) => (*s, c.clone()),
            None => match self.cluster.cursors.get(&key).await {
                Ok(Some(v)) => serde_json::from_slice::<Committed>(&v)
                    .map_or((0, None), |c| (c.seq, hex::decode(c.cursor).ok())),
                Ok(None) => (0, None),
                Err(e) => return Err(e.to_string()),
            },
        };
        if seq != 0 && seq <= last {
            return Ok(Commit::Done);
        }
        if let Some(old) = &last_cursor {
            if crate::cluster::cursor::order(old, cursor) == Some(std::cmp::Ordering::Less) {
                return Ok(Commit::Backwards);
            }
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
        self.committed
            .insert(source.to_string(), (seq, Some(cursor.to_vec())));
        // The hub's own copy: a return to one process resumes from here.
        if let Err(e) = self.shared.store.save(source, cursor) {
            tracing::warn!(%source, error = %e, "cannot keep a copy of the cursor in the store");
        }
        Ok(Commit::Done)
    }
}

/// What became of a result's cursor.
enum Commit {
    Done,
    /// Its worker does not hold the host's lease (any more, or never did).
    NotHolder,
    /// It moves the committed cursor back.
    Backwards,
}

impl Commit {
    fn as_str(&self) -> &'static str {
        match self {
            Commit::Done => "committed",
            Commit::NotHolder => "not_lease_holder",
            Commit::Backwards => "backwards",
        }
    }
}
