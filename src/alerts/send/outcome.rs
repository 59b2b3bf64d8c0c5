//! What the sender records after one attempt, the same for an email and a webhook
//! message: accepted (marked sent, and the store flushed, before anything else is
//! sent), refused for good (marked failed, the admins told), or failed for now
//! (retried with backoff, or after the server's `Retry-After`, until
//! `give_up_after`).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::state::Outcome;
use super::{halt_message, DeliveryReport, FailureKind, SendError, Sender};
use crate::alerts::item::OutboxEntry;
use crate::alerts::AlertError;

/// Where a message went, for the records: `email` or a webhook's name.
pub(super) struct Dest<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    /// For logs: the address, or `webhook support-slack (slack)`.
    pub shown: &'a str,
}

impl Dest<'_> {
    fn is_email(&self) -> bool {
        self.kind == "email"
    }
}

/// What became of the entries of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Settled {
    Sent,
    Failed,
    /// Retried; the earliest next attempt.
    Retry(DateTime<Utc>),
}

impl Sender {
    fn observe(&self, dest: &Dest<'_>, outcome: Outcome, alerts: usize, latency: Duration) {
        if let Some(o) = &self.observer {
            o.attempt(dest.name, outcome, alerts, latency);
        }
    }

    /// Records the result of sending `entries` (one message) to `dest`.
    pub(super) fn settle(
        &self,
        dest: &Dest<'_>,
        entries: &[OutboxEntry],
        result: Result<String, SendError>,
        latency: Duration,
        now: DateTime<Utc>,
        report: &mut DeliveryReport,
    ) -> Result<Settled, AlertError> {
        let keys: Vec<String> = entries.iter().map(|e| e.item.key.clone()).collect();
        let what = if dest.is_email() {
            "alert email"
        } else {
            "alert message"
        };
        let to = dest.shown;
        match result {
            Ok(answer) => {
                let at = self.clock.now();
                if let Err(e) = self.store.mark_sent(&keys, at) {
                    let why = halt_message(&e);
                    tracing::error!(to = %to, alerts = keys.len(), "{what} accepted ({answer}) but {why}");
                    self.health.halt(keys, at, why.clone());
                    return Err(AlertError::Halted(why));
                }
                tracing::info!(to = %to, alerts = keys.len(), "{what} accepted: {answer}");
                self.health.delivered(dest.name, dest.kind, at);
                self.observe(dest, Outcome::Sent, keys.len(), latency);
                report.sent.extend(keys);
                if dest.is_email() {
                    report.emails += 1;
                } else {
                    report.webhook_messages += 1;
                }
                Ok(Settled::Sent)
            }
            Err(e) if e.kind == FailureKind::Permanent => {
                tracing::error!(to = %to, alerts = keys.len(), "{what} refused, marked failed: {e}");
                self.store.mark_failed(&keys, now, &e.message)?;
                for entry in entries {
                    self.report_failure(entry, &e.message, now)?;
                }
                self.health
                    .failing(dest.name, dest.kind, now, &e.message, None);
                self.observe(dest, Outcome::Failed, keys.len(), latency);
                report
                    .failed
                    .extend(keys.into_iter().map(|k| (k, e.message.clone())));
                Ok(Settled::Failed)
            }
            Err(e) => self.retry_or_give_up(dest, entries, &e, latency, now, report),
        }
    }

    fn retry_or_give_up(
        &self,
        dest: &Dest<'_>,
        entries: &[OutboxEntry],
        e: &SendError,
        latency: Duration,
        now: DateTime<Utc>,
        report: &mut DeliveryReport,
    ) -> Result<Settled, AlertError> {
        let to = dest.shown;
        let give_up = chrono::Duration::from_std(self.alerter.config().give_up_after)
            .unwrap_or(chrono::Duration::days(1));
        let mut earliest: Option<DateTime<Utc>> = None;
        let (mut retried, mut failed) = (0, 0);
        for entry in entries {
            let key = vec![entry.item.key.clone()];
            let first = entry.first_attempt.unwrap_or(now);
            if now - first >= give_up {
                let msg = format!(
                    "gave up after {} attempts since {first}: {e}",
                    entry.attempts.saturating_add(1)
                );
                tracing::error!(to = %to, key = %entry.item.key, "alert undeliverable: {msg}");
                self.store.mark_failed(&key, now, &msg)?;
                self.report_failure(entry, &msg, now)?;
                report.failed.push((entry.item.key.clone(), msg));
                failed += 1;
                continue;
            }
            // the server's Retry-After wins over the backoff, in both directions: it
            // knows when it will take the message again
            let wait = match e.retry_after {
                Some(d) => chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(1)),
                None => self.backoff(entry.attempts),
            };
            let next = now + wait;
            if e.kind == FailureKind::Auth {
                tracing::error!(to = %to, retry_at = %next, "{e}");
            } else {
                tracing::warn!(to = %to, retry_at = %next, "alert not delivered, will retry: {e}");
            }
            self.store.mark_retry(&key, now, next, &e.message)?;
            report
                .retried
                .push((entry.item.key.clone(), e.message.clone()));
            earliest = Some(earliest.map_or(next, |t| t.min(next)));
            retried += 1;
        }
        self.health
            .failing(dest.name, dest.kind, now, &e.message, earliest);
        if retried > 0 {
            self.observe(dest, Outcome::Retried, retried, latency);
        }
        if failed > 0 {
            self.observe(dest, Outcome::Failed, failed, latency);
        }
        Ok(earliest.map_or(Settled::Failed, Settled::Retry))
    }
}
