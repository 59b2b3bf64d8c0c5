//! Source state (cursors, ETags, seen-id windows) in the `source_state` tree.

use super::{Store, StoreError};
use crate::sources::{StateError, StateStore};

const TREE: &str = "source_state";

impl Store {
    /// Every source's saved state (for `db check` and diagnostics).
    pub fn source_states(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.tree(TREE)?
            .iter()
            .map(|item| {
                let (k, v) = item?;
                Ok((String::from_utf8_lossy(&k).into_owned(), v.to_vec()))
            })
            .collect()
    }
}

fn err(source: &str, e: StoreError) -> StateError {
    StateError(format!("{source}: {e}"))
}

impl StateStore for Store {
    fn load(&self, source: &str) -> Result<Option<Vec<u8>>, StateError> {
        let tree = self.tree(TREE).map_err(|e| err(source, e))?;
        let v = tree
            .get(source.as_bytes())
            .map_err(|e| err(source, e.into()))?;
        Ok(v.map(|v| v.to_vec()))
    }

    fn save(&self, source: &str, state: &[u8]) -> Result<(), StateError> {
        let tree = self.tree(TREE).map_err(|e| err(source, e))?;
        tree.insert(source.as_bytes(), state)
            .map_err(|e| err(source, e.into()))?;
        self.flush().map_err(|e| err(source, e))
    }
}
