//! Rules: which mentions alert, who hears, when. Pure functions of the config, the
//! mention and the time; the daemon feeds them and queues what they return.
//!
//! This file resolves each brand's [`BrandRule`] and its recipients; one file per kind
//! of alert does the rest: `instant.rs` (mention alerts, and the sender's plan: batch
//! windows, rate cap, quiet hours), `digest.rs` (digest slots), `summary.rs`,
//! `spike.rs` and `health.rs` (failing sources, undeliverable alerts), `backlog.rs`
//! (what a first poll found, and posts older than `max_age`).
//!
//! Never touches the store, the network or the clock: every input, `now` included, is
//! an argument, so the rules are tested with plain values.

mod approve;
mod backlog;
mod digest;
mod escalate;
mod health;
mod instant;
mod remind;
mod spike;
mod summary;

use std::time::Duration;

use chrono::{DateTime, Duration as CDuration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::config::{parse_time_of_day, parse_weekday, AlertMode, AlertsConfig, SummaryEvery};
use super::item::OutboxEntry;
use super::webhook;
use crate::matcher::BrandConfig;

pub use approve::{Draft, APPROVE};
pub use backlog::{is_backlog, Backlog, BACKLOG_KEY, BACKLOG_SHOWN};
pub use instant::Evaluation;
pub use summary::{tally, SummaryPeriod};

/// One brand's rules, resolved from `[alerts]`, `[alerts.brand.NAME]` and `[[brand]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct BrandRule {
    pub brand: String,
    /// Addresses, then `webhook:NAME` destinations (`alert_to`, `alert_webhooks`).
    pub to: Vec<String>,
    pub threshold: f32,
    pub mode: AlertMode,
    pub batch_window: Duration,
    pub digest_every: Option<Duration>,
    pub digest_at: Option<NaiveTime>,
    pub digest_send_empty: bool,
    pub labels: Vec<String>,
    pub tz: Tz,
    pub summary: SummaryEvery,
    pub summary_to: Vec<String>,
    pub spike_factor: f64,
    pub spike_min_count: u64,
    /// Escalate a mention still `new` this long after its alert (to `escalate_to`).
    pub escalate_after: Option<Duration>,
    pub escalate_to: Vec<String>,
    /// Remind the brand's recipients of a mention nobody answered in public this
    /// long after its alert.
    pub remind_unanswered: Option<Duration>,
    /// Reviews rated this many stars or fewer alert whatever their sentiment.
    pub alert_on_rating: Option<u8>,
}

impl BrandRule {
    /// Whether `post` is a review whose rating alerts (`alert_on_rating`).
    pub fn alerts_on_rating(&self, post: &crate::post::Post) -> bool {
        matches!((self.alert_on_rating, post.rating), (Some(max), Some(r)) if r <= max)
    }
}

/// What the sender should do with due outbox entries.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send one email made of these entries (same recipient).
    Send(Vec<OutboxEntry>),
    /// Fold these instant entries into a digest sent at `at` (rate cap or quiet hours).
    Fold {
        keys: Vec<String>,
        at: DateTime<Utc>,
        why: String,
    },
}

/// The rules of every brand, built once from the config.
#[derive(Debug, Clone)]
pub struct Alerter {
    cfg: AlertsConfig,
    /// `webhook:NAME` -> the labels that destination hears, when it sets its own.
    webhook_labels: Vec<(String, Vec<String>)>,
    rules: Vec<BrandRule>,
    quiet: Option<(NaiveTime, NaiveTime)>,
    tz: Tz,
    summary_at: NaiveTime,
    summary_weekday: chrono::Weekday,
}

/// A recipient as the outbox keeps it: an address as written, or `webhook:NAME`
/// for the name of an `[[alerts.webhook]]`.
fn resolve(webhooks: &[webhook::WebhookConfig], to: &str) -> String {
    let name = to.trim();
    if !name.contains('@') && webhooks.iter().any(|w| w.name.eq_ignore_ascii_case(name)) {
        webhook::destination(name)
    } else {
        to.to_string()
    }
}

fn dedup_addrs(list: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    list.into_iter()
        .filter(|a| seen.insert(a.trim().to_lowercase()))
        .collect()
}

fn cdur(d: Duration) -> CDuration {
    CDuration::from_std(d).unwrap_or(CDuration::MAX)
}

/// The UTC instant of a local date and time (the later one in a DST fold; an hour
/// later in a DST gap).
fn at_local(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = date.and_time(time);
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(_, t) => t.with_timezone(&Utc),
        chrono::LocalResult::None => tz
            .from_local_datetime(&(naive + CDuration::hours(1)))
            .earliest()
            .map_or_else(|| Utc.from_utc_datetime(&naive), |t| t.with_timezone(&Utc)),
    }
}

