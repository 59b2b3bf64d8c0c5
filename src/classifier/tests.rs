//! Unit tests of the classifier on tiny random models (see `tiny.rs`): loading,
//! masking and batching, and the errors a broken model directory gives. Test-only;
//! never needs the bundled weights.

use std::path::Path;

use super::tiny::write_tiny_model;
use super::*;

fn tiny(arch: Architecture) -> (tempfile::TempDir, Classifier) {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), arch, 7).unwrap();
    let c = Classifier::load(dir.path(), 128, 32).unwrap();
    (dir, c)
}

const SHORT: &str = "the support line kept me on hold";
fn long_text() -> String {
    "never again, the price of the new plan is bad and support was no help at all. ".repeat(8)
}

fn assert_close(a: &Prediction, b: &Prediction, tol: f32) {
    assert_eq!(a.label, b.label);
    for ((la, pa), (lb, pb)) in a.scores.iter().zip(&b.scores) {
        assert_eq!(la, lb);
        assert!((pa - pb).abs() <= tol, "{la}: {pa} vs {pb}");
    }
}

#[test]
fn a_text_scores_the_same_alone_and_in_a_padded_batch() {
    for arch in [Architecture::Bert, Architecture::DistilBert] {
        let (_dir, c) = tiny(arch);
        let long = long_text();
        assert!(c.token_ids(&[long.as_str()])[0].len() > 4 * c.token_ids(&[SHORT])[0].len());
        let alone = c.classify(&[SHORT]).unwrap();
        let batch = c.classify(&[long.as_str(), SHORT, "ok"]).unwrap();
        assert_close(&alone[0], &batch[1], 1e-4);
        let ok_alone = c.classify(&["ok"]).unwrap();
        assert_close(&ok_alone[0], &batch[2], 1e-4);
    }
}

#[test]
fn unmasked_padding_would_change_the_scores() {
    // Guards the test above: padding without a mask really does move the scores of
    // this model, so equality there proves the mask is applied.
    let (_dir, c) = tiny(Architecture::Bert);
    let mut ids = c.token_ids(&[SHORT])[0].clone();
    let alone = c.forward(&[ids.as_slice()]).unwrap();
    ids.extend(std::iter::repeat(0).take(60));
    let padded = c.forward(&[ids.as_slice()]).unwrap();
    let diff: f32 = alone[0]
        .iter()
        .zip(&padded[0])
        .map(|(a, b)| (a - b).abs())
        .sum();
    assert!(diff > 1e-4, "padding without mask changed nothing ({diff})");
}

#[test]
fn predictions_keep_input_order_and_sum_to_one() {
    let (_dir, c) = tiny(Architecture::Bert);
    let texts: Vec<String> = (0..70).map(|i| "good ".repeat(i % 13 + 1)).collect();
    let preds = c.classify(&texts).unwrap();
    assert_eq!(preds.len(), 70);
    for (t, p) in texts.iter().zip(&preds) {
        let sum: f32 = p.scores.iter().map(|(_, s)| s).sum();
        assert!((sum - 1.0).abs() < 1e-4);
        let alone = c.classify(&[t]).unwrap();
        assert_close(&alone[0], p, 1e-4);
    }
    assert_eq!(c.labels(), ["negative", "neutral", "positive"]);
    assert!(c.id().contains('@'));
}

#[test]
fn half_precision_weights_load_and_run_in_f32() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), Architecture::Bert, 3).unwrap();
    let full = Classifier::load(dir.path(), 128, 8).unwrap();
    let reference = full.classify(&[SHORT]).unwrap();
    let weights = dir.path().join("model.safetensors");
    let tensors = tch::Tensor::read_safetensors(&weights).unwrap();
    let half: Vec<(String, tch::Tensor)> = tensors
        .into_iter()
        .map(|(n, t)| (n, t.to_kind(tch::Kind::Half)))
        .collect();
    tch::Tensor::write_safetensors(&half, &weights).unwrap();
    let c = Classifier::load(dir.path(), 128, 8).unwrap();
    assert_close(&c.classify(&[SHORT]).unwrap()[0], &reference[0], 1e-2);
}

#[test]
fn ot_weights_load_too() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), Architecture::DistilBert, 5).unwrap();
    let reference = Classifier::load(dir.path(), 64, 8)
        .unwrap()
        .classify(&[SHORT])
        .unwrap();
    let tensors = tch::Tensor::read_safetensors(dir.path().join("model.safetensors")).unwrap();
    tch::Tensor::save_multi(&tensors, dir.path().join("rust_model.ot")).unwrap();
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let c = Classifier::load(dir.path(), 64, 8).unwrap();
    assert_close(&c.classify(&[SHORT]).unwrap()[0], &reference[0], 1e-6);
}

fn load_err(dir: &Path) -> String {
    Classifier::load(dir, 128, 8).unwrap_err().to_string()
}

fn edit_config(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, v.to_string()).unwrap();
}

