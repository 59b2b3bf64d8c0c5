//! Keeping the index up to date: the daemon's writer thread (refreshes each changed
//! mention from the store, commits at most a second later or every
//! [`COMMIT_DOCS`]), the catch-up at start, `overhear db reindex`, and the CLI's
//! own updates when no daemon runs.
//!
//! A refresh always reads the mention back from the store, so the document follows
//! the stored record whatever order changes arrive in. Nothing here writes to the
//! store; an index failure is logged and counted ([`ErrorHook`]), never passed on
//! to the stage that changed the store.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tantivy::query::RangeQuery;
use tantivy::{IndexWriter, Term};

use super::index::{payload, SearchIndex};
use super::schema::{document, id_of, key_of, rev, Fields};
use super::SearchError;
use crate::store::mentions::Record;
use crate::store::{Store, StoreError};

/// Called with the operation (`index`, `commit`, `catch-up`, `search`) whenever one
/// fails: the daemon counts it in `overhear_search_errors_total`.
pub type ErrorHook = Arc<dyn Fn(&'static str) + Send + Sync>;

/// The longest a change waits before it is committed (searchable).
const COMMIT_EVERY: Duration = Duration::from_secs(1);
/// Changes after which a commit comes sooner.
const COMMIT_DOCS: usize = 10_000;
/// The daemon's writer: one indexing thread, this much memory.
const DAEMON_BUDGET: usize = 64 << 20;
/// A CLI command's one-off writer.
const DIRECT_BUDGET: usize = 20 << 20;
/// `db reindex`, per indexing thread.
const REINDEX_BUDGET: usize = 128 << 20;
/// Mentions the catch-up hands over before it waits for the writer.
const CATCH_UP_BATCH: usize = 2_000;
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

enum Msg {
    Refresh(Vec<String>),
    /// Answered once everything before it is applied (not committed).
    Barrier(mpsc::Sender<()>),
    /// Answered once everything before it is committed and searchable.
    Flush(mpsc::Sender<Result<(), String>>),
    Close(mpsc::Sender<()>),
}

/// The handle on the writer thread (cheap to clone).
#[derive(Clone)]
pub(crate) struct Worker {
    tx: mpsc::Sender<Msg>,
    on_error: ErrorHook,
    /// Set once the "writer stopped" warning was logged (logged once).
    warned: Arc<AtomicBool>,
    /// Set by [`Worker::close`]: a send after it is no failure.
    closed: Arc<AtomicBool>,
    path: std::path::PathBuf,
}

impl Worker {
    /// Takes the index's writer (one process at a time) and starts the thread.
    pub(crate) fn spawn(
        index: &SearchIndex,
        store: &Store,
        on_error: ErrorHook,
    ) -> Result<Worker, SearchError> {
        let writer = index.writer(1, DAEMON_BUDGET)?;
        let mentions = store.tree("mentions")?;
        let (tx, rx) = mpsc::channel();
        let path = index.path().to_path_buf();
        let (index, hook) = (index.clone(), on_error.clone());
        std::thread::Builder::new()
            .name("search-writer".into())
            .spawn(move || run(&index, writer, &mentions, &rx, &hook))
            .map_err(|e| SearchError::Index {
                path: path.clone(),
                message: format!("cannot start the writer thread: {e}"),
            })?;
        Ok(Worker {
            tx,
            on_error,
            warned: Default::default(),
            closed: Default::default(),
            path,
        })
    }

    pub(crate) fn failed(&self, op: &'static str) {
        (self.on_error)(op);
    }

    fn send(&self, m: Msg) -> bool {
        if self.tx.send(m).is_ok() {
            return true;
        }
        if self.closed.load(Ordering::SeqCst) {
            return false;
        }
        self.failed("index");
        if !self.warned.swap(true, Ordering::SeqCst) {
            tracing::error!(
                "the search index's writer has stopped; changes are caught up at the next start"
            );
        }
        false
    }

    pub(crate) fn refresh(&self, ids: Vec<String>) {
        if !ids.is_empty() {
            self.send(Msg::Refresh(ids));
        }
    }

    fn barrier(&self) -> Result<(), SearchError> {
        let (tx, rx) = mpsc::channel();
        if !self.send(Msg::Barrier(tx)) {
            return Err(SearchError::Stopped);
        }
        rx.recv().map_err(|_| SearchError::Stopped)
    }

    pub(crate) fn flush(&self, timeout: Duration) -> Result<(), SearchError> {
        let (tx, rx) = mpsc::channel();
        if !self.send(Msg::Flush(tx)) {
            return Err(SearchError::Stopped);
        }
        match rx.recv_timeout(timeout) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(SearchError::Index {
                path: self.path.clone(),
                message,
            }),
            Err(_) => Err(SearchError::Stopped),
        }
    }

    pub(crate) fn close(&self, timeout: Duration) {
        self.closed.store(true, Ordering::SeqCst);
        let (tx, rx) = mpsc::channel();
        if self.tx.send(Msg::Close(tx)).is_ok() && rx.recv_timeout(timeout).is_err() {
            tracing::warn!(
                "the search index's last commit did not finish in time; the next start catches up"
            );
        }
    }
}

