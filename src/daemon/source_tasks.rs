//! The source tasks: one per `[[source]]`, each on its own schedule (poll, hand the
//! posts to ingest, commit the cursor only once they are stored, sleep with jitter).
//! Never matches or stores posts itself, and never advances a cursor before the ack.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::pipeline::{setup, DaemonError};
use super::shared::{Shared, SourceBatch};
use crate::config::Config;
use crate::matcher::Matcher;
use crate::sources::{Source, StateStore};

pub(super) fn build_sources(
    config: &Config,
    matcher: &Matcher,
    state: Arc<dyn StateStore>,
) -> Result<Vec<Box<dyn Source>>, DaemonError> {
    let ctx = config
        .source_context(matcher, state)
        .map_err(|e| setup("sources", e))?;
    config
        .sources
        .iter()
        .map(|s| {
            crate::sources::build(s, &ctx)
                .map_err(|e| DaemonError::Config(format!("source {:?}: {e}", s.name())))
        })
        .collect()
}

pub(super) fn spawn_sources(
    tasks: &mut JoinSet<()>,
    sources: Vec<Box<dyn Source>>,
    tx: &mpsc::Sender<SourceBatch>,
    cancel: &CancellationToken,
    shared: &Arc<Shared>,
) {
    for s in sources {
        tasks.spawn(source_task(s, tx.clone(), cancel.clone(), shared.clone()));
    }
}

fn jitter(base: Duration, fraction: f64) -> Duration {
    let extra = base.as_secs_f64() * fraction * rand::thread_rng().gen::<f64>();
    base + Duration::from_secs_f64(extra)
}

/// One source on its own schedule: poll, hand the posts on, commit the cursor once
/// they are stored, sleep.
async fn source_task(
    mut source: Box<dyn Source>,
    tx: mpsc::Sender<SourceBatch>,
    cancel: CancellationToken,
    shared: Arc<Shared>,
) {
    let metrics = shared.metrics.clone();
    let name = source.name().to_string();
    // A small random start offset, so that sources don't all fire at once.
    let mut delay = jitter(Duration::from_millis(50), 10.0);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        let polled = tokio::select! {
            _ = cancel.cancelled() => return,
            r = source.poll() => r,
        };
        match polled {
            Ok(batch) => {
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
                    return;
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
                    Err(_) => return,
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
        delay = jitter(source.next_delay(), 0.1);
    }
}
