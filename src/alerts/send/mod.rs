//! The outbox sender: renders due outbox entries, hands them to lettre, and records
//! the outcome in the store.
//!
//! Order of events for one email: the entries are already durable in the outbox; the
//! message is sent; only when the server accepted it (250 after DATA) are the
//! entries marked sent and the store flushed. A crash between the server's accept and
//! that flush (a few milliseconds) resends the email on restart: that window is
//! inherent to SMTP (at-least-once). The Message-ID is derived from the outbox key of
//! the email's first alert, so a resent copy carries the same Message-ID and mail
//! clients can collapse it.
//!
//! When the outbox cannot record that an email was accepted (a full disk, a
//! read-only file system), the sender stops sending (`state.rs`): each later pass
//! first tries to record it again and sends nothing until that works. Only one pass
//! runs at a time per database, whichever [`Sender`] runs it.
//!
//! `transport.rs` holds the lettre transports (SMTP or `.eml` files) and how a
//! failure is classified; `message.rs` builds the MIME message; `webhook.rs` holds
//! the webhook lanes (one per `[[alerts.webhook]]`, each with its own pass, so a
//! failing Slack never delays email); `outcome.rs` records what an attempt did,
//! the same way for both.
//!
//! The sender decides nothing itself: which entries go out together, and which wait
//! (rate cap, quiet hours), comes from [`Alerter::plan`]. It never deletes an outbox
//! entry, and never marks one sent before the server accepted it.

mod file;
mod message;
mod outcome;
mod state;
mod transport;
mod webhook;

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
use super::webhook::{build_webhooks, webhook_name, Webhook};
use super::AlertError;
use super::EmailConfig;
use crate::store::Store;
use outcome::Dest;
use webhook::Lane;

pub use message::build_message;
pub use state::{DeliveryObserver, DestinationStatus, Outcome, SenderHealth, SenderStatus};
pub use transport::{build_transport, redact_url, FailureKind, SendError, Transport};
pub(crate) use transport::{clear_text_auth, is_loopback, PASSWORD_IN_URL};

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
    /// Webhook requests (chat messages, JSON bodies) accepted by their servers.
    pub webhook_messages: usize,
}

impl DeliveryReport {
    fn merge(&mut self, other: DeliveryReport) {
        self.sent.extend(other.sent);
        self.retried.extend(other.retried);
        self.failed.extend(other.failed);
        self.folded.extend(other.folded);
        self.emails += other.emails;
        self.webhook_messages += other.webhook_messages;
    }
}

/// Which destinations one pass serves.
#[derive(Clone, Copy)]
enum LaneRef<'a> {
    /// Email, and entries for webhooks no longer configured (they are marked failed).
    Email,
    Webhook(&'a Lane),
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
    pass: state::PassLock,
    health: Arc<SenderHealth>,
    lanes: Vec<Lane>,
    observer: Option<Arc<dyn DeliveryObserver>>,
}

impl Sender {
    /// Forgets sent-log lines older than two hours and finished outbox entries older
    /// than `[alerts] keep_outbox`.
    pub fn prune(&self, now: DateTime<Utc>) {
        if let Err(e) = self.store.prune_sent_log(now - chrono::Duration::hours(2)) {
            tracing::warn!("cannot prune the outbox's send log: {e}");
        }
        let keep = chrono::Duration::from_std(self.alerter.config().keep_outbox)
            .unwrap_or(chrono::Duration::MAX);
        let before = now
            .checked_sub_signed(keep)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        match self.store.prune_outbox(before) {
            Ok(0) => {}
            Ok(n) => tracing::info!(entries = n, "forgot finished outbox entries"),
            Err(e) => tracing::warn!("cannot prune the outbox: {e}"),
        }
    }

    pub fn new(
        store: Store,
        alerter: Arc<Alerter>,
        transport: Transport,
        from: Mailbox,
        clock: Arc<dyn Clock>,
    ) -> Sender {
        let (pass, health) = state::shared_for(store.path());
        Sender {
            pass,
            health,
            store,
            alerter,
            transport,
            from,
            clock,
            renderer: Renderer::new(),
            wake: Arc::new(Notify::new()),
            lanes: Vec::new(),
            observer: None,
        }
    }

    /// Adds webhook destinations (each gets its own lane).
    pub fn with_webhooks(mut self, hooks: Vec<Webhook>) -> Sender {
        let db = self.store.path().to_path_buf();
        self.lanes
            .extend(hooks.into_iter().map(|h| Lane::new(h, &db)));
        self
    }

    /// Tells `observer` of every delivery attempt.
    pub fn with_observer(mut self, observer: Arc<dyn DeliveryObserver>) -> Sender {
        self.observer = Some(observer);
        self
    }

