//! Triage: every mention's state (`new` → `acknowledged` → `resolved`, or
//! `dismissed` with a reason, and back to `new` by reopening), its assignee, the
//! history of every change (who, when, from where), and the feedback a "not
//! negative" dismissal leaves for evaluating the classifier.
//!
//! A change is one sled transaction over the mention, its index entries (the status
//! index `idx_status` among them) and the `feedback` tree, then a flush: durable on
//! return, and a crash never leaves the state, the index and the feedback
//! disagreeing. An invalid change is a [`TriageError`], never a panic, and changes
//! nothing. This module never changes a mention's post, brands or sentiment, never
//! deletes a mention, and sends nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::super::{Store, StoreError};
use super::index::abort;
use super::StoredMention;

/// The most history entries kept per mention; older ones are dropped first.
pub const MAX_HISTORY: usize = 200;
/// The longest user name, in characters.
pub const MAX_NAME: usize = 64;
/// The longest note, in characters.
pub const MAX_NOTE: usize = 2000;

/// Where a mention is in the team's work.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nobody has looked at it yet (every mention starts here).
    #[default]
    New,
    /// Someone (the assignee) is answering it.
    Acknowledged,
    /// Answered.
    Resolved,
    /// Needs no answer (see [`DismissReason`]).
    Dismissed,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::New,
        Status::Acknowledged,
        Status::Resolved,
        Status::Dismissed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
            Status::Dismissed => "dismissed",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a mention needs no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum DismissReason {
    NotRelevant,
    /// The classifier was wrong: kept as [`Feedback`].
    NotNegative,
    Spam,
    Duplicate,
}

impl DismissReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DismissReason::NotRelevant => "not-relevant",
            DismissReason::NotNegative => "not-negative",
            DismissReason::Spam => "spam",
            DismissReason::Duplicate => "duplicate",
        }
    }
}

impl std::fmt::Display for DismissReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    Web,
    Email,
    Cli,
    Api,
    /// The thread watcher (an answer found in public).
    Watch,
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Via::Web => "web",
            Via::Email => "email",
            Via::Cli => "cli",
            Via::Api => "api",
            Via::Watch => "watch",
        })
    }
}

/// One entry of a mention's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The user name of whoever made it.
    pub by: String,
    pub at: DateTime<Utc>,
    pub via: Via,
    pub from: Status,
    pub to: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<DismissReason>,
}

/// A mention's triage state, stored in its record (absent: `new`, no history) and
/// shown in its JSON as `status`, `assignee`, `note`, `reason` and `history`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Triage {
    #[serde(default)]
    pub status: Status,
    /// Who answers it: set by `ack`, kept by `resolve`/`dismiss`, cleared by `reopen`.
    #[serde(default)]
    pub assignee: Option<String>,
    /// The note of the resolution or dismissal.
    #[serde(default)]
    pub note: Option<String>,
    /// Why it was dismissed.
    #[serde(default)]
    pub reason: Option<DismissReason>,
    /// Every change, oldest first (at most [`MAX_HISTORY`], the newest kept).
    #[serde(default)]
    pub history: Vec<Change>,
}

impl Triage {
    /// True for a mention nobody has triaged (stored without the field).
    pub fn is_untouched(&self) -> bool {
        *self == Triage::default()
    }
}

/// What a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Take it: `acknowledged`, assigned to whoever acks (also takes it over from
    /// another assignee).
    Ack,
    Resolve,
    Dismiss(DismissReason),
    /// Back to `new`, unassigned.
    Reopen,
}

impl Action {
    /// The verb, as the CLI and the API routes name it.
    pub fn verb(self) -> &'static str {
        match self {
            Action::Ack => "ack",
            Action::Resolve => "resolve",
            Action::Dismiss(_) => "dismiss",
            Action::Reopen => "reopen",
        }
    }

    fn target(self) -> Status {
        match self {
            Action::Ack => Status::Acknowledged,
            Action::Resolve => Status::Resolved,
            Action::Dismiss(_) => Status::Dismissed,
            Action::Reopen => Status::New,
        }
    }
}

/// A change someone asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub action: Action,
    /// The user name (1 to [`MAX_NAME`] characters, no control characters).
    pub by: String,
    pub via: Via,
    pub note: Option<String>,
    /// With `Dismiss(NotNegative)`: the label it should have had (`positive`,
    /// `neutral`); `not-negative` when none is given.
    pub corrected: Option<String>,
}

/// A correction of the classifier by the team, kept (also after retention deletes
/// the mention) for evaluating the model on the team's own mentions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    /// The mention's id.
    pub mention: String,
    pub brands: Vec<String>,
    /// What the model said, and with what probability (none if unclassified).
    pub label: Option<String>,
    pub probability: Option<f32>,
    /// What it is, according to `by`.
    pub corrected: String,
    pub by: String,
    pub via: Via,
    pub at: DateTime<Utc>,
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriageError {
    #[error("no mention {0}")]
    NoMention(String),
    #[error("cannot {action} mention {id}: it is {from}{hint}")]
    Invalid {
        id: String,
        action: &'static str,
        from: Status,
        hint: &'static str,
    },
    /// Asked for the state it is already in (a repeated click, say).
    #[error("mention {id} is already {status}{by}")]
    Already {
        id: String,
        status: Status,
        by: String,
    },
    #[error("{0}")]
    Input(String),
}

fn check_text(what: &str, s: &str, max: usize, lines: bool) -> Result<(), TriageError> {
    let bad = s
        .chars()
        .any(|c| c.is_control() && !(lines && (c == '\n' || c == '\t')));
    if s.trim().is_empty() || s.chars().count() > max || bad {
        return Err(TriageError::Input(format!(
            "{what} must be 1 to {max} characters with no control characters"
        )));
    }
    Ok(())
}

