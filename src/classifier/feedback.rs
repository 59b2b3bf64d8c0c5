//! The model judged by the team: of the negative mentions it alerted on that
//! someone triaged, how many were really negative (answered: acknowledged or
//! resolved) and how many the team corrected (dismissed as not negative), per brand;
//! and the lowest threshold that would have kept the alert precision at a target
//! (0.90) on those judgements.
//!
//! Pure: the caller reads the triaged mentions (`judgements`) and prints.

use serde::Serialize;

use crate::store::{DismissReason, MentionFilter, Status, StoredMention, Triaged};

/// One alert the team judged.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub brand: String,
    /// The model's P(negative).
    pub probability: f32,
    /// Answered as a complaint (true) or corrected as not negative (false).
    pub negative: bool,
}

/// The team's verdict on one brand's alerts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BrandPrecision {
    pub brand: String,
    pub judged: usize,
    pub confirmed: usize,
    pub corrected: usize,
    /// confirmed / judged.
    pub precision: Option<f64>,
    /// The lowest P(negative) threshold at which the judged alerts above it reach
    /// the target precision (none when no threshold does).
    pub threshold_for_target: Option<f32>,
}

/// What to read for [`judgements`]: negative mentions acknowledged or resolved,
/// and every dismissed one (each at most `limit`).
pub fn triaged_filters(limit: Option<usize>) -> [MentionFilter; 3] {
    let f = |status, sentiment: Option<&str>| MentionFilter {
        status: Some(status),
        sentiment: sentiment.map(str::to_string),
        limit,
        ..MentionFilter::default()
    };
    [
        f(Status::Acknowledged, Some("negative")),
        f(Status::Resolved, Some("negative")),
        f(Status::Dismissed, None),
    ]
}

/// The judgements in `mentions`: negative ones acknowledged or resolved (confirmed)
/// and ones dismissed as not negative (corrected), one per brand of each.
pub fn judgements(mentions: &[StoredMention]) -> Vec<Judged> {
    let triaged: Vec<Triaged> = mentions
        .iter()
        .filter_map(|m| Triaged::of(&m.mention, &m.triage, &m.answer))
        .collect();
    judgements_of(&triaged)
}

/// [`judgements`] from the store's triaged summaries ([`Store::triaged`](crate::store::Store::triaged)).
pub fn judgements_of(triaged: &[Triaged]) -> Vec<Judged> {
    let mut out = Vec::new();
    for m in triaged {
        let Some(label) = &m.label else {
            continue;
        };
        let negative = match (m.status, m.reason) {
            (Status::Dismissed, Some(DismissReason::NotNegative)) => false,
            (Status::Acknowledged | Status::Resolved, _) if label == "negative" => true,
            _ => continue,
        };
        let probability = m.p_negative.unwrap_or(0.0);
        let mut brands: Vec<&str> = m.brands.iter().map(String::as_str).collect();
        brands.dedup();
        for b in brands {
            out.push(Judged {
                brand: b.to_string(),
                probability,
                negative,
            });
        }
    }
    out
}

/// Precision per brand (and `all`), and the threshold for `target`.
pub fn precision_by_brand(judged: &[Judged], target: f64) -> Vec<BrandPrecision> {
    let mut brands: Vec<String> = judged.iter().map(|j| j.brand.clone()).collect();
    brands.sort();
    brands.dedup();
    let mut out: Vec<BrandPrecision> = brands
        .iter()
        .map(|b| summarise(b, judged.iter().filter(|j| &j.brand == b), target))
        .collect();
    if brands.len() > 1 {
        out.push(summarise("all", judged.iter(), target));
    }
    out
}

fn summarise<'a>(brand: &str, it: impl Iterator<Item = &'a Judged>, target: f64) -> BrandPrecision {
    let mut v: Vec<&Judged> = it.collect();
    v.sort_by(|a, b| b.probability.total_cmp(&a.probability));
    let confirmed = v.iter().filter(|j| j.negative).count();
    let judged = v.len();
    // walk down the probabilities: the lowest cut whose alerts above it reach the target
    let (mut tp, mut n, mut threshold) = (0usize, 0usize, None);
    for (i, j) in v.iter().enumerate() {
        n += 1;
        tp += usize::from(j.negative);
        let at_tie_end = v
            .get(i + 1)
            .map_or(true, |next| next.probability < j.probability);
        if at_tie_end && tp as f64 / n as f64 >= target {
            threshold = Some(j.probability);
        }
    }
    BrandPrecision {
        brand: brand.to_string(),
        judged,
        confirmed,
        corrected: judged - confirmed,
        precision: (judged > 0).then(|| confirmed as f64 / judged as f64),
        threshold_for_target: threshold,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(brand: &str, p: f32, negative: bool) -> Judged {
        Judged {
            brand: brand.into(),
            probability: p,
            negative,
        }
    }

    #[test]
    fn precision_and_the_threshold_that_keeps_it_at_ninety_percent() {
        let mut v: Vec<Judged> = (0..9)
            .map(|i| j("Acme", 0.99 - i as f32 * 0.01, true))
            .collect();
        v.push(j("Acme", 0.85, false));
        v.push(j("Acme", 0.80, false));
        v.push(j("Globex", 0.9, false));
        let r = precision_by_brand(&v, 0.9);
        let acme = &r[0];
        assert_eq!((acme.judged, acme.confirmed, acme.corrected), (11, 9, 2));
        assert!((acme.precision.unwrap() - 9.0 / 11.0).abs() < 1e-9);
        // 9 of the 10 alerts at >= 0.85 were right: 0.90
        assert_eq!(acme.threshold_for_target, Some(0.85));
        assert_eq!(r[1].threshold_for_target, None, "Globex never reaches it");
        assert_eq!(r[2].brand, "all");
    }
}
