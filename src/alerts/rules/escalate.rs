//! Escalation: a mention that alerts and is still `new` (nobody took it) after its
//! brand's `escalate_after` gets one more alert, to `escalate_to`. Once: the outbox
//! key is (`escalate`, mention, recipient), so queuing it again is a no-op.
//!
//! Decides only: the scheduler gives it the open mentions, the outbox and the
//! sender do the rest.

use chrono::{DateTime, Utc};

use super::{cdur, Alerter, BrandRule};
use crate::alerts::item::{Delivery, MentionAlert, OutboxItem, Payload};
use crate::store::{Status, StoredMention};

/// The rule name of escalation alerts (the first part of their outbox key).
pub const ESCALATE: &str = "escalate";

impl Alerter {
    /// The longest `escalate_after` of any brand that escalates to someone (`None`:
    /// no brand escalates).
    pub fn escalation_window(&self) -> Option<chrono::Duration> {
        self.rules
            .iter()
            .filter(|r| !r.escalate_to.is_empty())
            .filter_map(|r| r.escalate_after)
            .max()
            .map(cdur)
    }

    /// The brand rules under which `m` is overdue at `now`, one per brand: its label
    /// and probability alert for the brand, it alerted (else was first seen) at least
    /// the brand's `escalate_after` ago, and it is still `new`.
    fn overdue_rules(&self, m: &StoredMention, now: DateTime<Utc>) -> Vec<&BrandRule> {
        let Some(s) = m.mention.sentiment.as_ref() else {
            return Vec::new();
        };
        // answered in public, or still nobody took it
        if m.triage.status != Status::New || m.answer.answered_at.is_some() {
            return Vec::new();
        }
        // when it alerted (or, not recorded, when it was first seen: alerts are
        // queued as soon as a mention is classified)
        let alerted = m.alerted_at.unwrap_or(m.mention.first_seen);
        let p = s.score(&s.label).unwrap_or(0.0);
        self.due_rules(m, &s.label, p, alerted, now, |r| r.escalate_after)
    }

    /// The rules of `m`'s brands (one per brand) under which a mention labelled
    /// `label` with probability `p`, alerted at `alerted`, alerts and is at least
    /// `after(rule)` old at `now` (escalation, reminders).
    pub(super) fn due_rules(
        &self,
        m: &StoredMention,
        label: &str,
        p: f32,
        alerted: DateTime<Utc>,
        now: DateTime<Utc>,
        after: impl Fn(&BrandRule) -> Option<std::time::Duration>,
    ) -> Vec<&BrandRule> {
        let mut out: Vec<&BrandRule> = Vec::new();
        for b in &m.mention.brands {
            let Some(rule) = self.rule(&b.brand) else {
                continue;
            };
            let Some(after) = after(rule) else {
                continue;
            };
            let alerts = (p >= rule.threshold
                && rule.labels.iter().any(|l| l.eq_ignore_ascii_case(label)))
                || rule.alerts_on_rating(&m.mention.post);
            let due = alerted
                .checked_add_signed(cdur(after))
                .is_some_and(|at| at <= now);
            if alerts && due && !out.iter().any(|r| r.brand == rule.brand) {
                out.push(rule);
            }
        }
        out
    }

    /// Is `m` overdue at `now`: still `new` past its brand's `escalate_after` (the
    /// inbox marks it so)?
    pub fn is_overdue(&self, m: &StoredMention, now: DateTime<Utc>) -> bool {
        !self.overdue_rules(m, now).is_empty()
    }

    /// The escalation alerts due at `now` for `m`: one per recipient of each of its
    /// brands that escalates, when it is overdue for that brand.
    pub fn escalation_items(&self, m: &StoredMention, now: DateTime<Utc>) -> Vec<OutboxItem> {
        let Some(s) = m.mention.sentiment.as_ref() else {
            return Vec::new();
        };
        let alerted = m.alerted_at.unwrap_or(m.mention.first_seen);
        let p = s.score(&s.label).unwrap_or(0.0);
        let mut out = Vec::new();
        for rule in self.overdue_rules(m, now) {
            let Some(after) = rule.escalate_after else {
                continue;
            };
            let alert = MentionAlert {
                mention: m.mention.clone(),
                brand: rule.brand.clone(),
                label: s.label.clone(),
                probability: p,
                threshold: rule.threshold,
                reason: format!(
                    "still new {} after its alert at {}: nobody has taken it",
                    humantime(after),
                    alerted.format("%Y-%m-%d %H:%M UTC")
                ),
            };
            for to in &rule.escalate_to {
                out.push(OutboxItem {
                    key: OutboxItem::make_key(ESCALATE, &format!("{}@{}", m.id, rule.brand), to),
                    to: to.clone(),
                    brand: Some(rule.brand.clone()),
                    delivery: Delivery::Direct,
                    not_before: now,
                    created_at: now,
                    payload: Payload::Mention(Box::new(alert.clone())),
                });
            }
        }
        out
    }
}

/// "2h", "45min", "1d 2h".
pub(super) fn humantime(d: std::time::Duration) -> String {
    let m = d.as_secs() / 60;
    match (m / 1440, (m % 1440) / 60, m % 60) {
        (0, 0, m) => format!("{m}min"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}min"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}
