//! `[alerts]` and `[email]`: which mentions alert, how often, and how alerts leave
//! the building. Parsed and checked here, resolved per brand by the rules.
//!
//! Settings only: never opens a connection or a file (`[email]` names password
//! files and CAs; the transport reads them), and never holds a secret's value.
//! `[email]` is in `email.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{NaiveTime, Weekday};

use serde::Deserialize;

use super::webhook::{is_webhook_name, WebhookConfig};
use crate::util::Problem;

mod email;
pub use email::{EmailConfig, TransportKind};

/// How a brand's alerts are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertMode {
    /// One email per mention (or one per `batch_window`), as soon as it is classified.
    #[default]
    Instant,
    /// Mentions wait for the next digest (`digest_every` or `digest_at`).
    Digest,
    /// No mention alerts for this brand (summaries, spikes still apply).
    Off,
}

/// What the first poll of a source (for a brand) does with the posts it finds: they
/// were written before overhear listened, so by default they go out as one digest per
/// destination instead of one alert each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BacklogMode {
    /// One message per destination: counts and the worst few, with the inbox link.
    #[default]
    Digest,
    /// One alert per post, as for any new post.
    Alert,
    /// Stored and shown in the inbox, no message.
    None,
}

/// How often the summary email goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SummaryEvery {
    #[default]
    Off,
    Daily,
    Weekly,
}

/// Settings a brand may override under `[alerts.brand.NAME]`; `None` means "as in `[alerts]`".
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrandRules {
    pub mode: Option<AlertMode>,
    #[serde(with = "crate::util::opt_duration")]
    pub batch_window: Option<Duration>,
    #[serde(with = "crate::util::opt_duration")]
    pub digest_every: Option<Duration>,
    pub digest_at: Option<String>,
    pub digest_send_empty: Option<bool>,
    pub labels: Option<Vec<String>>,
    pub timezone: Option<String>,
    pub summary: Option<SummaryEvery>,
    pub summary_to: Option<Vec<String>>,
    pub spike_factor: Option<f64>,
    pub spike_min_count: Option<u64>,
    #[serde(with = "crate::util::opt_duration")]
    pub escalate_after: Option<Duration>,
    pub escalate_to: Option<Vec<String>>,
    #[serde(with = "crate::util::opt_duration")]
    pub remind_unanswered: Option<Duration>,
    pub alert_on_rating: Option<u8>,
}

/// One `[[alerts.route]]`: mentions of `brand` (all brands when absent) from `source`
/// (a source kind such as `"reddit"`, or a `[[source]]` name) go to `to` (addresses
/// and `[[alerts.webhook]]` names) instead of the brand's `alert_to` and
/// `alert_webhooks`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    #[serde(default)]
    pub brand: Option<String>,
    pub source: String,
    pub to: Vec<String>,
}

/// Quiet hours: instant alerts wait and go out as one digest when they end.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// `"22:00"`
    pub start: String,
    /// `"07:00"`
    pub end: String,
}

