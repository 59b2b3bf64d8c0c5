//! The files of a model directory: finding them, reading them, and checking that
//! they fit together (labels, architecture, shapes, tokenizer flags, weights).
//!
//! Reads only the directory it is given, never the network; every problem is a
//! [`ClassifierError`] naming the file. Knows nothing of running the model.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::model::{Architecture, ClassifierError};

pub(super) fn bad(path: &Path, message: impl Into<String>) -> ClassifierError {
    ClassifierError::BadFile {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

pub(super) fn read_json(path: &Path) -> Result<Value, ClassifierError> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ClassifierError::MissingFile {
            path: path.to_path_buf(),
            hint: "a model directory needs config.json (with id2label)".into(),
        },
        _ => bad(path, format!("cannot read: {e}")),
    })?;
    serde_json::from_str(&text).map_err(|e| bad(path, format!("invalid JSON: {e}")))
}

pub(super) fn require(path: &Path, hint: &str) -> Result<PathBuf, ClassifierError> {
    if path.is_file() {
        Ok(path.to_path_buf())
    } else {
        Err(ClassifierError::MissingFile {
            path: path.to_path_buf(),
            hint: hint.to_string(),
        })
    }
}

/// The labels in id order, from `id2label` (`{"0": "negative", ...}`).
pub(super) fn labels_of(cfg: &Value, path: &Path) -> Result<Vec<String>, ClassifierError> {
    let map = cfg
        .get("id2label")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            bad(
                path,
                "no \"id2label\" object: the model's labels are unknown",
            )
        })?;
    if map.is_empty() {
        return Err(bad(path, "\"id2label\" is empty"));
    }
    let mut labels = vec![None; map.len()];
    for (k, v) in map {
        let id: usize = k
            .parse()
            .map_err(|_| bad(path, format!("id2label key {k:?} is not a number")))?;
        let name = v
            .as_str()
            .ok_or_else(|| bad(path, format!("id2label[{k}] is not a string")))?;
        let slot = labels.get_mut(id).ok_or_else(|| {
            bad(
                path,
                format!(
                    "id2label ids must be 0..{} without gaps; found {id}",
                    map.len()
                ),
            )
        })?;
        *slot = Some(name.to_lowercase());
    }
    Ok(labels.into_iter().flatten().collect())
}

pub(super) fn detect_arch(cfg: &Value, path: &Path) -> Result<Architecture, ClassifierError> {
    let model_type = cfg.get("model_type").and_then(Value::as_str).unwrap_or("");
    let first_arch = cfg
        .get("architectures")
        .and_then(|a| a.get(0))
        .and_then(Value::as_str)
        .unwrap_or("");
    let hint = format!("{model_type} {first_arch}").to_lowercase();
    if hint.contains("distilbert") {
        Ok(Architecture::DistilBert)
    } else if hint.contains("roberta") {
        Ok(Architecture::Roberta)
    } else if hint.contains("bert") {
        Ok(Architecture::Bert)
    } else {
        Err(bad(
            path,
            format!(
                "unsupported model (model_type {model_type:?}, architectures {first_arch:?}): \
                 expected a BERT, DistilBERT or RoBERTa sequence classifier"
            ),
        ))
    }
}

pub(super) fn positive_int(cfg: &Value, key: &str, path: &Path) -> Result<i64, ClassifierError> {
    match cfg.get(key).and_then(Value::as_i64) {
        Some(v) if v > 0 => Ok(v),
        Some(v) => Err(bad(
            path,
            format!("{key} = {v}: expected a positive number"),
        )),
        None => Err(bad(path, format!("missing or non-integer {key:?}"))),
    }
}

/// Checks the shape parameters rust-bert would panic on, before handing the config over.
pub(super) fn check_shapes(
    cfg: &Value,
    path: &Path,
    hidden: &str,
    heads: &str,
    layers: &str,
) -> Result<(), ClassifierError> {
    let h = positive_int(cfg, hidden, path)?;
    let n = positive_int(cfg, heads, path)?;
    positive_int(cfg, layers, path)?;
    positive_int(cfg, "vocab_size", path)?;
    positive_int(cfg, "max_position_embeddings", path)?;
    if h % n != 0 {
        return Err(bad(
            path,
            format!("{hidden} = {h} is not a multiple of {heads} = {n}"),
        ));
    }
    Ok(())
}

pub(super) fn tokenizer_flags(dir: &Path, cfg: &Value) -> Result<(bool, bool), ClassifierError> {
    let tc_path = dir.join("tokenizer_config.json");
    let tc = if tc_path.is_file() {
        read_json(&tc_path)?
    } else {
        Value::Null
    };
    let lower = tc
        .get("do_lower_case")
        .or_else(|| cfg.get("do_lower_case"))
        .and_then(Value::as_bool);
    let strip = tc.get("strip_accents").and_then(Value::as_bool);
    Ok((
        lower.unwrap_or(true),
        strip.unwrap_or(lower.unwrap_or(true)),
    ))
}

/// Temperatures outside this range are a broken file, not a calibration.
const TEMPERATURES: std::ops::RangeInclusive<f64> = 0.05..=20.0;

/// The temperature in `calibration.json` (written by `models/train/calibrate.py`), or 1
/// when the directory has none: scores are softmax(logits / temperature).
pub(super) fn temperature(dir: &Path) -> Result<f64, ClassifierError> {
    let path = dir.join("calibration.json");
    if !path.is_file() {
        return Ok(1.0);
    }
    let v = read_json(&path)?;
    match v.get("temperature").and_then(Value::as_f64) {
        Some(t) if TEMPERATURES.contains(&t) => Ok(t),
        Some(t) => Err(bad(
            &path,
            format!(
                "temperature = {t}: expected a number from {} to {}",
                TEMPERATURES.start(),
                TEMPERATURES.end()
            ),
        )),
        None => Err(bad(&path, "no numeric \"temperature\"")),
    }
}

pub(super) fn find_weights(dir: &Path) -> Result<PathBuf, ClassifierError> {
    for name in ["model.safetensors", "rust_model.ot"] {
        let p = dir.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| bad(dir, format!("cannot list: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("safetensors") | Some("ot")
            )
        })
        .collect();
    found.sort();
    if let Some(p) = found.into_iter().next() {
        return Ok(p);
    }
    let hint = if dir.join("pytorch_model.bin").is_file() {
        "only pytorch_model.bin is there, which libtorch cannot read: re-save the model with \
         save_pretrained(..., safe_serialization=True) to get model.safetensors"
    } else {
        "a model directory needs its weights as model.safetensors or rust_model.ot"
    };
    Err(ClassifierError::MissingFile {
        path: dir.join("model.safetensors"),
        hint: hint.into(),
    })
}

pub(super) fn file_digest(path: &Path) -> Result<String, ClassifierError> {
    let mut file = std::fs::File::open(path).map_err(|e| ClassifierError::Weights {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| ClassifierError::Weights {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(hex::encode(&hasher.finalize()[..6]))
}
