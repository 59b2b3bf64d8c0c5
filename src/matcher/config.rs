//! `[[brand]]`: a brand, the query that finds its mentions, and who hears about them.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::util::Problem;

/// One `[[brand]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandConfig {
    pub name: String,
    /// The brand's main query (see docs/queries.md).
    #[serde(default)]
    pub query: Option<Spanned<String>>,
    /// More named queries; a post mentions the brand if any query matches.
    #[serde(default)]
    pub queries: BTreeMap<String, Spanned<String>>,
    /// Terms sent to sources that search server-side (Hacker News, Reddit, Stack
    /// Exchange, Bluesky); defaults to the query's positive terms.
    #[serde(default)]
    pub search_terms: Vec<String>,
    /// Who receives this brand's alerts by email.
    #[serde(default)]
    pub alert_to: Vec<String>,
    /// The `[[alerts.webhook]]` destinations (Slack, Discord, Teams, JSON) that
    /// receive this brand's alerts, by name (checked by the alerts config).
    #[serde(default)]
    pub alert_webhooks: Vec<String>,
    /// Overrides `[model] alert_threshold` for this brand.
    #[serde(default)]
    pub alert_threshold: Option<f32>,
    /// The brand's own accounts (`hackernews:acme_support`, ...): a reply by one of
    /// them in an alerted mention's thread answers it (see [`crate::watch`]).
    #[serde(default)]
    pub accounts: Vec<String>,
    /// How long an alerted mention's thread is watched for the brand's answer
    /// (default 72h).
    #[serde(default, with = "crate::util::opt_duration")]
    pub watch_for: Option<std::time::Duration>,
    /// Delays between checks of a thread; the last repeats (default 5m, 15m, 1h, 4h).
    #[serde(default)]
    pub watch_schedule: Option<Vec<String>>,
    /// An answer also resolves the mention in the inbox.
    #[serde(default)]
    pub resolve_when_answered: bool,
    /// The `[[reply_account]]`s that may answer this brand's mentions, by name.
    #[serde(default)]
    pub reply_as: Vec<String>,
}

impl BrandConfig {
    /// A brand with one query and nothing else set (as `overhear match` tries it).
    pub fn from_query(name: &str, query: &str) -> BrandConfig {
        BrandConfig {
            name: name.into(),
            query: Some(Spanned::new(0..query.len(), query.to_string())),
            queries: BTreeMap::new(),
            search_terms: Vec::new(),
            alert_to: Vec::new(),
            alert_webhooks: Vec::new(),
            alert_threshold: None,
            accounts: Vec::new(),
            watch_for: None,
            watch_schedule: None,
            resolve_when_answered: false,
            reply_as: Vec::new(),
        }
    }

    /// Every query of the brand with its name (`"default"` for `query`).
    pub fn all_queries(&self) -> Vec<(&str, &Spanned<String>)> {
        let mut out: Vec<(&str, &Spanned<String>)> = Vec::new();
        if let Some(q) = &self.query {
            out.push(("default", q));
        }
        out.extend(self.queries.iter().map(|(k, v)| (k.as_str(), v)));
        out
    }

    /// Problems with this brand, the `index`-th `[[brand]]`.
    pub fn problems(&self, index: usize) -> Vec<Problem> {
        let mut out = Vec::new();
        let at = |key: &str| format!("brand[{index}].{key}");
        if self.name.trim().is_empty() {
            out.push(Problem::new(at("name"), "is empty"));
        }
        let queries = self.all_queries();
        if queries.is_empty() {
            out.push(Problem::new(
                at("name"),
                format!("brand {:?} has no query: add query = '...'", self.name),
            ));
        }
        for (name, q) in queries {
            if let Err((column, message)) = super::validate_query(q.get_ref()) {
                let key = if name == "default" {
                    at("query")
                } else {
                    at(&format!("queries.{name}"))
                };
                // the column counts characters; the value's span starts at its quote
                let q = q.get_ref();
                let byte = q
                    .char_indices()
                    .nth(column.saturating_sub(1))
                    .map_or(q.len(), |(b, _)| b);
                out.push(Problem {
                    key,
                    offset_in_value: Some(byte + 1),
                    message: format!("column {column} of the query: {message}"),
                });
            }
        }
        for (i, to) in self.alert_to.iter().enumerate() {
            if to.parse::<lettre::message::Mailbox>().is_err() {
                out.push(Problem::new(
                    format!("{}[{i}]", at("alert_to")),
                    format!("{to:?} is not an email address"),
                ));
            }
        }
        if let Some(t) = self.alert_threshold {
            if !(0.0..=1.0).contains(&t) {
                out.push(Problem::new(
                    at("alert_threshold"),
                    format!("{t} is not a probability: expected a number between 0 and 1"),
                ));
            }
        }
        out
    }
}
