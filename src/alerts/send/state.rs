//! What keeps the sender from sending twice: one pass at a time per database, and a
//! halt when the outbox cannot record that the server accepted an email.
//!
//! Both live beside the sender, not in it: every [`Sender`](super::Sender) built on
//! the same database (a reload builds a new one while the old one may still be in a
//! pass) shares the same pass lock and the same health.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// Held for the whole of a pass: two senders on one database never send at once.
pub(super) type PassLock = Arc<tokio::sync::Mutex<()>>;

type Shared = (PassLock, Arc<SenderHealth>);

/// Kept for the life of the process (one entry per database path): a sender that is
/// dropped and rebuilt (a reload) finds the halt and the emails it must record.
static SHARED: Mutex<Option<HashMap<PathBuf, Shared>>> = Mutex::new(None);

/// The pass lock and the health of the sender(s) of the database at `path`.
pub(super) fn shared_for(path: &Path) -> (PassLock, Arc<SenderHealth>) {
    let mut all = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    all.get_or_insert_with(HashMap::new)
        .entry(path.to_path_buf())
        .or_default()
        .clone()
}

/// Whether the sender is sending, for `/healthz` and the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SenderStatus {
    /// Set while sending is stopped because the outbox cannot record deliveries: why.
    pub halted: Option<String>,
    /// Emails the server accepted that the outbox has not recorded yet (they are
    /// recorded before anything else is sent).
    pub unrecorded: usize,
}

#[derive(Debug, Default)]
struct Inner {
    /// Keys of each accepted but unrecorded email, and when it was accepted.
    unrecorded: Vec<(Vec<String>, DateTime<Utc>)>,
    halted: Option<String>,
}

/// Shared health of the sender(s) of one database.
#[derive(Debug, Default)]
pub struct SenderHealth(Mutex<Inner>);

impl SenderHealth {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the sender is doing now.
    pub fn status(&self) -> SenderStatus {
        let i = self.inner();
        SenderStatus {
            halted: i.halted.clone(),
            unrecorded: i.unrecorded.len(),
        }
    }

    pub(super) fn halt(&self, keys: Vec<String>, at: DateTime<Utc>, why: String) {
        let mut i = self.inner();
        i.unrecorded.push((keys, at));
        i.halted = Some(why);
    }

    pub(super) fn still_halted(&self, why: String) {
        self.inner().halted = Some(why);
    }

    pub(super) fn unrecorded(&self) -> Vec<(Vec<String>, DateTime<Utc>)> {
        self.inner().unrecorded.clone()
    }

    pub(super) fn recorded(&self, keys: &[String]) {
        let mut i = self.inner();
        i.unrecorded.retain(|(k, _)| k != keys);
        if i.unrecorded.is_empty() {
            i.halted = None;
        }
    }
}
