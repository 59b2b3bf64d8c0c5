//! `db compact`: rewrite the database into a fresh directory and swap it in.
//!
//! sled 0.34 reclaims space only lazily; copying every tree into a new database
//! (sled's export/import) gives back what deletions and rewrites left behind.
//! The swap is two renames; `recover` finishes or undoes one cut short by a crash.

use std::path::Path;

use super::{Store, StoreError};

/// Sizes before and after a compaction, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Compacted {
    pub before: u64,
    pub after: u64,
}

fn io(what: &str, p: &Path, e: std::io::Error) -> StoreError {
    StoreError::Invalid(format!("cannot {what} {}: {e}", p.display()))
}

/// Leaves `data_dir/db` whole after a compaction a crash interrupted.
pub(crate) fn recover(data_dir: &Path) -> Result<(), StoreError> {
    let db = data_dir.join("db");
    let new = data_dir.join("db.compact");
    let old = data_dir.join("db.old");
    if !db.exists() && old.exists() {
        if new.join("COMPLETE").exists() {
            std::fs::rename(&new, &db).map_err(|e| io("rename", &new, e))?;
        } else {
            std::fs::rename(&old, &db).map_err(|e| io("rename", &old, e))?;
        }
    }
    if db.exists() {
        for leftover in [&new, &old] {
            if leftover.exists() {
                std::fs::remove_dir_all(leftover).map_err(|e| io("remove", leftover, e))?;
            }
        }
    }
    Ok(())
}

impl Store {
    /// Compacts the database under `data_dir` (nobody else may hold it).
    pub fn compact(data_dir: &Path) -> Result<Compacted, StoreError> {
        let store = Store::open_existing(data_dir)?;
        let before = store.size_on_disk()?;
        let new = data_dir.join("db.compact");
        if new.exists() {
            std::fs::remove_dir_all(&new).map_err(|e| io("remove", &new, e))?;
        }
        {
            let fresh = sled::Config::new().path(&new).open()?;
            fresh.import(store.db().export());
            fresh.flush()?;
        }
        let marker = new.join("COMPLETE");
        std::fs::write(&marker, b"").map_err(|e| io("write", &marker, e))?;
        let db = store.path().to_path_buf();
        drop(store);
        let old = data_dir.join("db.old");
        std::fs::rename(&db, &old).map_err(|e| io("rename", &db, e))?;
        std::fs::rename(&new, &db).map_err(|e| io("rename", &new, e))?;
        std::fs::remove_file(db.join("COMPLETE")).map_err(|e| io("remove", &db, e))?;
        std::fs::remove_dir_all(&old).map_err(|e| io("remove", &old, e))?;
        let after = Store::open_existing(data_dir)?.size_on_disk()?;
        Ok(Compacted { before, after })
    }
}
