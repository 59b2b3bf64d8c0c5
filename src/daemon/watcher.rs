//! The watcher task: runs a [`crate::watch::round`] on the live plan's tick, with
//! the sources' HTTP client (one budget per host), and counts what it found in
//! `/metrics`. Stops with the daemon; a round in flight is dropped (the watch
//! state on disk is what the next start resumes from).

use std::sync::Arc;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::shared::Shared;
use crate::sources::Http;

/// Threads checked per host per round: the rest wait for the next one.
const PER_HOST: usize = 10;

pub(super) async fn watcher(shared: Arc<Shared>, http: Http, cancel: CancellationToken) {
    loop {
        let plan = shared.watch_plan();
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(plan.tick()) => {}
        }
        if plan.brands.is_empty() {
            continue;
        }
        let r = tokio::select! {
            _ = cancel.cancelled() => return,
            r = crate::watch::round(&shared.store, &http, &plan, Utc::now(), PER_HOST) => r,
        };
        match r {
            Ok(checked) => {
                for c in &checked {
                    shared.metrics.inc(
                        "overhear_watch_checks_total",
                        &[("source", &c.kind), ("outcome", c.outcome.as_str())],
                        1.0,
                    );
                    if c.outcome == crate::watch::Outcome::Answered {
                        tracing::info!(mention = %c.id, source = %c.kind, "the brand answered in public");
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "the thread watch cannot read or write its state")
            }
        }
        if let Ok(w) = shared.store.watches() {
            shared
                .metrics
                .set("overhear_watch_active", &[], w.len() as f64);
        }
    }
}
