//! Stats: mentions per sentiment label per UTC day or week, from the indexes alone
//! (no mention is decoded). Nothing here writes.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration as ChronoDuration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::super::keys::{self, group, split_tail};
use super::super::{MentionFilter, Status, Store, StoreError};
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

fn bucket_start(t: DateTime<Utc>, by: Bucket) -> NaiveDate {
    let d = t.date_naive();
    match by {
        Bucket::Day => d,
        Bucket::Week => d - ChronoDuration::days(i64::from(d.weekday().num_days_from_monday())),
    }
}

impl Store {
    /// Mentions per sentiment label per UTC day or week, oldest bucket first.
    pub fn stats(
        &self,
        brand: Option<&str>,
        since: Option<DateTime<Utc>>,
        by: Bucket,
    ) -> Result<Vec<StatsRow>, StoreError> {
        let f = MentionFilter {
            brand: brand.map(str::to_string),
            since,
            ..Default::default()
        };
        let mut rows: BTreeMap<NaiveDate, StatsRow> = BTreeMap::new();
        self.scan_timed(&f, |t, label| {
            let b = bucket_start(t, by);
            let row = rows.entry(b).or_insert_with(|| StatsRow {
                bucket: b,
                total: 0,
                counts: BTreeMap::new(),
            });
            row.total += 1;
            *row.counts.entry(label.to_string()).or_insert(0) += 1;
        })?;
        Ok(rows.into_values().collect())
    }

    /// Post times of the mentions in `status` labelled `label`, from the status index
    /// alone (the dashboard's "open negatives by age").
    pub fn times_in(&self, status: Status, label: &str) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let prefix = group(status.as_str());
        let mut out = Vec::new();
        for item in self.t.status.range(prefix.clone()..group_end(&prefix)) {
            let (k, v) = item?;
            if !parse_value(&v).label.eq_ignore_ascii_case(label) {
                continue;
            }
            if let Some((t, _)) = split_tail(&k) {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// Like `scan` but hands over each row's time and label (for stats).
    fn scan_timed(
        &self,
        f: &MentionFilter,
        mut visit: impl FnMut(DateTime<Utc>, &str),
    ) -> Result<(), StoreError> {
        let (tree, prefix) = match &f.brand {
            Some(b) => (&self.t.brand, group(b)),
            None => (&self.t.time, Vec::new()),
        };
        let mut lo = prefix.clone();
        if let Some(since) = f.since {
            lo.extend_from_slice(&keys::ts(since));
        }
        let iter = if prefix.is_empty() {
            tree.range(lo..)
        } else {
            tree.range(lo..group_end(&prefix))
        };
        for item in iter {
            let (k, v) = item?;
            if let Some((t, _)) = split_tail(&k) {
                visit(t, parse_value(&v).label);
            }
        }
        Ok(())
    }
}
