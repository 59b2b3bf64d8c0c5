//! How fast the brand answers in public: of the negative mentions from sources with
//! threads, per week, brand (lowercased, as the counters keep it) and source, how many were answered within 1 h and 24 h,
//! and the median and 90th percentile of the time to the first answer (`overhear
//! stats --responses`, `/api/stats/responses`, the dashboard).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::super::{Store, StoreError};
use super::counts::Counts;
use crate::post::THREADED_KINDS;

/// How fast one group of negative mentions was answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseStats {
    /// Negative mentions.
    pub negatives: u64,
    /// Of them, answered by the brand at all, within an hour, within a day.
    pub answered: u64,
    pub within_1h: u64,
    pub within_24h: u64,
    /// Seconds from the post to the brand's first answer (answered ones only).
    pub median_secs: Option<f64>,
    pub p90_secs: Option<f64>,
}

impl ResponseStats {
    fn of(negatives: u64, mut took: Vec<f64>) -> ResponseStats {
        took.sort_by(f64::total_cmp);
        let within = |s: f64| took.iter().filter(|t| **t <= s).count() as u64;
        ResponseStats {
            negatives,
            answered: took.len() as u64,
            within_1h: within(3600.0),
            within_24h: within(86_400.0),
            median_secs: quantile(&took, 0.5),
            p90_secs: quantile(&took, 0.9),
        }
    }
}

/// One (week, brand, source).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseRow {
    /// Monday of the week (UTC) of the posts.
    pub week: NaiveDate,
    pub brand: String,
    pub source: String,
    #[serde(flatten)]
    pub stats: ResponseStats,
}

/// The `q` quantile of sorted values (nearest rank).
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// The Monday of `d`'s week.
pub fn week_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

impl Store {
    /// Response times of negative mentions posted since `since` from the source kinds
    /// with threads ([`THREADED_KINDS`]), per week, brand and source; `brand` narrows.
    pub fn responses(
        &self,
        since: DateTime<Utc>,
        brand: Option<&str>,
    ) -> Result<Vec<ResponseRow>, StoreError> {
        let wanted = |b: &str| brand.map_or(true, |w| w.eq_ignore_ascii_case(b));
        let groups = self.responses_by(since, |day, b, source| {
            if wanted(b) {
                vec![(week_of(day), b.to_string(), source.to_string())]
            } else {
                Vec::new()
            }
        })?;
        Ok(groups
            .into_iter()
            .map(|((week, brand, source), stats)| ResponseRow {
                week,
                brand,
                source,
                stats,
            })
            .collect())
    }

    /// [`Store::responses`] in the groups `group` puts each (UTC day of the post,
    /// brand, source) in (none, one, several): from the counters and the triaged summaries, no
    /// mention is decoded. Brands are lowercased.
    pub fn responses_by<K: Ord + Clone>(
        &self,
        since: DateTime<Utc>,
        group: impl Fn(NaiveDate, &str, &str) -> Vec<K>,
    ) -> Result<BTreeMap<K, ResponseStats>, StoreError> {
        let mut groups: BTreeMap<K, (u64, Vec<f64>)> = BTreeMap::new();
        for (b, day, source, n) in Counts(&self.t.counts).threaded_negatives(since.date_naive())? {
            for k in group(day, &b, &source) {
                groups.entry(k).or_default().0 += n;
            }
        }
        for t in self.triaged()? {
            let (Some(at), Some("negative")) = (t.answered_at, t.label.as_deref()) else {
                continue;
            };
            let day = t.posted.date_naive();
            if day < since.date_naive() || !THREADED_KINDS.contains(&t.source.as_str()) {
                continue;
            }
            let took = (at - t.posted).num_seconds().max(0) as f64;
            let mut brands: Vec<String> = t.brands.iter().map(|b| b.to_lowercase()).collect();
            brands.sort();
            brands.dedup();
            let mut keys: Vec<K> = brands
                .iter()
                .flat_map(|b| group(day, b, &t.source))
                .collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                if let Some(g) = groups.get_mut(&k) {
                    g.1.push(took);
                }
            }
        }
        Ok(groups
            .into_iter()
            .map(|(k, (n, took))| (k, ResponseStats::of(n, took)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let v = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0];
        assert_eq!(quantile(&v, 0.5), Some(50.0));
        assert_eq!(quantile(&v, 0.9), Some(90.0));
        assert_eq!(quantile(&[5.0], 0.9), Some(5.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
