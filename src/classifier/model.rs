//! Loading a model directory safely and running masked batches through rust-bert.
//!
//! Reads only the model directory it is given (config, vocabulary, weights), and
//! never from the network; a bad file is an error naming that file, never a panic.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use rust_bert::bert::{BertConfig, BertForSequenceClassification};
use rust_bert::distilbert::{DistilBertConfig, DistilBertModelClassifier};
use rust_bert::roberta::RobertaForSequenceClassification;
use rust_tokenizers::tokenizer::{BertTokenizer, RobertaTokenizer, Tokenizer, TruncationStrategy};
use rust_tokenizers::vocab::Vocab;
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use serde_json::Value;
use tch::{nn, Device, Kind, Tensor};

use super::files::{
    bad, check_shapes, detect_arch, file_digest, find_weights, labels_of, positive_int, read_json,
    require, temperature, tokenizer_flags,
};
use super::Precision;

/// Why a model could not be loaded or run. Each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    #[error("model directory {0} does not exist (set [model] path or pass --model DIR)")]
    MissingDir(PathBuf),
    #[error("{path} is missing: {hint}")]
    MissingFile { path: PathBuf, hint: String },
    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },
    #[error("cannot load the weights from {path}: {message}")]
    Weights { path: PathBuf, message: String },
    #[error("the model failed on a batch of {batch} texts: {message}")]
    Inference { batch: usize, message: String },
}

/// The model families overhear can load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    Bert,
    DistilBert,
    Roberta,
}

enum Net {
    Bert(BertForSequenceClassification),
    DistilBert(DistilBertModelClassifier),
    Roberta(RobertaForSequenceClassification),
}

enum Tok {
    Bert(Box<BertTokenizer>),
    Roberta(Box<RobertaTokenizer>),
}

impl Tok {
    fn encode(&self, texts: &[&str], max_len: usize) -> Vec<Vec<i64>> {
        let strategy = TruncationStrategy::LongestFirst;
        let out = match self {
            Tok::Bert(t) => t.encode_list(texts, max_len, &strategy, 0),
            Tok::Roberta(t) => t.encode_list(texts, max_len, &strategy, 0),
        };
        out.into_iter().map(|t| t.token_ids).collect()
    }
}

/// A label and the probability of every label, in the model's label order.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub label: String,
    pub scores: Vec<(String, f32)>,
}

impl Prediction {
    /// Probability of `label`, or `None` if the model has no such label.
    pub fn score(&self, label: &str) -> Option<f32> {
        self.scores
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, p)| *p)
    }
}

/// Serializes label probabilities as a JSON object in the model's label order.
pub struct ScoreMap<'a>(pub &'a [(String, f32)]);

impl Serialize for ScoreMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (label, p) in self.0 {
            map.serialize_entry(label, p)?;
        }
        map.end()
    }
}

impl Serialize for Prediction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Prediction", 2)?;
        st.serialize_field("label", &self.label)?;
        st.serialize_field("scores", &ScoreMap(&self.scores))?;
        st.end()
    }
}

/// A loaded sentiment model. Loading validates everything rust-bert would panic on.
pub struct Classifier {
    // Owns the weights the network's tensors point into.
    _vs: nn::VarStore,
    net: Net,
    tok: Tok,
    arch: Architecture,
    labels: Vec<String>,
    pad_id: i64,
    max_length: usize,
    max_batch: usize,
    precision: Precision,
    /// A bf16 copy for calls of at least [`BULK_MIN_TEXTS`](super::BULK_MIN_TEXTS)
    /// texts (`auto` on CPUs with native bf16: see `mixed.rs`).
    pub(super) bulk: Option<Box<Classifier>>,
    /// Scores are softmax(logits / temperature): `calibration.json`, else 1.
    temperature: f64,
    id: String,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("id", &self.id)
            .field("arch", &self.arch)
            .field("labels", &self.labels)
            .field("max_length", &self.max_length)
            .field("precision", &self.precision)
            .field("temperature", &self.temperature)
            .finish()
    }
}

/// A batch is not split for padding before it holds this many texts: tiny batches
/// waste more on per-call overhead than padding costs.
const MIN_SPLIT_BATCH: usize = 8;
/// Padding allowed in a batch, as a fraction of its real tokens, before a longer
/// text starts a new batch.
const MAX_PADDING: f64 = 0.25;

/// Cuts texts sorted by token length (ascending) into batch sizes: at most
/// `max_batch` texts each, and a new batch starts when adding the next (longest so
/// far) text would pad the batch by more than [`MAX_PADDING`] of its tokens. Every
/// text is padded to its batch's longest, so this keeps a batch of short posts
/// from paying for one long one.
pub(crate) fn plan_batches(sorted_lengths: &[usize], max_batch: usize) -> Vec<usize> {
    let max_batch = max_batch.max(1);
    let mut sizes = Vec::new();
    let (mut count, mut tokens) = (0usize, 0usize);
    for &len in sorted_lengths {
        let padded = (count + 1) * len;
        let real = tokens + len;
        let too_padded =
            count >= MIN_SPLIT_BATCH && padded as f64 > real as f64 * (1.0 + MAX_PADDING);
        if count == max_batch || too_padded {
            sizes.push(count);
            count = 0;
            tokens = 0;
        }
        count += 1;
        tokens += len;
    }
    if count > 0 {
        sizes.push(count);
    }
    sizes
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic in libtorch".into())
}

