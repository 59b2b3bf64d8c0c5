//! Sentiment classification with a local transformer model through rust-bert.
//!
//! Texts in, label probabilities out: the classifier knows nothing of posts or
//! brands. A model is a directory (see [`ModelConfig::path`]); nothing is ever
//! downloaded. Batches are padded and masked, so a text scores the same alone and
//! in a batch with longer texts.

mod config;
pub mod eval;
mod model;
#[cfg(test)]
mod tests;
#[doc(hidden)]
pub mod tiny;

pub use config::{ModelConfig, Precision};
pub use model::{Architecture, Classifier, ClassifierError, Prediction, ScoreMap};

/// Loads the model a `[model]` table names, with its thread count and precision applied.
pub fn load(cfg: &ModelConfig) -> Result<Classifier, ClassifierError> {
    let threads = cfg.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    tch::set_num_threads(threads as i32);
    let mut c = Classifier::load(&cfg.path, cfg.max_length, cfg.max_batch)?;
    c.set_precision(cfg.precision);
    Ok(c)
}
