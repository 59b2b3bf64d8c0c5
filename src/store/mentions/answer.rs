//! Whether the brand answered a mention in public: set by the thread watcher
//! ([`crate::watch`]), shown in the mention's JSON as `answered_at`, `answered_by`,
//! `answer_url` (and `thread_gone_at` when the post was deleted), recorded in its
//! history, and counted by [`Store::responses`](super::super::Store::responses).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::super::{Store, StoreError};
use super::index::abort;
use super::triage::{Action, Change, Status, Transition, Via, MAX_HISTORY};
use super::StoredMention;

/// The brand's first public answer, or the end of its thread.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// When the brand's first reply was posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<DateTime<Utc>>,
    /// Which of the brand's accounts replied (`hackernews:acme_support`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_url: Option<String>,
    /// When the watch found the post deleted (its thread is gone; nobody can answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_gone_at: Option<DateTime<Utc>>,
}

impl Answer {
    pub fn is_empty(&self) -> bool {
        *self == Answer::default()
    }
}

/// Who the history names for the watcher's entries.
pub const WATCHER: &str = "overhear";

/// Whom a recorded answer's history entry names.
struct Answerer<'a> {
    name: &'a str,
    via: Via,
    note: String,
}

impl Store {
    /// Records the brand's answer to mention `id` (posted at `at` by `by`, at `url`),
    /// with a history entry; with `resolve`, an open mention is also resolved. One
    /// transaction; the first answer is kept (`Ok(None)` when it had one, or the
    /// mention is gone). Durable on return.
    pub fn set_answered(
        &self,
        id: &str,
        by: &str,
        at: DateTime<Utc>,
        url: &str,
        resolve: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredMention>, StoreError> {
        let note = format!("answered in public by {by}: {url}");
        let who = Answerer {
            name: WATCHER,
            via: Via::Watch,
            note,
        };
        self.record_answer(id, by, at, url, resolve, now, &who)
    }

    /// [`Store::set_answered`] for a reply posted through overhear: the history names
    /// `who` (the user who wrote it) and where it was written, with `note`.
    pub fn set_answered_by_reply(
        &self,
        id: &str,
        posted: (&str, DateTime<Utc>, &str),
        resolve: bool,
        now: DateTime<Utc>,
        who: (&str, Via, String),
    ) -> Result<Option<StoredMention>, StoreError> {
        let (by, at, url) = posted;
        let who = Answerer {
            name: who.0,
            via: who.1,
            note: who.2,
        };
        self.record_answer(id, by, at, url, resolve, now, &who)
    }

    #[allow(clippy::too_many_arguments)]
    fn record_answer(
        &self,
        id: &str,
        by: &str,
        at: DateTime<Utc>,
        url: &str,
        resolve: bool,
        now: DateTime<Utc>,
        who: &Answerer<'_>,
    ) -> Result<Option<StoredMention>, StoreError> {
        let note = who.note.clone();
        let rec = self.t.transaction(|v| {
            let Some(old) = v.load(id)? else {
                return Ok(None);
            };
            if old.answer.answered_at.is_some() {
                return Ok(None);
            }
            let mut rec = old.clone();
            rec.answer.answered_at = Some(at);
            rec.answer.answered_by = Some(by.to_string());
            rec.answer.answer_url = Some(url.to_string());
            let open = matches!(rec.triage.status, Status::New | Status::Acknowledged);
            if resolve && open {
                let t = Transition {
                    action: Action::Resolve,
                    by: who.name.into(),
                    via: who.via,
                    note: Some(note.clone()),
                    corrected: None,
                };
                rec.triage.apply(id, &t, now).map_err(abort)?;
            } else {
                let s = rec.triage.status;
                rec.triage.history.push(Change {
                    by: who.name.into(),
                    at: now,
                    via: who.via,
                    from: s,
                    to: s,
                    note: Some(note.clone()),
                    reason: None,
                });
                let extra = rec.triage.history.len().saturating_sub(MAX_HISTORY);
                rec.triage.history.drain(..extra);
            }
            v.write(id, Some(&old), &rec)?;
            Ok(Some(rec))
        })?;
        self.flush()?;
        Ok(rec.map(|r| StoredMention::from_record(id, r)))
    }

    /// Records that mention `id`'s post was deleted (its thread answers 404). Durable
    /// on return; `false` when the mention is gone.
    pub fn set_thread_gone(&self, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = self.t.transaction(|v| {
            let Some(old) = v.load(id)? else {
                return Ok(false);
            };
            if old.answer.thread_gone_at.is_some() {
                return Ok(true);
            }
            let mut rec = old.clone();
            rec.answer.thread_gone_at = Some(now);
            v.write(id, Some(&old), &rec)?;
            Ok(true)
        })?;
        self.flush()?;
        Ok(done)
    }
}