/// The `[alerts]` table: which mentions alert, how and how often.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// `instant` (default), `digest` or `off`.
    pub mode: AlertMode,
    /// Instant mode: collect the mentions of this window into one email ("0s": one per mention).
    #[serde(with = "crate::util::duration")]
    pub batch_window: Duration,
    /// Digest mode: a digest every this long, aligned to midnight in `timezone`.
    #[serde(with = "crate::util::opt_duration")]
    pub digest_every: Option<Duration>,
    /// Digest mode: a daily digest at this time of day (`"08:00"`) in `timezone`.
    pub digest_at: Option<String>,
    /// Send the digest even when it has no mentions.
    pub digest_send_empty: bool,
    /// Sentiment labels that alert (compared case-insensitively); the probability of the
    /// label must reach the brand's `alert_threshold` (else `[model] alert_threshold`).
    pub labels: Vec<String>,
    /// IANA zone for digests, summaries and quiet hours.
    pub timezone: String,
    /// At most this many instant emails per recipient per hour; the rest are folded
    /// into the next digest.
    pub max_per_hour: Option<u32>,
    pub quiet_hours: Option<QuietHours>,
    /// `off` (default), `daily` or `weekly` summary per brand.
    pub summary: SummaryEvery,
    /// Time of day of the summary (`"08:00"`), in `timezone`.
    pub summary_at: String,
    /// Weekday of the weekly summary (`"mon"`).
    pub summary_weekday: String,
    /// Spike: negative mentions in the last hour >= factor x the usual hourly rate...
    pub spike_factor: f64,
    /// ...and at least this many.
    pub spike_min_count: u64,
    /// At most one spike email per brand per this long.
    #[serde(with = "crate::util::duration")]
    pub spike_cooldown: Duration,
    /// Source health: alert when a source has failed for this long.
    #[serde(with = "crate::util::duration")]
    pub source_failing_after: Duration,
    /// Who hears about failing sources and undeliverable alerts: addresses and
    /// webhook names (default: every brand's `alert_to` and `alert_webhooks`).
    pub admin_to: Vec<String>,
    /// An alerted mention still `new` this long after its alert is escalated, once,
    /// to `escalate_to` (addresses and `[[alerts.webhook]]` names); unset: never.
    #[serde(with = "crate::util::opt_duration")]
    pub escalate_after: Option<Duration>,
    pub escalate_to: Vec<String>,
    /// An alerted mention from a source with threads that nobody answered in public
    /// (the thread watch) this long after its alert gets one reminder, to the
    /// brand's alert recipients; unset: never.
    #[serde(with = "crate::util::opt_duration")]
    pub remind_unanswered: Option<Duration>,
    /// A review rated this many stars or fewer (App Store, 1–5) alerts whatever its
    /// sentiment; unset: ratings alert like any post, by sentiment.
    pub alert_on_rating: Option<u8>,
    /// Outbox sender: first retry delay, doubled on each failure up to `retry_max`.
    #[serde(with = "crate::util::duration")]
    pub retry_initial: Duration,
    #[serde(with = "crate::util::duration")]
    pub retry_max: Duration,
    /// An alert still undelivered this long after its first attempt is marked failed.
    #[serde(with = "crate::util::duration")]
    pub give_up_after: Duration,
    /// How often the sender looks at the outbox when nothing wakes it.
    #[serde(with = "crate::util::duration")]
    pub sender_poll: Duration,
    /// Sent and failed outbox entries are forgotten this long after they finished
    /// (their copy of the mention with them); an alert queued again after that is
    /// new. Default 30 days.
    #[serde(with = "crate::util::duration")]
    pub keep_outbox: Duration,
    /// The first poll of a source (and the first after a brand is added): `digest`
    /// (default), `alert` or `none`.
    pub backlog: BacklogMode,
    /// Posts older than this never alert one by one: they go with the backlog
    /// (`"0s"`: no limit).
    #[serde(with = "crate::util::duration")]
    pub max_age: Duration,
    /// Per-brand overrides: `[alerts.brand.Acme]`.
    pub brand: BTreeMap<String, BrandRules>,
    /// Per-source recipients: `[[alerts.route]]`.
    pub route: Vec<Route>,
    /// Chat and JSON webhook destinations: `[[alerts.webhook]]`.
    pub webhook: Vec<WebhookConfig>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            mode: AlertMode::Instant,
            batch_window: Duration::ZERO,
            digest_every: None,
            digest_at: None,
            digest_send_empty: false,
            labels: vec!["negative".into()],
            timezone: "UTC".into(),
            max_per_hour: None,
            quiet_hours: None,
            summary: SummaryEvery::Off,
            summary_at: "08:00".into(),
            summary_weekday: "mon".into(),
            spike_factor: 3.0,
            spike_min_count: 5,
            spike_cooldown: Duration::from_secs(3600),
            source_failing_after: Duration::from_secs(3600),
            admin_to: Vec::new(),
            escalate_after: None,
            escalate_to: Vec::new(),
            remind_unanswered: None,
            alert_on_rating: None,
            retry_initial: Duration::from_secs(30),
            retry_max: Duration::from_secs(30 * 60),
            give_up_after: Duration::from_secs(24 * 3600),
            sender_poll: Duration::from_secs(5),
            keep_outbox: Duration::from_secs(30 * 24 * 3600),
            backlog: BacklogMode::Digest,
            max_age: Duration::from_secs(48 * 3600),
            brand: BTreeMap::new(),
            route: Vec::new(),
            webhook: Vec::new(),
        }
    }
}

