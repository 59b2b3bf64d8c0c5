//! `/dashboard`: how the brands are talked about and how fast the team answers, as
//! charts (server-drawn SVG, `chart.rs`): mentions per day by sentiment for each
//! brand (7, 30 or 90 days), the negative share over time, open negatives by age,
//! and the median and 90th-percentile time to acknowledge and to resolve, by brand
//! and by source; and the model's alert precision on the team's own judgements (as
//! `overhear eval --feedback`).
//!
//! Reads only: the per-day counts come from the indexes (`Store::stats`); the
//! response times from the mentions someone acted on in the period.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use minijinja::value::Value;
use serde::{Deserialize, Serialize};

use super::auth::Authed;
use super::chart::{hbars, share_lines, stacked_bars, Stack};
use super::page::blocking;
use super::WebState;
use crate::classifier::feedback::{judgements_of, precision_by_brand};
use crate::store::{Bucket, Status, Store, StoreError};

#[derive(Debug, Default, Deserialize)]
pub struct DashQuery {
    days: Option<i64>,
}

#[derive(Serialize)]
struct BrandChart {
    brand: String,
    total: u64,
    negative: u64,
    svg: Value,
}

/// The q-quantile (0..=1) of sorted values.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted.get(i.min(sorted.len() - 1)).copied()
}

struct Data {
    brands: Vec<BrandChart>,
    precision: Value,
    share: Value,
    ages: Value,
    times: Value,
    open: u64,
}

fn times_rows(groups: BTreeMap<String, Vec<f64>>) -> Vec<(String, f64, String)> {
    groups
        .into_iter()
        .filter_map(|(k, mut v)| {
            v.sort_by(f64::total_cmp);
            let (m, p90) = (quantile(&v, 0.5)?, quantile(&v, 0.9)?);
            Some((
                k,
                m,
                format!(
                    "median {} · p90 {} · n={}",
                    crate::util::pretty_secs(m),
                    crate::util::pretty_secs(p90),
                    v.len()
                ),
            ))
        })
        .collect()
}

