//! `[[alerts.webhook]]`: a chat channel (Slack, Discord, Microsoft Teams) or a signed
//! JSON webhook that alerts can be sent to, named by brands (`alert_webhooks`),
//! routes, `admin_to` and `summary_to`.
//!
//! Settings only: the URL and the signing secret are secrets, named here by the
//! environment variable or file that holds them and read only when the destination
//! is built ([`super::Webhook::build`]).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::util::{Problem, SecretRef};

/// What the receiving end speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookKind {
    /// A Slack incoming webhook: Block Kit messages.
    Slack,
    /// A Discord channel webhook: embeds.
    Discord,
    /// A Microsoft Teams workflow webhook: Adaptive Cards.
    Teams,
    /// Any HTTP endpoint: the versioned JSON body, signed per Standard Webhooks.
    Json,
}

impl WebhookKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookKind::Slack => "slack",
            WebhookKind::Discord => "discord",
            WebhookKind::Teams => "teams",
            WebhookKind::Json => "json",
        }
    }

    /// The least time between two requests to one destination, unless set: Slack
    /// allows about one message per second per webhook, Discord five per two seconds.
    pub fn default_min_interval(self) -> Duration {
        match self {
            WebhookKind::Slack => Duration::from_secs(1),
            WebhookKind::Discord | WebhookKind::Teams => Duration::from_millis(500),
            WebhookKind::Json => Duration::ZERO,
        }
    }

    /// The product's name for it, in messages ("Reply on …" needs none of this).
    pub fn title(self) -> &'static str {
        match self {
            WebhookKind::Slack => "Slack",
            WebhookKind::Discord => "Discord",
            WebhookKind::Teams => "Microsoft Teams",
            WebhookKind::Json => "JSON webhook",
        }
    }
}

fn ten_seconds() -> Duration {
    Duration::from_secs(10)
}

/// One `[[alerts.webhook]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// How brands, routes and `admin_to` name it: letters, digits, `-` and `_`.
    pub name: String,
    pub kind: WebhookKind,
    /// Environment variable holding the URL (for Slack, Discord and Teams the URL is
    /// the credential).
    #[serde(default)]
    pub url_env: Option<String>,
    /// File holding the URL.
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    /// `kind = "json"`: environment variable holding the signing secret (`whsec_...`).
    #[serde(default)]
    pub secret_env: Option<String>,
    /// `kind = "json"`: file holding the signing secret.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Sentiment labels this destination hears (default: the brand's alert labels).
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    /// One request, connection to the last byte of the answer.
    #[serde(default = "ten_seconds", with = "crate::util::duration")]
    pub timeout: Duration,
    /// The least time between two requests (default: 1s for Slack, 500ms for
    /// Discord and Teams, none for JSON).
    #[serde(default, with = "crate::util::opt_duration")]
    pub min_interval: Option<Duration>,
}

impl WebhookConfig {
    pub fn url(&self) -> SecretRef {
        SecretRef::new(self.url_env.clone(), self.url_file.clone())
    }

    pub fn secret(&self) -> SecretRef {
        SecretRef::new(self.secret_env.clone(), self.secret_file.clone())
    }

    pub fn min_interval(&self) -> Duration {
        self.min_interval
            .unwrap_or_else(|| self.kind.default_min_interval())
    }

    /// Problems of the entry at `alerts.webhook[i]` that need no secret's value.
    pub fn problems(&self, i: usize) -> Vec<Problem> {
        let at = |k: &str| format!("alerts.webhook[{i}].{k}");
        let mut out = Vec::new();
        if !is_webhook_name(&self.name) {
            out.push(Problem::new(
                at("name"),
                format!(
                    "{:?} is not a webhook name: use letters, digits, '-' and '_' (e.g. \"support-slack\")",
                    self.name
                ),
            ));
        }
        match (&self.url_env, &self.url_file) {
            (None, None) => out.push(Problem::new(
                at("url_env"),
                "name where the URL is: url_env = \"OVERHEAR_SLACK_URL\" (or url_file); the URL is a secret and never sits in the config",
            )),
            (Some(_), Some(_)) => out.push(Problem::new(at("url_file"), "set url_env or url_file, not both")),
            _ => {}
        }
        let secret = self.secret_env.is_some() || self.secret_file.is_some();
        if self.secret_env.is_some() && self.secret_file.is_some() {
            out.push(Problem::new(
                at("secret_file"),
                "set secret_env or secret_file, not both",
            ));
        }
        if self.kind == WebhookKind::Json && !secret {
            out.push(Problem::new(
                at("secret_env"),
                "kind = \"json\" signs every request (Standard Webhooks): name the secret with secret_env or secret_file (e.g. a whsec_... value)",
            ));
        }
        if self.kind != WebhookKind::Json && secret {
            out.push(Problem::new(
                at("secret_env"),
                format!(
                    "only kind = \"json\" is signed; {} webhooks authenticate by their URL",
                    self.kind.title()
                ),
            ));
        }
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(120) {
            out.push(Problem::new(at("timeout"), "must be between 1ms and 2m"));
        }
        if self
            .min_interval
            .is_some_and(|d| d > Duration::from_secs(60))
        {
            out.push(Problem::new(at("min_interval"), "must be at most 1m"));
        }
        if let Some(labels) = &self.labels {
            if labels.is_empty() {
                out.push(Problem::new(
                    at("labels"),
                    "an empty list would send nothing: leave it out for the brand's labels",
                ));
            }
        }
        out
    }
}

/// Whether `name` can name a webhook (and is never an email address).
pub fn is_webhook_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> WebhookConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn a_slack_entry_needs_only_a_name_a_kind_and_where_the_url_is() {
        let w =
            parse("name = \"support-slack\"\nkind = \"slack\"\nurl_env = \"OVERHEAR_SLACK_URL\"");
        assert!(w.problems(0).is_empty(), "{:?}", w.problems(0));
        assert_eq!(w.timeout, Duration::from_secs(10));
        assert_eq!(w.min_interval(), Duration::from_secs(1));
    }

    #[test]
    fn json_needs_a_secret_and_chat_kinds_refuse_one() {
        let w = parse("name = \"hook\"\nkind = \"json\"\nurl_env = \"U\"");
        assert!(w.problems(0)[0].message.contains("signs every request"));
        let w = parse("name = \"s\"\nkind = \"slack\"\nurl_env = \"U\"\nsecret_env = \"S\"");
        assert!(w.problems(0)[0].message.contains("only kind = \"json\""));
    }

    #[test]
    fn bad_names_no_url_and_unknown_kinds_are_refused() {
        let w = parse("name = \"a@b\"\nkind = \"teams\"");
        let p = w.problems(3);
        assert_eq!(p[0].key, "alerts.webhook[3].name");
        assert_eq!(p[1].key, "alerts.webhook[3].url_env");
        assert!(
            toml::from_str::<WebhookConfig>("name = \"x\"\nkind = \"irc\"\nurl_env = \"U\"")
                .is_err()
        );
    }
}
