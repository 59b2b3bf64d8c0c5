//! `precision = "auto"` on a CPU with native bf16 (AVX512-BF16, AMX): f32 for the
//! daemon's usual calls of a text or two, a bf16 copy of the model for calls of many
//! (a first poll, a backlog, `eval`). Measured on an AMX machine
//! (`scripts/bench-classifier.sh`, one run): one text took 7.94 ms at p50 in bf16
//! against 4.80 in f32, while bulk ran at 678 texts/s in bf16 against 241 in f32.

use super::{Classifier, ModelConfig, Precision};

/// Calls of at least this many texts run in bf16 when a bf16 copy is attached.
pub const BULK_MIN_TEXTS: usize = 8;

/// `f32` with a bf16 copy attached for bulk calls, when the bf16 copy loads and runs
/// here (a sandbox that forbids run-time generated code refuses its kernels: then
/// `f32` alone, with one warning).
pub(super) fn with_bf16_bulk(f32_model: Classifier, cfg: &ModelConfig) -> Classifier {
    let bulk = Classifier::load(&cfg.path, cfg.max_length, cfg.max_batch).and_then(|mut b| {
        b.set_precision(Precision::Bf16);
        b.classify(&["overhear checks that the model runs here"])?;
        Ok(b)
    });
    match bulk {
        Ok(b) => f32_model.with_bulk(b),
        Err(e) => {
            tracing::warn!(
                error = %e,
                "the model cannot compute in bf16 on this machine (a sandbox that forbids \
                 run-time generated code, such as systemd's MemoryDenyWriteExecute, refuses \
                 its kernels); computing in f32 instead"
            );
            f32_model
        }
    }
}

impl Classifier {
    /// Runs calls of at least [`BULK_MIN_TEXTS`] texts on `bulk` (the same model in
    /// another precision), the rest on `self`.
    pub fn with_bulk(mut self, bulk: Classifier) -> Classifier {
        self.bulk = Some(Box::new(bulk));
        self
    }

    /// The model that runs a call of `n` texts, when it is not `self`.
    pub(super) fn bulk_for(&self, n: usize) -> Option<&Classifier> {
        self.bulk.as_deref().filter(|_| n >= BULK_MIN_TEXTS)
    }

    /// The number format(s) in words, for the log and `overhear check --model`:
    /// `f32`, `bf16`, or `f32 for calls of fewer than 8 texts, bf16 from 8`.
    pub fn precision_summary(&self) -> String {
        match &self.bulk {
            Some(b) => format!(
                "{} for calls of fewer than {BULK_MIN_TEXTS} texts, {} from {BULK_MIN_TEXTS}",
                self.precision(),
                b.precision()
            ),
            None => self.precision().to_string(),
        }
    }
}
