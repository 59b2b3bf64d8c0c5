//! Action links already used: tree `used_links`, the link's id (a hash of its
//! MAC, never anything that could rebuild the link) -> [`UsedLink`] (what was done,
//! by whom, when). A link is claimed before it acts ([`Store::claim_link`], atomic:
//! of two clicks at once, one acts) and released when its action could not be
//! done, so that a link that changed nothing still works later. Records are pruned
//! once the link has expired ([`Store::prune_used_links`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

const USED: &str = "used_links";

/// What a used link did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsedLink {
    /// The action's label ("I'll take it").
    pub action: String,
    pub by: String,
    pub at: DateTime<Utc>,
    /// When the link expires (Unix seconds): the record is kept until then.
    pub expires: i64,
}

impl Store {
    /// What the link `id` did, if it was used.
    pub fn used_link(&self, id: &[u8]) -> Result<Option<UsedLink>, StoreError> {
        match self.tree(USED)?.get(id)? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    /// Marks the link `id` used as `used`: `None` when this call claimed it, else
    /// what it was already used for.
    pub fn claim_link(&self, id: &[u8], used: &UsedLink) -> Result<Option<UsedLink>, StoreError> {
        let value = serde_json::to_vec(used)?;
        match self
            .tree(USED)?
            .compare_and_swap(id, None as Option<&[u8]>, Some(value))?
        {
            Ok(()) => {
                self.flush()?;
                Ok(None)
            }
            Err(e) => match e.current {
                Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
                // removed meanwhile: whoever held it released it; not ours either
                None => Ok(Some(used.clone())),
            },
        }
    }

    /// Gives back a claim that did nothing (only if it is still `used`).
    pub fn release_link(&self, id: &[u8], used: &UsedLink) -> Result<(), StoreError> {
        let value = serde_json::to_vec(used)?;
        let _ = self
            .tree(USED)?
            .compare_and_swap(id, Some(value), None as Option<&[u8]>)?;
        self.flush()?;
        Ok(())
    }

    /// Forgets the used links that expired by `now` (they are refused as expired
    /// anyway); how many.
    pub fn prune_used_links(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let tree = self.tree(USED)?;
        let mut gone = 0usize;
        for kv in tree.iter() {
            let (k, v) = kv?;
            let expired = serde_json::from_slice::<UsedLink>(&v)
                .map_or(true, |u| u.expires <= now.timestamp());
            if expired {
                tree.remove(k)?;
                gone = gone.saturating_add(1);
            }
        }
        Ok(gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_claimed_once_released_when_it_did_nothing_and_pruned_after_expiry() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let now = Utc::now();
        let used = UsedLink {
            action: "Resolved".into(),
            by: "dana".into(),
            at: now,
            expires: now.timestamp() + 60,
        };
        assert_eq!(s.used_link(b"id").unwrap(), None);
        assert_eq!(s.claim_link(b"id", &used).unwrap(), None);
        let other = UsedLink {
            by: "eli".into(),
            ..used.clone()
        };
        assert_eq!(s.claim_link(b"id", &other).unwrap(), Some(used.clone()));
        // releasing someone else's claim does nothing
        s.release_link(b"id", &other).unwrap();
        assert_eq!(s.used_link(b"id").unwrap(), Some(used.clone()));
        s.release_link(b"id", &used).unwrap();
        assert_eq!(s.used_link(b"id").unwrap(), None);
        s.claim_link(b"id", &used).unwrap();
        assert_eq!(s.prune_used_links(now).unwrap(), 0);
        assert_eq!(
            s.prune_used_links(now + chrono::Duration::seconds(61))
                .unwrap(),
            1
        );
        assert_eq!(s.used_link(b"id").unwrap(), None);
    }
}
