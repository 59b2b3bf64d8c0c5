//! Chat and webhook destinations: Slack, Discord, Microsoft Teams and signed JSON
//! webhooks, configured under `[[alerts.webhook]]` and delivered through the same
//! outbox as email.
//!
//! An alert for a webhook is an outbox entry whose recipient is `webhook:NAME`
//! ([`destination`]), keyed by (rule, subject, destination) like an email, so the
//! outbox's guarantees hold unchanged: written and flushed before any attempt,
//! retried with backoff, given up with a notice, sent once per mention and
//! destination (at least once in the window between the receiver's 2xx and the
//! "sent" mark, where a JSON webhook is resent with the same `webhook-id`).
//!
//! `config.rs` (the settings), `chat.rs` (what a message says), one file per format
//! (`slack.rs`, `discord.rs`, `teams.rs`, `json.rs`), `client.rs` (the request and
//! what its answer means). The sender (`send/webhook.rs`) decides when to send.
//!
//! Never logs or prints a URL: for Slack, Discord and Teams the URL is the secret.

pub mod chat;
mod client;
mod config;
pub mod discord;
pub mod json;
pub mod slack;
pub mod teams;

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

pub use client::{parse_retry_after, MAX_RETRY_AFTER};
pub use config::{is_webhook_name, WebhookConfig, WebhookKind};

use super::send::SendError;
use super::AlertError;
use chat::ChatContent;

/// Recipients that name a webhook start with this.
pub const DESTINATION_PREFIX: &str = "webhook:";

/// The outbox recipient of the webhook `name`.
pub fn destination(name: &str) -> String {
    format!("{DESTINATION_PREFIX}{}", name.to_lowercase())
}

/// The webhook an outbox recipient names, if it names one.
pub fn webhook_name(to: &str) -> Option<&str> {
    to.strip_prefix(DESTINATION_PREFIX)
}

/// A built destination: its URL and signing key resolved, its HTTP client made.
pub struct Webhook {
    pub name: String,
    pub kind: WebhookKind,
    /// Labels it hears (`None`: the brand's).
    pub labels: Option<Vec<String>>,
    pub min_interval: Duration,
    url: url::Url,
    signing_key: Option<Vec<u8>>,
    client: reqwest::Client,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &"<secret>")
            .finish()
    }
}

/// Whether `url` points at this machine.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    }
}

