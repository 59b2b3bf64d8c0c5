//! Replies the team wrote to mentions, as they go out: tree `replies`, reply id ->
//! JSON [`ReplyRecord`]. Owned by [`crate::reply`]; the store keeps them durable
//! (every change is flushed before it returns) and never posts anything.
//!
//! A reply is written here before its first request and marked [`ReplyState::Sending`]
//! (with its attempt count) before each, so that whatever stops the process, the next
//! start knows it may have gone out and retries with the same key rather than
//! forgetting it or posting it blind.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, Via};

const TREE: &str = "replies";

/// Where a reply is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyState {
    /// Written, waiting for another user's approval (`[reply] require_approval`).
    Draft,
    /// Waiting for its (next) attempt at `next_try`.
    Queued,
    /// An attempt is under way, or was when the process stopped: it may have gone out.
    Sending,
    /// The network took it.
    Posted,
    /// The network refused it, or it cannot be sent: a user may retry or drop it.
    Failed,
    /// A user dropped it (a draft rejected, a failure given up).
    Dropped,
}

impl ReplyState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyState::Draft => "draft",
            ReplyState::Queued => "queued",
            ReplyState::Sending => "sending",
            ReplyState::Posted => "posted",
            ReplyState::Failed => "failed",
            ReplyState::Dropped => "dropped",
        }
    }
}

/// One reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyRecord {
    /// 16 hex characters: the key every attempt sends (idempotency).
    pub id: String,
    pub mention_id: String,
    /// The `[[reply_account]]` it goes out as.
    pub account: String,
    pub text: String,
    /// The overhear user (or CLI user) who wrote it.
    pub author: String,
    /// Where it was written: web, cli, api.
    pub via: Via,
    pub created_at: DateTime<Utc>,
    pub state: ReplyState,
    /// Attempts started so far.
    #[serde(default)]
    pub attempts: u32,
    /// When the next attempt is due (queued replies).
    pub next_try: DateTime<Utc>,
    /// The network's answer to the last failed attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Who approved the draft (and possibly edited it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// Who dropped it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped_by: Option<String>,
    /// Once posted: where it is, its id there, when, and the account as the thread
    /// watch names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posted_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posted_by: Option<String>,
}

impl ReplyRecord {
    /// Whether the sender still has work with it.
    pub fn is_pending(&self) -> bool {
        matches!(self.state, ReplyState::Queued | ReplyState::Sending)
    }
}

/// A fresh reply id: 16 random hex characters.
pub fn new_reply_id() -> String {
    use rand::Rng;
    let n: u64 = rand::thread_rng().gen();
    format!("{n:016x}")
}

impl Store {
    /// Writes a new reply. Durable on return; refuses an id that exists.
    pub fn reply_insert(&self, r: &ReplyRecord) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(r)?;
        let done = self.tree(TREE)?.compare_and_swap(
            r.id.as_bytes(),
            None as Option<&[u8]>,
            Some(bytes),
        )?;
        if done.is_err() {
            return Err(StoreError::Invalid(format!(
                "a reply with id {} exists",
                r.id
            )));
        }
        self.flush()
    }

    /// The reply `id`, if there is one (a record that does not read is an error).
    pub fn reply(&self, id: &str) -> Result<Option<ReplyRecord>, StoreError> {
        match self.tree(TREE)?.get(id.as_bytes())? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    /// Every reply (oldest first), skipping records that do not read.
    pub fn replies(&self) -> Result<Vec<ReplyRecord>, StoreError> {
        let mut out: Vec<ReplyRecord> = Vec::new();
        for item in self.tree(TREE)?.iter() {
            let (_, v) = item?;
            if let Ok(r) = serde_json::from_slice::<ReplyRecord>(&v) {
                out.push(r);
            }
        }
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// The replies to mention `mention_id`, oldest first.
    pub fn replies_of(&self, mention_id: &str) -> Result<Vec<ReplyRecord>, StoreError> {
        Ok(self
            .replies()?
            .into_iter()
            .filter(|r| r.mention_id == mention_id)
            .collect())
    }

    /// Changes reply `id` with `f` (which may refuse with `Err(why)`), atomically
    /// against other changes. Durable on return; `Ok(None)` when there is no such
    /// reply.
    pub fn reply_update(
        &self,
        id: &str,
        mut f: impl FnMut(&mut ReplyRecord) -> Result<(), String>,
    ) -> Result<Option<ReplyRecord>, StoreError> {
        let tree = self.tree(TREE)?;
        loop {
            let Some(old) = tree.get(id.as_bytes())? else {
                return Ok(None);
            };
            let mut r: ReplyRecord = serde_json::from_slice(&old)?;
            f(&mut r).map_err(StoreError::Invalid)?;
            let bytes = serde_json::to_vec(&r)?;
            if tree
                .compare_and_swap(id.as_bytes(), Some(old), Some(bytes))?
                .is_ok()
            {
                self.flush()?;
                return Ok(Some(r));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, at: DateTime<Utc>) -> ReplyRecord {
        ReplyRecord {
            id: id.into(),
            mention_id: "m1".into(),
            account: "acme-social".into(),
            text: "Hi".into(),
            author: "dana".into(),
            via: Via::Web,
            created_at: at,
            state: ReplyState::Queued,
            attempts: 0,
            next_try: at,
            last_error: None,
            approved_by: None,
            dropped_by: None,
            url: None,
            remote_id: None,
            posted_at: None,
            posted_by: None,
        }
    }

    #[test]
    fn replies_are_kept_updated_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        {
            let s = Store::open(dir.path()).unwrap();
            s.reply_insert(&rec("b", now)).unwrap();
            s.reply_insert(&rec("a", now - chrono::Duration::seconds(5)))
                .unwrap();
            assert!(s.reply_insert(&rec("a", now)).is_err(), "ids are unique");
            let r = s
                .reply_update("b", |r| {
                    r.state = ReplyState::Sending;
                    r.attempts += 1;
                    Ok(())
                })
                .unwrap()
                .unwrap();
            assert_eq!(r.attempts, 1);
            let refused = s.reply_update("b", |_| Err("no".into()));
            assert!(refused.is_err());
            assert!(s.reply_update("zz", |_| Ok(())).unwrap().is_none());
        }
        let s = Store::open(dir.path()).unwrap();
        let all = s.replies().unwrap();
        assert_eq!(
            all.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(s.reply("b").unwrap().unwrap().state, ReplyState::Sending);
        assert_eq!(s.replies_of("m1").unwrap().len(), 2);
        assert_eq!(new_reply_id().len(), 16);
    }
}
