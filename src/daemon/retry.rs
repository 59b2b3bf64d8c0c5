//! Catch-up for mentions the classifier still owes. A mention stays in the store's
//! unclassified index until its verdict is recorded (alerts queued, sentiment
//! stored); when one of those steps fails for a moment (a store write, the model), the
//! mention is sent through again here, with backoff, while the daemon runs, instead of
//! waiting for the next start. Mentions unclassified for longer than [`STUCK_AFTER`]
//! are counted (`overhear_mentions_stuck`) and logged.
//!
//! Never classifies or stores anything itself: it only re-sends jobs to the classifier.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::classify::Job;
use super::shared::Shared;
use crate::store::StoredMention;

/// How often the unclassified index is looked at.
pub(super) const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// A mention nobody is working on is picked up when it is at least this old (a
/// mention just stored is on its way to the classifier already).
const UNTRACKED_AFTER: chrono::Duration = chrono::Duration::seconds(60);
/// Unclassified for longer than this: counted and reported as stuck.
pub(super) const STUCK_AFTER: chrono::Duration = chrono::Duration::minutes(5);
/// First retry delay after a failed attempt; doubles per attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, Copy)]
struct Attempt {
    in_flight: bool,
    attempts: u32,
    next: Instant,
}

/// Which mentions are on their way to the classifier, and when each of the others
/// may be tried again.
#[derive(Debug, Default)]
pub(super) struct Retries {
    inner: Mutex<HashMap<String, Attempt>>,
}

fn backoff(attempts: u32) -> Duration {
    let factor = 1u32
        .checked_shl(attempts.saturating_sub(1))
        .unwrap_or(u32::MAX);
    FIRST_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}

impl Retries {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Attempt>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `id` was handed to the classifier.
    pub(super) fn sent(&self, id: &str) {
        let mut m = self.lock();
        let e = m.entry(id.to_string()).or_insert(Attempt {
            in_flight: true,
            attempts: 0,
            next: Instant::now(),
        });
        e.in_flight = true;
    }

    /// The alert stage is done with `ids`, recorded or not. One that was recorded
    /// leaves the unclassified index, and its entry is dropped at the next sweep; one
    /// that was not waits out its backoff.
    pub(super) fn finished<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let now = Instant::now();
        let mut m = self.lock();
        for id in ids {
            if let Some(e) = m.get_mut(id) {
                e.in_flight = false;
                e.attempts = e.attempts.saturating_add(1);
                e.next = now + backoff(e.attempts);
            }
        }
    }

    /// Which of `unclassified` to send again now; forgets mentions no longer owed.
    pub(super) fn due(
        &self,
        unclassified: &[StoredMention],
        now: chrono::DateTime<Utc>,
    ) -> Vec<String> {
        let instant = Instant::now();
        let mut m = self.lock();
        let owed: std::collections::HashSet<&str> =
            unclassified.iter().map(|s| s.id.as_str()).collect();
        m.retain(|id, a| a.in_flight || owed.contains(id.as_str()));
        let mut out = Vec::new();
        for s in unclassified {
            match m.get(&s.id) {
                Some(a) if a.in_flight || a.next > instant => {}
                Some(_) => out.push(s.id.clone()),
                None => {
                    let since = s.mention.updated_at.unwrap_or(s.mention.first_seen);
                    if now.signed_duration_since(since) >= UNTRACKED_AFTER {
                        out.push(s.id.clone());
                    }
                }
            }
        }
        out
    }
}

/// How many of `unclassified` have waited longer than [`STUCK_AFTER`].
pub(super) fn stuck(unclassified: &[StoredMention], now: chrono::DateTime<Utc>) -> usize {
    unclassified
        .iter()
        .filter(|s| {
            let since = s.mention.updated_at.unwrap_or(s.mention.first_seen);
            now.signed_duration_since(since) > STUCK_AFTER
        })
        .count()
}

/// Sends `m` to the classifier; false when the classifier is gone (shutting down).
async fn send(shared: &Shared, tx: &mpsc::Sender<Job<String>>, m: &StoredMention) -> bool {
    shared.retries.sent(&m.id);
    let job = Job {
        item: m.id.clone(),
        text: m.mention.post.classifier_text(),
    };
    tx.send(job).await.is_ok()
}

