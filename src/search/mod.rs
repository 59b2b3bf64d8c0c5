//! Full-text search over the stored mentions: a tantivy index in `data_dir/search`,
//! kept up to date from the store, and queried by the API, the CLI and the inbox.
//!
//! The store (sled) is the source of truth and this index only a copy that may lag:
//! every change is followed by a refresh of that mention ([`Search::changed`]: the
//! writer thread reads the mention back from the store and replaces its document,
//! or deletes it when the mention is gone), committed at most a second later; at
//! every daemon start a catch-up compares each stored record's hash with the one
//! its document was made from and refreshes what differs (a crash, a backfill or a
//! triage change made while the daemon was stopped). A missing, unreadable or older
//! index is rebuilt from the store, and says so in the log. Nothing here ever
//! writes to the store, and no error of the index stops ingest: the daemon logs it
//! and counts it in `overhear_search_errors_total`.
//!
//! The files split the work: `parse` reads the query syntax, `query` turns it into a
//! tantivy query, `schema` says what is indexed, `index` opens the index and runs
//! searches, `writer` keeps it up to date (the writer thread, the catch-up, `db
//! reindex`, and the CLI's own updates when no daemon runs), `page` turns hits into
//! the mentions a caller shows.
//!
//! For callers (the API, the web inbox): [`Search::query`] gives mention ids newest
//! first (or by relevance), [`page`] gives the mentions themselves as the store has
//! them now, filtered again against the store so that a lagging index never shows
//! a mention that no longer matches the filters.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{MentionFilter, Status, StoreError};

mod index;
mod page;
pub mod parse;
mod query;
mod schema;
mod writer;

pub use index::SearchIndex;
pub use page::{page, still_matches, Page};
pub use parse::{parse, SyntaxError};
pub use writer::{refresh_now, reindex, remove_older_than, ErrorHook};

/// The most hits one search returns; newest-first searches page on with
/// [`SearchQuery::after`].
pub const MAX_HITS: usize = 10_000;

/// Why a search or an index update failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query text is not valid search syntax (a user's mistake: show it).
    #[error(transparent)]
    Syntax(#[from] SyntaxError),
    #[error(
        "no search index at {0} yet: start the daemon (it builds one) or run `overhear db reindex`"
    )]
    Missing(PathBuf),
    /// Another process writes to the index (the daemon, most likely).
    #[error("the search index at {0} is in use by another process (is `overhear run` running?)")]
    Locked(PathBuf),
    #[error("search index at {path}: {message}")]
    Index { path: PathBuf, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the search index's writer has stopped; updates wait for the next start")]
    Stopped,
}

/// In what order hits come.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Newest post first (ties: larger id first), as `mentions list` and the inbox.
    #[default]
    Newest,
    /// Best match first (BM25 over title and text).
    Relevance,
}

/// Where a newest-first search continues: after this mention (its post time in ms
/// and its id), as the API's cursors do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct After {
    pub ms: i64,
    pub id: String,
}

/// A search: the query text in the syntax of [`parse`] (empty: every mention) and
/// the same filters as [`MentionFilter`], every one narrowing the result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchQuery {
    pub text: String,
    pub brand: Option<String>,
    pub sentiment: Option<String>,
    /// Source kind or source name.
    pub source: Option<String>,
    pub status: Option<Status>,
    pub assignee: Option<String>,
    /// Post time at or after this.
    pub since: Option<DateTime<Utc>>,
    /// Post time before this.
    pub until: Option<DateTime<Utc>>,
    /// At most this many hits (capped at [`MAX_HITS`]; 0 gives none).
    pub limit: usize,
    pub order: Order,
    /// Newest first only: continue after this mention.
    pub after: Option<After>,
}

impl SearchQuery {
    /// `text` with `f`'s filters, at most `f.limit` (else 50) hits, newest first.
    pub fn new(text: &str, f: &MentionFilter) -> SearchQuery {
        SearchQuery {
            text: text.to_string(),
            brand: f.brand.clone(),
            sentiment: f.sentiment.clone(),
            source: f.source.clone(),
            status: f.status,
            assignee: f.assignee.clone(),
            since: f.since,
            until: f.until,
            limit: f.limit.unwrap_or(50),
            order: Order::Newest,
            after: None,
        }
    }

