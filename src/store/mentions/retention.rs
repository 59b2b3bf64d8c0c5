//! Retention: remove mentions whose post is older than a cutoff, with their index
//! entries and aliases, in batches of one transaction each.

use chrono::{DateTime, Duration as ChronoDuration, Utc};

use super::super::keys::{self, split_tail};
use super::super::{Store, StoreError};

impl Store {
    /// Removes mentions whose post is older than `keep` (indexes and aliases too).
    /// Returns how many went. Durable on return.
    pub fn retention(&self, keep: std::time::Duration) -> Result<u64, StoreError> {
        let keep = ChronoDuration::from_std(keep)
            .map_err(|_| StoreError::Invalid(format!("retention {keep:?} is too long")))?;
        let cutoff = Utc::now()
            .checked_sub_signed(keep)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.remove_older_than(cutoff)
    }

    /// Removes mentions whose post time is before `cutoff`.
    pub fn remove_older_than(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let hi = keys::ts(cutoff).to_vec();
        let mut removed = 0u64;
        loop {
            let rows: Vec<(sled::IVec, String)> = self
                .t
                .time
                .range(..hi.clone())
                .keys()
                .take(500)
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .map(|k| {
                    let id = split_tail(&k)
                        .map(|(_, id)| id.to_string())
                        .unwrap_or_default();
                    (k, id)
                })
                .collect();
            if rows.is_empty() {
                break;
            }
            let n = self.t.transaction(|v| {
                let mut n = 0u64;
                for (key, id) in &rows {
                    match v.load(id)? {
                        Some(rec) => {
                            v.delete(id, &rec)?;
                            n += 1;
                        }
                        // an entry pointing at nothing: drop it so the loop ends
                        None => {
                            v.idx[0].remove(key)?;
                        }
                    }
                    // a record whose time entry disagrees would keep this key
                    v.idx[0].remove(key)?;
                }
                Ok(n)
            })?;
            removed += n;
        }
        self.flush()?;
        Ok(removed)
    }
}