impl Classifier {
    /// Loads a model directory. `max_length` caps tokens per text; `max_batch` caps
    /// texts per forward pass.
    pub fn load(dir: &Path, max_length: usize, max_batch: usize) -> Result<Self, ClassifierError> {
        if !dir.is_dir() {
            return Err(ClassifierError::MissingDir(dir.to_path_buf()));
        }
        let cfg_path = dir.join("config.json");
        let mut cfg = read_json(&cfg_path)?;
        let arch = detect_arch(&cfg, &cfg_path)?;
        let labels = labels_of(&cfg, &cfg_path)?;
        let (lower, strip) = tokenizer_flags(dir, &cfg)?;

        let vocab_hint = "BERT and DistilBERT models need the WordPiece vocabulary vocab.txt";
        let (tok, pad_id, vocab_len) = match arch {
            Architecture::Bert | Architecture::DistilBert => {
                let vocab = require(&dir.join("vocab.txt"), vocab_hint)?;
                let t = BertTokenizer::from_file(&vocab, lower, strip)
                    .map_err(|e| bad(&vocab, e.to_string()))?;
                let pad = t.vocab().token_to_id(t.vocab().get_pad_value());
                let len = t.vocab().values().len();
                (Tok::Bert(Box::new(t)), pad, len)
            }
            Architecture::Roberta => {
                let hint = "RoBERTa models need vocab.json and merges.txt";
                let vocab = require(&dir.join("vocab.json"), hint)?;
                let merges = require(&dir.join("merges.txt"), hint)?;
                let t = RobertaTokenizer::from_file(&vocab, &merges, false, false)
                    .map_err(|e| bad(&vocab, e.to_string()))?;
                let pad = t.vocab().token_to_id(t.vocab().get_pad_value());
                let len = t.vocab().values().len();
                (Tok::Roberta(Box::new(t)), pad, len)
            }
        };

        let (hidden, heads, layers) = match arch {
            Architecture::DistilBert => ("dim", "n_heads", "n_layers"),
            _ => ("hidden_size", "num_attention_heads", "num_hidden_layers"),
        };
        check_shapes(&cfg, &cfg_path, hidden, heads, layers)?;
        let vocab_size = positive_int(&cfg, "vocab_size", &cfg_path)? as usize;
        if vocab_len > vocab_size {
            return Err(bad(
                &cfg_path,
                format!(
                    "the vocabulary has {vocab_len} tokens but vocab_size is {vocab_size}: \
                     the tokenizer and the weights do not belong together"
                ),
            ));
        }
        let positions = positive_int(&cfg, "max_position_embeddings", &cfg_path)? as usize;
        // RoBERTa's positions start after the padding index.
        let usable = if arch == Architecture::Roberta {
            positions.saturating_sub(2)
        } else {
            positions
        };
        let max_length = max_length.min(usable).max(2);

        let weights = find_weights(dir)?;
        let mut vs = nn::VarStore::new(Device::Cpu);
        let net = match arch {
            Architecture::Bert | Architecture::Roberta => {
                let bc: BertConfig = serde_json::from_value(cfg.clone())
                    .map_err(|e| bad(&cfg_path, format!("not a valid BERT config: {e}")))?;
                if arch == Architecture::Bert {
                    let m = BertForSequenceClassification::new(vs.root(), &bc)
                        .map_err(|e| bad(&cfg_path, e.to_string()))?;
                    Net::Bert(m)
                } else {
                    let m = RobertaForSequenceClassification::new(vs.root(), &bc)
                        .map_err(|e| bad(&cfg_path, e.to_string()))?;
                    Net::Roberta(m)
                }
            }
            Architecture::DistilBert => {
                // rust-bert panics unless this key is present.
                if let Some(obj) = cfg.as_object_mut() {
                    obj.entry("tie_weights_").or_insert(Value::Bool(false));
                }
                let dc: DistilBertConfig = serde_json::from_value(cfg.clone())
                    .map_err(|e| bad(&cfg_path, format!("not a valid DistilBERT config: {e}")))?;
                let m = DistilBertModelClassifier::new(vs.root(), &dc)
                    .map_err(|e| bad(&cfg_path, e.to_string()))?;
                Net::DistilBert(m)
            }
        };
        vs.load(&weights).map_err(|e| ClassifierError::Weights {
            path: weights.clone(),
            message: e.to_string(),
        })?;
        // Half-precision files load as half tensors: compute in f32 regardless.
        vs.float();
        vs.freeze();

        let name = dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "model".into());
        let temperature = temperature(dir)?;
        let mut id = format!("{name}@{}", file_digest(&weights)?);
        if temperature != 1.0 {
            id.push_str(&format!("+T{temperature}"));
        }
        Ok(Classifier {
            _vs: vs,
            net,
            tok,
            arch,
            labels,
            pad_id,
            max_length,
            max_batch: max_batch.max(1),
            precision: Precision::F32,
            bulk: None,
            temperature,
            id,
        })
    }

    /// Switches the number format the model computes in (`auto` is resolved for this
    /// CPU). Weights are loaded as f32; going to bf16 rounds them, and going back to
    /// f32 keeps that rounding, so set this once, right after loading.
    pub fn set_precision(&mut self, precision: Precision) {
        let precision = precision.resolve();
        if precision == self.precision {
            return;
        }
        match precision {
            Precision::Bf16 => self._vs.bfloat16(),
            Precision::F32 | Precision::Auto => self._vs.float(),
        }
        self.precision = precision;
    }

    /// The number format of a call of one text (never `auto`; see
    /// [`Classifier::precision_summary`] for calls of many).
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The calibration temperature the scores are computed at (1 = none).
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// `name@hash-of-weights` (with `+T<temperature>` when calibrated and `+bf16` when
    /// computed in bfloat16), stored with every sentiment.
    pub fn id(&self) -> String {
        if self.bulk.is_some() {
            return format!("{}+auto", self.id);
        }
        match self.precision {
            Precision::F32 => self.id.clone(),
            other => format!("{}+{other}", self.id),
        }
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn architecture(&self) -> Architecture {
        self.arch
    }

    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Tokenizes texts as the model sees them (special tokens included, truncated).
    pub fn token_ids(&self, texts: &[&str]) -> Vec<Vec<i64>> {
        self.tok.encode(texts, self.max_length)
    }

    /// Classifies texts. Texts are sorted by length and run in masked batches of at
    /// most `max_batch` (see `plan_batches`), so padding stays small and does not
    /// change any score.
    pub fn classify<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Prediction>, ClassifierError> {
        if let Some(bulk) = self.bulk_for(texts.len()) {
            return bulk.classify(texts);
        }
        let refs: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
        let ids = self.token_ids(&refs);
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let lengths: Vec<usize> = order.iter().map(|&i| ids[i].len()).collect();
        let mut out: Vec<Option<Prediction>> = vec![None; ids.len()];
        let mut rest = order.as_slice();
        for size in plan_batches(&lengths, self.max_batch) {
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            let batch: Vec<&[i64]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
            let probs = self.forward(&batch)?;
            for (&i, p) in chunk.iter().zip(probs) {
                out[i] = Some(self.prediction(p));
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    fn prediction(&self, probs: Vec<f32>) -> Prediction {
        let best = probs
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
            .unwrap_or(0);
        Prediction {
            label: self.labels[best].clone(),
            scores: self.labels.iter().cloned().zip(probs).collect(),
        }
    }

    /// One padded, masked forward pass; returns per-text probabilities.
    pub(crate) fn forward(&self, batch: &[&[i64]]) -> Result<Vec<Vec<f32>>, ClassifierError> {
        let n = batch.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let width = batch.iter().map(|t| t.len()).max().unwrap_or(0).max(1);
        let mut ids = Vec::with_capacity(n * width);
        let mut mask = Vec::with_capacity(n * width);
        for t in batch {
            ids.extend_from_slice(t);
            ids.extend(std::iter::repeat(self.pad_id).take(width - t.len()));
            mask.extend(std::iter::repeat(1i64).take(t.len()));
            mask.extend(std::iter::repeat(0i64).take(width - t.len()));
        }
        let shape = [n as i64, width as i64];
        let run = || -> Result<Vec<f32>, String> {
            let _guard = tch::no_grad_guard();
            let ids = Tensor::from_slice(&ids).view(shape);
            let mask = Tensor::from_slice(&mask).view(shape);
            let logits = match &self.net {
                Net::Bert(m) => {
                    let types = Tensor::zeros(shape, (Kind::Int64, Device::Cpu));
                    m.forward_t(Some(&ids), Some(&mask), Some(&types), None, None, false)
                        .logits
                }
                Net::Roberta(m) => {
                    m.forward_t(Some(&ids), Some(&mask), None, None, None, false)
                        .logits
                }
                Net::DistilBert(m) => {
                    m.forward_t(Some(&ids), Some(&mask), None, false)
                        .map_err(|e| e.to_string())?
                        .logits
                }
            };
            let logits = logits.to_kind(Kind::Float);
            let logits = if self.temperature == 1.0 {
                logits
            } else {
                logits / self.temperature
            };
            let probs = logits.softmax(-1, Kind::Float);
            Vec::<f32>::try_from(probs.reshape([-1])).map_err(|e| e.to_string())
        };
        let flat = catch_unwind(AssertUnwindSafe(run))
            .map_err(panic_message)
            .and_then(|r| r)
            .map_err(|message| ClassifierError::Inference { batch: n, message })?;
        let k = self.labels.len();
        if flat.len() != n * k {
            return Err(ClassifierError::Inference {
                batch: n,
                message: format!(
                    "the model returned {} scores for {n} texts and {k} labels",
                    flat.len()
                ),
            });
        }
        Ok(flat.chunks(k).map(<[f32]>::to_vec).collect())
    }
}
