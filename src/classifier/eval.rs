//! Scoring a classifier against labelled data: 3-class accuracy and macro-F1,
//! binary accuracy on the non-neutral rows, precision/recall of the alert
//! decision (label negative with P(negative) >= threshold), and how well
//! P(negative) is calibrated (expected calibration error, before and after the
//! model's temperature).
//!
//! Arithmetic on predictions and parsed rows: never reads a file or runs the model
//! itself (`overhear eval` and the benches do both).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::Prediction;

/// One labelled row of a TSV file (`id source label score text`).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub source: String,
    pub label: String,
    pub text: String,
}

/// Reads the TSV format of `shared/data/sentiment` (header row; columns found by name).
pub fn parse_tsv(text: &str) -> Result<Vec<Row>, String> {
    let mut lines = text.lines().enumerate();
    let (_, header) = lines.next().ok_or("the file is empty")?;
    let cols: Vec<&str> = header.split('\t').map(str::trim).collect();
    let find = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .ok_or_else(|| format!("line 1: no {name:?} column (found {cols:?})"))
    };
    let (source, label, text_col) = (find("source")?, find("label")?, find("text")?);
    if text_col != cols.len() - 1 {
        return Err("line 1: the text column must be the last one".into());
    }
    let mut rows = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.splitn(cols.len(), '\t').collect();
        if fields.len() < cols.len() {
            return Err(format!(
                "line {}: {} columns, expected {}",
                i + 1,
                fields.len(),
                cols.len()
            ));
        }
        let label = fields[label].trim().to_lowercase();
        if !matches!(label.as_str(), "negative" | "neutral" | "positive") {
            return Err(format!(
                "line {}: label {label:?} is not negative, neutral or positive",
                i + 1
            ));
        }
        rows.push(Row {
            source: fields[source].trim().to_string(),
            label,
            text: fields[text_col].to_string(),
        });
    }
    Ok(rows)
}

/// The figures for one group of rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub n: usize,
    pub accuracy3: f64,
    pub macro_f1: f64,
    /// `None` when the group has no non-neutral rows.
    pub binary_accuracy: Option<f64>,
    /// `None` when nothing alerted.
    pub alert_precision: Option<f64>,
    /// `None` when the group has no negative rows.
    pub alert_recall: Option<f64>,
    /// Expected calibration error of P(negative) (see [`ece`]); 0 is perfect.
    pub ece: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdFigures {
    pub threshold: f64,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
}

/// What `overhear eval --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub overall: Figures,
    pub by_source: BTreeMap<String, Figures>,
    pub thresholds: Vec<ThresholdFigures>,
    pub threshold: f64,
    /// The model's calibration temperature (1 = uncalibrated).
    pub temperature: f64,
    /// Overall ECE of the raw scores, softmax(logits), when the model is calibrated.
    pub ece_uncalibrated: Option<f64>,
}

/// Bins of [`ece`] (as `models/train/common.py`'s `ECE_BINS`).
pub const ECE_BINS: usize = 10;

/// Expected calibration error of P(negative) for the event "the gold label is
/// negative": points go into [`ECE_BINS`] equal-width bins of P(negative) (1.0 into
/// the last), and the result is the point-weighted mean over bins of
/// |mean P(negative) - share of negatives|. The same figure as `ece` in
/// `models/train/common.py`. 0 for no points.
pub fn ece(points: impl IntoIterator<Item = (f64, bool)>) -> f64 {
    let mut bins = [(0usize, 0.0f64, 0usize); ECE_BINS];
    let mut total = 0usize;
    for (p, negative) in points {
        // `as` saturates: NaN and negatives land in bin 0.
        let b = ((p * ECE_BINS as f64) as usize).min(ECE_BINS - 1);
        bins[b].0 += 1;
        bins[b].1 += p;
        bins[b].2 += usize::from(negative);
        total += 1;
    }
    if total == 0 {
        return 0.0;
    }
    let weighted: f64 = bins
        .iter()
        .filter(|b| b.0 > 0)
        .map(|&(_, sum, neg)| (sum - neg as f64).abs())
        .sum();
    weighted / total as f64
}

/// P(negative) before a temperature `t` was applied: scores are softmax(z / t), so
/// softmax(z) is proportional to score^t.
fn uncalibrated_negative(pred: &Prediction, t: f64) -> f64 {
    let powered = |p: f32| (f64::from(p).ln() * t).exp();
    let total: f64 = pred.scores.iter().map(|(_, p)| powered(*p)).sum();
    if total > 0.0 {
        powered(pred.score("negative").unwrap_or(0.0)) / total
    } else {
        0.0
    }
}

fn ratio(num: usize, den: usize) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

fn p(pred: &Prediction, label: &str) -> f64 {
    f64::from(pred.score(label).unwrap_or(0.0))
}

/// The daemon's decision, compared in f32 as the daemon compares it.
fn alerts(pred: &Prediction, threshold: f64) -> bool {
    pred.label == "negative" && pred.score("negative").unwrap_or(0.0) >= threshold as f32
}

