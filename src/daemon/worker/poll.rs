//! One source on a worker: poll on its schedule while this worker holds its host's
//! lease, match, classify, publish the result (every part acknowledged by the
//! server), and only then advance the cursor. A lost lease ends the task before its
//! next poll or publish; an unpublished result is dropped with its cursor
//! uncommitted, so the host's next owner polls the same posts again.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::context::Publish;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::state::WorkerState;
use crate::classifier::Prediction;
use crate::cluster::lease::Leases;
use crate::cluster::wire::{self, Item, Poll, PollResult};
use crate::cluster::Cluster;
use crate::daemon::classify::Job;
use crate::daemon::metrics::Metrics;
use crate::matcher::Matcher;
use crate::sources::{Source, StateStore};

pub(super) type Reply = oneshot::Sender<Result<Prediction, String>>;

/// What every source task of one worker shares.
pub(super) struct Ctx {
    pub(super) cluster: Cluster,
    pub(super) leases: Arc<Leases>,
    pub(super) worker: String,
    /// This process's random id (leases and results carry it besides the name).
    pub(super) worker_id: String,
    pub(super) model: String,
    /// The brands of the hub's current config (swapped when it changes).
    pub(super) matcher: std::sync::RwLock<Arc<Matcher>>,
    pub(super) classify: mpsc::Sender<Job<Reply>>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) state: Arc<WorkerState>,
}

impl Ctx {
    pub(super) fn matcher(&self) -> Arc<Matcher> {
        self.matcher
            .read()
            .map(|m| m.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    pub(super) fn set_matcher(&self, m: Arc<Matcher>) {
        match self.matcher.write() {
            Ok(mut g) => *g = m,
            Err(p) => *p.into_inner() = m,
        }
    }
}

/// Why publishing stopped short.
enum Stop {
    Cancelled,
    LeaseLost,
}

/// Polls `source` (of `host`) until cancelled or the lease is gone.
pub(super) async fn run(
    mut source: Box<dyn Source>,
    host: String,
    ctx: Arc<Ctx>,
    cancel: CancellationToken,
    first: Instant,
) {
    let name = source.name().to_string();
    let mut due = first;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep_until(due) => {}
        }
        if !ctx.leases.holds(&host) {
            tracing::info!(source = %name, %host, "lease gone: this worker stops polling the source");
            return;
        }
        let from = ctx.state.load(&name).ok().flatten();
        tracing::debug!(source = %name, %host, "poll");
        let polled = tokio::select! {
            _ = cancel.cancelled() => return,
            r = source.poll() => r,
        };
        due = later(Instant::now(), source.next_delay());
        let batch = match polled {
            Ok(b) => b,
            Err(e) => {
                ctx.metrics
                    .set("overhear_source_up", &[("source", &name)], 0.0);
                ctx.metrics.inc(
                    "overhear_source_errors_total",
                    &[("source", &name), ("error", e.kind())],
                    1.0,
                );
                continue;
            }
        };
        let m = &ctx.metrics;
        m.set("overhear_source_up", &[("source", &name)], 1.0);
        m.inc(
            "overhear_posts_fetched_total",
            &[("source", &name)],
            batch.posts.len() as f64,
        );
        let matcher = ctx.matcher();
        let items = classify(&ctx, matched(&matcher, batch.posts)).await;
        m.inc(
            "overhear_posts_matched_total",
            &[("source", &name)],
            items.len() as f64,
        );
        let cursor = batch.cursor.map(|c| c.0);
        if items.is_empty() && cursor == from {
            continue; // nothing new, and nothing for the hub to commit
        }
        let poll = Poll {
            source: &name,
            host: &host,
            worker: &ctx.worker,
            worker_id: &ctx.worker_id,
            model: &ctx.model,
            published_ms: chrono::Utc::now().timestamp_millis(),
            cursor: cursor.as_deref(),
        };
        let parts = wire::split(&poll, items, ctx.cluster.max_message() / 2);
        match publish(
            &ctx,
            &host,
            &parts,
            from.as_deref(),
            cursor.as_deref(),
            &cancel,
        )
        .await
        {
            Ok(()) => {
                if let Some(c) = cursor {
                    if let Err(e) = source.commit(crate::sources::Cursor(c)) {
                        tracing::error!(source = %name, error = %e, "cannot keep the cursor");
                    }
                }
            }
            Err(Stop::Cancelled) => return,
            Err(Stop::LeaseLost) => {
                tracing::warn!(source = %name, %host, "lease lost before the result was published: dropped, the next owner polls it again");
                return;
            }
        }
    }
}

