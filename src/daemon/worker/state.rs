//! A worker's source state: in memory, seeded from the cursor the hub committed when
//! the worker takes a host, and forgotten when it loses the host (whoever polls it
//! meanwhile moves the committed cursor on).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::sources::{StateError, StateStore};

#[derive(Debug, Default)]
pub(crate) struct WorkerState(Mutex<HashMap<String, Vec<u8>>>);

impl WorkerState {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts `source` from `cursor` (the hub's), or from nothing.
    pub(crate) fn seed(&self, source: &str, cursor: Option<Vec<u8>>) {
        match cursor {
            Some(c) => self.map().insert(source.to_string(), c),
            None => self.map().remove(source),
        };
    }

    pub(crate) fn forget(&self, source: &str) {
        self.map().remove(source);
    }
}

impl StateStore for WorkerState {
    fn load(&self, source: &str) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.map().get(source).cloned())
    }

    fn save(&self, source: &str, state: &[u8]) -> Result<(), StateError> {
        self.map().insert(source.to_string(), state.to_vec());
        Ok(())
    }
}
