//! Notices to the admins about overhear itself: a source failing for too long, an
//! alert that could not be delivered.
//!
//! Pure: never retries or sends anything; the sender queues these like any alert
//! (and never reports a failed notice again).

use chrono::{DateTime, Utc};

use super::{cdur, Alerter};
use crate::alerts::item::{
    Delivery, DeliveryFailed, OutboxEntry, OutboxItem, Payload, SourceHealth,
};

impl Alerter {
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
        let failed_addr = address_of(&failed.item.to);
        self.admin_recipients()
            .into_iter()
            .filter(|a| address_of(a) != failed_addr)
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
}

/// The bare address of `Name <addr>` or `addr`, lowercased, for comparing recipients.
fn address_of(to: &str) -> String {
    match to.parse::<lettre::message::Mailbox>() {
        Ok(m) => m.email.to_string().to_lowercase(),
        Err(_) => to.trim().to_lowercase(),
    }
}
