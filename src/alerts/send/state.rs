//! What keeps the sender from sending twice: one pass at a time per database and
//! destination, and a halt when the outbox cannot record that the server accepted
//! an alert; and how each destination is doing, for `/healthz` and the metrics.
//!
//! Both live beside the sender, not in it: every [`Sender`](super::Sender) built on
//! the same database (a reload builds a new one while the old one may still be in a
//! pass) shares the same pass lock and the same health.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Held for the whole of a pass: two senders on one database never send at once.
pub(super) type PassLock = Arc<tokio::sync::Mutex<()>>;

type Shared = (PassLock, Arc<SenderHealth>);

/// Kept for the life of the process (one entry per database path): a sender that is
/// dropped and rebuilt (a reload) finds the halt and the emails it must record.
static SHARED: Mutex<Option<HashMap<PathBuf, Shared>>> = Mutex::new(None);

/// The pass lock of each webhook destination, per database path: a webhook's
/// pass never waits for an email's (or another webhook's), and an old and a new
/// sender never deliver to one destination at once.
static LANES: Mutex<Option<HashMap<(PathBuf, String), PassLock>>> = Mutex::new(None);

/// The pass lock of the destination `name` of the database at `path`.
pub(super) fn lane_lock(path: &Path, name: &str) -> PassLock {
    let mut all = LANES.lock().unwrap_or_else(|p| p.into_inner());
    all.get_or_insert_with(HashMap::new)
        .entry((path.to_path_buf(), name.to_string()))
        .or_default()
        .clone()
}

/// What became of one attempt to deliver to a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    Retried,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Retried => "retried",
            Outcome::Failed => "failed",
        }
    }
}

/// Told of every delivery attempt (the daemon counts them in `/metrics`).
pub trait DeliveryObserver: Send + Sync {
    /// `destination` is `email` or a webhook's name; `alerts` how many alerts the
    /// message carried; `latency` the time the server took.
    fn attempt(&self, destination: &str, outcome: Outcome, alerts: usize, latency: Duration);
}

/// How one destination is doing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationStatus {
    /// `email`, `slack`, `discord`, `teams` or `json`.
    pub kind: String,
    pub last_sent: Option<DateTime<Utc>>,
    /// Set while the last attempt failed: since when, why, and the next try.
    pub failing_since: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub next_attempt: Option<DateTime<Utc>>,
}

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
    destinations: BTreeMap<String, DestinationStatus>,
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

    /// Every destination that was tried since the process started, by name.
    pub fn destinations(&self) -> Vec<(String, DestinationStatus)> {
        self.inner()
            .destinations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub(super) fn delivered(&self, name: &str, kind: &str, at: DateTime<Utc>) {
        let mut i = self.inner();
        let d = i.destinations.entry(name.to_string()).or_default();
        *d = DestinationStatus {
            kind: kind.to_string(),
            last_sent: Some(at),
            ..Default::default()
        };
    }

    pub(super) fn failing(
        &self,
        name: &str,
        kind: &str,
        at: DateTime<Utc>,
        error: &str,
        next: Option<DateTime<Utc>>,
    ) {
        let mut i = self.inner();
        let d = i.destinations.entry(name.to_string()).or_default();
        d.kind = kind.to_string();
        d.failing_since.get_or_insert(at);
        d.last_error = Some(error.to_string());
        d.next_attempt = next;
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