impl Alerter {
    /// `default_threshold` is `[model] alert_threshold`.
    pub fn new(cfg: &AlertsConfig, brands: &[BrandConfig], default_threshold: f32) -> Alerter {
        let tz: Tz = cfg.timezone.parse().unwrap_or(Tz::UTC);
        let rules = brands
            .iter()
            .map(|b| {
                let o = cfg
                    .brand
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&b.name))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let digest_at = o.digest_at.as_deref().or(cfg.digest_at.as_deref());
                let to = dedup_addrs(
                    b.alert_to
                        .iter()
                        .chain(&b.alert_webhooks)
                        .map(|a| resolve(&cfg.webhook, a)),
                );
                BrandRule {
                    brand: b.name.clone(),
                    threshold: b.alert_threshold.unwrap_or(default_threshold),
                    mode: o.mode.unwrap_or(cfg.mode),
                    batch_window: o.batch_window.unwrap_or(cfg.batch_window),
                    digest_every: o.digest_every.or(if o.digest_at.is_some() {
                        None
                    } else {
                        cfg.digest_every
                    }),
                    digest_at: digest_at.and_then(parse_time_of_day),
                    digest_send_empty: o.digest_send_empty.unwrap_or(cfg.digest_send_empty),
                    labels: o.labels.unwrap_or_else(|| cfg.labels.clone()),
                    tz: o.timezone.and_then(|t| t.parse().ok()).unwrap_or(tz),
                    summary: o.summary.unwrap_or(cfg.summary),
                    summary_to: o
                        .summary_to
                        .map(|l| dedup_addrs(l.iter().map(|a| resolve(&cfg.webhook, a))))
                        .unwrap_or_else(|| to.clone()),
                    spike_factor: o.spike_factor.unwrap_or(cfg.spike_factor),
                    spike_min_count: o.spike_min_count.unwrap_or(cfg.spike_min_count),
                    escalate_after: o.escalate_after.or(cfg.escalate_after),
                    remind_unanswered: o.remind_unanswered.or(cfg.remind_unanswered),
                    alert_on_rating: o.alert_on_rating.or(cfg.alert_on_rating),
                    escalate_to: dedup_addrs(
                        o.escalate_to
                            .as_ref()
                            .unwrap_or(&cfg.escalate_to)
                            .iter()
                            .map(|a| resolve(&cfg.webhook, a)),
                    ),
                    to,
                }
            })
            .collect();
        let quiet = cfg
            .quiet_hours
            .as_ref()
            .and_then(|q| Some((parse_time_of_day(&q.start)?, parse_time_of_day(&q.end)?)));
        let mut cfg = cfg.clone();
        let hooks = cfg.webhook.clone();
        for r in &mut cfg.route {
            r.to = r.to.iter().map(|a| resolve(&hooks, a)).collect();
        }
        cfg.admin_to = cfg.admin_to.iter().map(|a| resolve(&hooks, a)).collect();
        Alerter {
            webhook_labels: hooks
                .iter()
                .filter_map(|w| Some((webhook::destination(&w.name), w.labels.clone()?)))
                .collect(),
            summary_at: parse_time_of_day(&cfg.summary_at).unwrap_or(NaiveTime::MIN),
            summary_weekday: parse_weekday(&cfg.summary_weekday).unwrap_or(chrono::Weekday::Mon),
            cfg,
            rules,
            quiet,
            tz,
        }
    }

    pub fn config(&self) -> &AlertsConfig {
        &self.cfg
    }

    /// The labels `to` hears for `rule`: a webhook's own `labels`, else the brand's.
    pub fn labels_for<'a>(&'a self, rule: &'a BrandRule, to: &str) -> &'a [String] {
        self.webhook_labels
            .iter()
            .find(|(d, _)| d == to)
            .map_or(&rule.labels, |(_, l)| l)
    }

    /// The resolved rule of a brand (by name, case-insensitive).
    pub fn rule(&self, brand: &str) -> Option<&BrandRule> {
        self.rules
            .iter()
            .find(|r| r.brand.eq_ignore_ascii_case(brand))
    }

    /// Recipients of a brand's mention alerts from one source: the matching
    /// `[[alerts.route]]` entries if any, else the brand's `alert_to`.
    pub fn recipients(
        &self,
        rule: &BrandRule,
        source_kind: &str,
        source_name: &str,
    ) -> Vec<String> {
        let routed: Vec<String> = self
            .cfg
            .route
            .iter()
            .filter(|r| {
                r.brand
                    .as_deref()
                    .map_or(true, |b| b.eq_ignore_ascii_case(&rule.brand))
            })
            .filter(|r| {
                r.source == source_kind || (!source_name.is_empty() && r.source == source_name)
            })
            .flat_map(|r| r.to.iter().cloned())
            .collect();
        if routed.is_empty() {
            rule.to.clone()
        } else {
            dedup_addrs(routed)
        }
    }

    /// Whether `to` (an address, or `webhook:NAME`) is one of this config's alert
    /// destinations: a brand's `alert_to`/`alert_webhooks`, `summary_to` or
    /// `escalate_to`, a route's `to`, or `admin_to` (trimmed, case-insensitive).
    /// The inbox's action links work only for a recipient that still is.
    pub fn is_destination(&self, to: &str) -> bool {
        let to = to.trim();
        let same = |a: &String| a.trim().eq_ignore_ascii_case(to);
        self.rules.iter().any(|r| {
            r.to.iter().any(same) || r.summary_to.iter().any(same) || r.escalate_to.iter().any(same)
        }) || self.cfg.route.iter().any(|r| r.to.iter().any(same))
            || self.cfg.admin_to.iter().any(same)
    }

    /// Who hears about failing sources: `admin_to`, else every brand's recipients.
    pub fn admin_recipients(&self) -> Vec<String> {
        if self.cfg.admin_to.is_empty() {
            dedup_addrs(self.rules.iter().flat_map(|r| r.to.iter().cloned()))
        } else {
            dedup_addrs(self.cfg.admin_to.iter().cloned())
        }
    }
}