impl Transition {
    fn validate(&self) -> Result<(), TriageError> {
        check_text("a user name", &self.by, MAX_NAME, false)?;
        if let Some(n) = &self.note {
            check_text("a note", n, MAX_NOTE, true)?;
        }
        if let Some(c) = &self.corrected {
            if self.action != Action::Dismiss(DismissReason::NotNegative) {
                return Err(TriageError::Input(
                    "a corrected label goes only with dismiss --reason not-negative".into(),
                ));
            }
            let ok = !c.is_empty()
                && c.len() <= 32
                && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !ok {
                return Err(TriageError::Input(format!(
                    "corrected label {c:?}: use a label such as positive or neutral"
                )));
            }
        }
        Ok(())
    }
}

impl Triage {
    /// Applies `t` (made at `at`) to mention `id`'s state and records it in the
    /// history; on an error nothing changed.
    pub fn apply(
        &mut self,
        id: &str,
        t: &Transition,
        at: DateTime<Utc>,
    ) -> Result<(), TriageError> {
        t.validate()?;
        let from = self.status;
        let to = t.action.target();
        let allowed = match t.action {
            Action::Ack => {
                from == Status::New
                    || (from == Status::Acknowledged && self.assignee.as_deref() != Some(&t.by))
            }
            Action::Resolve | Action::Dismiss(_) => {
                matches!(from, Status::New | Status::Acknowledged)
            }
            Action::Reopen => from != Status::New,
        };
        if !allowed {
            return Err(if from == to {
                TriageError::Already {
                    id: id.to_string(),
                    status: from,
                    by: match (&self.assignee, from) {
                        (Some(a), Status::Acknowledged) => format!(" (assigned to {a})"),
                        _ => String::new(),
                    },
                }
            } else {
                TriageError::Invalid {
                    id: id.to_string(),
                    action: t.action.verb(),
                    from,
                    hint: "; reopen it first",
                }
            });
        }
        match t.action {
            Action::Ack => self.assignee = Some(t.by.clone()),
            Action::Resolve => {
                self.assignee.get_or_insert_with(|| t.by.clone());
                self.note = t.note.clone();
            }
            Action::Dismiss(r) => {
                self.reason = Some(r);
                self.note = t.note.clone();
            }
            Action::Reopen => {
                self.assignee = None;
                self.note = None;
                self.reason = None;
            }
        }
        self.status = to;
        self.history.push(Change {
            by: t.by.clone(),
            at,
            via: t.via,
            from,
            to,
            note: t.note.clone(),
            reason: match t.action {
                Action::Dismiss(r) => Some(r),
                _ => None,
            },
        });
        let extra = self.history.len().saturating_sub(MAX_HISTORY);
        self.history.drain(..extra);
        Ok(())
    }

    /// Is this a dismissal that says the classifier was wrong?
    fn is_correction(&self) -> bool {
        self.status == Status::Dismissed && self.reason == Some(DismissReason::NotNegative)
    }
}

impl Store {
    /// Changes mention `id`'s triage state (see [`Triage::apply`]): the record, its
    /// index entries and the feedback tree in one transaction. A `not-negative`
    /// dismissal stores [`Feedback`]; reopening it withdraws that feedback. Returns
    /// the mention as it is now. Durable on return.
    pub fn triage(
        &self,
        id: &str,
        t: &Transition,
        at: DateTime<Utc>,
    ) -> Result<StoredMention, StoreError> {
        let rec = self.t.transaction(|v| {
            let Some(old) = v.load(id)? else {
                return Err(abort(TriageError::NoMention(id.to_string())));
            };
            let mut rec = old.clone();
            rec.triage.apply(id, t, at).map_err(abort)?;
            v.write(id, Some(&old), &rec)?;
            if rec.triage.is_correction() {
                let m = &rec.mention;
                let label = m.sentiment.as_ref().map(|s| s.label.clone());
                let fb = Feedback {
                    mention: id.to_string(),
                    brands: m.brands.iter().map(|b| b.brand.clone()).collect(),
                    probability: m.sentiment.as_ref().and_then(|s| s.score(&s.label)),
                    label,
                    corrected: t
                        .corrected
                        .clone()
                        .unwrap_or_else(|| DismissReason::NotNegative.to_string()),
                    by: t.by.clone(),
                    via: t.via,
                    at,
                };
                let bytes = serde_json::to_vec(&fb).map_err(abort)?;
                v.feedback.insert(id.as_bytes(), bytes)?;
            } else if old.triage.is_correction() {
                v.feedback.remove(id.as_bytes())?;
            }
            Ok(rec)
        })?;
        self.flush()?;
        Ok(StoredMention::from_record(id, rec))
    }

    /// Every correction the team made, oldest first (mentions removed by retention
    /// included).
    pub fn feedback(&self) -> Result<Vec<Feedback>, StoreError> {
        let mut out = Vec::new();
        for item in self.t.feedback.iter() {
            let (k, v) = item?;
            let fb: Feedback = serde_json::from_slice(&v).map_err(|e| {
                StoreError::Invalid(format!(
                    "feedback for {} is stored in a form this build cannot read: {e}",
                    String::from_utf8_lossy(&k)
                ))
            })?;
            out.push(fb);
        }
        out.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.mention.cmp(&b.mention)));
        Ok(out)
    }
}

#[cfg(test)]
#[path = "triage_tests.rs"]
mod tests;
