//! The source tasks: one per `[[source]]`, each on its own schedule (poll, hand the
//! posts to ingest, commit the cursor only once they are stored, sleep with jitter).
//! Never matches or stores posts itself, and never advances a cursor before the ack.
//!
//! Each task is supervised: a source that panics is rebuilt from its `[[source]]`
//! entry (it resumes from its committed cursor) after a backoff, and the panic is
//! reported in health (`failing`) and in `overhear_source_restarts_total`. A task
//! ends only when it is cancelled (reload, shutdown) or ingest is gone, and then hands
//! back its source and when it was due, so that a reload can keep an unchanged source
//! with its state and schedule (see `reload.rs`).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use rand::Rng;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::pipeline::{setup, DaemonError};
use super::shared::{Shared, SourceBatch};
use crate::config::Config;
use crate::matcher::Matcher;
use crate::sources::fetch::MAX_SERVER_WAIT;
use crate::sources::{backoff, Source, SourceConfig, SourceContext, StateStore};

/// One source with what it is built from, and when it polls next.
pub(super) struct Running {
    pub(super) cfg: SourceConfig,
    pub(super) ctx: SourceContext,
    /// `None` after a panic, until it is rebuilt.
    pub(super) source: Option<Box<dyn Source>>,
    pub(super) due: Instant,
}

impl Running {
    pub(super) fn name(&self) -> String {
        self.cfg.name()
    }

    /// Whether `other` is the same entry built with the same settings.
    pub(super) fn same_as(&self, other: &Running) -> bool {
        self.cfg == other.cfg && self.ctx.same_settings(&other.ctx)
    }
}

pub(super) fn build_sources(
    config: &Config,
    matcher: &Matcher,
    state: Arc<dyn StateStore>,
) -> Result<Vec<Running>, DaemonError> {
    let ctx = config
        .source_context(matcher, state)
        .map_err(|e| setup("sources", e))?;
    config
        .sources
        .iter()
        .map(|s| {
            let source = crate::sources::build(s, &ctx)
                .map_err(|e| DaemonError::Config(format!("source {:?}: {e}", s.name())))?;
            Ok(Running {
                cfg: s.clone(),
                ctx: ctx.clone(),
                source: Some(source),
                // a small random start offset, so that sources don't all fire at once
                due: after(jitter(Duration::from_millis(50), 10.0)),
            })
        })
        .collect()
}

pub(super) fn spawn_sources(
    tasks: &mut JoinSet<Running>,
    sources: Vec<Running>,
    tx: &mpsc::Sender<SourceBatch>,
    cancel: &CancellationToken,
    shared: &Arc<Shared>,
) {
    for s in sources {
        tasks.spawn(supervise(s, tx.clone(), cancel.clone(), shared.clone()));
    }
}

/// `base` plus up to `fraction` of it, at random; never overflows.
fn jitter(base: Duration, fraction: f64) -> Duration {
    let extra = base.as_secs_f64() * fraction * rand::thread_rng().gen::<f64>();
    let extra = Duration::try_from_secs_f64(extra).unwrap_or(MAX_SERVER_WAIT);
    base.saturating_add(extra)
}

/// `d` from now; a delay past what an `Instant` holds is a day.
fn after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(MAX_SERVER_WAIT))
        .unwrap_or(now)
}

/// Why a source's loop ended.
enum Exit {
    Cancelled,
    /// Ingest is gone (shutting down).
    Closed,
}