impl Webhook {
    /// Reads the URL (and secret) the entry names and checks them.
    pub fn build(cfg: &WebhookConfig) -> Result<Webhook, AlertError> {
        let at = format!("alerts.webhook {:?}", cfg.name);
        let raw = cfg
            .url()
            .resolve(&format!("URL of webhook {}", cfg.name))?
            .ok_or_else(|| AlertError::Config(format!("{at}: set url_env or url_file")))?;
        // never echo the value: it is the credential
        let url = url::Url::parse(raw.trim()).map_err(|e| {
            AlertError::Config(format!(
                "{at}: the URL it names is not a URL ({e}); expected e.g. https://hooks.slack.com/services/..."
            ))
        })?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => {
                return Err(AlertError::Config(format!(
                    "{at}: http:// to {} would send the URL and every alert in clear text; use https:// (http:// is accepted on loopback only)",
                    url.host_str().unwrap_or("?")
                )))
            }
            s => {
                return Err(AlertError::Config(format!(
                    "{at}: URL scheme {s:?}: expected https://"
                )))
            }
        }
        let signing_key = match cfg
            .secret()
            .resolve(&format!("signing secret of webhook {}", cfg.name))?
        {
            Some(s) => {
                Some(json::signing_key(&s).map_err(|e| AlertError::Config(format!("{at}: {e}")))?)
            }
            None if cfg.kind == WebhookKind::Json => {
                return Err(AlertError::Config(format!(
                    "{at}: kind = \"json\" needs secret_env or secret_file"
                )))
            }
            None => None,
        };
        let client = client::client(cfg.timeout)
            .map_err(|e| AlertError::Config(format!("{at}: cannot build an HTTP client: {e}")))?;
        Ok(Webhook {
            name: cfg.name.clone(),
            kind: cfg.kind,
            labels: cfg.labels.clone(),
            min_interval: cfg.min_interval(),
            url,
            signing_key,
            client,
        })
    }

    /// `support-slack (slack)`: how logs and messages name it (never the URL).
    pub fn describe(&self) -> String {
        format!("{} ({})", self.name, self.kind.as_str())
    }

    pub fn destination(&self) -> String {
        destination(&self.name)
    }

    /// Sends a chat message (Slack, Discord, Teams); the server's answer.
    pub async fn send_chat(
        &self,
        content: &ChatContent,
        actions: &[Vec<(String, String)>],
        now: DateTime<Utc>,
    ) -> Result<String, SendError> {
        let body = match self.kind {
            WebhookKind::Slack => slack::message(content, actions),
            WebhookKind::Discord => discord::message(content, actions),
            WebhookKind::Teams => teams::message(content, actions),
            WebhookKind::Json => {
                return Err(SendError::permanent(format!(
                    "webhook {} is a JSON webhook: it takes one signed body per alert",
                    self.name
                )))
            }
        };
        self.post(body.to_string().into_bytes(), HeaderMap::new(), now)
            .await
    }

    /// Sends one signed JSON body with its `webhook-id`; the server's answer.
    pub async fn send_json(
        &self,
        id: &str,
        body: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<String, SendError> {
        let bytes = body.to_string().into_bytes();
        let ts = now.timestamp();
        let mut headers = HeaderMap::new();
        let value = |s: String| {
            HeaderValue::from_str(&s)
                .map_err(|e| SendError::permanent(format!("bad header value: {e}")))
        };
        headers.insert(
            HeaderName::from_static("webhook-id"),
            value(id.to_string())?,
        );
        headers.insert(
            HeaderName::from_static("webhook-timestamp"),
            value(ts.to_string())?,
        );
        if let Some(key) = &self.signing_key {
            headers.insert(
                HeaderName::from_static("webhook-signature"),
                value(json::signature(key, id, ts, &bytes))?,
            );
        }
        self.post(bytes, headers, now).await
    }

    async fn post(
        &self,
        body: Vec<u8>,
        headers: HeaderMap,
        now: DateTime<Utc>,
    ) -> Result<String, SendError> {
        client::post(&self.client, &self.url, &self.name, body, headers, now).await
    }
}

/// Builds every configured webhook (reading their URLs and secrets).
pub fn build_webhooks(cfgs: &[WebhookConfig]) -> Result<Vec<Webhook>, AlertError> {
    cfgs.iter().map(Webhook::build).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_round_trip_and_never_look_like_addresses() {
        assert_eq!(destination("Support-Slack"), "webhook:support-slack");
        assert_eq!(webhook_name("webhook:support-slack"), Some("support-slack"));
        assert_eq!(webhook_name("support@acme.example"), None);
    }

    #[test]
    fn plain_http_is_refused_off_loopback_and_the_url_is_never_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("url");
        let build = |url: &str| {
            std::fs::write(&file, url).unwrap();
            let cfg: WebhookConfig = toml::from_str(&format!(
                "name = \"s\"\nkind = \"slack\"\nurl_file = {:?}",
                file.display().to_string()
            ))
            .unwrap();
            Webhook::build(&cfg).map(|_| ()).map_err(|e| e.to_string())
        };
        let e = build("http://hooks.example/T0/B0/secretpart").unwrap_err();
        assert!(e.contains("clear text") && !e.contains("secretpart"), "{e}");
        assert!(build("http://127.0.0.1:9/x").is_ok());
        assert!(build("https://hooks.slack.com/services/T0/B0/x").is_ok());
        let e = build("not a url secretpart").unwrap_err();
        assert!(!e.contains("secretpart"), "{e}");
    }
}