/// At start, everything left over from the last run; then, every [`SWEEP_EVERY`],
/// what a failed step left behind, once its backoff has passed.
pub(super) async fn run(
    shared: Arc<Shared>,
    tx: mpsc::Sender<Job<String>>,
    cancel: CancellationToken,
) {
    let leftover = {
        let s = shared.clone();
        tokio::task::spawn_blocking(move || s.store.unclassified(usize::MAX)).await
    };
    match leftover {
        Ok(Ok(pending)) if !pending.is_empty() => {
            tracing::info!(
                count = pending.len(),
                "classifying mentions left over from the last run"
            );
            for m in &pending {
                if !send(&shared, &tx, m).await {
                    return;
                }
            }
        }
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "cannot list unclassified mentions; retrying"),
        Err(e) => tracing::error!(error = %e, "the unclassified scan failed; retrying"),
    }
    let mut reported = 0usize;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
        let s = shared.clone();
        let pending =
            match tokio::task::spawn_blocking(move || s.store.unclassified(usize::MAX)).await {
                Ok(Ok(p)) => p,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "cannot list unclassified mentions");
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "the unclassified scan failed");
                    continue;
                }
            };
        let now = Utc::now();
        let n_stuck = stuck(&pending, now);
        shared
            .metrics
            .set("overhear_mentions_stuck", &[], n_stuck as f64);
        if n_stuck != reported {
            if n_stuck > 0 {
                tracing::warn!(
                    count = n_stuck,
                    "mentions unclassified for more than {} minutes; retrying",
                    STUCK_AFTER.num_minutes()
                );
            } else {
                tracing::info!("no mention is stuck unclassified any more");
            }
            reported = n_stuck;
        }
        let due = shared.retries.due(&pending, now);
        if !due.is_empty() {
            tracing::info!(
                count = due.len(),
                "sending unclassified mentions to the classifier again"
            );
        }
        for m in pending.iter().filter(|m| due.contains(&m.id)) {
            if !send(&shared, &tx, m).await {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::post::{Mention, Post};

    fn stored(id: &str, age: chrono::Duration) -> StoredMention {
        let now = Utc::now();
        StoredMention {
            id: id.into(),
            mention: Mention {
                post: Post {
                    rating: None,
                    owned_by: None,
                    id: format!("rss:{id}"),
                    url: format!("https://example.com/{id}"),
                    author: None,
                    title: None,
                    text: "acme broke".into(),
                    created_at: now,
                    created_at_is_first_seen: false,
                    source: "rss".into(),
                    source_name: "rss".into(),
                    site: "example.com".into(),
                    parent_id: None,
                    thread_id: None,
                    engagement: None,
                    lang: None,
                    links: vec![],
                },
                brands: vec![],
                sentiment: None,
                first_seen: now - age,
                updated_at: None,
            },
            alerted_at: None,
            triage: Default::default(),
            answer: Default::default(),
        }
    }

    #[test]
    fn a_failed_attempt_is_retried_after_its_backoff_and_never_while_in_flight() {
        let r = Retries::default();
        let now = Utc::now();
        let young = stored("young", chrono::Duration::seconds(5));
        let old = stored("old", chrono::Duration::minutes(10));
        // untracked: only the old one (the young one is on its way already)
        assert_eq!(
            r.due(&[young.clone(), old.clone()], now),
            vec!["old".to_string()]
        );
        r.sent("old");
        assert!(
            r.due(std::slice::from_ref(&old), now).is_empty(),
            "in flight"
        );
        r.finished(["old"]);
        assert!(
            r.due(std::slice::from_ref(&old), now).is_empty(),
            "backing off"
        );
        // once recorded it leaves the index and is forgotten
        assert!(r.due(&[], now).is_empty());
        assert!(r.lock().is_empty());
        assert_eq!(stuck(&[young, old], now), 1);
    }

    #[test]
    fn the_stuck_gauge_is_rendered() {
        let m = crate::daemon::metrics::Metrics::new();
        m.set("overhear_mentions_stuck", &[], 2.0);
        assert!(
            m.render().contains("overhear_mentions_stuck 2"),
            "{}",
            m.render()
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(30));
        assert_eq!(backoff(2), Duration::from_secs(60));
        assert_eq!(backoff(40), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }
}
