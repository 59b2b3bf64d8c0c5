//! The thread watcher's state: which mentions' threads are watched, when each is
//! checked next and how often it was. Persisted so that a restart neither forgets a
//! watch nor checks every thread at once. Owned by [`crate::watch`]; the store only
//! keeps it (tree `watches`: mention id -> JSON [`WatchState`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

const TREE: &str = "watches";

/// One watched thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchState {
    /// When the thread is checked next.
    pub next_at: DateTime<Utc>,
    /// Checks made so far.
    pub attempts: u32,
    /// The watch ends after this.
    pub until: DateTime<Utc>,
    /// A thread id found by a first request (Lobsters comments), so that later
    /// checks skip that request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
}

impl Store {
    /// Starts watching each (mention id, state) not watched yet; one flush. Returns
    /// how many were started.
    pub fn watch_start(&self, items: &[(String, WatchState)]) -> Result<usize, StoreError> {
        let tree = self.tree(TREE)?;
        let mut n = 0;
        for (id, st) in items {
            let bytes = serde_json::to_vec(st)
                .map_err(|e| StoreError::Invalid(format!("watch of {id}: {e}")))?;
            if tree
                .compare_and_swap(id.as_bytes(), None as Option<&[u8]>, Some(bytes))?
                .is_ok()
            {
                n += 1;
            }
        }
        if n > 0 {
            self.flush()?;
        }
        Ok(n)
    }

    /// Every watch, in id order (a record that does not read is skipped).
    pub fn watches(&self) -> Result<Vec<(String, WatchState)>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree(TREE)?.iter() {
            let (k, v) = item?;
            if let Ok(st) = serde_json::from_slice::<WatchState>(&v) {
                out.push((String::from_utf8_lossy(&k).into_owned(), st));
            }
        }
        Ok(out)
    }

    /// Saves a watch's new state. Durable on return.
    pub fn watch_set(&self, id: &str, st: &WatchState) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(st)
            .map_err(|e| StoreError::Invalid(format!("watch of {id}: {e}")))?;
        self.tree(TREE)?.insert(id.as_bytes(), bytes)?;
        self.flush()
    }

    /// Ends a watch. Durable on return.
    pub fn watch_stop(&self, id: &str) -> Result<(), StoreError> {
        self.tree(TREE)?.remove(id.as_bytes())?;
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_starts_once_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let st = WatchState {
            next_at: now,
            attempts: 0,
            until: now + chrono::Duration::hours(72),
            thread_id: None,
        };
        {
            let s = Store::open(dir.path()).unwrap();
            assert_eq!(s.watch_start(&[("a".into(), st.clone())]).unwrap(), 1);
            let later = WatchState {
                attempts: 3,
                ..st.clone()
            };
            s.watch_set("a", &later).unwrap();
            // starting it again changes nothing
            assert_eq!(s.watch_start(&[("a".into(), st.clone())]).unwrap(), 0);
            assert_eq!(s.watches().unwrap()[0].1.attempts, 3);
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.watches().unwrap().len(), 1);
        s.watch_stop("a").unwrap();
        assert!(s.watches().unwrap().is_empty());
    }
}
