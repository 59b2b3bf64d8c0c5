//! `[model]`: which sentiment model to load and how to run it.
//!
//! Settings and their checks only: never loads the model (that is `classifier::load`).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::util::Problem;

/// `[model] alert_threshold` when the config does not set it: the threshold
/// `models/train/calibrate.py` chose for the shipped model on its calibrated dev scores
/// (`alert_threshold` in `models/sentiment/calibration.json`; `tests/model.rs` checks
/// they agree).
pub const DEFAULT_ALERT_THRESHOLD: f32 = 0.65;

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
    /// Number format the model computes in: `f32` (scores equal the Python model's to
    /// 1e-4), `bf16` (weights and activations in bfloat16: about twice as fast on CPUs
    /// with AVX512-BF16, scores within about 1e-2, dev accuracy the same to 0.1 point)
    /// or `auto` (the default: where the CPU has AVX512-BF16, f32 for calls of a few
    /// texts and bf16 for calls of many; else f32).
    pub precision: Precision,
}

/// The number format a model runs in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Where the CPU computes bf16 natively (AVX512-BF16): f32 for calls of a few
    /// texts, a bf16 copy for calls of many (`mixed.rs`); else f32.
    #[default]
    Auto,
    /// 32-bit floats, as trained.
    F32,
    /// bfloat16 weights and activations (8-bit mantissa).
    Bf16,
}

impl Precision {
    /// What this means on the CPU running now: `auto` becomes `bf16` or `f32`.
    pub fn resolve(self) -> Precision {
        match self {
            Precision::Auto if cpu_has_native_bf16() => Precision::Bf16,
            Precision::Auto => Precision::F32,
            other => other,
        }
    }
}

/// Whether the CPU has bfloat16 dot products (AVX512-BF16: Intel Cooper Lake and
/// Sapphire Rapids on, AMD Zen 4 on). Without them libtorch emulates bf16, which is
/// slower than f32.
fn cpu_has_native_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::Auto => "auto",
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        })
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            path: PathBuf::from("models/sentiment"),
            alert_threshold: DEFAULT_ALERT_THRESHOLD,
            max_length: 128,
            max_batch: 32,
            batch_wait: Duration::from_millis(5),
            threads: None,
            precision: Precision::Auto,
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
