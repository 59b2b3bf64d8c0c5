//! The outbox sender: renders due outbox entries, hands them to lettre, and records
//! the outcome in the store.
//!
//! Order of events for one email: the entries are already durable in the outbox; the
//! message is sent; only when the server accepted it (250 after DATA) are the
//! entries marked sent and the store flushed. A crash between the server's accept and
//! that flush (a few milliseconds) resends the email on restart: that window is
//! inherent to SMTP (at-least-once). The Message-ID is derived from the outbox keys,
//! so a resent copy carries the same Message-ID and mail clients can collapse it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::clock::Clock;
use super::config::{EmailConfig, TransportKind};
use super::item::OutboxEntry;
use super::render::{Rendered, Renderer};
use super::rules::{Action, Alerter};
use super::AlertError;
use crate::store::Store;

/// How a send failed, which decides what happens to the alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Server down, timeout, TLS trouble or a 4xx answer: retry with backoff.
    Transient,
    /// The server refused the credentials: retried (the password may be fixed), but
    /// reported loudly.
    Auth,
    /// A 5xx answer (e.g. 550 no such user): give up on this recipient.
    Permanent,
}

/// A failed send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub kind: FailureKind,
    pub message: String,
}

/// A lettre transport: SMTP, or .eml files in a folder.
#[derive(Clone)]
pub enum Transport {
    Smtp {
        inner: AsyncSmtpTransport<Tokio1Executor>,
        server: String,
    },
    File {
        inner: AsyncFileTransport<Tokio1Executor>,
        dir: PathBuf,
    },
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    let code = e.status().map(u16::from);
    let kind = match code {
        Some(530 | 534 | 535 | 538) => FailureKind::Auth,
        Some(c) if (500..600).contains(&c) => FailureKind::Permanent,
        _ => FailureKind::Transient,
    };
    let mut message = format!("{e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    if kind == FailureKind::Auth {
        message = format!(
            "SMTP authentication failed ({message}): check email.username and the password (email.password_env / email.password_file)"
        );
    }
    SendError { kind, message }
}

impl Transport {
    /// `smtp://host:587` or `smtps://host:465`, or `file:DIR`.
    pub fn describe(&self) -> String {
        match self {
            Transport::Smtp { server, .. } => server.clone(),
            Transport::File { dir, .. } => format!("file:{}", dir.display()),
        }
    }

    /// Sends one message; returns the server's answer (or where the file went).
    pub async fn send(&self, msg: Message) -> Result<String, SendError> {
        match self {
            Transport::Smtp { inner, .. } => {
                let r = inner.send(msg).await.map_err(|e| classify(&e))?;
                Ok(format!(
                    "{} {}",
                    r.code(),
                    r.message().collect::<Vec<_>>().join(" ")
                ))
            }
            Transport::File { inner, dir } => {
                let id = inner.send(msg).await.map_err(|e| SendError {
                    kind: FailureKind::Transient,
                    message: format!("cannot write the email to {}: {e}", dir.display()),
                })?;
                Ok(format!(
                    "written to {}",
                    dir.join(format!("{id}.eml")).display()
                ))
            }
        }
    }
}

/// Builds the configured transport. `mail_dir` is `Config::mail_dir()`. One SMTP
/// connection per email (lettre's `pool` feature is off: pooled connections spawn
/// tasks from destructors, which aborts the process when a runtime shuts down).
pub fn build_transport(cfg: &EmailConfig, mail_dir: &Path) -> Result<Transport, AlertError> {
    match cfg.transport {
        TransportKind::File => {
            std::fs::create_dir_all(mail_dir)
                .map_err(|e| AlertError::Io(mail_dir.to_path_buf(), e))?;
            Ok(Transport::File {
                inner: AsyncFileTransport::new(mail_dir),
                dir: mail_dir.to_path_buf(),
            })
        }
        TransportKind::Smtp => {
            let raw = cfg.smtp_url.as_deref().ok_or_else(|| {
                AlertError::Config("email.transport = \"smtp\" needs email.smtp_url".into())
            })?;
            let url = url::Url::parse(raw)
                .map_err(|e| AlertError::Config(format!("email.smtp_url {raw:?}: {e}")))?;
            let host = url
                .host_str()
                .ok_or_else(|| AlertError::Config(format!("email.smtp_url {raw:?} has no host")))?
                .to_string();
            let implicit = match url.scheme() {
                "smtps" => true,
                "smtp" => false,
                s => {
                    return Err(AlertError::Config(format!(
                        "email.smtp_url scheme {s:?}: expected smtp:// (STARTTLS) or smtps:// (implicit TLS)"
                    )))
                }
            };
            let port = url.port().unwrap_or(if implicit { 465 } else { 587 });
            let mut params = TlsParameters::builder(host.clone());
            if let Some(ca) = &cfg.ca_file {
                let pem = std::fs::read(ca).map_err(|e| AlertError::Io(ca.clone(), e))?;
                let cert = Certificate::from_pem(&pem).map_err(|e| {
                    AlertError::Config(format!("email.ca_file {}: {e}", ca.display()))
                })?;
                params = params.add_root_certificate(cert);
            }
            let params = params
                .build()
                .map_err(|e| AlertError::Config(format!("TLS settings for {host}: {e}")))?;
            let tls_mode = url
                .query_pairs()
                .find(|(k, _)| k == "tls")
                .map(|(_, v)| v.to_string());
            let tls = match (implicit, tls_mode.as_deref()) {
                (true, _) => Tls::Wrapper(params),
                (false, Some("none")) => Tls::None,
                (false, Some("opportunistic")) => Tls::Opportunistic(params),
                _ => Tls::Required(params),
            };
            let user = match url.username() {
                "" => cfg.username.clone(),
                u => Some(percent_decode(u)),
            };
            let password = cfg
                .password()
                .resolve("SMTP password")
                .map_err(AlertError::Secret)?;
            let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
                .port(port)
                .tls(tls)
                .timeout(Some(cfg.timeout));
            match (user, password) {
                (Some(u), Some(p)) => b = b.credentials(Credentials::new(u, p)),
                (Some(u), None) => {
                    return Err(AlertError::Config(format!(
                        "SMTP user {u:?} has no password: set email.password_env or email.password_file"
                    )))
                }
                _ => {}
            }
            let scheme = if implicit { "smtps" } else { "smtp" };
            Ok(Transport::Smtp {
                inner: b.build(),
                server: format!("{scheme}://{host}:{port}"),
            })
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(Ok(b)) = s.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16)) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Builds the email for `to`; `id` seeds the Message-ID.
pub fn build_message(
    from: &Mailbox,
    to: &str,
    r: &Rendered,
    id: &str,
    date: DateTime<Utc>,
) -> Result<Message, AlertError> {
    let to: Mailbox = to
        .parse()
        .map_err(|e| AlertError::Address(format!("{to:?} is not an email address: {e}")))?;
    let domain = from.email.domain().to_string();
    let msg = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(r.subject.clone())
        .message_id(Some(format!("<{id}@{domain}>")))
        .date(date.into())
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .header(ContentTransferEncoding::QuotedPrintable)
                        .body(r.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .header(ContentTransferEncoding::QuotedPrintable)
                        .body(r.html.clone()),
                ),
        )
        .map_err(|e| AlertError::Address(e.to_string()))?;
    Ok(msg)
}

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
