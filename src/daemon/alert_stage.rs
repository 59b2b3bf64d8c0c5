//! The alert stage: records the classifier's verdicts in groups. Alerts go to the
//! outbox before the mention is marked classified, so a crash in between repeats only
//! the idempotent enqueue. Never sends email (the outbox sender does) and never reads
//! the clock-driven rules (the scheduler does).

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::mpsc;

use super::shared::Shared;
use crate::post::Sentiment;

/// Records each verdict: alerts go to the outbox first, then the mention is marked
/// classified, so that a crash in between repeats the (idempotent) enqueue.
pub(super) async fn alert_stage(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<(String, Result<crate::classifier::Prediction, String>)>,
) {
    /// Verdicts recorded together: one outbox write and one sentiment transaction
    /// (two flushes) per group instead of per mention.
    const GROUP: usize = 256;
    while let Some(first) = rx.recv().await {
        let mut verdicts = vec![first];
        while verdicts.len() < GROUP {
            match rx.try_recv() {
                Ok(v) => verdicts.push(v),
                Err(_) => break,
            }
        }
        let ids: Vec<String> = verdicts.iter().map(|(id, _)| id.clone()).collect();
        record_verdicts(&shared, verdicts);
        shared.retries.finished(ids.iter().map(String::as_str));
    }
}

/// Watches the threads of the mentions that alerted, for the brand's answer.
fn start_watches(
    shared: &Shared,
    classified: &[(String, Sentiment)],
    mentions: &[crate::post::Mention],
    alerted: &[String],
    now: chrono::DateTime<Utc>,
) {
    let plan = shared.watch_plan();
    let watches: Vec<_> = classified
        .iter()
        .zip(mentions)
        .filter(|((id, _), _)| alerted.contains(id))
        .filter_map(|((id, _), m)| plan.start(m, now).map(|st| (id.clone(), st)))
        .collect();
    if watches.is_empty() {
        return;
    }
    if let Err(e) = shared.store.watch_start(&watches) {
        tracing::error!(error = %e, count = watches.len(), "cannot start watching threads");
    }
}

/// Whether `m` came with the first poll of its source for `brand`: first seen no later
/// than the end of that poll, or before it ended (not recorded yet).
fn first_poll(shared: &Shared, m: &crate::post::Mention, brand: &str) -> bool {
    match shared.store.first_poll(&m.post.source_name, brand) {
        Ok(Some(end)) => m.first_seen <= end,
        Ok(None) => true,
        Err(e) => {
            tracing::warn!(mention = %m.post.id, error = %e, "cannot read when the source was first polled; the mention alerts as a new one");
            false
        }
    }
}

fn record_verdicts(
    shared: &Shared,
    verdicts: Vec<(String, Result<crate::classifier::Prediction, String>)>,
) {
    let alerter = shared.alerter();
    let now = Utc::now();
    let mut items = Vec::new();
    let mut classified: Vec<(String, Sentiment)> = Vec::new();
    let mut mentions = Vec::new();
    let mut alerted = Vec::new();
    for (id, verdict) in verdicts {
        let prediction = match verdict {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(mention = %id, error = %e, "classification failed; retried with backoff");
                continue;
            }
        };
        let sentiment = Sentiment {
            label: prediction.label,
            scores: prediction.scores,
            model: shared.model_id.clone(),
        };
        let mut mention = match shared.store.get(&id) {
            Ok(Some(m)) => m,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!(mention = %id, error = %e, "cannot read a mention");
                continue;
            }
        };
        mention.sentiment = Some(sentiment.clone());
        let first_poll = |brand: &str| first_poll(shared, &mention, brand);
        let evaluation = alerter.evaluate_heard(&mention, now, &first_poll);
        if evaluation.selected {
            alerted.push(id.clone());
        }
        items.extend(evaluation.items);
        classified.push((id, sentiment));
        mentions.push(mention);
    }
    if !items.is_empty() {
        match shared.store.enqueue(&items) {
            Ok(n) => {
                shared
                    .metrics
                    .inc("overhear_alerts_queued_total", &[], n as f64);
                shared.wake_sender();
            }
            Err(e) => {
                // Not marked classified either: `retry` sends them through again.
                tracing::error!(error = %e, count = classified.len(), "cannot queue alerts; retried with backoff");
                return;
            }
        }
    }
    if let Err(e) = shared.store.set_verdicts(&classified, &alerted, now) {
        tracing::error!(error = %e, count = classified.len(), "cannot store sentiments; retried with backoff");
        return;
    }
    if let Some(s) = &shared.search {
        s.changed(classified.iter().map(|(id, _)| id.clone()));
    }
    start_watches(shared, &classified, &mentions, &alerted, now);
    for m in &mentions {
        let label = m.sentiment.as_ref().map_or("", |s| s.label.as_str());
        for b in &m.brands {
            shared.metrics.inc(
                "overhear_mentions_total",
                &[("brand", &b.brand), ("sentiment", label)],
                1.0,
            );
        }
    }
}