impl AlertsConfig {
    /// Whether `name` is the name of an `[[alerts.webhook]]` (case-insensitive).
    pub fn is_webhook(&self, name: &str) -> bool {
        self.webhook
            .iter()
            .any(|w| w.name.eq_ignore_ascii_case(name.trim()))
    }

    fn webhook_problems(&self, brands: &[crate::matcher::BrandConfig], out: &mut Vec<Problem>) {
        let mut seen = std::collections::HashSet::new();
        for (i, w) in self.webhook.iter().enumerate() {
            out.extend(w.problems(i));
            if !seen.insert(w.name.to_lowercase()) {
                out.push(Problem::new(
                    format!("alerts.webhook[{i}].name"),
                    format!("another [[alerts.webhook]] is already named {:?}", w.name),
                ));
            }
        }
        for (i, b) in brands.iter().enumerate() {
            for (j, name) in b.alert_webhooks.iter().enumerate() {
                if !self.is_webhook(name) {
                    let known: Vec<&str> = self.webhook.iter().map(|w| w.name.as_str()).collect();
                    out.push(Problem::new(
                        format!("brand[{i}].alert_webhooks[{j}]"),
                        if known.is_empty() {
                            format!("no [[alerts.webhook]] is named {name:?} (none is configured)")
                        } else {
                            format!(
                                "no [[alerts.webhook]] is named {name:?} (configured: {})",
                                known.join(", ")
                            )
                        },
                    ));
                }
            }
        }
    }
}

/// `"HH:MM"` -> a time of day.
pub(crate) fn parse_time_of_day(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M").ok()
}

pub(crate) fn parse_weekday(text: &str) -> Option<Weekday> {
    text.trim().parse::<Weekday>().ok()
}

