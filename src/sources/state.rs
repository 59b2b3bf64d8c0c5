//! Where sources keep their cursors between polls and across restarts.

use std::collections::HashMap;
use std::sync::Mutex;

/// Why a source's state could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
#[error("source state: {0}")]
pub struct StateError(pub String);

/// Durable per-source state (cursor, ETag, seen-id window), as opaque bytes each
/// source encodes itself. The store implements it; [`MemoryState`] is for tests and
/// `overhear poll --once`.
pub trait StateStore: Send + Sync {
    fn load(&self, source: &str) -> Result<Option<Vec<u8>>, StateError>;
    /// Must be durable when it returns.
    fn save(&self, source: &str, state: &[u8]) -> Result<(), StateError>;
}

/// State kept in memory only.
#[derive(Debug, Default)]
pub struct MemoryState(Mutex<HashMap<String, Vec<u8>>>);

impl StateStore for MemoryState {
    fn load(&self, source: &str) -> Result<Option<Vec<u8>>, StateError> {
        let map = self.0.lock().map_err(|_| StateError("poisoned".into()))?;
        Ok(map.get(source).cloned())
    }

    fn save(&self, source: &str, state: &[u8]) -> Result<(), StateError> {
        let mut map = self.0.lock().map_err(|_| StateError("poisoned".into()))?;
        map.insert(source.to_string(), state.to_vec());
        Ok(())
    }
}