/// The writer thread: applies refreshes as they come and commits when due.
fn run(
    index: &SearchIndex,
    mut writer: IndexWriter,
    mentions: &sled::Tree,
    rx: &mpsc::Receiver<Msg>,
    on_error: &ErrorHook,
) {
    let mut pending = 0usize;
    let mut oldest: Option<Instant> = None;
    loop {
        let wait = oldest.map_or(Duration::from_secs(3600), |t| {
            COMMIT_EVERY.saturating_sub(t.elapsed())
        });
        let mut closing = None;
        let mut stop = false;
        match rx.recv_timeout(wait) {
            Ok(Msg::Refresh(ids)) => {
                for id in &ids {
                    if let Err(e) = apply(&writer, &index.fields, mentions, id) {
                        on_error("index");
                        tracing::warn!(mention = %id, error = %e, "cannot update the search index; the next start catches it up");
                    }
                }
                pending = pending.saturating_add(ids.len());
                oldest.get_or_insert_with(Instant::now);
            }
            Ok(Msg::Barrier(reply)) => {
                let _ = reply.send(());
            }
            Ok(Msg::Flush(reply)) => {
                let r = if pending > 0 {
                    commit(index, &mut writer, on_error)
                } else {
                    Ok(())
                };
                (pending, oldest) = (0, None);
                let _ = reply.send(r);
                continue;
            }
            Ok(Msg::Close(reply)) => closing = Some(reply),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => stop = true,
        }
        let finishing = stop || closing.is_some();
        let due = finishing
            || pending >= COMMIT_DOCS
            || oldest.is_some_and(|t| t.elapsed() >= COMMIT_EVERY);
        if pending > 0 && due {
            let _ = commit(index, &mut writer, on_error);
            (pending, oldest) = (0, None);
        }
        if finishing {
            // the lock goes with the writer: let go of it before saying so
            drop(writer);
            if let Some(reply) = closing {
                let _ = reply.send(());
            }
            return;
        }
    }
}

/// Commits with this build's payload and makes the commit searchable.
fn commit(
    index: &SearchIndex,
    writer: &mut IndexWriter,
    on_error: &ErrorHook,
) -> Result<(), String> {
    let r = writer
        .prepare_commit()
        .and_then(|mut p| {
            p.set_payload(&payload());
            p.commit()
        })
        .map_err(|e| e.to_string())
        .and_then(|_| index.reload().map_err(|e| e.to_string()));
    if let Err(e) = &r {
        on_error("commit");
        tracing::warn!(error = %e, "cannot commit to the search index; the next start catches it up");
    }
    r
}

/// Replaces mention `id`'s document with one made from the store's record, or only
/// deletes it when the store has none.
fn apply(writer: &IndexWriter, f: &Fields, mentions: &sled::Tree, id: &str) -> Result<(), String> {
    writer.delete_term(Term::from_field_text(f.id, id));
    let Some(bytes) = mentions.get(id.as_bytes()).map_err(|e| e.to_string())? else {
        return Ok(());
    };
    add(writer, f, id, &bytes)
}