/// Runs one source until cancelled; rebuilds it after a panic.
async fn supervise(
    mut run: Running,
    tx: mpsc::Sender<SourceBatch>,
    cancel: CancellationToken,
    shared: Arc<Shared>,
) -> Running {
    let name = run.name();
    let mut restarts = 0u32;
    loop {
        let source = match run.source.as_mut() {
            Some(s) => s,
            None => {
                tokio::select! {
                    _ = cancel.cancelled() => return run,
                    _ = tokio::time::sleep_until(run.due) => {}
                }
                match crate::sources::build(&run.cfg, &run.ctx) {
                    Ok(s) => run.source.insert(s),
                    Err(e) => {
                        restarts = restarts.saturating_add(1);
                        tracing::error!(source = %name, error = %e, "cannot rebuild the source");
                        shared.set_failing(&name, Some(format!("cannot rebuild the source: {e}")));
                        run.due =
                            after(backoff(run.ctx.backoff_base, run.ctx.backoff_max, restarts));
                        continue;
                    }
                }
            }
        };
        let mut polled_ok = false;
        let looped = AssertUnwindSafe(poll_loop(
            source.as_mut(),
            &mut run.due,
            &mut polled_ok,
            &tx,
            &cancel,
            &shared,
        ))
        .catch_unwind()
        .await;
        if polled_ok {
            restarts = 0;
        }
        match looped {
            Ok(Exit::Cancelled) | Ok(Exit::Closed) => return run,
            Err(panic) => {
                let why = panic_message(&*panic);
                restarts = restarts.saturating_add(1);
                run.source = None;
                run.due = after(backoff(run.ctx.backoff_base, run.ctx.backoff_max, restarts));
                tracing::error!(source = %name, panic = %why, restarts, "the source panicked; rebuilding it from its cursor after a backoff");
                let metrics = &shared.metrics;
                metrics.inc("overhear_source_restarts_total", &[("source", &name)], 1.0);
                metrics.set("overhear_source_up", &[("source", &name)], 0.0);
                metrics.inc(
                    "overhear_source_errors_total",
                    &[("source", &name), ("error", "panic")],
                    1.0,
                );
                shared.set_failing(&name, Some(format!("the source panicked: {why}")));
            }
        }
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// One source on its own schedule: poll, hand the posts on, commit the cursor once
/// they are stored, sleep until `due`.
async fn poll_loop(
    source: &mut dyn Source,
    due: &mut Instant,
    polled_ok: &mut bool,
    tx: &mpsc::Sender<SourceBatch>,
    cancel: &CancellationToken,
    shared: &Shared,
) -> Exit {
    let metrics = shared.metrics.clone();
    let name = source.name().to_string();
    let mut skipped = source.health().skipped;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Exit::Cancelled,
            _ = tokio::time::sleep_until(*due) => {}
        }
        let polled = tokio::select! {
            // a poll cut short is due again at once
            _ = cancel.cancelled() => return Exit::Cancelled,
            r = source.poll() => r,
        };
        let now_skipped = source.health().skipped;
        if now_skipped > skipped {
            metrics.inc(
                "overhear_posts_skipped_total",
                &[("source", &name)],
                (now_skipped - skipped) as f64,
            );
        }
        skipped = now_skipped;
        match polled {
            Ok(batch) => {
                *polled_ok = true;
                shared.set_failing(&name, None);
                metrics.set("overhear_source_up", &[("source", &name)], 1.0);
                metrics.inc(
                    "overhear_posts_fetched_total",
                    &[("source", &name)],
                    batch.posts.len() as f64,
                );
                let (ack, acked) = oneshot::channel();
                let cursor = batch.cursor.clone();
                let sent = tx
                    .send(SourceBatch {
                        source: name.clone(),
                        posts: batch.posts,
                        ack,
                    })
                    .await;
                if sent.is_err() {
                    return Exit::Closed;
                }
                match acked.await {
                    Ok(Ok(())) => {
                        if let Some(cursor) = cursor {
                            if let Err(e) = source.commit(cursor) {
                                tracing::error!(source = %name, error = %e, "cannot save the cursor; the next poll repeats this one");
                            }
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::error!(source = %name, error = %e, "posts were not stored; the cursor stays where it was")
                    }
                    Err(_) => return Exit::Closed,
                }
            }
            Err(e) => {
                shared.set_failing(&name, Some(e.to_string()));
                metrics.set("overhear_source_up", &[("source", &name)], 0.0);
                metrics.inc(
                    "overhear_source_errors_total",
                    &[("source", &name), ("error", e.kind())],
                    1.0,
                );
                // the source has logged it, with its failure count
                tracing::debug!(source = %name, error = %e, "poll failed");
            }
        }
        *due = after(jitter(source.next_delay(), 0.1));
    }
}

#[cfg(test)]
mod tests;