impl AlertsConfig {
    /// Problems serde could not see; `brands` are the `[[brand]]` entries that
    /// `[alerts.brand.NAME]` and `[[alerts.route]] brand` must name.
    pub fn problems(&self, brands: &[crate::matcher::BrandConfig]) -> Vec<Problem> {
        let mut out = Vec::new();
        let known = |name: &str| brands.iter().any(|b| b.name.eq_ignore_ascii_case(name));
        let rating = |key: String, n: Option<u8>, out: &mut Vec<Problem>| {
            if n.is_some_and(|n| !(1..=5).contains(&n)) {
                out.push(Problem::new(
                    key,
                    "a star rating is 1 to 5 (alert_on_rating = 2 alerts on one- and two-star reviews)",
                ));
            }
        };
        rating(
            "alerts.alert_on_rating".into(),
            self.alert_on_rating,
            &mut out,
        );
        for (name, o) in &self.brand {
            if !known(name) {
                out.push(Problem::new(
                    format!("alerts.brand.{name}"),
                    format!("no [[brand]] is named {name:?}"),
                ));
            }
            rating(
                format!("alerts.brand.{name}.alert_on_rating"),
                o.alert_on_rating,
                &mut out,
            );
        }
        for (i, r) in self.route.iter().enumerate() {
            if let Some(b) = r.brand.as_deref().filter(|b| !known(b)) {
                out.push(Problem::new(
                    format!("alerts.route[{i}].brand"),
                    format!("no [[brand]] is named {b:?}"),
                ));
            }
        }
        let tz_ok = |key: String, tz: &str, out: &mut Vec<Problem>| {
            if tz.parse::<chrono_tz::Tz>().is_err() {
                out.push(Problem::new(
                    key,
                    format!("{tz:?} is not a time zone: expected an IANA name like \"Europe/Berlin\" or \"UTC\""),
                ));
            }
        };
        let time_ok = |key: String, t: &str, out: &mut Vec<Problem>| {
            if parse_time_of_day(t).is_none() {
                out.push(Problem::new(
                    key,
                    format!("{t:?} is not a time of day: expected \"HH:MM\""),
                ));
            }
        };
        let addr_ok = |key: String, to: &[String], out: &mut Vec<Problem>| {
            for (i, a) in to.iter().enumerate() {
                if self.is_webhook(a) {
                    continue;
                }
                if a.parse::<lettre::message::Mailbox>().is_err() {
                    out.push(Problem::new(
                        format!("{key}[{i}]"),
                        if is_webhook_name(a) {
                            format!("{a:?} is neither an email address nor the name of an [[alerts.webhook]]")
                        } else {
                            format!("{a:?} is not an email address")
                        },
                    ));
                }
            }
        };
        self.webhook_problems(brands, &mut out);
        tz_ok("alerts.timezone".into(), &self.timezone, &mut out);
        if let Some(t) = &self.digest_at {
            time_ok("alerts.digest_at".into(), t, &mut out);
        }
        time_ok("alerts.summary_at".into(), &self.summary_at, &mut out);
        if parse_weekday(&self.summary_weekday).is_none() {
            out.push(Problem::new(
                "alerts.summary_weekday",
                format!(
                    "{:?} is not a weekday: expected \"mon\" .. \"sun\"",
                    self.summary_weekday
                ),
            ));
        }
        if let Some(q) = &self.quiet_hours {
            time_ok("alerts.quiet_hours.start".into(), &q.start, &mut out);
            time_ok("alerts.quiet_hours.end".into(), &q.end, &mut out);
        }
        if self.max_per_hour == Some(0) {
            out.push(Problem::new(
                "alerts.max_per_hour",
                "must be at least 1 (leave it out for no cap)",
            ));
        }
        if self.spike_factor <= 1.0 || !self.spike_factor.is_finite() {
            out.push(Problem::new(
                "alerts.spike_factor",
                "must be a number above 1",
            ));
        }
        if self.retry_initial.is_zero() || self.retry_max < self.retry_initial {
            out.push(Problem::new(
                "alerts.retry_max",
                "needs 0 < retry_initial <= retry_max",
            ));
        }
        if self
            .digest_every
            .is_some_and(|d| d < Duration::from_secs(60))
        {
            out.push(Problem::new("alerts.digest_every", "must be at least 1m"));
        }
        if self.keep_outbox < Duration::from_secs(24 * 3600) {
            out.push(Problem::new(
                "alerts.keep_outbox",
                "must be at least 1d: an alert queued again after its entry is forgotten is sent again",
            ));
        }
        addr_ok("alerts.admin_to".into(), &self.admin_to, &mut out);
        addr_ok("alerts.escalate_to".into(), &self.escalate_to, &mut out);
        for (name, b) in &self.brand {
            let at = |k: &str| format!("alerts.brand.{name}.{k}");
            if let Some(tz) = &b.timezone {
                tz_ok(at("timezone"), tz, &mut out);
            }
            if let Some(t) = &b.digest_at {
                time_ok(at("digest_at"), t, &mut out);
            }
            if b.digest_every.is_some_and(|d| d < Duration::from_secs(60)) {
                out.push(Problem::new(at("digest_every"), "must be at least 1m"));
            }
            for (k, to) in [
                ("summary_to", &b.summary_to),
                ("escalate_to", &b.escalate_to),
            ] {
                if let Some(to) = to {
                    addr_ok(at(k), to, &mut out);
                }
            }
        }
        for (i, r) in self.route.iter().enumerate() {
            addr_ok(format!("alerts.route[{i}].to"), &r.to, &mut out);
        }
        out
    }
}