fn add(writer: &IndexWriter, f: &Fields, id: &str, bytes: &[u8]) -> Result<(), String> {
    let key = key_of(id).ok_or_else(|| format!("{id:?} is not a mention id"))?;
    let rec: Record = serde_json::from_slice(bytes).map_err(|e| {
        format!("its stored record does not decode ({e}); `overhear db check` reports it")
    })?;
    writer
        .add_document(document(f, id, key, rev(bytes), &rec))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[derive(Debug, Default)]
struct CatchUp {
    checked: u64,
    refreshed: u64,
    removed: u64,
    stopped: bool,
}

/// The catch-up at start, with its log lines (and `on_error` if it fails).
pub(crate) fn catch_up_logged(
    index: &SearchIndex,
    store: &Store,
    worker: &Worker,
    stop: &AtomicBool,
    on_error: &ErrorHook,
) {
    let started = Instant::now();
    tracing::info!(
        documents = index.num_docs(),
        "search index: checking it against the database in the background"
    );
    match catch_up(index, store, worker, stop) {
        Ok(CatchUp { stopped: true, .. }) | Err(_) if stop.load(Ordering::SeqCst) => {
            tracing::info!(
                "search index: catch-up stopped by the shutdown; it runs again at the next start"
            )
        }
        Ok(r) => tracing::info!(
            mentions = r.checked,
            updated = r.refreshed,
            removed = r.removed,
            seconds = started.elapsed().as_secs(),
            "search index: up to date with the database"
        ),
        Err(e) => {
            on_error("catch-up");
            tracing::error!(error = %e, "search index: catch-up failed; searches may miss recent changes until the next start");
        }
    }
}

/// Refreshes every mention whose record differs from what its document was made from
/// (or that has none), and deletes documents whose mention is gone.
fn catch_up(
    index: &SearchIndex,
    store: &Store,
    worker: &Worker,
    stop: &AtomicBool,
) -> Result<CatchUp, SearchError> {
    let mut have = index.entries()?;
    let mut twice = std::collections::HashSet::new();
    have.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            twice.insert(kept.0);
        }
        same
    });
    let mut seen = vec![false; have.len()];
    let mentions = store.tree("mentions")?;
    let mut r = CatchUp::default();
    let mut batch = Vec::new();
    let mut logged = Instant::now();
    let hand_over = |batch: &mut Vec<String>| -> Result<(), SearchError> {
        worker.refresh(std::mem::take(batch));
        worker.barrier()
    };
    for item in mentions.iter() {
        if stop.load(Ordering::SeqCst) {
            r.stopped = true;
            return Ok(r);
        }
        let (k, v) = item.map_err(StoreError::from)?;
        r.checked += 1;
        let Some(id) = std::str::from_utf8(&k)
            .ok()
            .filter(|id| key_of(id).is_some())
        else {
            continue;
        };
        let key = key_of(id).unwrap_or_default();
        let current = match have.binary_search_by_key(&key, |e| e.0) {
            Ok(i) => {
                if let Some(s) = seen.get_mut(i) {
                    *s = true;
                }
                have.get(i).is_some_and(|e| e.1 == rev(&v)) && !twice.contains(&key)
            }
            Err(_) => false,
        };
        if !current {
            batch.push(id.to_string());
            r.refreshed += 1;
        }
        if batch.len() >= CATCH_UP_BATCH {
            hand_over(&mut batch)?;
        }
        if logged.elapsed() >= PROGRESS_EVERY {
            tracing::info!(
                checked = r.checked,
                updated = r.refreshed,
                "search index: catching up with the database"
            );
            logged = Instant::now();
        }
    }
    for (e, s) in have.iter().zip(&seen) {
        if !s {
            batch.push(id_of(e.0));
            r.removed += 1;
            if batch.len() >= CATCH_UP_BATCH {
                hand_over(&mut batch)?;
            }
        }
    }
    hand_over(&mut batch)?;
    worker.flush(Duration::from_secs(600))?;
    Ok(r)
}

