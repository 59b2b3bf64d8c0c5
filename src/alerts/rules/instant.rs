//! Mention alerts: which classified mentions alert whom ([`Alerter::evaluate`], in
//! instant and digest mode alike), and what the sender does with due entries
//! ([`Alerter::plan`]: batch windows, the hourly cap per recipient, quiet hours).
//!
//! Pure: never touches the store or the transport; the sender passes in what it has
//! read and carries out the [`Action`]s.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration as CDuration, TimeZone, Utc};

use super::backlog::{self, Handling, BACKLOG_KEY, BACKLOG_WAIT};
use super::{at_local, cdur, Action, Alerter};
use crate::alerts::config::AlertMode;
use crate::alerts::item::{Delivery, MentionAlert, OutboxEntry, OutboxItem, Payload};
use crate::post::Mention;

/// What the rules make of one classified mention.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    /// One item per (brand, recipient).
    pub items: Vec<OutboxItem>,
    /// Whether some brand's rule selected it, even where no message goes out (a
    /// backlog with `backlog = "none"`): its thread is watched like any alert's.
    pub selected: bool,
}

impl Alerter {
    /// The alerts a classified mention produces: one item per (brand, recipient).
    /// Unclassified mentions and mentions no rule selects produce none. The mention
    /// is taken as a live one; see [`Alerter::evaluate_heard`] for the backlog.
    pub fn evaluate(&self, m: &Mention, now: DateTime<Utc>) -> Vec<OutboxItem> {
        self.evaluate_heard(m, now, &|_| false).items
    }

    /// [`Alerter::evaluate`], where `first_poll(brand)` says whether the mention came
    /// with the first poll of its source for that brand: such mentions, and those
    /// older than `max_age`, are backlog (`[alerts] backlog`).
    pub fn evaluate_heard(
        &self,
        m: &Mention,
        now: DateTime<Utc>,
        first_poll: &dyn Fn(&str) -> bool,
    ) -> Evaluation {
        let Some(s) = &m.sentiment else {
            return Evaluation::default();
        };
        let mut out = Vec::new();
        let mut selected = false;
        let mut seen = std::collections::HashSet::new();
        for bm in &m.brands {
            let Some(rule) = self.rule(&bm.brand) else {
                continue;
            };
            // a brand matched by several of its queries alerts once
            if !seen.insert(rule.brand.clone()) {
                continue;
            }
            // a low star rating alerts every recipient, whatever the sentiment
            let rated = rule.alerts_on_rating(&m.post);
            let hears = |to: &str| {
                rated
                    || self
                        .labels_for(rule, to)
                        .iter()
                        .any(|l| l.eq_ignore_ascii_case(&s.label))
            };
            let recipients: Vec<String> = self
                .recipients(rule, &m.post.source, &m.post.source_name)
                .into_iter()
                .filter(|to| hears(to))
                .collect();
            if rule.mode == AlertMode::Off || recipients.is_empty() {
                continue;
            }
            let p = s
                .scores
                .iter()
                .find(|(l, _)| l.eq_ignore_ascii_case(&s.label))
                .map_or(0.0, |(_, p)| *p);
            if p < rule.threshold && !rated {
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
            let backlog = match rule.mode {
                AlertMode::Instant => self.backlog_of(m, first_poll(&rule.brand), now),
                _ => None,
            };
            selected = true;
            let handling = backlog.map(|why| self.backlog_handling(why));
            if handling == Some(Handling::Quiet) {
                continue;
            }
            let matched = format!(
                "the query {:?} matched {}",
                if bm.query.is_empty() {
                    "default"
                } else {
                    &bm.query
                },
                if terms.is_empty() {
                    "the post".to_string()
                } else {
                    terms.join(", ")
                },
            );
            let by_sentiment =
                p >= rule.threshold && rule.labels.iter().any(|l| l.eq_ignore_ascii_case(&s.label));
            let mut reason = match (rated, m.post.rating, rule.alert_on_rating) {
                (true, Some(r), Some(max)) if !by_sentiment => format!(
                    "a {r}-star review: {} alerts on reviews of {max} stars or fewer (alert_on_rating), whatever the sentiment ({} with P = {p:.2}); {matched}",
                    rule.brand, s.label
                ),
                _ => format!(
                    "{} with P({}) = {:.2} >= {:.2}, the threshold for {}; {matched}",
                    s.label, s.label, p, rule.threshold, rule.brand,
                ),
            };
            if let Some(why) = backlog {
                reason = format!("{reason}; {}", backlog::reason(why, m));
            }
            let alert = MentionAlert {
                mention: m.clone(),
                brand: rule.brand.clone(),
                label: s.label.clone(),
                probability: p,
                threshold: rule.threshold,
                reason,
            };
            let mut rule_id = format!("mention:{}", s.label.to_lowercase());
            let (delivery, not_before) = match (rule.mode, handling) {
                (AlertMode::Digest, _) => (Delivery::Digest, rule.next_digest_slot(now)),
                (_, Some(Handling::Digest)) => {
                    rule_id = format!("{BACKLOG_KEY}{rule_id}");
                    (Delivery::Digest, now + BACKLOG_WAIT)
                }
                _ => (
                    Delivery::Instant {
                        batch: !rule.batch_window.is_zero(),
                    },
                    now + cdur(rule.batch_window),
                ),
            };
            for to in recipients {
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
        Evaluation {
            items: out,
            selected,
        }
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
        let mut backlogs: BTreeMap<String, Vec<OutboxEntry>> = BTreeMap::new();
        for e in due {
            match e.delivery() {
                Delivery::Direct => actions.push(Action::Send(vec![e.clone()])),
                Delivery::Digest if backlog::is_backlog(e) => {
                    backlogs.entry(group(e).0).or_default().push(e.clone())
                }
                Delivery::Digest => digests.entry(group(e)).or_default().push(e.clone()),
                Delivery::Instant { .. } => instants.entry(group(e)).or_default().push(e.clone()),
            }
        }
        actions.extend(digests.into_values().map(Action::Send));
        // a recipient's backlog goes in one message, whatever the brand, with the
        // rest of it that is not due yet
        for (to, mut list) in backlogs {
            for p in pending {
                if p.attempts == 0
                    && backlog::is_backlog(p)
                    && group(p).0 == to
                    && !list.iter().any(|e| e.item.key == p.item.key)
                {
                    list.push(p.clone());
                }
            }
            actions.push(Action::Send(list));
        }
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
