//! The sled store: mentions (with indexes), source state, the alert outbox.
//!
//! One [`Store`] per data directory; sled allows one process at a time, so the
//! daemon holds it and the CLI reads through the daemon's API ([`api_router`],
//! [`client::Reader`]) or opens the database itself when no daemon runs.
//!
//! The store keeps what the stages hand it and answers queries; it never matches,
//! classifies or sends anything, and no module outside `store` opens sled itself.
//!
//! # Layout (schema version [`SCHEMA_VERSION`])
//!
//! All times are UTC milliseconds encoded as 8 big-endian bytes with the sign bit
//! flipped ([`keys::ts`]), so byte order is time order. Ids are 16 lowercase hex
//! characters. Brand names and sentiment labels are lowercased in keys.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `meta` | `schema_version` | the version, decimal ASCII |
//! | `mentions` | id | JSON [`mentions::Record`] (the [`Mention`](crate::post::Mention) + aliases + alert state + [`Triage`]) |
//! | `ids` | `p:{post id}` or `u:{canonical url}` | id (the dedup aliases) |
//! | `idx_time` | ts(created_at) ++ id | `label \0 source \0 source_name` [`\0 status \0 assignee`] |
//! | `idx_brand` | brand ++ `\0` ++ ts(created_at) ++ id | as `idx_time` |
//! | `idx_sentiment` | label ++ `\0` ++ ts(created_at) ++ id | as `idx_time` |
//! | `idx_unclassified` | ts(first_seen) ++ id | empty |
//! | `idx_status` | status ++ `\0` ++ ts(created_at) ++ id | as `idx_time` |
//! | `feedback` | id | JSON [`Feedback`]: a "not negative" correction (outlives the mention) |
//! | `watches` | id | JSON [`watches::WatchState`]: the thread watcher's next check |
//! | `counts` | a fact (per brand, day and label; per status, label and brand) | u64, big-endian: how many mentions have it, kept in each write's transaction |
//! | `source_state` | source name | the source's own bytes |
//! | `first_polls` | source name `\0` brand | ts: the end of the source's first poll for the brand (what came with it is backlog) |
//! | `outbox*` | owned by the alerts outbox | |
//! | `users`, `user_emails`, `sessions` | see [`users`] | |
//! | `replies` | reply id | JSON [`replies::ReplyRecord`]: a reply the team wrote, its state and where it went ([`crate::reply`]) |
//! | `used_links` | hash of an action link's MAC | JSON [`used_links::UsedLink`]: what the link did, by whom, when ([`used_links`]) |
//!
//! `list --brand B --since T` is one reverse range scan of `idx_brand` between
//! `B\0ts(T)` and `B\0ts(now)`; the sentiment and source filters are answered from
//! the index value without decoding the mention, which is loaded only for rows
//! that are returned. The status and assignee filters are answered from the value
//! too (its status part is left out for an untriaged mention: `new`, unassigned);
//! `list --status S` alone scans `idx_status` under `S\0`.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod api;
pub mod client;
pub mod compact;
pub mod cursors;
mod daemon_state;
mod first_polls;
pub mod keys;
pub mod mentions;
pub mod outbox;
pub mod replies;
pub mod used_links;
pub mod users;
pub mod watches;

pub use api::api_router;
pub use mentions::{
    mention_id, Action, Answer, Bucket, Change, CheckReport, DismissReason, Feedback, ResponseRow,
    ResponseStats, StatsRow, Status, StoredMention, Transition, Triage, TriageError, Triaged,
    Upsert, Via,
};

/// The layout this build reads and writes (2: triage state and `idx_status`; 3: the
/// `counts` tree).
pub const SCHEMA_VERSION: u32 = 3;

const META: &str = "meta";
/// How long open waits for a lock that is being let go of.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(1500);
const SCHEMA_KEY: &[u8] = b"schema_version";

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    #[error("cannot encode or decode a record: {0}")]
    Codec(#[from] serde_json::Error),
    #[error("{0}")]
    Invalid(String),
    /// A triage change that cannot be made (no such mention, not from this state).
    #[error(transparent)]
    Triage(#[from] TriageError),
    /// Another process (normally the daemon) holds the database.
    #[error(
        "the database at {0} is in use by another process (is `overhear run` running?); \
         sled allows one process at a time"
    )]
    Locked(PathBuf),
    /// What is at the data path is not an overhear database, or is damaged.
    #[error("refusing to open {path}: {reason}")]
    NotOurs { path: PathBuf, reason: String },
    /// The database was written by a newer overhear.
    #[error(
        "the database at {path} has schema version {found}, but this overhear understands \
         up to {SCHEMA_VERSION}; upgrade overhear (nothing was changed)"
    )]
    TooNew { path: PathBuf, found: u32 },
    /// No database exists yet (read-only commands do not create one).
    #[error("no database at {0} yet (the daemon has not stored anything there)")]
    Missing(PathBuf),
}