#[test]
fn broken_model_directories_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let missing = d.join("nope");
    assert!(load_err(&missing).contains("does not exist"));

    write_tiny_model(d, Architecture::Bert, 1).unwrap();
    std::fs::remove_file(d.join("vocab.txt")).unwrap();
    let e = load_err(d);
    assert!(e.contains("vocab.txt") && e.contains("missing"), "{e}");

    write_tiny_model(d, Architecture::Bert, 1).unwrap();
    std::fs::write(d.join("config.json"), "{ not json").unwrap();
    let e = load_err(d);
    assert!(
        e.contains("config.json") && e.contains("invalid JSON"),
        "{e}"
    );

    write_tiny_model(d, Architecture::Bert, 1).unwrap();
    edit_config(d, |v| {
        v.as_object_mut().unwrap().remove("id2label");
    });
    let e = load_err(d);
    assert!(e.contains("config.json") && e.contains("id2label"), "{e}");

    write_tiny_model(d, Architecture::Bert, 1).unwrap();
    edit_config(d, |v| v["num_attention_heads"] = 5.into());
    let e = load_err(d);
    assert!(e.contains("not a multiple"), "{e}");

    write_tiny_model(d, Architecture::Bert, 1).unwrap();
    edit_config(d, |v| v["vocab_size"] = 10.into());
    let e = load_err(d);
    assert!(e.contains("vocab_size"), "{e}");

    write_tiny_model(d, Architecture::Bert, 1).unwrap();
    edit_config(d, |v| v["model_type"] = "gpt2".into());
    edit_config(d, |v| {
        v["architectures"] = serde_json::json!(["GPT2LMHeadModel"])
    });
    let e = load_err(d);
    assert!(e.contains("unsupported model"), "{e}");

    write_tiny_model(d, Architecture::Bert, 1).unwrap();
    edit_config(d, |v| v["hidden_act"] = "wiggle".into());
    let e = load_err(d);
    assert!(e.contains("not a valid BERT config"), "{e}");

    // weights of another shape
    write_tiny_model(d, Architecture::Bert, 1).unwrap();
    edit_config(d, |v| {
        v["hidden_size"] = 64.into();
    });
    let e = load_err(d);
    assert!(e.contains("model.safetensors"), "{e}");

    write_tiny_model(d, Architecture::Bert, 1).unwrap();
    std::fs::remove_file(d.join("model.safetensors")).unwrap();
    std::fs::write(d.join("pytorch_model.bin"), b"PK").unwrap();
    let e = load_err(d);
    assert!(
        e.contains("pytorch_model.bin") && e.contains("safetensors"),
        "{e}"
    );

    std::fs::remove_file(d.join("pytorch_model.bin")).unwrap();
    std::fs::write(d.join("model.safetensors"), b"garbage").unwrap();
    let e = load_err(d);
    assert!(e.contains("cannot load the weights"), "{e}");
}

#[test]
fn distilbert_config_without_tie_weights_loads_instead_of_panicking() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), Architecture::DistilBert, 2).unwrap();
    edit_config(dir.path(), |v| {
        v.as_object_mut().unwrap().remove("tie_weights_");
    });
    let c = Classifier::load(dir.path(), 128, 8).unwrap();
    assert_eq!(c.architecture(), Architecture::DistilBert);
}

#[test]
fn long_texts_are_truncated_to_max_length() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), Architecture::Bert, 1).unwrap();
    let c = Classifier::load(dir.path(), 16, 8).unwrap();
    let ids = c.token_ids(&[long_text().as_str()]);
    assert_eq!(ids[0].len(), 16);
    assert_eq!(c.classify(&[long_text()]).unwrap().len(), 1);
}

#[test]
fn bf16_runs_every_architecture_close_to_f32_and_says_so_in_its_id() {
    for arch in [Architecture::Bert, Architecture::DistilBert] {
        let (_dir, mut c) = tiny(arch);
        let long = long_text();
        let texts = [SHORT, long.as_str(), "ok"];
        let reference = c.classify(&texts).unwrap();
        let f32_id = c.id();
        c.set_precision(Precision::Bf16);
        assert_eq!(c.precision(), Precision::Bf16);
        assert_eq!(c.id(), format!("{f32_id}+bf16"));
        let got = c.classify(&texts).unwrap();
        for (a, b) in got.iter().zip(&reference) {
            let sum: f32 = a.scores.iter().map(|(_, s)| s).sum();
            assert!((sum - 1.0).abs() < 1e-3);
            for ((_, pa), (_, pb)) in a.scores.iter().zip(&b.scores) {
                assert!((pa - pb).abs() < 0.05, "{arch:?}: {pa} vs {pb}");
            }
        }
        // Masking still holds in bf16: a text scores the same alone and in a batch.
        let alone = c.classify(&[SHORT]).unwrap();
        assert_close(&alone[0], &got[0], 1e-2);
    }
}

