//! The bundled model (models/sentiment), through rust-bert: parity with the Python
//! model it was trained as, and sensible verdicts on plain customer posts.

use std::path::Path;

use overhear::classifier::{Classifier, Precision};
use serde_json::Value;

fn model() -> Classifier {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sentiment");
    Classifier::load(&dir, 128, 32).expect("the bundled model loads")
}

#[test]
fn rust_scores_equal_the_python_reference() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/model_parity.json");
    let reference: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = reference["cases"].as_array().unwrap();
    assert!(cases.len() >= 6);
    let c = model();
    let texts: Vec<&str> = cases.iter().map(|k| k["text"].as_str().unwrap()).collect();
    // the tokenizer first: same ids as Python's BertTokenizer
    let ids = c.token_ids(&texts);
    for (case, ids) in cases.iter().zip(&ids) {
        let expected: Vec<i64> = case["input_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(ids, &expected, "token ids of {:?}", case["text"]);
    }
    // then the probabilities, alone and all in one padded batch
    let batch = c.classify(&texts).unwrap();
    for (case, in_batch) in cases.iter().zip(&batch) {
        let text = case["text"].as_str().unwrap();
        let alone = c.classify(&[text]).unwrap().remove(0);
        for (label, p) in case["scores"].as_object().unwrap() {
            let p = p.as_f64().unwrap() as f32;
            for got in [&alone, in_batch] {
                let g = got.score(label).unwrap();
                assert!(
                    (g - p).abs() <= 1e-4,
                    "{text:?} {label}: rust {g} python {p}"
                );
            }
        }
    }
}

#[test]
fn plain_customer_posts_get_the_obvious_label_alone_and_in_a_batch() {
    plain_customer_posts(&model(), 1e-4);
}

#[test]
fn bf16_gives_the_same_labels_and_scores_within_a_few_hundredths() {
    let mut c = model();
    let texts = [
        "Acme support is useless, I have been waiting two weeks for an answer.",
        "Huge thanks to the Acme team, the fix works perfectly now!",
        "Acme kept me on hold for three hours.",
        "Acme released version 2.3 today.",
    ];
    let reference = c.classify(&texts).unwrap();
    c.set_precision(Precision::Bf16);
    assert!(c.id().ends_with("+bf16"), "{}", c.id());
    let got = c.classify(&texts).unwrap();
    for ((text, a), b) in texts.iter().zip(&got).zip(&reference) {
        for ((l, pa), (_, pb)) in a.scores.iter().zip(&b.scores) {
            assert!((pa - pb).abs() <= 0.03, "{text:?} {l}: bf16 {pa} f32 {pb}");
        }
    }
    // Batches stay masked in bf16 too (to bf16's rounding).
    plain_customer_posts(&c, 1e-2);
}

fn plain_customer_posts(c: &Classifier, batch_tolerance: f32) {
    let cases = [
        ("Acme support is useless, I have been waiting two weeks for an answer and nobody cares.", "negative"),
        ("They refused my refund and stopped answering emails. Never buying from Acme again.", "negative"),
        ("Huge thanks to the Acme team, the fix works perfectly now!", "positive"),
        (
            "The Pro plan price changes to $12 per month on March 1, Acme said in a statement.",
            "neutral",
        ),
    ];
    let long = "I have been a customer for many years and wanted to write down the whole story \
                of what happened with my order, the shipping, the emails back and forth, and \
                the various people I talked to along the way. "
        .repeat(4);
    for (text, label) in cases {
        let alone = c.classify(&[text]).unwrap().remove(0);
        assert_eq!(alone.label, label, "{text:?}: {:?}", alone.scores);
        let batch = c.classify(&[long.as_str(), text, long.as_str()]).unwrap();
        assert_eq!(batch[1].label, label);
        for ((l, a), (_, b)) in alone.scores.iter().zip(&batch[1].scores) {
            assert!(
                (a - b).abs() <= batch_tolerance,
                "{text:?} {l}: {a} alone vs {b} in a batch"
            );
        }
    }
}

/// The default threshold, and the one the shipped configs write, is the one
/// `models/train/calibrate.py` chose on the calibrated dev scores of this model.
#[test]
fn the_default_alert_threshold_is_the_calibrated_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("models/sentiment/calibration.json")).unwrap();
    let cal: Value = serde_json::from_str(&text).unwrap();
    let chosen = cal["alert_threshold"].as_f64().unwrap() as f32;
    assert_eq!(overhear::classifier::DEFAULT_ALERT_THRESHOLD, chosen);
    assert_eq!(
        overhear::classifier::ModelConfig::default().alert_threshold,
        chosen
    );
    let t = cal["temperature"].as_f64().unwrap();
    assert_eq!(model().temperature(), t, "the model loads its calibration");
    for name in ["overhear.toml", "docker.toml", "example-full.toml"] {
        let path = root.join("config").join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let config = overhear::config::Config::parse(&text, name).unwrap();
        assert_eq!(config.model.alert_threshold, chosen, "{name}");
    }
}