fn build(
    store: &Store,
    brands: &[String],
    days: i64,
    now: DateTime<Utc>,
) -> Result<Data, StoreError> {
    let since = now - Duration::days(days - 1);
    let start = since.date_naive();
    let dates: Vec<chrono::NaiveDate> = (0..days)
        .filter_map(|i| start.checked_add_signed(Duration::days(i)))
        .collect();
    let xs: Vec<String> = dates
        .iter()
        .map(|d| d.format("%m-%d").to_string())
        .collect();
    let mut charts = Vec::new();
    let mut lines = Vec::new();
    for b in brands {
        let rows = store.stats(Some(b), Some(since), Bucket::Day)?;
        let by_day: BTreeMap<_, _> = rows.into_iter().map(|r| (r.bucket, r)).collect();
        let mut stacks = Vec::new();
        let mut share = Vec::new();
        let (mut total, mut negative) = (0, 0);
        for (d, x) in dates.iter().zip(&xs) {
            let row = by_day.get(d);
            let count = |l: &str| row.and_then(|r| r.counts.get(l)).copied().unwrap_or(0);
            let t = row.map_or(0, |r| r.total);
            let (neg, neu, pos) = (count("negative"), count("neutral"), count("positive"));
            total += t;
            negative += neg;
            stacks.push(Stack {
                x: x.clone(),
                parts: vec![
                    ("negative".into(), neg as f64),
                    ("neutral".into(), neu as f64),
                    ("positive".into(), pos as f64),
                    ("other".into(), t.saturating_sub(neg + neu + pos) as f64),
                ],
            });
            share.push((t > 0).then(|| neg as f64 / t as f64));
        }
        charts.push(BrandChart {
            brand: b.clone(),
            total,
            negative,
            svg: Value::from_safe_string(stacked_bars(
                &format!("{b}: mentions per day by sentiment"),
                &stacks,
            )),
        });
        lines.push((b.clone(), share));
    }
    // open negatives by how long they have waited
    let buckets = [
        ("< 1 h", 3600),
        ("1–4 h", 4 * 3600),
        ("4–24 h", 86_400),
        ("1–3 d", 3 * 86_400),
        ("> 3 d", i64::MAX),
    ];
    let mut ages = vec![0u64; buckets.len()];
    let mut open = 0u64;
    let recent = now - Duration::days(3);
    for s in [Status::New, Status::Acknowledged] {
        // post times of the last 3 days from the status index (no mention is decoded),
        // the older ones counted
        let (times, older) = store.times_in(s, "negative", recent)?;
        open = open
            .saturating_add(older)
            .saturating_add(times.len() as u64);
        if let Some(last) = ages.last_mut() {
            *last = last.saturating_add(older);
        }
        for posted in times {
            let waited = (now - posted).num_seconds();
            if let Some(i) = buckets.iter().position(|(_, max)| waited < *max) {
                ages[i] += 1;
            }
        }
    }
    let age_rows: Vec<(String, f64, String)> = buckets
        .iter()
        .zip(&ages)
        .map(|((l, _), n)| (l.to_string(), *n as f64, n.to_string()))
        .collect();
    // time to acknowledge (first change out of new) and to resolve, of the mentions
    // posted in the period; the model judged by the team (as `overhear eval
    // --feedback`), all time: both from the triaged summaries, no mention decoded
    let triaged = store.triaged()?;
    let mut ack: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut res: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for t in triaged.iter().filter(|t| t.posted >= since) {
        let keys = t
            .brands
            .iter()
            .map(|b| format!("{b} (brand)"))
            .chain(std::iter::once(format!("{} (source)", t.source)));
        for k in keys {
            if let Some(at) = t.acked_at {
                ack.entry(k.clone())
                    .or_default()
                    .push((at - t.first_seen).num_seconds() as f64);
            }
            if let Some(at) = t.resolved_at {
                res.entry(k)
                    .or_default()
                    .push((at - t.first_seen).num_seconds() as f64);
            }
        }
    }
    let verdicts = precision_by_brand(&judgements_of(&triaged), 0.9);
    let precision = if verdicts.is_empty() {
        r#"<p class="hint">No judgements yet: answer alerts, or dismiss them as not negative.</p>"#
            .to_string()
    } else {
        let rows: Vec<(String, f64, String)> = verdicts
            .iter()
            .map(|b| {
                let p = b.precision.unwrap_or(0.0);
                let thr = b
                    .threshold_for_target
                    .map_or("no threshold reaches 0.90".to_string(), |t| {
                        format!("0.90 from P >= {t:.2}")
                    });
                (
                    b.brand.clone(),
                    p,
                    format!("{:.0}% of {} · {thr}", p * 100.0, b.judged),
                )
            })
            .collect();
        hbars("Alert precision on the team's judgements", &rows, "#7b3fb3")
    };
    let mut times = String::new();
    let ack_rows = times_rows(ack);
    let res_rows = times_rows(res);
    if ack_rows.is_empty() && res_rows.is_empty() {
        times.push_str(r#"<p class="hint">Nobody has acted on a mention in this period yet.</p>"#);
    } else {
        times.push_str("<h3>Time to acknowledge</h3>");
        times.push_str(&hbars("Median time to acknowledge", &ack_rows, "#1f5fbf"));
        times.push_str("<h3>Time to resolve</h3>");
        times.push_str(&hbars("Median time to resolve", &res_rows, "#1e7d32"));
    }
    Ok(Data {
        brands: charts,
        precision: Value::from_safe_string(precision),
        share: Value::from_safe_string(share_lines("Negative share per day", &xs, &lines)),
        ages: Value::from_safe_string(hbars("Open negatives by age", &age_rows, "#b3261e")),
        times: Value::from_safe_string(times),
        open,
    })
}

/// `GET /dashboard?days=7|30|90`
pub async fn show(
    State(state): State<WebState>,
    authed: Authed,
    Query(q): Query<DashQuery>,
) -> Response {
    let days = q.days.filter(|d| [7, 30, 90].contains(d)).unwrap_or(30);
    let store = state.store.clone();
    let brands = state.brands.clone();
    let now = Utc::now();
    let data = match blocking(&state.pages, move || build(&store, &brands, days, now)).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    state.pages.render(
        "dashboard.html",
        minijinja::context! {
            user => authed.user(), csrf => &authed.session.csrf, days => days,
            brands => data.brands, share => data.share, ages => data.ages,
            times => data.times, open => data.open, precision => data.precision,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_read_well() {
        let v = [1.0, 2.0, 3.0, 4.0, 100.0];
        assert_eq!(quantile(&v, 0.5), Some(3.0));
        assert_eq!(quantile(&v, 0.9), Some(100.0));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(crate::util::pretty_secs(30.0), "30 s");
        assert_eq!(crate::util::pretty_secs(720.0), "12 min");
        assert_eq!(crate::util::pretty_secs(7200.0), "2.0 h");
        assert_eq!(crate::util::pretty_secs(3.0 * 86_400.0), "3.0 d");
    }
}
