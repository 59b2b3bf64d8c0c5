//! Mentions and their indexes: the records the pipeline stores and the CLI and API
//! read back. See the layout table in [`super`].
//!
//! The files split the work: `index` owns the trees and what an index entry holds,
//! `write` dedups on upsert and records sentiment and alert state, `read` answers
//! queries, `stats` counts per day or week, `check` verifies indexes against the
//! mentions, `retention` deletes old ones, `triage` keeps each mention's state,
//! assignee and history (and the classifier feedback). Every write changes a mention and its index
//! entries in one sled transaction, so they never disagree after a crash. This module
//! never touches the other trees (`meta`, `source_state`, `outbox*`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::keys;
use crate::post::Mention;

mod answer;
mod check;
mod counts;
mod index;
mod read;
mod responses;
mod retention;
mod stats;
mod triage;
mod triaged;
mod write;

pub use answer::{Answer, WATCHER};
pub use check::CheckReport;
pub(crate) use index::Trees;
pub use responses::{ResponseRow, ResponseStats};
pub use stats::{Bucket, StatsRow};
pub use triage::{
    Action, Change, DismissReason, Feedback, Status, Transition, Triage, TriageError, Via,
    MAX_HISTORY, MAX_NAME, MAX_NOTE,
};
pub use triaged::Triaged;

/// The label a mention has in the sentiment index before it is classified.
pub const UNCLASSIFIED: &str = "unclassified";

/// What [`Store::upsert_mention`](super::Store::upsert_mention) did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Upsert {
    /// A post not seen before: classify it.
    New { id: String },
    /// A post seen before that changed (edited text, more brands, new metadata).
    /// When `text_changed`, its sentiment was cleared: classify it again (the text
    /// changed, or a brand was added to a classified mention and its alert rules
    /// have not run yet).
    Updated { id: String, text_changed: bool },
    /// Seen before, nothing new (a later poll, or the same URL from another source
    /// adding no brand).
    Unchanged { id: String },
}

impl Upsert {
    pub fn id(&self) -> &str {
        match self {
            Upsert::New { id } | Upsert::Updated { id, .. } | Upsert::Unchanged { id } => id,
        }
    }
}

/// What is stored per mention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub mention: Mention,
    /// Keys in the `ids` tree that point here (`p:{post id}`, `u:{url}`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// When an alert for it was queued, if one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerted_at: Option<DateTime<Utc>>,
    /// Its triage state; absent in records stored before triage existed (`new`).
    #[serde(default, skip_serializing_if = "Triage::is_untouched")]
    pub triage: Triage,
    /// The brand's public answer, when the thread watcher found one.
    #[serde(default, flatten)]
    pub answer: Answer,
}

/// A mention with its id, as listed and served by the API (JSON: the [`Mention`]'s
/// fields plus `id`, `alerted_at` and the [`Triage`] fields `status`, `assignee`,
/// `note`, `reason`, `history`, so it also reads as a plain `Mention`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMention {
    pub id: String,
    #[serde(flatten)]
    pub mention: Mention,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerted_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub triage: Triage,
    /// `answered_at`, `answered_by`, `answer_url`, `thread_gone_at`.
    #[serde(default, flatten)]
    pub answer: Answer,
}

impl StoredMention {
    pub(crate) fn from_record(id: &str, r: Record) -> StoredMention {
        StoredMention {
            id: id.to_string(),
            mention: r.mention,
            alerted_at: r.alerted_at,
            triage: r.triage,
            answer: r.answer,
        }
    }
}

/// The id a mention first seen as this post gets (when no other mention has it).
pub fn mention_id(post_id: &str) -> String {
    keys::hash_id(post_id, 0)
}
