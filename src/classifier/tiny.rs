//! Tiny randomly initialised models, for tests and benchmarks that need a real
//! rust-bert network without the bundled weights.
//!
//! Writes only into the directory it is given; never used by the daemon.

use std::path::Path;

use rust_bert::bert::{BertConfig, BertForSequenceClassification};
use rust_bert::distilbert::{DistilBertConfig, DistilBertModelClassifier};
use serde_json::json;
use tch::{nn, Device};

use super::Architecture;

/// The words of the tiny vocabulary (plus single letters and `##` letters, so every
/// ASCII text tokenizes without `[UNK]`).
const WORDS: &[&str] = &[
    "the", "a", "and", "is", "it", "to", "of", "my", "me", "on", "for", "was", "i", "you",
    "support", "line", "kept", "hold", "three", "hours", "refund", "great", "fix", "love", "hate",
    "price", "plan", "new", "bad", "good", "acme", "thanks", "never", "again",
];

/// Writes a tiny BERT or DistilBERT classifier (labels negative/neutral/positive)
/// with random weights from `seed` into `dir`: config.json, vocab.txt, model.safetensors.
pub fn write_tiny_model(dir: &Path, arch: Architecture, seed: i64) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut vocab: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    vocab.extend(WORDS.iter().map(|s| s.to_string()));
    for c in ('a'..='z').chain('0'..='9') {
        vocab.push(c.to_string());
        vocab.push(format!("##{c}"));
    }
    for c in ".,!?'\"-:;()#@$/&".chars() {
        vocab.push(c.to_string());
    }
    std::fs::write(dir.join("vocab.txt"), vocab.join("\n") + "\n")?;
    let labels = json!({"0": "negative", "1": "neutral", "2": "positive"});
    let label2id = json!({"negative": 0, "neutral": 1, "positive": 2});
    tch::manual_seed(seed);
    let vs = nn::VarStore::new(Device::Cpu);
    let config = match arch {
        Architecture::Bert | Architecture::Roberta => {
            let config = json!({
                "architectures": ["BertForSequenceClassification"],
                "model_type": "bert",
                "hidden_act": "gelu",
                "attention_probs_dropout_prob": 0.1,
                "hidden_dropout_prob": 0.1,
                "hidden_size": 32,
                "initializer_range": 0.02,
                "intermediate_size": 64,
                "max_position_embeddings": 512,
                "num_attention_heads": 4,
                "num_hidden_layers": 2,
                "type_vocab_size": 2,
                "vocab_size": vocab.len(),
                "id2label": labels,
                "label2id": label2id,
            });
            let bc: BertConfig = serde_json::from_value(config.clone())?;
            BertForSequenceClassification::new(vs.root(), &bc)?;
            config
        }
        Architecture::DistilBert => {
            let config = json!({
                "architectures": ["DistilBertForSequenceClassification"],
                "model_type": "distilbert",
                "activation": "gelu",
                "attention_dropout": 0.1,
                "dim": 32,
                "dropout": 0.1,
                "hidden_dim": 64,
                "initializer_range": 0.02,
                "max_position_embeddings": 512,
                "n_heads": 4,
                "n_layers": 2,
                "qa_dropout": 0.1,
                "seq_classif_dropout": 0.2,
                "sinusoidal_pos_embds": false,
                "tie_weights_": false,
                "vocab_size": vocab.len(),
                "id2label": labels,
                "label2id": label2id,
            });
            let dc: DistilBertConfig = serde_json::from_value(config.clone())?;
            DistilBertModelClassifier::new(vs.root(), &dc)?;
            config
        }
    };
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_string_pretty(&config)?,
    )?;
    vs.save(dir.join("model.safetensors"))?;
    Ok(())
}