#[test]
fn a_bulk_copy_runs_calls_of_many_texts_and_the_model_itself_the_rest() {
    let (dir, f32_only) = tiny(Architecture::Bert);
    let load = || Classifier::load(dir.path(), 128, 32).unwrap();
    let mut bf16_only = load();
    bf16_only.set_precision(Precision::Bf16);
    let mut bulk = load();
    bulk.set_precision(Precision::Bf16);
    let mixed = load().with_bulk(bulk);
    assert_eq!(mixed.id(), format!("{}+auto", f32_only.id()));
    assert_eq!(
        mixed.precision_summary(),
        format!("f32 for calls of fewer than {BULK_MIN_TEXTS} texts, bf16 from {BULK_MIN_TEXTS}")
    );
    let long = long_text();
    let few = [SHORT, long.as_str()];
    let many: Vec<String> = (0..BULK_MIN_TEXTS)
        .map(|i| format!("{SHORT} for {i} hours"))
        .collect();
    let scores = |p: Vec<Prediction>| -> Vec<Vec<f32>> {
        p.into_iter()
            .map(|p| p.scores.into_iter().map(|(_, s)| s).collect())
            .collect()
    };
    // a few texts: exactly what f32 gives; many: exactly what bf16 gives
    assert_eq!(
        scores(mixed.classify(&few).unwrap()),
        scores(f32_only.classify(&few).unwrap())
    );
    let bulk_scores = scores(mixed.classify(&many).unwrap());
    assert_eq!(bulk_scores, scores(bf16_only.classify(&many).unwrap()));
    assert_ne!(
        bulk_scores,
        scores(f32_only.classify(&many).unwrap()),
        "bf16 rounds differently from f32: the bulk call went to f32"
    );
}

mod batches {
    use super::super::model::plan_batches;

    fn check(lengths: &[usize], max: usize) -> Vec<usize> {
        let sizes = plan_batches(lengths, max);
        assert_eq!(sizes.iter().sum::<usize>(), lengths.len());
        assert!(
            sizes.iter().all(|&s| s >= 1 && s <= max.max(1)),
            "{sizes:?}"
        );
        sizes
    }

    #[test]
    fn equal_lengths_fill_whole_batches() {
        assert_eq!(check(&[20; 70], 32), [32, 32, 6]);
        assert_eq!(check(&[], 32), Vec::<usize>::new());
        assert_eq!(check(&[5; 3], 0), [1, 1, 1]);
    }

    #[test]
    fn a_long_tail_gets_its_own_batch_instead_of_padding_the_short_texts() {
        let mut lengths = vec![12; 40];
        lengths.extend([100, 110, 128]);
        let sizes = check(&lengths, 64);
        assert_eq!(sizes, [40, 3]);
    }

    #[test]
    fn small_batches_are_not_split_for_padding() {
        // Fewer than 8 texts: one batch however uneven, as per-call overhead dominates.
        assert_eq!(check(&[3, 5, 9, 40, 128], 64), [5]);
    }

    #[test]
    fn padding_in_every_batch_stays_bounded() {
        let lengths: Vec<usize> = (0..500).map(|i| 8 + (i * i) % 120).collect();
        let mut sorted = lengths.clone();
        sorted.sort();
        let sizes = check(&sorted, 64);
        let mut at = 0;
        for s in sizes {
            let batch = &sorted[at..at + s];
            at += s;
            let real: usize = batch.iter().sum();
            let padded = batch.len() * batch[batch.len() - 1];
            // Batches of more than 8 were checked on every text they took.
            assert!(
                batch.len() <= 8 || padded as f64 <= real as f64 * 1.25,
                "{batch:?}"
            );
        }
    }
}

#[test]
fn calibration_json_divides_the_logits_by_its_temperature() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_tiny_model(d, Architecture::Bert, 5).unwrap();
    let raw = Classifier::load(d, 128, 32).unwrap();
    assert_eq!(raw.temperature(), 1.0);
    let before = raw.classify(&[SHORT]).unwrap().remove(0);

    std::fs::write(
        d.join("calibration.json"),
        r#"{"temperature": 2.5, "ece_after": 0.02}"#,
    )
    .unwrap();
    let cal = Classifier::load(d, 128, 32).unwrap();
    assert_eq!(cal.temperature(), 2.5);
    assert!(cal.id().ends_with("+T2.5"), "{}", cal.id());
    let after = cal.classify(&[SHORT]).unwrap().remove(0);
    // softmax(z / t) from softmax(z): proportional to p^(1/t)
    let powered: Vec<f64> = before
        .scores
        .iter()
        .map(|(_, p)| f64::from(*p).powf(1.0 / 2.5))
        .collect();
    let total: f64 = powered.iter().sum();
    for ((label, p), q) in after.scores.iter().zip(&powered) {
        assert!(
            (f64::from(*p) - q / total).abs() < 1e-5,
            "{label}: {p} vs {}",
            q / total
        );
    }
    assert_eq!(
        after.label, before.label,
        "a temperature never changes the label"
    );

    for bad in [r#"{"temperature": 0}"#, r#"{"temperature": "hot"}"#, "{"] {
        std::fs::write(d.join("calibration.json"), bad).unwrap();
        let e = load_err(d);
        assert!(e.contains("calibration.json"), "{bad}: {e}");
    }
}
