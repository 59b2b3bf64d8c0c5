//! The outbox sender: renders due outbox entries, hands them to lettre, and records
//! the outcome in the store.
//!
//! Order of events for one email: the entries are already durable in the outbox; the
//! message is sent; only when the server accepted it (250 after DATA) are the
//! entries marked sent and the store flushed. A crash between the server's accept and
//! that flush (a few milliseconds) resends the email on restart: that window is
//! inherent to SMTP (at-least-once). The Message-ID is derived from the outbox keys,
//! so a resent copy carries the same Message-ID and mail clients can collapse it.
//!
//! `transport.rs` holds the lettre transports (SMTP or `.eml` files) and how a
//! failure is classified; `message.rs` builds the MIME message.
//!
//! The sender decides nothing itself: which entries go out together, and which wait
//! (rate cap, quiet hours), comes from [`Alerter::plan`]. It never deletes an outbox
//! entry, and never marks one sent before the server accepted it.

mod message;
mod transport;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::clock::Clock;
use super::item::OutboxEntry;
use super::render::Renderer;
use super::rules::{Action, Alerter};
use super::AlertError;
use crate::store::Store;

pub use message::build_message;
pub use transport::{build_transport, FailureKind, SendError, Transport};

/// What one pass of the sender did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Outbox keys accepted by the server.
    pub sent: Vec<String>,
    /// (key, error) to be retried.
    pub retried: Vec<(String, String)>,
    /// (key, error) given up on.
    pub failed: Vec<(String, String)>,
    /// Keys moved into a later digest (rate cap, quiet hours).
    pub folded: Vec<String>,
    /// Emails accepted by the server.
    pub emails: usize,
}

/// Delivers the outbox.
pub struct Sender {
    store: Store,
    alerter: Arc<Alerter>,
    transport: Transport,
    from: Mailbox,
    clock: Arc<dyn Clock>,
    renderer: Renderer,
    wake: Arc<Notify>,
}

impl Sender {
    pub fn new(
        store: Store,
        alerter: Arc<Alerter>,
        transport: Transport,
        from: Mailbox,
        clock: Arc<dyn Clock>,
    ) -> Sender {
        Sender {
            store,
            alerter,
            transport,
            from,
            clock,
            renderer: Renderer::new(),
            wake: Arc::new(Notify::new()),
        }
    }

    /// The sender and the rules of a whole configuration, with the configured transport.
    pub fn from_config(
        store: Store,
        config: &crate::config::Config,
        clock: Arc<dyn Clock>,
    ) -> Result<(Sender, Arc<Alerter>), AlertError> {
        let alerter = Arc::new(Alerter::new(
            &config.alerts,
            &config.brands,
            config.model.alert_threshold,
        ));
        let transport = build_transport(&config.email, &config.mail_dir())?;
        let from: Mailbox =
            config.email.from.parse().map_err(|e| {
                AlertError::Address(format!("email.from {:?}: {e}", config.email.from))
            })?;
        Ok((
            Sender::new(store, alerter.clone(), transport, from, clock),
            alerter,
        ))
    }

