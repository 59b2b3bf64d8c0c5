//! Stats: mentions per sentiment label per UTC day or week, and per triage state,
//! from the counters (see `counts`) and the indexes; no mention is decoded. Nothing
//! here writes.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration as ChronoDuration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::super::keys::{self, group, split_tail};
use super::super::{Status, Store, StoreError};
use super::counts::Counts;
use super::index::{group_end, parse_value};

/// Stats bucket width. Buckets are UTC days, and weeks starting on Monday (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    #[default]
    Day,
    Week,
}

/// Mentions per sentiment in one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsRow {
    /// First day of the bucket (UTC).
    pub bucket: NaiveDate,
    pub total: u64,
    /// Label (`negative`, ..., `unclassified`) to count.
    pub counts: BTreeMap<String, u64>,
}

fn bucket_start(d: NaiveDate, by: Bucket) -> NaiveDate {
    match by {
        Bucket::Day => d,
        Bucket::Week => d - ChronoDuration::days(i64::from(d.weekday().num_days_from_monday())),
    }
}

impl Store {
    /// Mentions per sentiment label per UTC day or week, oldest bucket first, from the
    /// counters kept at write time. Days are whole: the day `since` falls in counts
    /// whole, as the days after it do.
    pub fn stats(
        &self,
        brand: Option<&str>,
        since: Option<DateTime<Utc>>,
        by: Bucket,
    ) -> Result<Vec<StatsRow>, StoreError> {
        let days = Counts(&self.t.counts).per_day(brand, since.map(|t| t.date_naive()))?;
        let mut rows: BTreeMap<NaiveDate, StatsRow> = BTreeMap::new();
        for (day, labels) in days {
            let b = bucket_start(day, by);
            let row = rows.entry(b).or_insert_with(|| StatsRow {
                bucket: b,
                total: 0,
                counts: BTreeMap::new(),
            });
            for (label, n) in labels {
                row.total = row.total.saturating_add(n);
                let c = row.counts.entry(label).or_insert(0);
                *c = c.saturating_add(n);
            }
        }
        Ok(rows.into_values().collect())
    }

    /// How many mentions of `brand` (`None`: all) are in `status` labelled `label`,
    /// from the counters (the inbox's header, the dashboard).
    pub fn count_in(
        &self,
        status: Status,
        label: &str,
        brand: Option<&str>,
    ) -> Result<u64, StoreError> {
        Counts(&self.t.counts).in_status(status.as_str(), label, brand)
    }

    /// Post times of the mentions in `status` labelled `label` posted from `since` on,
    /// from the status index alone (no mention is decoded), and how many were posted
    /// before (from the counters): the dashboard's "open negatives by age".
    pub fn times_in(
        &self,
        status: Status,
        label: &str,
        since: DateTime<Utc>,
    ) -> Result<(Vec<DateTime<Utc>>, u64), StoreError> {
        let prefix = group(status.as_str());
        let mut lo = prefix.clone();
        lo.extend_from_slice(&keys::ts(since));
        let mut out = Vec::new();
        for item in self.t.status.range(lo..group_end(&prefix)) {
            let (k, v) = item?;
            if !parse_value(&v).label.eq_ignore_ascii_case(label) {
                continue;
            }
            if let Some((t, _)) = split_tail(&k) {
                out.push(t);
            }
        }
        let all = self.count_in(status, label, None)?;
        let before = all.saturating_sub(out.len() as u64);
        Ok((out, before))
    }
}