/// Which mentions a query wants. Every field narrows the result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MentionFilter {
    /// Brand name, case-insensitive.
    pub brand: Option<String>,
    /// Sentiment label (`negative`, ...), case-insensitive; `unclassified` for none yet.
    pub sentiment: Option<String>,
    /// Source kind (`reddit`) or source name, case-insensitive.
    pub source: Option<String>,
    /// Post time at or after this.
    pub since: Option<DateTime<Utc>>,
    /// Post time before this.
    pub until: Option<DateTime<Utc>>,
    /// Triage state (read from `idx_status` when no brand is given).
    #[serde(default)]
    pub status: Option<Status>,
    /// Current assignee, case-insensitive.
    #[serde(default)]
    pub assignee: Option<String>,
    pub limit: Option<usize>,
}

/// sled's page cache. sled counts it in on-disk bytes and its pages take several times
/// that in memory, so its default (1 GiB) would let a long-running daemon's memory grow
/// with its database. The working set (recent mentions, indexes, the outbox) fits in
/// far less, and the OS page cache keeps older pages warm anyway. (sled's page table
/// still grows with the number of pages: `overhear db retention` bounds that.)
const CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// The database in one data directory.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    path: PathBuf,
    pub(crate) t: mentions::Trees,
}

impl Store {
    /// Opens (or creates) the database under `data_dir` (in `data_dir/db`).
    ///
    /// Refuses, with a message naming the path, a file or a foreign directory at that
    /// path, a damaged database, a database of a newer schema, and a database another
    /// process holds ([`StoreError::Locked`]). Older schemas are migrated.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        if data_dir.is_file() {
            return Err(StoreError::NotOurs {
                path: data_dir.to_path_buf(),
                reason: "it is a file, but the data directory must be a directory".into(),
            });
        }
        create_private_dir(data_dir).map_err(|e| {
            StoreError::Invalid(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        compact::recover(data_dir)?;
        let store = Self::open_at(&data_dir.join("db"), true)?;
        make_private(store.path()).map_err(|e| {
            StoreError::Invalid(format!(
                "cannot make {} private (0700/0600): {e}",
                store.path().display()
            ))
        })?;
        Ok(store)
    }

    /// Opens an existing database only: [`StoreError::Missing`] when there is none.
    /// For commands that only read.
    pub fn open_existing(data_dir: &Path) -> Result<Store, StoreError> {
        let path = data_dir.join("db");
        if data_dir.is_dir() {
            compact::recover(data_dir)?;
        }
        if !path.exists() {
            return Err(StoreError::Missing(path));
        }
        Self::open_at(&path, false)
    }

    fn open_at(path: &Path, create: bool) -> Result<Store, StoreError> {
        let fresh = precheck(path)?;
        if fresh && !create {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        if fresh {
            create_stamped(path)?;
        }
        let config = sled::Config::new().path(path).cache_capacity(CACHE_BYTES);
        let started = std::time::Instant::now();
        let db = loop {
            // sled may panic on some damaged files instead of returning an error.
            let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| config.open()));
            match opened {
                Ok(Ok(db)) => break db,
                Ok(Err(e)) => match classify_open_error(path, e) {
                    // A Store dropped in this process lets go of the lock only when
                    // sled's background threads finish: wait a moment for them.
                    StoreError::Locked(_) if started.elapsed() < LOCK_WAIT => {
                        std::thread::sleep(std::time::Duration::from_millis(25));
                    }
                    e => return Err(e),
                },
                Err(_) => {
                    return Err(StoreError::NotOurs {
                        path: path.to_path_buf(),
                        reason: "the database files are damaged (sled could not read them)".into(),
                    })
                }
            }
        };
        let meta = db.open_tree(META)?;
        match meta.get(SCHEMA_KEY)? {
            Some(v) => {
                let found = std::str::from_utf8(&v)
                    .ok()
                    .and_then(|s| s.parse::<u32>().ok())
                    .ok_or_else(|| StoreError::NotOurs {
                        path: path.to_path_buf(),
                        reason: "its schema version record is unreadable".into(),
                    })?;
                if found > SCHEMA_VERSION {
                    return Err(StoreError::TooNew {
                        path: path.to_path_buf(),
                        found,
                    });
                }
                if found < SCHEMA_VERSION {
                    migrate(path, &db, found)?;
                }
            }
            None => {
                // sled files were there, but sled found no schema stamp in them: another
                // program's database, or ours damaged so badly that sled's recovery
                // read nothing back. Either way, do not write over it.
                let empty = db.is_empty() && db.tree_names().len() <= 2;
                return Err(StoreError::NotOurs {
                    path: path.to_path_buf(),
                    reason: if empty {
                        "it holds sled files but sled reads nothing back from them \
                         (damaged, or not written by overhear); move it away or restore \
                         a backup"
                            .into()
                    } else {
                        "it is a sled database, but not one overhear wrote \
                         (no schema version); move it away or point data_dir elsewhere"
                            .into()
                    },
                });
            }
        }
        let t = mentions::Trees::open(&db)?;
        Ok(Store {
            db,
            path: path.to_path_buf(),
            t,
        })
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

    /// The sled directory (`data_dir/db`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes the database takes on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }

    pub(crate) fn db(&self) -> &sled::Db {
        &self.db
    }
}

/// Creates `dir` and any missing parents as 0700, whatever the umask (directories
/// that exist are left as they are).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Makes the sled directory and what is in it readable by its owner only (0700 for
/// directories, 0600 for files): sled creates its files with the process's umask,
/// and they hold every mention and the outbox's copies of them.
fn make_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            make_private(&entry.path())?;
        } else if kind.is_file() {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// Creates an empty, stamped database beside `path` and renames it into place, so
/// that a crash during creation never leaves unstamped sled files at `path`.
fn create_stamped(path: &Path) -> Result<(), StoreError> {
    let io = |what: &str, p: &Path, e: std::io::Error| {
        StoreError::Invalid(format!("cannot {what} {}: {e}", p.display()))
    };
    let init = path.with_extension("init");
    if init.exists() {
        std::fs::remove_dir_all(&init).map_err(|e| io("remove", &init, e))?;
    }
    {
        let db = sled::Config::new().path(&init).open()?;
        db.open_tree(META)?
            .insert(SCHEMA_KEY, SCHEMA_VERSION.to_string().as_bytes())?;
        db.flush()?;
    }
    if path.exists() {
        // an empty directory (precheck said so)
        std::fs::remove_dir(path).map_err(|e| io("replace", path, e))?;
    }
    std::fs::rename(&init, path).map_err(|e| io("rename", &init, e))
}

/// Looks at what is at `path` before sled does. Returns true when nothing is there yet.
fn precheck(path: &Path) -> Result<bool, StoreError> {
    let not_ours = |reason: String| StoreError::NotOurs {
        path: path.to_path_buf(),
        reason,
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(not_ours(format!("cannot read it: {e}"))),
    };
    if !meta.is_dir() && !path.is_dir() {
        return Err(not_ours(
            "it is a file, not a database directory; move it away or point data_dir elsewhere"
                .into(),
        ));
    }
    let entries: Vec<String> = std::fs::read_dir(path)
        .map_err(|e| not_ours(format!("cannot list it: {e}")))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if entries.is_empty() {
        return Ok(true);
    }
    let has = |n: &str| entries.iter().any(|e| e == n);
    if !has("db") || !has("conf") {
        return Err(not_ours(format!(
            "the directory holds {} but no sled database (no `conf` and `db` files); \
             move it away or point data_dir elsewhere",
            list_names(&entries)
        )));
    }
    let conf = std::fs::read(path.join("conf"))
        .map_err(|e| not_ours(format!("cannot read its `conf` file: {e}")))?;
    if !conf.starts_with(b"segment_size: ") {
        return Err(not_ours(
            "its `conf` file is not a sled configuration (damaged or foreign)".into(),
        ));
    }
    Ok(false)
}

fn list_names(entries: &[String]) -> String {
    let mut shown: Vec<&str> = entries.iter().take(5).map(|s| s.as_str()).collect();
    shown.sort_unstable();
    let more = entries.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn classify_open_error(path: &Path, e: sled::Error) -> StoreError {
    match &e {
        sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
            StoreError::Locked(path.to_path_buf())
        }
        sled::Error::Corruption { .. } | sled::Error::Unsupported(_) => StoreError::NotOurs {
            path: path.to_path_buf(),
            reason: format!("the database is damaged or was written by something else ({e})"),
        },
        _ => StoreError::Sled(e),
    }
}

/// Brings an older layout up to [`SCHEMA_VERSION`]. Version 1 had no triage: every
/// mention is `new`, so 2 adds each one's `idx_status` entry; 3 counts every mention
/// into the `counts` tree. Each step flushes before the new stamp is written (a crash
/// before the stamp redoes it; the result is the same). A stamp below 1 is not ours.
fn migrate(path: &Path, db: &sled::Db, found: u32) -> Result<(), StoreError> {
    if found != 1 && found != 2 {
        return Err(StoreError::NotOurs {
            path: path.to_path_buf(),
            reason: format!("unknown schema version {found}"),
        });
    }
    let trees = mentions::Trees::open(db)?;
    if found == 1 {
        let n = trees.add_status_index()?;
        tracing::info!(
            "database {}: {n} mentions in the status index",
            path.display()
        );
    }
    tracing::info!("database {}: counting the mentions (once)", path.display());
    let n = trees.recount()?;
    db.flush()?;
    db.open_tree(META)?
        .insert(SCHEMA_KEY, SCHEMA_VERSION.to_string().as_bytes())?;
    db.flush()?;
    tracing::info!(
        "database {} upgraded to schema {SCHEMA_VERSION}: {n} mentions counted",
        path.display()
    );
    Ok(())
}