    /// The webhook destinations, as `name (kind)`.
    pub fn webhooks(&self) -> Vec<String> {
        self.lanes.iter().map(|l| l.hook.describe()).collect()
    }

    /// The sender and the rules of a configuration, with the configured transport
    /// and the webhooks of `[[alerts.webhook]]` (their URLs and secrets read now):
    /// given as plain values (the daemon takes them from the whole file's `Config`,
    /// which this module never sees).
    pub fn from_config(
        store: Store,
        alerter: Arc<Alerter>,
        email: &EmailConfig,
        mail_dir: &std::path::Path,
        clock: Arc<dyn Clock>,
    ) -> Result<Sender, AlertError> {
        let transport = build_transport(email, mail_dir)?;
        let from: Mailbox = email
            .from
            .parse()
            .map_err(|e| AlertError::Address(format!("email.from {:?}: {e}", email.from)))?;
        let hooks = build_webhooks(&alerter.config().webhook)?;
        Ok(Sender::new(store, alerter, transport, from, clock).with_webhooks(hooks))
    }

    /// Whether sending is stopped, shared by every sender of this database.
    pub fn health(&self) -> Arc<SenderHealth> {
        self.health.clone()
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
        self.deliver_due_until(&CancellationToken::new()).await
    }

    /// [`Sender::deliver_due`], stopping at the next message boundary once `cancel` is
    /// cancelled: email first, then each webhook. Waits for a pass of another sender
    /// of the same database to end.
    pub async fn deliver_due_until(
        &self,
        cancel: &CancellationToken,
    ) -> Result<DeliveryReport, AlertError> {
        let mut report = self.deliver_lane(LaneRef::Email, cancel).await?;
        for lane in &self.lanes {
            report.merge(self.deliver_lane(LaneRef::Webhook(lane), cancel).await?);
        }
        Ok(report)
    }

    /// Whether the pass of `lane` delivers to the outbox recipient `to`.
    fn owns(&self, lane: LaneRef<'_>, to: &str) -> bool {
        match lane {
            LaneRef::Webhook(l) => l.owns(to),
            LaneRef::Email => !self.lanes.iter().any(|l| l.owns(to)),
        }
    }

    /// One pass of one lane: everything due now for its destinations.
    async fn deliver_lane(
        &self,
        lane: LaneRef<'_>,
        cancel: &CancellationToken,
    ) -> Result<DeliveryReport, AlertError> {
        let lock = match lane {
            LaneRef::Email => &self.pass,
            LaneRef::Webhook(l) => &l.pass,
        };
        let _pass = lock.lock().await;
        self.record_unrecorded()?;
        let now = self.clock.now();
        let mut report = DeliveryReport::default();
        if let LaneRef::Webhook(l) = lane {
            if l.paused(now) {
                return Ok(report);
            }
        }
        let pending: Vec<OutboxEntry> = self
            .store
            .pending()?
            .into_iter()
            .filter(|e| self.owns(lane, &e.item.to))
            .collect();
        let mut due: Vec<OutboxEntry> = pending
            .iter()
            .filter(|e| e.next_attempt <= now)
            .cloned()
            .collect();
        if due.is_empty() {
            return Ok(report);
        }
        due.sort_by(|a, b| {
            a.next_attempt
                .cmp(&b.next_attempt)
                .then(a.item.key.cmp(&b.item.key))
        });
        due.truncate(1000);
        let since = now - chrono::Duration::hours(1);
        let store = &self.store;
        let actions = self.alerter.plan(&due, &pending, now, |to| {
            store.sent_count_since(to, since).unwrap_or(0)
        });
        for action in actions {
            if cancel.is_cancelled() {
                break;
            }
            match action {
                Action::Fold { keys, at, why } => {
                    tracing::info!(count = keys.len(), until = %at, "alerts folded into a later digest: {why}");
                    self.store.fold_into_digest(&keys, at)?;
                    report.folded.extend(keys);
                }
                Action::Send(entries) => match lane {
                    LaneRef::Email => self.send_email(entries, now, &mut report).await?,
                    LaneRef::Webhook(l) => {
                        if !self.send_webhook(l, entries, now, &mut report).await? {
                            break;
                        }
                    }
                },
            }
        }
        Ok(report)
    }