/// Alert precision and recall: positives are the rows labelled negative.
fn alert_pr(pairs: &[(&Row, &Prediction)], threshold: f64) -> (Option<f64>, Option<f64>) {
    let mut tp = 0;
    let mut alerted = 0;
    let mut negatives = 0;
    for (row, pred) in pairs {
        let a = alerts(pred, threshold);
        let neg = row.label == "negative";
        alerted += usize::from(a);
        negatives += usize::from(neg);
        tp += usize::from(a && neg);
    }
    (ratio(tp, alerted), ratio(tp, negatives))
}

/// Macro-F1 over the labels that occur in the gold labels or the predictions
/// (as scikit-learn's `f1_score(average="macro")`: an undefined F1 counts as 0).
fn macro_f1(pairs: &[(&Row, &Prediction)]) -> f64 {
    let labels: BTreeSet<&str> = pairs
        .iter()
        .flat_map(|(r, p)| [r.label.as_str(), p.label.as_str()])
        .collect();
    if labels.is_empty() {
        return 0.0;
    }
    let f1s = labels.iter().map(|l| {
        let tp = pairs
            .iter()
            .filter(|(r, p)| r.label == *l && p.label == *l)
            .count();
        let predicted = pairs.iter().filter(|(_, p)| p.label == *l).count();
        let gold = pairs.iter().filter(|(r, _)| r.label == *l).count();
        if tp == 0 {
            0.0
        } else {
            2.0 * tp as f64 / (predicted + gold) as f64
        }
    });
    f1s.sum::<f64>() / labels.len() as f64
}

fn figures(pairs: &[(&Row, &Prediction)], threshold: f64) -> Figures {
    let correct = pairs.iter().filter(|(r, p)| r.label == p.label).count();
    let polar: Vec<_> = pairs.iter().filter(|(r, _)| r.label != "neutral").collect();
    let binary_correct = polar
        .iter()
        .filter(|(r, pred)| {
            let says = if p(pred, "negative") > p(pred, "positive") {
                "negative"
            } else {
                "positive"
            };
            r.label == says
        })
        .count();
    let (alert_precision, alert_recall) = alert_pr(pairs, threshold);
    let ece = ece(pairs
        .iter()
        .map(|(r, pred)| (p(pred, "negative"), r.label == "negative")));
    Figures {
        n: pairs.len(),
        accuracy3: ratio(correct, pairs.len()).unwrap_or(0.0),
        macro_f1: macro_f1(pairs),
        binary_accuracy: ratio(binary_correct, polar.len()),
        alert_precision,
        alert_recall,
        ece,
    }
}

