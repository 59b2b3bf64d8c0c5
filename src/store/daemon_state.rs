//! The daemon's own small state that must survive a restart (which sources are failing
//! and since when, up to when the scheduler has looked), in the `daemon_state` tree as
//! JSON values under fixed keys. Knows nothing of what the values mean: the daemon
//! owns them.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Store, StoreError};

const TREE: &str = "daemon_state";

impl Store {
    /// The value saved under `key`, if any. A value that no longer parses (written by
    /// another version) reads as none.
    pub fn daemon_state<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        let Some(bytes) = self.tree(TREE)?.get(key.as_bytes())? else {
            return Ok(None);
        };
        match serde_json::from_slice(&bytes) {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                tracing::warn!(key, error = %e, "ignoring a saved daemon state that does not parse");
                Ok(None)
            }
        }
    }

    /// Saves `value` under `key`. Durable on return.
    pub fn set_daemon_state<T: Serialize>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value)?;
        self.tree(TREE)?.insert(key.as_bytes(), bytes)?;
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_state_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            assert_eq!(s.daemon_state::<Vec<String>>("k").unwrap(), None);
            s.set_daemon_state("k", &vec!["a".to_string()]).unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(
            s.daemon_state::<Vec<String>>("k").unwrap(),
            Some(vec!["a".to_string()])
        );
        assert_eq!(
            s.daemon_state::<u32>("k").unwrap(),
            None,
            "wrong shape reads as none"
        );
    }
}