    /// Records the emails the server accepted that the outbox could not record; an
    /// error while one is still unrecorded (nothing may be sent until then).
    fn record_unrecorded(&self) -> Result<(), AlertError> {
        for (keys, at) in self.health.unrecorded() {
            match self.store.mark_sent(&keys, at) {
                Ok(()) => {
                    tracing::warn!(
                        alerts = keys.len(),
                        "the outbox records deliveries again; sending resumes"
                    );
                    self.health.recorded(&keys);
                }
                Err(e) => {
                    let why = halt_message(&e);
                    self.health.still_halted(why.clone());
                    return Err(AlertError::Halted(why));
                }
            }
        }
        Ok(())
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
        if let Some(name) = webhook_name(&to) {
            // queued for a webhook that a later config no longer has
            let e = format!(
                "the webhook {name:?} is no longer configured ([[alerts.webhook]]); add it back and run `overhear outbox retry` to send these"
            );
            tracing::error!(to = %to, alerts = keys.len(), "{e}");
            self.store.mark_failed(&keys, now, &e)?;
            for entry in &entries {
                self.report_failure(entry, &e, now)?;
            }
            report
                .failed
                .extend(keys.into_iter().map(|k| (k, e.clone())));
            return Ok(());
        }
        let id = message_id_seed(&entries);
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
        let started = std::time::Instant::now();
        let result = self.transport.send(msg).await;
        let dest = Dest {
            name: "email",
            kind: "email",
            shown: &to,
        };
        self.settle(&dest, &entries, result, started.elapsed(), now, report)?;
        Ok(())
    }
}

/// Whether the sender(s) of `store`'s database are sending (for health and metrics).
pub fn sender_health(store: &Store) -> Arc<SenderHealth> {
    state::shared_for(store.path()).1
}

/// The seed of an email's Message-ID: a hash of the outbox key of its oldest alert
/// (then the smallest key), so that the same alert sent again, alone or with others,
/// carries the same Message-ID.
fn message_id_seed(entries: &[OutboxEntry]) -> String {
    let first = entries
        .iter()
        .min_by(|a, b| (a.item.created_at, &a.item.key).cmp(&(b.item.created_at, &b.item.key)))
        .map_or("", |e| e.item.key.as_str());
    let mut hash = Sha256::new();
    hash.update(first.as_bytes());
    hash.update([0]);
    hex::encode(&hash.finalize()[..16])
}

fn halt_message(e: &crate::store::StoreError) -> String {
    format!(
        "the outbox cannot record that it was sent ({e}); sending is stopped until the \
         database can be written again, so that no alert is sent twice"
    )
}

/// The sender task: delivers due alerts every `[alerts] sender_poll` (or when woken
/// through [`Sender::waker`]) until `shutdown` is cancelled, and forgets finished
/// outbox entries older than `[alerts] keep_outbox` every hour. Email and each
/// webhook destination run in their own loop, each woken by the one waker. A pass
/// in progress stops at the next message boundary once `shutdown` is cancelled.
pub async fn run_sender(sender: Sender, shutdown: CancellationToken) {
    let sender = Arc::new(sender);
    let wake = sender.waker();
    let wakes: Vec<Arc<Notify>> = (0..=sender.lanes.len())
        .map(|_| Arc::new(Notify::new()))
        .collect();
    let mut loops = tokio::task::JoinSet::new();
    for (i, w) in wakes.iter().enumerate() {
        loops.spawn(lane_loop(
            sender.clone(),
            i.checked_sub(1),
            w.clone(),
            shutdown.clone(),
        ));
    }
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = wake.notified() => wakes.iter().for_each(|w| w.notify_one()),
        }
    }
    while loops.join_next().await.is_some() {}
}

/// The loop of one lane: `None` is email, `Some(i)` the i-th webhook.
async fn lane_loop(
    sender: Arc<Sender>,
    lane: Option<usize>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let poll = sender
        .alerter
        .config()
        .sender_poll
        .max(Duration::from_millis(50));
    let mut last_prune: Option<DateTime<Utc>> = None;
    let mut last_halt: Option<String> = None;
    loop {
        let lane_ref = match lane.and_then(|i| sender.lanes.get(i)) {
            Some(l) => LaneRef::Webhook(l),
            None => LaneRef::Email,
        };
        match sender.deliver_lane(lane_ref, &shutdown).await {
            Ok(r) => {
                if !r.failed.is_empty() {
                    tracing::error!(
                        failed = r.failed.len(),
                        "some alerts could not be delivered (see `overhear outbox list --failed`)"
                    )
                }
                last_halt = None;
            }
            // said once (the sender logged it), not at every poll
            Err(AlertError::Halted(why)) if last_halt.as_ref() == Some(&why) => {}
            Err(AlertError::Halted(why)) => {
                tracing::error!("alert sender stopped: {why}");
                last_halt = Some(why);
            }
            Err(e) => tracing::error!("alert sender: {e}"),
        }
        let now = sender.clock.now();
        if lane.is_none() && last_prune.map_or(true, |t| now - t > chrono::Duration::hours(1)) {
            sender.prune(now);
            last_prune = Some(now);
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(poll) => {}
            _ = wake.notified() => {}
        }
    }
}