/// `overhear db reindex`: builds a new index of every stored mention beside the old
/// one, then puts it in its place. Needs the database to itself (the daemon
/// stopped). `progress` is called with the count so far. Returns how many were
/// indexed.
pub fn reindex(
    data_dir: &Path,
    store: &Store,
    mut progress: impl FnMut(u64),
) -> Result<u64, SearchError> {
    let target = SearchIndex::dir(data_dir);
    let fresh = data_dir.join("search.new");
    let io = |what: &str, p: &Path, e: std::io::Error| SearchError::Index {
        path: p.to_path_buf(),
        message: format!("cannot {what} it: {e}"),
    };
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh).map_err(|e| io("remove", &fresh, e))?;
    }
    let n = {
        let index = SearchIndex::create_at(&fresh)?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4));
        let mut writer = index.writer(threads, REINDEX_BUDGET.saturating_mul(threads))?;
        let mentions = store.tree("mentions")?;
        let mut n = 0u64;
        for item in mentions.iter() {
            let (k, v) = item.map_err(StoreError::from)?;
            let id = String::from_utf8_lossy(&k);
            match add(&writer, &index.fields, &id, &v) {
                Ok(()) => n += 1,
                Err(e) => tracing::warn!(mention = %id, error = %e, "not indexed"),
            }
            if n % 1000 == 0 {
                progress(n);
            }
        }
        let mut p = writer.prepare_commit().map_err(|e| index.error(e))?;
        p.set_payload(&payload());
        p.commit().map_err(|e| index.error(e))?;
        writer.wait_merging_threads().map_err(|e| index.error(e))?;
        progress(n);
        n
    };
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(|e| io("remove", &target, e))?;
    }
    std::fs::rename(&fresh, &target).map_err(|e| io("move into place", &fresh, e))?;
    Ok(n)
}

/// Opens the index of `data_dir` for one update by a CLI command (the daemon
/// stopped); `None` when there is no index yet (the daemon builds it).
fn open_direct(data_dir: &Path) -> Result<Option<(SearchIndex, IndexWriter)>, SearchError> {
    let index = match SearchIndex::open_existing(data_dir) {
        Err(SearchError::Missing(_)) => return Ok(None),
        r => r?,
    };
    let writer = index.writer(1, DIRECT_BUDGET)?;
    Ok(Some((index, writer)))
}

fn commit_direct(index: &SearchIndex, mut writer: IndexWriter) -> Result<(), SearchError> {
    let mut p = writer.prepare_commit().map_err(|e| index.error(e))?;
    p.set_payload(&payload());
    p.commit().map_err(|e| index.error(e))?;
    Ok(())
}

/// Refreshes these mentions' documents now (a CLI command changed them while no
/// daemon runs). Nothing to do when there is no index yet.
pub fn refresh_now(data_dir: &Path, store: &Store, ids: &[String]) -> Result<(), SearchError> {
    let Some((index, writer)) = open_direct(data_dir)? else {
        return Ok(());
    };
    let mentions = store.tree("mentions")?;
    for id in ids {
        apply(&writer, &index.fields, &mentions, id).map_err(|e| index.error(e))?;
    }
    commit_direct(&index, writer)
}

/// Deletes the documents of posts older than `cutoff` (`db retention` removed their
/// mentions). Nothing to do when there is no index yet.
pub fn remove_older_than(data_dir: &Path, cutoff: DateTime<Utc>) -> Result<(), SearchError> {
    let Some((index, writer)) = open_direct(data_dir)? else {
        return Ok(());
    };
    let older = RangeQuery::new_i64_bounds(
        "ts".to_string(),
        std::ops::Bound::Unbounded,
        std::ops::Bound::Excluded(cutoff.timestamp_millis()),
    );
    writer
        .delete_query(Box::new(older))
        .map_err(|e| index.error(e))?;
    commit_direct(&index, writer)
}