    /// Notify this after enqueuing to have the sender look at the outbox now.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    fn backoff(&self, attempts: u32) -> chrono::Duration {
        let cfg = self.alerter.config();
        let d = cfg
            .retry_initial
            .checked_mul(2u32.saturating_pow(attempts.min(20)))
            .unwrap_or(cfg.retry_max)
            .min(cfg.retry_max);
        chrono::Duration::from_std(d).unwrap_or(chrono::Duration::hours(1))
    }

    /// One pass: sends everything due now. Errors are store errors only; send
    /// failures are recorded in the outbox and listed in the report.
    pub async fn deliver_due(&self) -> Result<DeliveryReport, AlertError> {
        let now = self.clock.now();
        let mut report = DeliveryReport::default();
        let due = self.store.due(now, 1000)?;
        if due.is_empty() {
            return Ok(report);
        }
        let pending = self.store.pending()?;
        let since = now - chrono::Duration::hours(1);
        let store = &self.store;
        let actions = self.alerter.plan(&due, &pending, now, |to| {
            store.sent_count_since(to, since).unwrap_or(0)
        });
        for action in actions {
            match action {
                Action::Fold { keys, at, why } => {
                    tracing::info!(count = keys.len(), until = %at, "alerts folded into a later digest: {why}");
                    self.store.fold_into_digest(&keys, at)?;
                    report.folded.extend(keys);
                }
                Action::Send(entries) => self.send_email(entries, now, &mut report).await?,
            }
        }
        Ok(report)
    }

    /// Queues a "could not be delivered" notice to the admins.
    fn report_failure(
        &self,
        entry: &OutboxEntry,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AlertError> {
        self.store
            .enqueue(&self.alerter.delivery_failed_items(entry, error, now))?;
        Ok(())
    }

    async fn send_email(
        &self,
        entries: Vec<OutboxEntry>,
        now: DateTime<Utc>,
        report: &mut DeliveryReport,
    ) -> Result<(), AlertError> {
        let keys: Vec<String> = entries.iter().map(|e| e.item.key.clone()).collect();
        let Some(first) = entries.first() else {
            return Ok(());
        };
        let to = first.item.to.clone();
        let mut hash = Sha256::new();
        for k in &keys {
            hash.update(k.as_bytes());
            hash.update([0]);
        }
        let id = hex::encode(&hash.finalize()[..16]);
        let msg = self
            .renderer
            .render(&entries)
            .and_then(|r| build_message(&self.from, &to, &r, &id, now));
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                let e = e.to_string();
                tracing::error!(to = %to, "alert cannot be built, marked failed: {e}");
                self.store.mark_failed(&keys, now, &e)?;
                report
                    .failed
                    .extend(keys.into_iter().map(|k| (k, e.clone())));
                return Ok(());
            }
        };
        match self.transport.send(msg).await {
            Ok(answer) => {
                self.store.mark_sent(&keys, self.clock.now())?;
                tracing::info!(to = %to, alerts = keys.len(), "alert email accepted: {answer}");
                report.sent.extend(keys);
                report.emails += 1;
            }
            Err(e) if e.kind == FailureKind::Permanent => {
                tracing::error!(to = %to, alerts = keys.len(), "alert email refused, marked failed: {e}");
                self.store.mark_failed(&keys, now, &e.message)?;
                for entry in &entries {
                    self.report_failure(entry, &e.message, now)?;
                }
                report
                    .failed
                    .extend(keys.into_iter().map(|k| (k, e.message.clone())));
            }
            Err(e) => {
                let give_up = chrono::Duration::from_std(self.alerter.config().give_up_after)
                    .unwrap_or(chrono::Duration::days(1));
                for entry in &entries {
                    let key = vec![entry.item.key.clone()];
                    let first = entry.first_attempt.unwrap_or(now);
                    if now - first >= give_up {
                        let msg = format!(
                            "gave up after {} attempts since {first}: {e}",
                            entry.attempts + 1
                        );
                        tracing::error!(to = %to, key = %entry.item.key, "alert undeliverable: {msg}");
                        self.store.mark_failed(&key, now, &msg)?;
                        self.report_failure(entry, &msg, now)?;
                        report.failed.push((entry.item.key.clone(), msg));
                    } else {
                        let next = now + self.backoff(entry.attempts);
                        if e.kind == FailureKind::Auth {
                            tracing::error!(to = %to, retry_at = %next, "{e}");
                        } else {
                            tracing::warn!(to = %to, retry_at = %next, "alert email not delivered, will retry: {e}");
                        }
                        self.store.mark_retry(&key, now, next, &e.message)?;
                        report
                            .retried
                            .push((entry.item.key.clone(), e.message.clone()));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The sender task: delivers due alerts every `[alerts] sender_poll` (or when woken
/// through [`Sender::waker`]) until `shutdown` is cancelled. A send in progress is
/// finished before it returns.
pub async fn run_sender(sender: Sender, shutdown: CancellationToken) {
    let poll = sender
        .alerter
        .config()
        .sender_poll
        .max(Duration::from_millis(50));
    let wake = sender.waker();
    let mut last_prune = sender.clock.now();
    loop {
        match sender.deliver_due().await {
            Ok(r) if !r.failed.is_empty() => {
                tracing::error!(
                    failed = r.failed.len(),
                    "some alerts could not be delivered (see `overhear db` / outbox)"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::error!("alert sender: {e}"),
        }
        let now = sender.clock.now();
        if now - last_prune > chrono::Duration::hours(1) {
            let _ = sender
                .store
                .prune_sent_log(now - chrono::Duration::hours(2));
            last_prune = now;
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(poll) => {}
            _ = wake.notified() => {}
        }
    }
}
