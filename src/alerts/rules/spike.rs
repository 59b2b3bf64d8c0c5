//! Spikes: an email when a brand's negative mentions in the last hour reach its
//! factor over the usual hourly rate, at most one per `spike_cooldown`.
//!
//! Pure: the counts come from the daemon (which reads them from the store); this
//! never reads them itself.

use chrono::{DateTime, Utc};

use super::{Alerter, BrandRule};
use crate::alerts::item::{Delivery, OutboxItem, Payload, Spike};

impl Alerter {
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
}
