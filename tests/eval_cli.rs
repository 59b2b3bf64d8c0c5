//! `overhear eval --data` on the bundled model: the `ece` figures it prints are the
//! expected calibration error of the scores `overhear classify` gives for the same
//! texts, and a model directory with a `calibration.json` reports its temperature and
//! the error before calibration.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// Labelled texts written for this test (not from the training or evaluation data).
const ROWS: &[(&str, &str, &str)] = &[
    (
        "chat",
        "negative",
        "the app crashed again and I lost an hour of work",
    ),
    (
        "chat",
        "negative",
        "support never answered my ticket, this is a joke",
    ),
    (
        "chat",
        "negative",
        "they charged me twice and refuse to refund it",
    ),
    (
        "chat",
        "negative",
        "worst update ever, nothing works any more",
    ),
    ("chat", "neutral", "the new version ships on tuesday"),
    (
        "chat",
        "neutral",
        "does anyone know if the api has a rate limit",
    ),
    (
        "chat",
        "positive",
        "thanks for the quick fix, works perfectly now",
    ),
    ("chat", "positive", "I love the new dashboard, great job"),
    (
        "news",
        "negative",
        "customers complain about weeks of outages and silence",
    ),
    (
        "news",
        "negative",
        "the company admitted it lost the data of thousands of users",
    ),
    (
        "news",
        "neutral",
        "the firm will report its quarterly results in march",
    ),
    (
        "news",
        "neutral",
        "the service is available in twelve countries",
    ),
    (
        "news",
        "positive",
        "reviewers praised the reliable and friendly service",
    ),
    (
        "news",
        "positive",
        "the launch was a clear success with record sign-ups",
    ),
    (
        "news",
        "negative",
        "shares fell after the botched product recall",
    ),
    (
        "news",
        "positive",
        "the team won an award for its excellent support",
    ),
];

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_overhear"))
}

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sentiment")
}

/// A model directory with the shipped files linked in and `calibration` (or none).
fn model_dir(calibration: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "vocab.txt",
        "tokenizer_config.json",
    ] {
        std::os::unix::fs::symlink(shipped().join(f), dir.path().join(f)).unwrap();
    }
    if let Some(c) = calibration {
        std::fs::write(dir.path().join("calibration.json"), c).unwrap();
    }
    dir
}

fn eval(model: &Path, data: &Path) -> Value {
    let out = bin()
        .args(["eval", "--precision", "f32", "--json", "--data"])
        .arg(data)
        .arg("--model")
        .arg(model)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// P(negative), P(neutral), P(positive) of each row's text, from `overhear classify --json`.
fn scores(model: &Path) -> Vec<[f64; 3]> {
    let mut child = bin()
        .args(["classify", "--json", "--precision", "f32", "--model"])
        .arg(model)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for (_, _, text) in ROWS {
            writeln!(stdin, "{text}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            ["negative", "neutral", "positive"].map(|k| v["scores"][k].as_f64().unwrap())
        })
        .collect()
}

/// The definition, written out again: 10 equal bins of P(negative), the row-weighted
/// mean of |mean score - share of negatives|.
fn expected_ece(points: &[(f64, bool)]) -> f64 {
    let mut bins = vec![(0.0, 0.0, 0.0); 10];
    for &(p, neg) in points {
        let b = ((p * 10.0).floor() as usize).min(9);
        bins[b].0 += 1.0;
        bins[b].1 += p;
        bins[b].2 += if neg { 1.0 } else { 0.0 };
    }
    bins.iter().map(|(_, s, k)| (s - k).abs()).sum::<f64>() / points.len() as f64
}

#[test]
fn eval_reports_the_calibration_error_of_the_scores_classify_gives() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("labelled.tsv");
    let mut tsv = String::from("id\tsource\tlabel\tscore\ttext\n");
    for (i, (source, label, text)) in ROWS.iter().enumerate() {
        tsv.push_str(&format!("{i}\t{source}\t{label}\t\t{text}\n"));
    }
    std::fs::write(&data, tsv).unwrap();

    let raw = model_dir(None);
    let cal = model_dir(Some(r#"{"temperature": 2.0}"#));
    let (r_raw, r_cal) = (eval(raw.path(), &data), eval(cal.path(), &data));

    // uncalibrated: ece is that of classify's scores, overall and per source
    assert_eq!(r_raw["temperature"], 1.0);
    assert!(r_raw["ece_uncalibrated"].is_null(), "{r_raw}");
    let s_raw = scores(raw.path());
    let p_raw: Vec<f64> = s_raw.iter().map(|s| s[0]).collect();
    let points: Vec<(f64, bool)> = p_raw
        .iter()
        .zip(ROWS)
        .map(|(p, r)| (*p, r.1 == "negative"))
        .collect();
    let got = r_raw["overall"]["ece"].as_f64().unwrap();
    assert!(
        (got - expected_ece(&points)).abs() < 1e-5,
        "{got} vs {}",
        expected_ece(&points)
    );
    for source in ["chat", "news"] {
        let sub: Vec<(f64, bool)> = points
            .iter()
            .zip(ROWS)
            .filter(|(_, r)| r.0 == source)
            .map(|(p, _)| *p)
            .collect();
        let got = r_raw["by_source"][source]["ece"].as_f64().unwrap();
        assert!((got - expected_ece(&sub)).abs() < 1e-5, "{source}: {got}");
    }

    // at temperature 2 the scores are softer, the label the same, and the error before
    // calibration is the uncalibrated model's
    assert_eq!(r_cal["temperature"], 2.0);
    let before = r_cal["ece_uncalibrated"].as_f64().unwrap();
    assert!(
        (before - got_overall(&r_raw)).abs() < 1e-4,
        "{before} vs {r_raw}"
    );
    let s_cal = scores(cal.path());
    let p_cal: Vec<f64> = s_cal.iter().map(|s| s[0]).collect();
    let points_cal: Vec<(f64, bool)> = p_cal
        .iter()
        .zip(ROWS)
        .map(|(p, r)| (*p, r.1 == "negative"))
        .collect();
    assert!((got_overall(&r_cal) - expected_ece(&points_cal)).abs() < 1e-5);
    // softmax(z / 2) from softmax(z): proportional to the square root of each score
    for (raw, cal) in s_raw.iter().zip(&s_cal) {
        let root = raw.map(f64::sqrt);
        let total: f64 = root.iter().sum();
        for k in 0..3 {
            assert!(
                (cal[k] - root[k] / total).abs() < 1e-5,
                "{raw:?} -> {cal:?}"
            );
        }
    }
    assert_eq!(r_raw["overall"]["accuracy3"], r_cal["overall"]["accuracy3"]);

    // the table has the column, and says how the model is calibrated
    let out = bin()
        .args(["eval", "--precision", "f32", "--data"])
        .arg(&data)
        .arg("--model")
        .arg(cal.path())
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("calibrated at temperature 2"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("source") && l.ends_with("ece")),
        "{table}"
    );
}

fn got_overall(r: &Value) -> f64 {
    r["overall"]["ece"].as_f64().unwrap()
}
