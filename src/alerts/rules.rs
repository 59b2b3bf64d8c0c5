//! Rules: which mentions alert, who hears, when. Pure functions of the config, the
//! mention and the time; the daemon feeds them and queues what they return.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Datelike, Duration as CDuration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::config::{parse_time_of_day, parse_weekday, AlertMode, AlertsConfig, SummaryEvery};
use super::item::{
    Delivery, DeliveryFailed, MentionAlert, OutboxEntry, OutboxItem, Payload, SourceHealth, Spike,
    Summary, Tally,
};
use crate::matcher::BrandConfig;
use crate::post::Mention;

/// One brand's rules, resolved from `[alerts]`, `[alerts.brand.NAME]` and `[[brand]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct BrandRule {
    pub brand: String,
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
}

/// A summary period that has just ended.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryPeriod {
    pub brand: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Start of the period before (for the comparison).
    pub previous_start: DateTime<Utc>,
    pub every: SummaryEvery,
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
    rules: Vec<BrandRule>,
    quiet: Option<(NaiveTime, NaiveTime)>,
    tz: Tz,
    summary_at: NaiveTime,
    summary_weekday: chrono::Weekday,
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

impl BrandRule {
    /// Whether this brand batches mentions into digests on a schedule.
    pub fn has_digest_schedule(&self) -> bool {
        self.digest_at.is_some() || self.digest_every.is_some()
    }

