//! Sentiment classification with a local transformer model through rust-bert.
//!
//! Texts in, label probabilities out: the classifier knows nothing of posts or
//! brands. A model is a directory (see [`ModelConfig::path`]); nothing is ever
//! downloaded. Batches are padded and masked, so a text scores the same alone and
//! in a batch with longer texts.
//!
//! Never touches the store, the network or the alert rules: the daemon hands it
//! texts and keeps what it returns.

mod config;
pub mod eval;
pub mod feedback;
mod files;
mod mixed;
mod model;
#[cfg(test)]
mod tests;
#[doc(hidden)]
pub mod tiny;

pub use config::{ModelConfig, Precision, DEFAULT_ALERT_THRESHOLD};
pub use mixed::BULK_MIN_TEXTS;
pub use model::{Architecture, Classifier, ClassifierError, Prediction, ScoreMap};

/// How many compiled kernels each of libtorch's two kernel caches may keep (see
/// [`limit_kernel_cache`]).
pub const KERNEL_CACHE_CAPACITY: &str = "64";

/// Caps libtorch's two caches of compiled CPU kernels, unless the environment already
/// sets them: oneDNN's primitive cache (`ONEDNN_PRIMITIVE_CACHE_CAPACITY`) and ideep's
/// computation cache in front of it (`LRU_CACHE_CAPACITY`). bf16 matrix products run
/// through them, and they keep a kernel (with its own copy of reordered weights) for
/// every input shape met, up to 1,024 each; posts of every length in batches of every
/// size meet hundreds, and the daemon's memory grew from 200 MB to over 600 MB (a
/// heap profile put 86 MB of three minutes' growth in ideep's cache). 64 keeps the
/// shapes of a steady stream warm. Call at process start, before any other thread
/// exists and before the first tensor operation.
pub fn limit_kernel_cache() {
    for var in ["ONEDNN_PRIMITIVE_CACHE_CAPACITY", "LRU_CACHE_CAPACITY"] {
        if std::env::var_os(var).is_none() {
            std::env::set_var(var, KERNEL_CACHE_CAPACITY);
        }
    }
}

/// Loads the model a `[model]` table names, with its thread count and precision applied.
pub fn load(cfg: &ModelConfig) -> Result<Classifier, ClassifierError> {
    let threads = cfg.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    tch::set_num_threads(threads as i32);
    let mut c = Classifier::load(&cfg.path, cfg.max_length, cfg.max_batch)?;
    let want = cfg.precision.resolve();
    if want == Precision::F32 {
        return Ok(c);
    }
    if cfg.precision == Precision::Auto {
        // bf16 pays off for many texts at once only: f32 for the rest
        return Ok(mixed::with_bf16_bulk(c, cfg));
    }
    c.set_precision(want);
    // bf16 kernels are generated at run time (oneDNN); a sandbox that forbids
    // writable-executable memory (systemd's MemoryDenyWriteExecute, PR_SET_MDWE)
    // refuses them, and every batch would fail: find out now, and use f32 instead
    match c.classify(&["overhear checks that the model runs here"]) {
        Ok(_) => Ok(c),
        Err(e) => {
            tracing::warn!(
                error = %e,
                "the model cannot compute in {want} on this machine (a sandbox that forbids \
                 run-time generated code, such as systemd's MemoryDenyWriteExecute, refuses \
                 its kernels); computing in f32 instead"
            );
            // a fresh load: going back from bf16 would keep the rounded weights
            Classifier::load(&cfg.path, cfg.max_length, cfg.max_batch)
        }
    }
}