/// The longest a source waits between polls here, whatever it asked for.
const MAX_DELAY: Duration = Duration::from_secs(7 * 24 * 3600);

/// `now` plus `delay` (at most [`MAX_DELAY`]), never overflowing: a source's delay
/// comes from what a server said (`Retry-After`) and from the hub's config.
pub(super) fn later(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay.min(MAX_DELAY))
        .or_else(|| now.checked_add(Duration::from_secs(3600)))
        .unwrap_or(now)
}

fn matched(matcher: &Matcher, posts: Vec<crate::post::Post>) -> Vec<Item> {
    posts
        .into_iter()
        .filter_map(|post| {
            let brands = matcher.match_post(&post);
            (!brands.is_empty()).then_some(Item {
                post,
                brands,
                verdict: None,
            })
        })
        .collect()
}

/// The worker's verdicts; an item the model failed on goes without one.
async fn classify(ctx: &Ctx, mut items: Vec<Item>) -> Vec<Item> {
    let mut waiting = Vec::with_capacity(items.len());
    for item in &items {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            item: reply,
            text: item.post.classifier_text(),
        };
        if ctx.classify.send(job).await.is_err() {
            break;
        }
        waiting.push(answer);
    }
    for (item, answer) in items.iter_mut().zip(waiting) {
        match answer.await {
            Ok(Ok(p)) => item.verdict = Some(p.into()),
            Ok(Err(e)) => {
                tracing::warn!(post = %item.post.id, error = %e, "classification failed; the hub classifies it")
            }
            Err(_) => {}
        }
    }
    items
}

/// Publishes every part, retrying (with backoff, as long as the lease holds) until
/// the server acknowledged it: a full stream or a restarting server makes the
/// worker wait, never drop.
async fn publish(
    ctx: &Ctx,
    host: &str,
    parts: &[PollResult],
    from: Option<&[u8]>,
    reached: Option<&[u8]>,
    cancel: &CancellationToken,
) -> Result<(), Stop> {
    let subject = ctx.cluster.subject(host);
    for part in parts {
        let id = part.msg_id(from, reached);
        let payload = match serde_json::to_vec(part) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(source = %part.source, error = %e, "cannot encode a poll result");
                return Err(Stop::LeaseLost);
            }
        };
        let mut wait = Duration::from_millis(100);
        let mut tries = 0u32;
        loop {
            if cancel.is_cancelled() {
                return Err(Stop::Cancelled);
            }
            if !ctx.leases.holds(host) {
                return Err(Stop::LeaseLost);
            }
            let sent = ctx
                .cluster
                .js
                .send_publish(
                    subject.clone(),
                    Publish::build()
                        .payload(payload.clone().into())
                        .message_id(&id),
                )
                .await;
            let error = match sent {
                Ok(ack) => match ack.await {
                    Ok(a) => {
                        let dup = if a.duplicate { "true" } else { "false" };
                        ctx.metrics.inc(
                            "overhear_worker_results_published_total",
                            &[("source", &part.source), ("duplicate", dup)],
                            1.0,
                        );
                        break;
                    }
                    Err(e) => e.to_string(),
                },
                Err(e) => e.to_string(),
            };
            tries = tries.saturating_add(1);
            ctx.metrics
                .inc("overhear_worker_publish_retries_total", &[], 1.0);
            if tries == 1 || tries % 20 == 0 {
                tracing::warn!(source = %part.source, tries, %error, "cannot publish the result yet (a full stream or an unreachable server); retrying");
            }
            tokio::select! {
                _ = cancel.cancelled() => return Err(Stop::Cancelled),
                _ = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_delay_neither_overflows_nor_waits_forever() {
        let now = Instant::now();
        assert_eq!(later(now, Duration::MAX), now + MAX_DELAY);
        assert_eq!(
            later(now, Duration::from_secs(10)),
            now + Duration::from_secs(10)
        );
    }
}
