//! Alerts: rules decide which mentions produce email or chat messages; each alert
//! is queued in the store's outbox before a sender delivers it through lettre or
//! an HTTP webhook (Slack, Discord, Teams, signed JSON).
//!
//! `rules/` (pure decisions, one file per kind of alert), `render/` (subjects and
//! bodies), `send/` (transports, the MIME message, the sender task), `webhook/`
//! (chat and JSON webhook destinations and their formats), `item.rs` (what
//! the outbox holds), `config.rs` (`[alerts]` and `[email]`), `clock.rs`.
//!
//! Alerts never classify, match or poll, and never write mentions: they read what
//! the daemon hands them and own only the outbox entries they queue.
//!
//! The daemon wires it like this:
//! 1. `let alerter = Arc::new(Alerter::new(&config.alerts, &config.brands, config.model.alert_threshold));`
//! 2. for each classified mention: `store.enqueue(&alerter.evaluate_heard(&mention, now, first_poll).items)?` then
//!    `waker.notify_one()`;
//! 3. every minute: `digest_ticks`, `summaries_due` + `summary_items`, `spike_items`,
//!    `source_health_items`, each enqueued the same way (idempotent keys);
//! 4. `tokio::spawn(run_sender(Sender::new(store, alerter, build_transport(..)?, from, clock), shutdown))`.

mod clock;
mod config;
mod item;
pub mod render;
mod rules;
mod send;
pub mod webhook;

use std::path::PathBuf;

pub use clock::{Clock, SystemClock, TestClock};
pub use config::{
    AlertMode, AlertsConfig, BacklogMode, BrandRules, EmailConfig, QuietHours, Route, SummaryEvery,
    TransportKind,
};
pub use item::{
    Answered, Delivery, DeliveryFailed, MentionAlert, OutboxEntry, OutboxItem, OutboxState,
    Payload, SourceHealth, Spike, Summary, Tally,
};
pub use render::{Rendered, Renderer};
pub use rules::{
    is_backlog, tally, Action, Alerter, Backlog, BrandRule, Draft, Evaluation, SummaryPeriod,
    APPROVE, BACKLOG_KEY, BACKLOG_SHOWN,
};
pub use send::{
    build_message, build_transport, redact_url, run_sender, sender_health, DeliveryObserver,
    DeliveryReport, DestinationStatus, FailureKind, Outcome, SendError, Sender, SenderHealth,
    SenderStatus, Transport,
};
pub use webhook::{build_webhooks, Webhook, WebhookConfig, WebhookKind};

/// Why alerting could not do something.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("email configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Secret(#[from] crate::util::SecretError),
    #[error("{}: {1}", .0.display())]
    Io(PathBuf, std::io::Error),
    #[error("bad address: {0}")]
    Address(String),
    #[error("cannot render the email: {0}")]
    Render(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Sending is stopped: the outbox cannot record deliveries.
    #[error("{0}")]
    Halted(String),
}

impl From<minijinja::Error> for AlertError {
    fn from(e: minijinja::Error) -> Self {
        AlertError::Render(format!("{e:#}"))
    }
}
