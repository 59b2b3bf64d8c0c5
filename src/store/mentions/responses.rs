//! How fast the brand answers in public: of the negative mentions from sources with
//! threads, per week, brand and source, how many were answered within 1 h and 24 h,
//! and the median and 90th percentile of the time to the first answer (`overhear
//! stats --responses`, `/api/stats/responses`, the dashboard).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::super::{MentionFilter, Store, StoreError};
use crate::post::THREADED_KINDS;

/// One (week, brand, source).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseRow {
    /// Monday of the week (UTC) of the posts.
    pub week: NaiveDate,
    pub brand: String,
    pub source: String,
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

/// The `q` quantile of sorted values (nearest rank).
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

fn week_of(d: NaiveDate) -> NaiveDate {
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
        let f = MentionFilter {
            brand: brand.map(str::to_string),
            sentiment: Some("negative".into()),
            since: Some(since),
            ..MentionFilter::default()
        };
        let mut groups: BTreeMap<(NaiveDate, String, String), (u64, Vec<f64>)> = BTreeMap::new();
        for m in self.list_stored(&f)? {
            let p = &m.mention.post;
            if !THREADED_KINDS.contains(&p.source.as_str()) {
                continue;
            }
            let took = m
                .answer
                .answered_at
                .map(|at| (at - p.created_at).num_seconds().max(0) as f64);
            let mut brands: Vec<&str> = m.mention.brands.iter().map(|b| b.brand.as_str()).collect();
            brands.sort_unstable();
            brands.dedup();
            for b in brands {
                if brand.is_some_and(|want| !want.eq_ignore_ascii_case(b)) {
                    continue;
                }
                let g = groups
                    .entry((
                        week_of(p.created_at.date_naive()),
                        b.to_string(),
                        p.source.clone(),
                    ))
                    .or_default();
                g.0 += 1;
                g.1.extend(took);
            }
        }
        Ok(groups
            .into_iter()
            .map(|((week, brand, source), (negatives, mut took))| {
                took.sort_by(f64::total_cmp);
                let within = |s: f64| took.iter().filter(|t| **t <= s).count() as u64;
                ResponseRow {
                    week,
                    brand,
                    source,
                    negatives,
                    answered: took.len() as u64,
                    within_1h: within(3600.0),
                    within_24h: within(86_400.0),
                    median_secs: quantile(&took, 0.5),
                    p90_secs: quantile(&took, 0.9),
                }
            })
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
