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
    answered: Value,
    open: u64,
}

/// The "answered in public" chart: per brand and per source, the share of negative
/// mentions from sources with threads the brand answered within 24 h.
fn answered_chart(
    store: &Store,
    brands: &[String],
    since: DateTime<Utc>,
) -> Result<String, StoreError> {
    let name = |b: &str| {
        brands
            .iter()
            .find(|n| n.eq_ignore_ascii_case(b))
            .cloned()
            .unwrap_or_else(|| b.to_string())
    };
    let groups = store.responses_by(since, |_, b, source| {
        vec![format!("{} (brand)", name(b)), format!("{source} (source)")]
    })?;
    if groups.is_empty() {
        return Ok(r#"<p class="hint">No negative mention from a source with threads in this period. List each brand's own <code>accounts</code> and overhear checks whether it answered.</p>"#.to_string());
    }
    let pct = |n: u64, of: u64| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let rows: Vec<(String, f64, String)> = groups
        .into_iter()
        .map(|(k, s)| {
            let day = pct(s.within_24h, s.negatives);
            let times = match (s.median_secs, s.p90_secs) {
                (Some(m), Some(p)) => format!(
                    " · median {} · p90 {}",
                    crate::util::pretty_secs(m),
                    crate::util::pretty_secs(p)
                ),
                _ => String::new(),
            };
            (
                k,
                day,
                format!(
                    "{:.0}% in 24 h · {:.0}% in 1 h{times} · n={}",
                    day * 100.0,
                    pct(s.within_1h, s.negatives) * 100.0,
                    s.negatives
                ),
            )
        })
        .collect();
    Ok(hbars(
        "Negative mentions answered in public within 24 h",
        &rows,
        "#1e7d32",
    ))
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
        answered: Value::from_safe_string(answered_chart(store, brands, since)?),
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
            answered => data.answered,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answered_chart_counts_the_brands_public_answers() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = Utc::now();
        let brands = vec!["Acme".to_string()];
        let empty = build(&store, &brands, 30, now).unwrap();
        assert!(empty.answered.to_string().contains("No negative mention"));
        let mut ids = Vec::new();
        for (n, source) in [(1, "hackernews"), (2, "hackernews"), (3, "rss")] {
            let mut p = crate::matcher::tests::post("acme broke my order");
            p.id = format!("{source}:{n}");
            p.url = format!("https://e.test/{n}");
            p.source = source.into();
            p.source_name = source.into();
            p.created_at = now - Duration::hours(5);
            let b = crate::post::BrandMatch {
                brand: "Acme".into(),
                query: "default".into(),
                terms: vec![],
            };
            let id = store
                .upsert_mention(&p, &[b], now)
                .unwrap()
                .id()
                .to_string();
            let s = crate::post::Sentiment {
                label: "negative".into(),
                scores: vec![("negative".into(), 0.9)],
                model: "t@0".into(),
            };
            store.set_sentiment(&id, &s).unwrap();
            ids.push(id);
        }
        // one of the two Hacker News complaints answered 30 minutes after its post
        let at = now - Duration::hours(5) + Duration::minutes(30);
        store
            .set_answered(
                &ids[0],
                "hackernews:acme_support",
                at,
                "https://e.test/r",
                false,
                now,
            )
            .unwrap();
        let d = build(&store, &brands, 30, now).unwrap();
        let svg = d.answered.to_string();
        assert!(svg.contains("Acme (brand)"), "{svg}");
        assert!(svg.contains("hackernews (source)"), "{svg}");
        assert!(!svg.contains("rss"), "feeds have no threads: {svg}");
        assert!(
            svg.contains("50% in 24 h · 50% in 1 h · median 30 min · p90 30 min · n=2"),
            "{svg}"
        );
        // the CLI's rows say the same
        let rows = store.responses(now - Duration::days(30), None).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].stats.negatives, rows[0].stats.answered), (2, 1));
        assert_eq!(rows[0].stats.median_secs, Some(1800.0));
        assert!(store.check().unwrap().is_ok(), "{:?}", store.check());
    }

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
