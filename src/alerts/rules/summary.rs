//! Summaries: which daily or weekly periods have just ended, and the summary email
//! of one (counts compared with the period before, the most engaged mentions).
//!
//! Pure: never reads the store itself; the daemon fetches the period's mentions and
//! the previous period's [`Tally`] and passes them in.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration as CDuration, Utc};

use super::{at_local, Alerter};
use crate::alerts::config::SummaryEvery;
use crate::alerts::item::{Answered, Delivery, OutboxItem, Payload, Summary, Tally};
use crate::post::Mention;

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

impl Alerter {
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
        answered: Option<Answered>,
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
            answered,
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
