//! Reminders: a mention that alerted, from a source with threads, that the brand has
//! not answered in public (the thread watch found no reply by its `accounts`)
//! `remind_unanswered` after its alert, gets one more alert to the brand's usual
//! recipients, whatever its inbox state short of resolved or dismissed: a complaint
//! nobody answered in public is the one to chase. Once: the outbox key is
//! (`remind`, mention, recipient).

use chrono::{DateTime, Utc};

use super::{cdur, Alerter};
use crate::alerts::item::{Delivery, MentionAlert, OutboxItem, Payload};
use crate::post::THREADED_KINDS;
use crate::store::{Status, StoredMention};

/// The rule name of reminders (the first part of their outbox key).
pub const REMIND: &str = "remind";

impl Alerter {
    /// The longest `remind_unanswered` of any brand (`None`: no brand reminds).
    pub fn remind_window(&self) -> Option<chrono::Duration> {
        self.rules
            .iter()
            .filter_map(|r| r.remind_unanswered)
            .max()
            .map(cdur)
    }

    /// The reminders due at `now` for `m`: one per recipient of each of its brands
    /// that reminds, when it alerts for that brand, is still open (`new` or
    /// `acknowledged`), comes from a source with threads, has no public answer and
    /// its post was not deleted, and it alerted at least `remind_unanswered` ago.
    pub fn reminder_items(&self, m: &StoredMention, now: DateTime<Utc>) -> Vec<OutboxItem> {
        let Some(s) = m.mention.sentiment.as_ref() else {
            return Vec::new();
        };
        let post = &m.mention.post;
        let open = matches!(m.triage.status, Status::New | Status::Acknowledged);
        if !open
            || m.answer.answered_at.is_some()
            || m.answer.thread_gone_at.is_some()
            || !THREADED_KINDS.contains(&post.source.as_str())
        {
            return Vec::new();
        }
        let alerted = m.alerted_at.unwrap_or(m.mention.first_seen);
        let p = s.score(&s.label).unwrap_or(0.0);
        let mut out: Vec<OutboxItem> = Vec::new();
        for rule in self.due_rules(m, &s.label, p, alerted, now, |r| r.remind_unanswered) {
            let Some(after) = rule.remind_unanswered else {
                continue;
            };
            let alert = MentionAlert {
                mention: m.mention.clone(),
                brand: rule.brand.clone(),
                label: s.label.clone(),
                probability: p,
                threshold: rule.threshold,
                reason: format!(
                    "not answered in public {} after its alert at {}",
                    super::escalate::humantime(after),
                    alerted.format("%Y-%m-%d %H:%M UTC")
                ),
            };
            for to in self.recipients(rule, &post.source, &post.source_name) {
                out.push(OutboxItem {
                    key: OutboxItem::make_key(REMIND, &format!("{}@{}", m.id, rule.brand), &to),
                    to,
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
