//! Digests: when a brand's digest slots fall (daily at a time, or every N hours from
//! local midnight), and the ticks that send a digest even when nothing happened.
//!
//! Pure: never touches the store; the daemon queues the ticks, and the sender folds
//! the slot's mentions into them.

use std::time::Duration;

use chrono::{DateTime, NaiveTime, Utc};

use super::{at_local, cdur, Alerter, BrandRule};
use crate::alerts::config::AlertMode;
use crate::alerts::item::{Delivery, OutboxItem, Payload};

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
}