/// Scores predictions (in row order) at `threshold`, with a sweep of thresholds.
/// `temperature` is the model's calibration temperature (1 = none).
pub fn report(rows: &[Row], preds: &[Prediction], threshold: f64, temperature: f64) -> Report {
    let pairs: Vec<(&Row, &Prediction)> = rows.iter().zip(preds).collect();
    let mut groups: BTreeMap<&str, Vec<(&Row, &Prediction)>> = BTreeMap::new();
    for pair in &pairs {
        groups
            .entry(pair.0.source.as_str())
            .or_default()
            .push(*pair);
    }
    let thresholds = (0..=9)
        .map(|i| f64::from(50 + 5 * i) / 100.0)
        .map(|t| {
            let (precision, recall) = alert_pr(&pairs, t);
            ThresholdFigures {
                threshold: t,
                precision,
                recall,
            }
        })
        .collect();
    Report {
        overall: figures(&pairs, threshold),
        by_source: groups
            .into_iter()
            .map(|(s, g)| (s.to_string(), figures(&g, threshold)))
            .collect(),
        thresholds,
        threshold,
        temperature,
        ece_uncalibrated: (temperature != 1.0).then(|| {
            ece(pairs.iter().map(|(r, pred)| {
                (
                    uncalibrated_negative(pred, temperature),
                    r.label == "negative",
                )
            }))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(source: &str, label: &str) -> Row {
        Row {
            source: source.into(),
            label: label.into(),
            text: String::new(),
        }
    }

    fn pred(neg: f32, neu: f32, pos: f32) -> Prediction {
        let scores = vec![
            ("negative".to_string(), neg),
            ("neutral".to_string(), neu),
            ("positive".to_string(), pos),
        ];
        let label = scores
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|s| s.0.clone())
            .unwrap();
        Prediction { label, scores }
    }

    #[test]
    fn figures_match_a_hand_computation() {
        // gold:       neg  neg  neg  neu  pos  pos
        // predicted:  neg  neg  neu  neg  pos  neu
        // P(neg):     .95  .70  .40  .60  .05  .30 ; P(pos) .02 .10 .35 .10 .90 .20
        let rows = vec![
            row("a", "negative"),
            row("a", "negative"),
            row("a", "negative"),
            row("b", "neutral"),
            row("b", "positive"),
            row("b", "positive"),
        ];
        let preds = vec![
            pred(0.95, 0.03, 0.02),
            pred(0.70, 0.20, 0.10),
            pred(0.40, 0.45, 0.15),
            pred(0.60, 0.30, 0.10),
            pred(0.05, 0.05, 0.90),
            pred(0.30, 0.50, 0.20),
        ];
        let r = report(&rows, &preds, 0.65, 1.0);
        // accuracy: rows 1, 2, 5 right = 3/6
        assert!((r.overall.accuracy3 - 0.5).abs() < 1e-12);
        // F1 neg: tp 2, predicted 3, gold 3 -> 4/6; neu: tp 0 -> 0; pos: tp 1, pred 1, gold 2 -> 2/3
        let f1 = (4.0 / 6.0 + 0.0 + 2.0 / 3.0) / 3.0;
        assert!((r.overall.macro_f1 - f1).abs() < 1e-12);
        // binary on 5 polar rows: neg>pos for rows 1,2,3 (right), row 5 pos (right), row 6 .30>.20 -> neg (wrong)
        assert!((r.overall.binary_accuracy.unwrap() - 0.8).abs() < 1e-12);
        // alerts at .65: rows 1 (.95), 2 (.70) -> both true negatives; row 4 is neg .60 < .65
        assert_eq!(r.overall.alert_precision, Some(1.0));
        assert!((r.overall.alert_recall.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        // at .50 row 4 alerts too: precision 2/3
        let t50 = &r.thresholds[0];
        assert_eq!(t50.threshold, 0.5);
        assert!((t50.precision.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        // by source
        let b = &r.by_source["b"];
        assert_eq!(b.n, 3);
        assert_eq!(b.alert_recall, None, "no negative rows in b");
        assert_eq!(b.alert_precision, None, "nothing alerts in b at .65");
        assert!((r.by_source["a"].accuracy3 - 2.0 / 3.0).abs() < 1e-12);
        // sweep: at .95 only row 1 alerts
        let t95 = r.thresholds.last().unwrap();
        assert_eq!(t95.threshold, 0.95);
        assert_eq!(t95.precision, Some(1.0));
    }

    #[test]
    fn ece_matches_a_hand_computation_and_the_python_figure() {
        // bins: [.05] -> |.05 - 0|; [.95, 1.0] -> |1.95 - 2|; [.5] -> |.5 - 0| => .6 / 4
        let e = ece([(0.05, false), (0.95, true), (1.0, true), (0.5, false)]);
        assert!((e - 0.15).abs() < 1e-12, "{e}");
        assert_eq!(ece([]), 0.0);
        // one bin whose mean score (.25) is its share of negatives (1 in 4): calibrated
        let calibrated = [(0.25, true), (0.25, false), (0.25, false), (0.25, false)];
        assert!(ece(calibrated).abs() < 1e-12);
        let rows = [row("a", "negative"), row("a", "positive")];
        let r = report(&rows, &[pred(0.8, 0.1, 0.1), pred(0.3, 0.2, 0.5)], 0.5, 1.0);
        // bins 8: |.8 - 1| = .2; bin 3: |.3 - 0| = .3 => .25 (f32 scores)
        assert!((r.overall.ece - 0.25).abs() < 1e-6, "{}", r.overall.ece);
        assert_eq!(r.ece_uncalibrated, None);
    }

    #[test]
    fn the_uncalibrated_scores_are_recovered_from_the_calibrated_ones() {
        let z = [2.0f64, -0.5, 0.3];
        let softmax = |t: f64| {
            let e: Vec<f64> = z.iter().map(|v| (v / t).exp()).collect();
            let s: f64 = e.iter().sum();
            e.iter().map(|v| (v / s) as f32).collect::<Vec<_>>()
        };
        let (cal, raw) = (softmax(1.7), softmax(1.0));
        let p = pred(cal[0], cal[1], cal[2]);
        assert!((uncalibrated_negative(&p, 1.7) - f64::from(raw[0])).abs() < 1e-6);
        let rows = [row("a", "negative")];
        let r = report(&rows, &[p], 0.5, 1.7);
        let e = r.ece_uncalibrated.expect("calibrated model");
        assert!((e - (1.0 - f64::from(raw[0]))).abs() < 1e-6, "{e}");
        assert!((r.overall.ece - (1.0 - f64::from(cal[0]))).abs() < 1e-6);
    }

    #[test]
    fn tsv_parsing_finds_columns_and_rejects_bad_labels() {
        let rows = parse_tsv("id\tsource\tlabel\tscore\ttext\n1\ts\tNegative\t-1\ta\tb\n").unwrap();
        assert_eq!(rows[0].label, "negative");
        assert_eq!(rows[0].text, "a\tb");
        let e = parse_tsv("id\tsource\tlabel\tscore\ttext\n1\ts\tmeh\t0\tx\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        assert!(parse_tsv("").is_err());
        assert!(parse_tsv("id\ttext\n").unwrap_err().contains("source"));
    }
}
