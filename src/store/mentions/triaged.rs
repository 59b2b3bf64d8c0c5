//! A small summary of every triaged or answered mention (tree `triaged`: id -> JSON
//! [`Triaged`]), kept in each write's transaction like the counters, so that the
//! dashboard's response times and the model's precision on the team's judgements
//! read a few thousand small values instead of decoding every triaged mention.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::ConflictableTransactionResult;

use super::super::{Store, StoreError};
use super::index::{abort, View};
use super::triage::{DismissReason, Status, Triage};
use super::{Answer, Record};
use crate::post::Mention;

/// What the dashboard and `eval --feedback` need of a triaged mention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Triaged {
    pub brands: Vec<String>,
    pub source: String,
    pub posted: DateTime<Utc>,
    pub first_seen: DateTime<Utc>,
    /// The model's label and P(negative), when it was classified.
    pub label: Option<String>,
    pub p_negative: Option<f32>,
    pub status: Status,
    pub reason: Option<DismissReason>,
    /// The first change out of `new`, and the first to `resolved`.
    pub acked_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// When the brand answered in public (the thread watch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<DateTime<Utc>>,
}

impl Triaged {
    /// The summary of a mention someone triaged or the brand answered (`None`: its
    /// history is empty).
    pub fn of(m: &Mention, t: &Triage, answer: &Answer) -> Option<Triaged> {
        if t.history.is_empty() {
            return None;
        }
        let mut brands: Vec<String> = m.brands.iter().map(|b| b.brand.clone()).collect();
        brands.dedup();
        Some(Triaged {
            brands,
            source: m.post.source.clone(),
            posted: m.post.created_at,
            first_seen: m.first_seen,
            label: m.sentiment.as_ref().map(|s| s.label.clone()),
            p_negative: m.sentiment.as_ref().and_then(|s| s.score("negative")),
            status: t.status,
            reason: t.reason,
            acked_at: t
                .history
                .iter()
                .find(|c| c.from == Status::New && c.to != Status::New)
                .map(|c| c.at),
            resolved_at: t
                .history
                .iter()
                .find(|c| c.to == Status::Resolved && c.from != Status::Resolved)
                .map(|c| c.at),
            answered_at: answer.answered_at,
        })
    }
}

pub(super) fn of_record(rec: &Record) -> Option<Triaged> {
    Triaged::of(&rec.mention, &rec.triage, &rec.answer)
}

impl View<'_> {
    /// Keeps `id`'s summary in step with `new` (absent: deleted).
    pub(super) fn move_triaged(
        &self,
        id: &str,
        old: Option<&Record>,
        new: Option<&Record>,
    ) -> ConflictableTransactionResult<(), StoreError> {
        let (before, after) = (old.and_then(of_record), new.and_then(of_record));
        if before == after {
            return Ok(());
        }
        match after {
            Some(t) => {
                let bytes = serde_json::to_vec(&t).map_err(abort)?;
                self.triaged.insert(id.as_bytes(), bytes)?;
            }
            None => {
                self.triaged.remove(id.as_bytes())?;
            }
        }
        Ok(())
    }
}

impl Store {
    /// Every triaged mention's summary (one that does not read is skipped; `db
    /// check` reports it).
    pub fn triaged(&self) -> Result<Vec<Triaged>, StoreError> {
        let mut out = Vec::new();
        for item in self.t.triaged.iter() {
            let (_, v) = item?;
            if let Ok(t) = serde_json::from_slice(&v) {
                out.push(t);
            }
        }
        Ok(out)
    }
}
