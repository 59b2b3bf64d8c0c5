//! Scoring a classifier against labelled data: 3-class accuracy and macro-F1,
//! binary accuracy on the non-neutral rows, and precision/recall of the alert
//! decision (label negative with P(negative) >= threshold).
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
    Figures {
        n: pairs.len(),
        accuracy3: ratio(correct, pairs.len()).unwrap_or(0.0),
        macro_f1: macro_f1(pairs),
        binary_accuracy: ratio(binary_correct, polar.len()),
        alert_precision,
        alert_recall,
    }
}

/// Scores predictions (in row order) at `threshold`, with a sweep of thresholds.
pub fn report(rows: &[Row], preds: &[Prediction], threshold: f64) -> Report {
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
        let r = report(&rows, &preds, 0.65);
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
