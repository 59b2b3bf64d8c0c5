//! `[model]`: which sentiment model to load and how to run it.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::config::Problem;

/// The `[model]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Model directory: config.json (with `id2label`), vocab.txt (BERT/DistilBERT) or
    /// vocab.json + merges.txt (RoBERTa), and model.safetensors or rust_model.ot.
    pub path: PathBuf,
    /// A mention alerts when its label is `negative` and P(negative) is at least this.
    pub alert_threshold: f32,
    /// Posts longer than this many tokens are truncated (the model reads the start).
    pub max_length: usize,
    /// Largest batch handed to the model at once.
    pub max_batch: usize,
    /// How long the daemon waits for more texts to fill a batch.
    #[serde(with = "crate::util::duration")]
    pub batch_wait: Duration,
    /// libtorch intra-op threads; default: the number of CPU cores.
    pub threads: Option<usize>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            path: PathBuf::from("models/sentiment"),
            alert_threshold: 0.80,
            max_length: 128,
            max_batch: 32,
            batch_wait: Duration::from_millis(5),
            threads: None,
        }
    }
}

impl ModelConfig {
    /// Problems a user must fix, as messages naming the key.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if !(0.0..=1.0).contains(&self.alert_threshold) {
            out.push(Problem::new(
                "model.alert_threshold",
                format!(
                    "{} is not a probability: expected a number between 0 and 1",
                    self.alert_threshold
                ),
            ));
        }
        if self.max_length < 8 || self.max_length > 512 {
            out.push(Problem::new(
                "model.max_length",
                format!(
                    "{} is out of range: expected 8 to 512 tokens",
                    self.max_length
                ),
            ));
        }
        if self.max_batch == 0 || self.max_batch > 1024 {
            out.push(Problem::new(
                "model.max_batch",
                format!("{} is out of range: expected 1 to 1024", self.max_batch),
            ));
        }
        if self.threads == Some(0) {
            out.push(Problem::new(
                "model.threads",
                "0: expected at least 1 (or leave it out)",
            ));
        }
        out
    }
}
