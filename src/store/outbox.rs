//! The alert outbox: alerts are written here before any attempt to send them.
//!
//! Trees: `outbox` (key -> [`OutboxEntry`] JSON, kept after sending so that
//! enqueuing the same alert again is a no-op), `outbox_pending` (keys still to
//! deliver) and `outbox_sent_log` (recipient, time -> key: the rate cap's memory).
//! Every change is flushed before the call returns.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::{Store, StoreError};
use crate::alerts::{OutboxEntry, OutboxItem, OutboxState};

const OUTBOX: &str = "outbox";
const PENDING: &str = "outbox_pending";
const SENT_LOG: &str = "outbox_sent_log";

/// How much is in the outbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxDepth {
    pub pending: usize,
    pub failed: usize,
    pub sent: usize,
}

/// A failure point in the outbox's writes, for tests that need a store which cannot
/// record (a full disk, a read-only remount): called with the operation's name
/// (`"mark_sent"`, `"mark_retry"`, `"mark_failed"`, `"enqueue"`, ...) before it writes;
/// an error it returns is that operation's error. It may also block (a process
/// killed at that point). Set with [`Store::set_outbox_fault`]; never set by overhear.
pub type OutboxFault = Arc<dyn Fn(&str) -> Result<(), StoreError> + Send + Sync>;

static FAULTS: Mutex<Option<HashMap<PathBuf, OutboxFault>>> = Mutex::new(None);

fn tx_err(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Sled(e),
    }
}

fn sent_log_key(to: &str, at: DateTime<Utc>, key: &str) -> Vec<u8> {
    let mut k = to.trim().to_lowercase().into_bytes();
    k.push(0);
    k.extend_from_slice(&at.timestamp_millis().to_be_bytes());
    k.extend_from_slice(key.as_bytes());
    k
}

impl Store {
    /// Installs (or with `None` removes) a failure point in this database's outbox
    /// writes, process-wide. For tests: see [`OutboxFault`].
    #[doc(hidden)]
    pub fn set_outbox_fault(&self, fault: Option<OutboxFault>) {
        let mut f = FAULTS.lock().unwrap_or_else(|p| p.into_inner());
        let map = f.get_or_insert_with(HashMap::new);
        match fault {
            Some(fault) => map.insert(self.path().to_path_buf(), fault),
            None => map.remove(self.path()),
        };
    }

    fn outbox_fault(&self, op: &str) -> Result<(), StoreError> {
        let fault = {
            let f = FAULTS.lock().unwrap_or_else(|p| p.into_inner());
            f.as_ref().and_then(|m| m.get(self.path()).cloned())
        };
        match fault {
            Some(fault) => fault(op),
            None => Ok(()),
        }
    }