    /// The first digest slot strictly after `t`: daily at `digest_at`, else every
    /// `digest_every` from local midnight, else daily at 08:00.
    pub fn next_digest_slot(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let local = t.with_timezone(&self.tz);
        let date = local.date_naive();
        if let (Some(every), None) = (self.digest_every, self.digest_at) {
            let step = cdur(every.max(Duration::from_secs(60)));
            for d in [date, date.succ_opt().unwrap_or(date)] {
                let midnight = at_local(self.tz, d, NaiveTime::MIN);
                let next_midnight = at_local(self.tz, d.succ_opt().unwrap_or(d), NaiveTime::MIN);
                let mut s = midnight;
                if t >= midnight {
                    let k = (t - midnight).num_seconds() / step.num_seconds().max(1) + 1;
                    s = midnight + step * (k as i32);
                }
                if s > t && s <= next_midnight {
                    return s;
                }
            }
            return t + step;
        }
        let time = self
            .digest_at
            .unwrap_or(NaiveTime::from_hms_opt(8, 0, 0).unwrap_or(NaiveTime::MIN));
        let mut d = date.pred_opt().unwrap_or(date);
        loop {
            let s = at_local(self.tz, d, time);
            if s > t {
                return s;
            }
            match d.succ_opt() {
                Some(n) => d = n,
                None => return t,
            }
        }
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
                let to = dedup_addrs(b.alert_to.iter().cloned());
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
                    summary_to: o.summary_to.map(dedup_addrs).unwrap_or_else(|| to.clone()),
                    spike_factor: o.spike_factor.unwrap_or(cfg.spike_factor),
                    spike_min_count: o.spike_min_count.unwrap_or(cfg.spike_min_count),
                    to,
                }
            })
            .collect();
        let quiet = cfg
            .quiet_hours
            .as_ref()
            .and_then(|q| Some((parse_time_of_day(&q.start)?, parse_time_of_day(&q.end)?)));
        Alerter {
            cfg: cfg.clone(),
            rules,
            quiet,
            tz,
            summary_at: parse_time_of_day(&cfg.summary_at).unwrap_or(NaiveTime::MIN),
            summary_weekday: parse_weekday(&cfg.summary_weekday).unwrap_or(chrono::Weekday::Mon),
        }
    }

    pub fn config(&self) -> &AlertsConfig {
        &self.cfg
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

    /// Who hears about failing sources: `admin_to`, else every brand's recipients.
    pub fn admin_recipients(&self) -> Vec<String> {
        if self.cfg.admin_to.is_empty() {
            dedup_addrs(self.rules.iter().flat_map(|r| r.to.iter().cloned()))
        } else {
            dedup_addrs(self.cfg.admin_to.iter().cloned())
        }
    }

    /// The alerts a classified mention produces: one item per (brand, recipient).
    /// Unclassified mentions and mentions no rule selects produce none.
    pub fn evaluate(&self, m: &Mention, now: DateTime<Utc>) -> Vec<OutboxItem> {
        let Some(s) = &m.sentiment else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for bm in &m.brands {
            let Some(rule) = self.rule(&bm.brand) else {
                continue;
            };
            // a brand matched by several of its queries alerts once
            if !seen.insert(rule.brand.clone()) {
                continue;
            }
            if rule.mode == AlertMode::Off
                || !rule.labels.iter().any(|l| l.eq_ignore_ascii_case(&s.label))
            {
                continue;
            }
            let p = s
                .scores
                .iter()
                .find(|(l, _)| l.eq_ignore_ascii_case(&s.label))
                .map_or(0.0, |(_, p)| *p);
            if p < rule.threshold {
                continue;
            }
            let terms: Vec<String> = bm
                .terms
                .iter()
                .map(|t| {
                    format!(
                        "{:?} in the {}",
                        t.term,
                        format!("{:?}", t.field).to_lowercase()
                    )
                })
                .collect();
            let reason =
                format!(
                "{} with P({}) = {:.2} >= {:.2}, the threshold for {}; the query {:?} matched {}",
                s.label,
                s.label,
                p,
                rule.threshold,
                rule.brand,
                if bm.query.is_empty() { "default" } else { &bm.query },
                if terms.is_empty() { "the post".to_string() } else { terms.join(", ") },
            );
            let alert = MentionAlert {
                mention: m.clone(),
                brand: rule.brand.clone(),
                label: s.label.clone(),
                probability: p,
                threshold: rule.threshold,
                reason,
            };
            let (delivery, not_before) = match rule.mode {
                AlertMode::Digest => (Delivery::Digest, rule.next_digest_slot(now)),
                _ => (
                    Delivery::Instant {
                        batch: !rule.batch_window.is_zero(),
                    },
                    now + cdur(rule.batch_window),
                ),
            };
            let rule_id = format!("mention:{}", s.label.to_lowercase());
            for to in self.recipients(rule, &m.post.source, &m.post.source_name) {
                out.push(OutboxItem {
                    key: OutboxItem::make_key(
                        &rule_id,
                        &format!("{}@{}", m.post.id, rule.brand),
                        &to,
                    ),
                    to,
                    brand: Some(rule.brand.clone()),
                    delivery,
                    not_before,
                    created_at: now,
                    payload: Payload::Mention(Box::new(alert.clone())),
                });
            }
        }
        out
    }

    /// Digest slots in `(since, now]` of brands that send digests even when empty:
    /// one item per recipient for the latest such slot. Call it periodically with the
    /// previous call's `now`; queuing the same slot twice is a no-op.
    pub fn digest_ticks(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> Vec<OutboxItem> {
        let mut out = Vec::new();
        for rule in &self.rules {
            if rule.mode != AlertMode::Digest || !rule.digest_send_empty {
                continue;
            }
            let mut slot = rule.next_digest_slot(since);
            if slot > now {
                continue;
            }
            loop {
                let next = rule.next_digest_slot(slot);
                if next > now {
                    break;
                }
                slot = next;
            }
            for to in &rule.to {
                out.push(OutboxItem {
                    key: OutboxItem::make_key(
                        "digest",
                        &format!("{}@{}", rule.brand, slot.to_rfc3339()),
                        to,
                    ),
                    to: to.clone(),
                    brand: Some(rule.brand.clone()),
                    delivery: Delivery::Digest,
                    not_before: slot,
                    created_at: now,
                    payload: Payload::DigestTick { slot },
                });
            }
        }
        out
    }

    /// Summary periods that ended in `(since, now]`, one per brand with a summary.
    pub fn summaries_due(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> Vec<SummaryPeriod> {
        let mut out = Vec::new();
        for rule in &self.rules {
            let days = match rule.summary {
                SummaryEvery::Off => continue,
                SummaryEvery::Daily => 1,
                SummaryEvery::Weekly => 7,
            };
            // the latest period end at or before now
            let mut d = now.with_timezone(&rule.tz).date_naive();
            let end = loop {
                let e = at_local(rule.tz, d, self.summary_at);
                let weekday_ok = days == 1 || d.weekday() == self.summary_weekday;
                if e <= now && weekday_ok {
                    break Some(e);
                }
                match d.pred_opt() {
                    Some(p) if (now.date_naive() - p).num_days() <= 8 => d = p,
                    _ => break None,
                }
            };
            let Some(end) = end else { continue };
            if end <= since {
                continue;
            }
            let end_date = end.with_timezone(&rule.tz).date_naive();
            let start = at_local(rule.tz, end_date - CDuration::days(days), self.summary_at);
            let previous_start = at_local(
                rule.tz,
                end_date - CDuration::days(2 * days),
                self.summary_at,
            );
            out.push(SummaryPeriod {
                brand: rule.brand.clone(),
                start,
                end,
                previous_start,
                every: rule.summary,
            });
        }
        out
    }

    /// The summary emails of a period: `current` are the brand's mentions in
    /// `[start, end)`, `previous` the counts of `[previous_start, start)` (see [`tally`]).
    pub fn summary_items(
        &self,
        period: &SummaryPeriod,
        current: &[Mention],
        previous: &Tally,
        now: DateTime<Utc>,
    ) -> Vec<OutboxItem> {
        let Some(rule) = self.rule(&period.brand) else {
            return Vec::new();
        };
        let top = |label: &str| {
            let mut v: Vec<&Mention> = current
                .iter()
                .filter(|m| {
                    m.sentiment
                        .as_ref()
                        .is_some_and(|s| s.label.eq_ignore_ascii_case(label))
                })
                .collect();
            v.sort_by_key(|m| std::cmp::Reverse(m.post.engagement.unwrap_or(0)));
            v.into_iter().take(3).cloned().collect::<Vec<_>>()
        };
        let summary = Summary {
            brand: rule.brand.clone(),
            period: match period.every {
                SummaryEvery::Weekly => "weekly".into(),
                _ => "daily".into(),
            },
            start: period.start,
            end: period.end,
            current: tally(current),
            previous: previous.clone(),
            top_negative: top("negative"),
            top_positive: top("positive"),
        };
        rule.summary_to
            .iter()
            .map(|to| OutboxItem {
                key: OutboxItem::make_key(
                    "summary",
                    &format!("{}@{}", rule.brand, period.end.to_rfc3339()),
                    to,
                ),
                to: to.clone(),
                brand: Some(rule.brand.clone()),
                delivery: Delivery::Direct,
                not_before: now,
                created_at: now,
                payload: Payload::Summary(Box::new(summary.clone())),
            })
            .collect()
    }

    /// Whether `last_hour` negative mentions are a spike over `baseline_per_hour`.
    pub fn is_spike(rule: &BrandRule, last_hour: u64, baseline_per_hour: f64) -> bool {
        last_hour >= rule.spike_min_count
            && (last_hour as f64) >= rule.spike_factor * baseline_per_hour.max(0.0)
    }

    /// A spike email per recipient when `negatives_last_hour` exceeds the brand's usual
    /// hourly rate (e.g. the mean over the last 7 days, from the store) by its factor.
    /// At most one per brand per `spike_cooldown`.
    pub fn spike_items(
        &self,
        brand: &str,
        negatives_last_hour: u64,
        baseline_per_hour: f64,
        now: DateTime<Utc>,
    ) -> Vec<OutboxItem> {
        let Some(rule) = self.rule(brand) else {
            return Vec::new();
        };
        if !Self::is_spike(rule, negatives_last_hour, baseline_per_hour) {
            return Vec::new();
        }
        let window = self.cfg.spike_cooldown.as_secs().max(60) as i64;
        let bucket = now.timestamp().div_euclid(window);
        let spike = Spike {
            brand: rule.brand.clone(),
            last_hour: negatives_last_hour,
            baseline_per_hour,
            factor: rule.spike_factor,
        };
        rule.to
            .iter()
            .map(|to| OutboxItem {
                key: OutboxItem::make_key("spike", &format!("{}@{bucket}", rule.brand), to),
                to: to.clone(),
                brand: Some(rule.brand.clone()),
                delivery: Delivery::Direct,
                not_before: now,
                created_at: now,
                payload: Payload::Spike(spike.clone()),
            })
            .collect()
    }

    /// A source-health email per admin recipient once `source` has failed since
    /// `failing_since` for at least `source_failing_after`; one per outage.
    pub fn source_health_items(
        &self,
        source: &str,
        failing_since: DateTime<Utc>,
        last_error: &str,
        now: DateTime<Utc>,
    ) -> Vec<OutboxItem> {
        if now - failing_since < cdur(self.cfg.source_failing_after) {
            return Vec::new();
        }
        let health = SourceHealth {
            source: source.to_string(),
            failing_since,
            last_error: last_error.to_string(),
        };
        self.admin_recipients()
            .into_iter()
            .map(|to| OutboxItem {
                key: OutboxItem::make_key(
                    "source-health",
                    &format!("{source}@{}", failing_since.to_rfc3339()),
                    &to,
                ),
                to,
                brand: None,
                delivery: Delivery::Direct,
                not_before: now,
                created_at: now,
                payload: Payload::SourceHealth(health.clone()),
            })
            .collect()
    }

    /// Tells the admins (other than the failed address) that an alert could not be
    /// delivered; failures of these notices are not reported again.
    pub fn delivery_failed_items(
        &self,
        failed: &OutboxEntry,
        error: &str,
        now: DateTime<Utc>,
    ) -> Vec<OutboxItem> {
        if matches!(failed.item.payload, Payload::DeliveryFailed(_)) {
            return Vec::new();
        }
        let notice = DeliveryFailed {
            key: failed.item.key.clone(),
            to: failed.item.to.clone(),
            brand: failed.item.brand.clone(),
            error: error.to_string(),
        };
        self.admin_recipients()
            .into_iter()
            .filter(|a| {
                !a.to_lowercase()
                    .contains(&failed.item.to.trim().to_lowercase())
            })
            .map(|to| OutboxItem {
                key: OutboxItem::make_key("delivery-failed", &failed.item.key, &to),
                to,
                brand: None,
                delivery: Delivery::Direct,
                not_before: now,
                created_at: now,
                payload: Payload::DeliveryFailed(notice.clone()),
            })
            .collect()
    }

    /// When quiet hours (if any) end, if `now` is inside them.
    pub fn quiet_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let (start, end) = self.quiet?;
        let local = now.with_timezone(&self.tz);
        let t = local.time();
        let date = local.date_naive();
        let inside = if start <= end {
            t >= start && t < end
        } else {
            t >= start || t < end
        };
        if !inside {
            return None;
        }
        let end_date = if start > end && t >= start {
            date.succ_opt().unwrap_or(date)
        } else {
            date
        };
        Some(at_local(self.tz, end_date, end))
    }

    /// Where an instant mention goes when the recipient's cap is reached: the brand's
    /// next digest slot if it has a schedule, else the start of the next hour.
    fn fold_time(&self, brand: Option<&str>, now: DateTime<Utc>) -> DateTime<Utc> {
        match brand.and_then(|b| self.rule(b)) {
            Some(r) if r.has_digest_schedule() => r.next_digest_slot(now),
            _ => {
                let secs = now.timestamp();
                Utc.timestamp_opt(secs - secs.rem_euclid(3600) + 3600, 0)
                    .single()
                    .unwrap_or(now + CDuration::hours(1))
            }
        }
    }

    /// Decides what to do with the outbox: `due` are the pending entries due now,
    /// `pending` every pending entry (batch windows pull in later fresh ones), and
    /// `sent_last_hour(to)` how many emails `to` received in the last hour.
    pub fn plan(
        &self,
        due: &[OutboxEntry],
        pending: &[OutboxEntry],
        now: DateTime<Utc>,
        mut sent_last_hour: impl FnMut(&str) -> usize,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        let mut digests: BTreeMap<(String, String), Vec<OutboxEntry>> = BTreeMap::new();
        let mut instants: BTreeMap<(String, String), Vec<OutboxEntry>> = BTreeMap::new();
        let group = |e: &OutboxEntry| {
            (
                e.item.to.trim().to_lowercase(),
                e.item.brand.clone().unwrap_or_default(),
            )
        };
        for e in due {
            match e.delivery() {
                Delivery::Direct => actions.push(Action::Send(vec![e.clone()])),
                Delivery::Digest => digests.entry(group(e)).or_default().push(e.clone()),
                Delivery::Instant { .. } => instants.entry(group(e)).or_default().push(e.clone()),
            }
        }
        actions.extend(digests.into_values().map(Action::Send));
        // the emails each recipient would get this round
        let mut planned: HashMap<String, usize> = HashMap::new();
        let quiet = self.quiet_until(now);
        for ((to, brand), list) in instants {
            if let Some(until) = quiet {
                actions.push(Action::Fold {
                    keys: list.iter().map(|e| e.item.key.clone()).collect(),
                    at: until,
                    why: "quiet hours".into(),
                });
                continue;
            }
            // batching: all of the group in one email, plus fresh ones not yet due
            let mut emails: Vec<Vec<OutboxEntry>> = Vec::new();
            let (batched, single): (Vec<_>, Vec<_>) = list.into_iter().partition(|e| {
                matches!(e.item.delivery, Delivery::Instant { batch: true }) && e.attempts == 0
            });
            if !batched.is_empty() {
                let mut b = batched;
                for p in pending {
                    if p.attempts == 0
                        && !p.folded
                        && matches!(p.item.delivery, Delivery::Instant { batch: true })
                        && group(p) == (to.clone(), brand.clone())
                        && !b.iter().any(|e| e.item.key == p.item.key)
                    {
                        b.push(p.clone());
                    }
                }
                emails.push(b);
            }
            emails.extend(single.into_iter().map(|e| vec![e]));
            let already = sent_last_hour(&to);
            for email in emails {
                let n = planned.entry(to.clone()).or_insert(0);
                if let Some(cap) = self.cfg.max_per_hour {
                    if already + *n >= cap as usize {
                        actions.push(Action::Fold {
                            keys: email.iter().map(|e| e.item.key.clone()).collect(),
                            at: self.fold_time(Some(&brand), now),
                            why: format!("{to} already had {cap} emails in the last hour"),
                        });
                        continue;
                    }
                }
                *n += 1;
                actions.push(Action::Send(email));
            }
        }
        actions
    }
}

/// Counts of mentions by sentiment and by source.
pub fn tally(mentions: &[Mention]) -> Tally {
    let mut by_s: HashMap<String, u64> = HashMap::new();
    let mut by_src: HashMap<String, u64> = HashMap::new();
    for m in mentions {
        let label = m
            .sentiment
            .as_ref()
            .map_or("unclassified", |s| s.label.as_str());
        *by_s.entry(label.to_lowercase()).or_default() += 1;
        *by_src.entry(m.post.source.clone()).or_default() += 1;
    }
    let sorted = |m: HashMap<String, u64>| {
        let mut v: Vec<(String, u64)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    };
    Tally {
        total: mentions.len() as u64,
        by_sentiment: sorted(by_s),
        by_source: sorted(by_src),
    }
}