    /// The filters, as a [`MentionFilter`] (for checking hits against the store).
    pub fn filter(&self) -> MentionFilter {
        let given = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        MentionFilter {
            brand: given(&self.brand),
            sentiment: given(&self.sentiment),
            source: given(&self.source),
            since: self.since,
            until: self.until,
            status: self.status,
            assignee: given(&self.assignee),
            limit: None,
        }
    }
}

/// One hit: a mention id, its post time, and its relevance (relevance order only).
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    pub created_ms: i64,
    pub score: Option<f32>,
}

/// The daemon's search: the index to query and its writer thread (cheap to clone).
#[derive(Clone)]
pub struct Search {
    inner: Arc<Inner>,
}

struct Inner {
    index: SearchIndex,
    worker: writer::Worker,
    stop: Arc<AtomicBool>,
}

impl Search {
    /// Opens the index in `data_dir/search` (rebuilding it when it is missing,
    /// unreadable or of another version), starts its writer thread and, in the
    /// background, the catch-up with `store`. `on_error` is called with the
    /// operation (`index`, `commit`, `catch-up`, `search`) whenever one fails.
    pub fn start(
        data_dir: &Path,
        store: &crate::store::Store,
        on_error: ErrorHook,
    ) -> Result<Search, SearchError> {
        let index = SearchIndex::open_or_rebuild(data_dir)?;
        let worker = writer::Worker::spawn(&index, store, on_error.clone())?;
        let stop = Arc::new(AtomicBool::new(false));
        let search = Search {
            inner: Arc::new(Inner {
                index,
                worker,
                stop: stop.clone(),
            }),
        };
        let (index, worker, store) = (
            search.inner.index.clone(),
            search.inner.worker.clone(),
            store.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name("search-catch-up".into())
            .spawn(move || writer::catch_up_logged(&index, &store, &worker, &stop, &on_error));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the search index's catch-up; it runs at the next start");
        }
        Ok(search)
    }

    /// Mention ids matching `q`, in `q.order`.
    pub fn query(&self, q: &SearchQuery) -> Result<Vec<String>, SearchError> {
        Ok(self.hits(q)?.into_iter().map(|h| h.id).collect())
    }

    /// [`Search::query`] with each hit's post time and score.
    pub fn hits(&self, q: &SearchQuery) -> Result<Vec<Hit>, SearchError> {
        let r = self.inner.index.hits(q);
        if let Err(e) = &r {
            if !matches!(e, SearchError::Syntax(_)) {
                self.inner.worker.failed("search");
            }
        }
        r
    }

    /// One page of `q`'s mentions as `store` has them now (see [`page`]).
    pub fn page(&self, store: &crate::store::Store, q: &SearchQuery) -> Result<Page, SearchError> {
        let r = page(store, &self.inner.index, q);
        if let Err(e) = &r {
            if !matches!(e, SearchError::Syntax(_)) {
                self.inner.worker.failed("search");
            }
        }
        r
    }

    /// The index this searches (for [`page`]).
    pub fn index(&self) -> &SearchIndex {
        &self.inner.index
    }

    /// These mentions changed in the store (stored, edited, classified, triaged or
    /// deleted): their documents are refreshed from the store within a second.
    /// Never blocks; a stopped writer is logged and counted.
    pub fn changed<S: Into<String>>(&self, ids: impl IntoIterator<Item = S>) {
        self.inner
            .worker
            .refresh(ids.into_iter().map(Into::into).collect());
    }

    /// Waits (at most `timeout`) until every change given so far is searchable.
    pub fn flush(&self, timeout: Duration) -> Result<(), SearchError> {
        self.inner.worker.flush(timeout)
    }

    /// Stops the catch-up, commits what is pending and stops the writer (blocking,
    /// at most `timeout`). Searches keep working; later changes are caught up at
    /// the next start.
    pub fn close(&self, timeout: Duration) {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.inner.worker.close(timeout);
    }

    /// [`Search::close`] from async code (on the blocking pool).
    pub async fn shutdown(&self, timeout: Duration) {
        let me = self.clone();
        let _ = tokio::task::spawn_blocking(move || me.close(timeout)).await;
    }
}

#[cfg(test)]
mod tests;