    /// Queues alerts; an item whose key is already in the outbox (pending, sent or
    /// failed) is skipped. Returns how many were new. Durable when it returns.
    pub fn enqueue(&self, items: &[OutboxItem]) -> Result<usize, StoreError> {
        self.outbox_fault("enqueue")?;
        let outbox = self.tree(OUTBOX)?;
        let pending = self.tree(PENDING)?;
        let encoded = items
            .iter()
            .map(|i| {
                Ok((
                    i.key.clone(),
                    serde_json::to_vec(&OutboxEntry::new(i.clone()))?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let added = (&outbox, &pending)
            .transaction(|(o, p)| {
                let mut added = 0;
                for (key, value) in &encoded {
                    if o.get(key.as_bytes())?.is_none() {
                        o.insert(key.as_bytes(), value.as_slice())?;
                        p.insert(key.as_bytes(), &[])?;
                        added += 1;
                    }
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(added)
            })
            .map_err(tx_err)?;
        if added > 0 {
            self.flush()?;
        }
        Ok(added)
    }

    /// One outbox entry.
    pub fn outbox_entry(&self, key: &str) -> Result<Option<OutboxEntry>, StoreError> {
        match self.tree(OUTBOX)?.get(key.as_bytes())? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    /// Every pending entry, due or not, oldest key first.
    pub fn pending(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        let outbox = self.tree(OUTBOX)?;
        let mut out = Vec::new();
        for k in self.tree(PENDING)?.iter().keys() {
            let k = k?;
            if let Some(v) = outbox.get(&k)? {
                out.push(serde_json::from_slice::<OutboxEntry>(&v)?);
            }
        }
        Ok(out)
    }

    /// Pending entries whose next attempt is at or before `now`, earliest first, at most `limit`.
    pub fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut due: Vec<OutboxEntry> = self
            .pending()?
            .into_iter()
            .filter(|e| e.next_attempt <= now)
            .collect();
        due.sort_by(|a, b| {
            a.next_attempt
                .cmp(&b.next_attempt)
                .then(a.item.key.cmp(&b.item.key))
        });
        due.truncate(limit);
        Ok(due)
    }

    fn update_entries(
        &self,
        op: &str,
        keys: &[String],
        mut change: impl FnMut(&mut OutboxEntry),
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        self.outbox_fault(op)?;
        let outbox = self.tree(OUTBOX)?;
        let pending = self.tree(PENDING)?;
        let mut updated = Vec::new();
        for key in keys {
            let Some(v) = outbox.get(key.as_bytes())? else {
                continue;
            };
            let mut e: OutboxEntry = serde_json::from_slice(&v)?;
            change(&mut e);
            updated.push((key, serde_json::to_vec(&e)?, e));
        }
        (&outbox, &pending)
            .transaction(|(o, p)| {
                for (key, value, e) in &updated {
                    o.insert(key.as_bytes(), value.as_slice())?;
                    if e.state == OutboxState::Pending {
                        p.insert(key.as_bytes(), &[])?;
                    } else {
                        p.remove(key.as_bytes())?;
                    }
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(tx_err)?;
        self.flush()?;
        Ok(updated.into_iter().map(|(_, _, e)| e).collect())
    }

    /// Marks entries sent (the server accepted them) and logs the send for the rate
    /// cap, flushed before returning.
    pub fn mark_sent(&self, keys: &[String], now: DateTime<Utc>) -> Result<(), StoreError> {
        let log = self.tree(SENT_LOG)?;
        let done = self.update_entries("mark_sent", keys, |e| {
            e.state = OutboxState::Sent;
            e.sent_at = Some(now);
            e.attempts += 1;
            e.first_attempt.get_or_insert(now);
            e.last_error = None;
        })?;
        // One log line per email, not per item: a batch is one email.
        if let Some(e) = done.first() {
            log.insert(sent_log_key(&e.item.to, now, &e.item.key), &[])?;
            self.flush()?;
        }
        Ok(())
    }

    /// Records a failed attempt that will be retried at `next_attempt`.
    pub fn mark_retry(
        &self,
        keys: &[String],
        now: DateTime<Utc>,
        next_attempt: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.update_entries("mark_retry", keys, |e| {
            e.attempts += 1;
            e.first_attempt.get_or_insert(now);
            e.next_attempt = next_attempt;
            e.last_error = Some(error.to_string());
        })?;
        Ok(())
    }

    /// Gives up on entries (a permanent error, or retried for too long).
    pub fn mark_failed(
        &self,
        keys: &[String],
        now: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.update_entries("mark_failed", keys, |e| {
            e.state = OutboxState::Failed;
            e.attempts += 1;
            e.first_attempt.get_or_insert(now);
            e.last_error = Some(error.to_string());
        })?;
        Ok(())
    }

    /// Moves instant entries into a later digest (rate cap, quiet hours).
    pub fn fold_into_digest(&self, keys: &[String], at: DateTime<Utc>) -> Result<(), StoreError> {
        self.update_entries("fold_into_digest", keys, |e| {
            e.folded = true;
            e.next_attempt = at;
        })?;
        Ok(())
    }

    /// Emails sent to `to` since `since` (for the rate cap).
    pub fn sent_count_since(&self, to: &str, since: DateTime<Utc>) -> Result<usize, StoreError> {
        let log = self.tree(SENT_LOG)?;
        let start = sent_log_key(to, since, "");
        let mut end = to.trim().to_lowercase().into_bytes();
        end.push(1);
        Ok(log.range(start..end).count())
    }

    /// Entries that could not be delivered.
    pub fn failed(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut out = Vec::new();
        for v in self.tree(OUTBOX)?.iter().values() {
            let e: OutboxEntry = serde_json::from_slice(&v?)?;
            if e.state == OutboxState::Failed {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Every entry, oldest first (by when it was queued).
    pub fn outbox_entries(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut out = Vec::new();
        for v in self.tree(OUTBOX)?.iter().values() {
            out.push(serde_json::from_slice::<OutboxEntry>(&v?)?);
        }
        out.sort_by(|a, b| (a.item.created_at, &a.item.key).cmp(&(b.item.created_at, &b.item.key)));
        Ok(out)
    }

    /// Puts a sent or failed entry back in the queue, due at `now`, as if new (no
    /// attempts, a fresh give-up clock; the last error is kept). `id` is its key or its [`OutboxItem::short_id`]. `None` when no
    /// entry has that id.
    pub fn retry_outbox(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<OutboxEntry>, StoreError> {
        let found: Vec<String> = self
            .outbox_entries()?
            .into_iter()
            .filter(|e| e.item.key == id || e.item.short_id() == id)
            .map(|e| e.item.key)
            .collect();
        if found.is_empty() {
            return Ok(None);
        }
        let updated = self.update_entries("retry_outbox", &found, |e| {
            e.state = OutboxState::Pending;
            e.next_attempt = now;
            e.attempts = 0;
            e.first_attempt = None;
            e.sent_at = None;
        })?;
        Ok(updated.into_iter().next())
    }

    /// Counts of pending, failed and sent entries.
    pub fn outbox_depth(&self) -> Result<OutboxDepth, StoreError> {
        let mut d = OutboxDepth::default();
        for v in self.tree(OUTBOX)?.iter().values() {
            let e: OutboxEntry = serde_json::from_slice(&v?)?;
            match e.state {
                OutboxState::Pending => d.pending += 1,
                OutboxState::Failed => d.failed += 1,
                OutboxState::Sent => d.sent += 1,
            }
        }
        Ok(d)
    }

    /// Forgets sent-log lines older than `before` (the rate cap only looks back an hour).
    pub fn prune_sent_log(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let log = self.tree(SENT_LOG)?;
        let mut n = 0;
        for k in log.iter().keys() {
            let k = k?;
            let Some(sep) = k.iter().position(|b| *b == 0) else {
                continue;
            };
            let Some(ts) = k.get(sep + 1..sep + 9) else {
                continue;
            };
            let mut b = [0u8; 8];
            b.copy_from_slice(ts);
            if i64::from_be_bytes(b) < before.timestamp_millis() {
                log.remove(&k)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Forgets sent and failed entries that finished before `before` (pending ones are
    /// kept). Their keys stop deduplicating: keep them longer than any source may
    /// deliver the same post again (30 days is plenty).
    pub fn prune_outbox(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let outbox = self.tree(OUTBOX)?;
        let mut n = 0;
        for kv in outbox.iter() {
            let (k, v) = kv?;
            let e: OutboxEntry = serde_json::from_slice(&v)?;
            let finished = match e.state {
                OutboxState::Pending => None,
                OutboxState::Sent => e.sent_at,
                OutboxState::Failed => Some(e.first_attempt.unwrap_or(e.item.created_at)),
            };
            if finished.is_some_and(|t| t < before) {
                outbox.remove(&k)?;
                n += 1;
            }
        }
        if n > 0 {
            self.flush()?;
        }
        Ok(n)
    }
}
