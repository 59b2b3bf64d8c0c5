//! The sled store: mentions (with indexes), source state, the alert outbox.
//!
//! One [`Store`] per data directory; sled allows one process at a time.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

pub mod outbox;

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    #[error("cannot encode or decode a record: {0}")]
    Codec(#[from] serde_json::Error),
    #[error("{0}")]
    Invalid(String),
}

/// Which mentions a query wants. Every field narrows the result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MentionFilter {
    pub brand: Option<String>,
    pub sentiment: Option<String>,
    pub source: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: Option<usize>,
}

/// The database in one data directory.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    path: PathBuf,
}

impl Store {
    /// Opens (or creates) the database under `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        let path = data_dir.join("db");
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Invalid(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        let db = sled::Config::new().path(&path).open()?;
        Ok(Store { db, path })
    }

    /// A named tree (created on first use).
    pub fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(name)?)
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
