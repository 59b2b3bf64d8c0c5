//! Sources: one file per kind of feed, behind one small trait. A source turns
//! HTTP responses into [`Post`]s and keeps its cursor in the store.
//!
//! # The poll / commit contract
//!
//! Fetching is split from committing, so that nothing accepted is ever lost:
//!
//! 1. [`Source::poll`] fetches what is new since the last *committed* cursor and
//!    returns a [`Batch`]: the posts, and the cursor that would follow them. It does
//!    not save anything. A failed poll returns a [`SourceError`] and leaves the cursor
//!    exactly as it was (a partial fetch is a failed poll).
//! 2. The daemon stores the posts, then calls [`Source::commit`] with the batch's
//!    cursor. Only then is the cursor saved (through the [`StateStore`]) and used by the
//!    next poll. If the daemon stops between the two, the next run polls the same posts
//!    again; the store's dedup makes that harmless. `overhear poll --once` never commits.
//! 3. Polling again without committing fetches from the old cursor again (the same
//!    posts come back); committing an older cursor after a newer one is the caller's bug.
//!
//! The cursor is opaque bytes (JSON inside): each kind's since-id/timestamp, the
//! ETag/Last-Modified of each URL it polls, and a bounded window of the ids it emitted
//! last (so a restart never re-emits, and items a server repeats are dropped).
//!
//! [`Source::health`] says how the source is doing; [`Source::next_delay`] says how long
//! the daemon should wait before the next poll: the interval after a success (longer if a
//! rate-limit header asked for it), exponential backoff with jitter after failures,
//! never less than a `Retry-After` / Stack Exchange `backoff` the server sent.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::matcher::BrandConfig;
use crate::post::Post;

mod bluesky;
mod config;
pub mod fetch;
mod hackernews;
mod lobsters;
mod mastodon;
mod reddit;
mod rss;
mod stackexchange;
mod state;
pub mod text;

pub use config::*;
pub use fetch::{Http, HttpSettings, Validators};
pub use rss::parse_feed_bytes;
pub use state::{MemoryState, StateError, StateStore};

/// Why a poll failed. 304 Not Modified is not an error: it is an empty batch.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("rate limited (429){}", wait_text(.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    #[error("unauthorized (401) at {0}: the server wants credentials")]
    Unauthorized(String),
    #[error("forbidden (403) at {0}")]
    Forbidden(String),
    #[error("not found at {0}")]
    NotFound(String),
    #[error("server error {status}{}", wait_text(.retry_after))]
    Server {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("unexpected HTTP status {status} at {url}: {detail}")]
    Status {
        status: u16,
        url: String,
        /// The start of the body (APIs explain their 400s there).
        detail: String,
    },
    #[error("timed out")]
    Timeout,
    #[error("response larger than the {cap}-byte cap")]
    TooLarge { cap: u64 },
    #[error("response cut off: {0}")]
    Truncated(String),
    #[error("malformed response: {0}")]
    Malformed(String),
    #[error("network error: {0}")]
    Network(String),
    #[error("the API said: {0}")]
    Api(String),
    #[error("source configuration: {0}")]
    Config(String),
    #[error(transparent)]
    State(#[from] StateError),
}

fn wait_text(d: &Option<Duration>) -> String {
    match d {
        Some(d) => format!(", retry after {}s", d.as_secs()),
        None => String::new(),
    }
}

impl SourceError {
    /// A short name for the kind of failure (a metrics label).
    pub fn kind(&self) -> &'static str {
        match self {
            SourceError::RateLimited { .. } => "rate_limited",
            SourceError::Unauthorized(_) => "unauthorized",
            SourceError::Forbidden(_) => "forbidden",
            SourceError::NotFound(_) => "not_found",
            SourceError::Server { .. } => "server",
            SourceError::Status { .. } => "status",
            SourceError::Timeout => "timeout",
            SourceError::TooLarge { .. } => "too_large",
            SourceError::Truncated(_) => "truncated",
            SourceError::Malformed(_) => "malformed",
            SourceError::Network(_) => "network",
            SourceError::Api(_) => "api",
            SourceError::Config(_) => "config",
            SourceError::State(_) => "state",
        }
    }

    /// The least time the server asked us to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SourceError::RateLimited { retry_after } | SourceError::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }
}

/// An opaque cursor: what [`Source::commit`] saves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub Vec<u8>);

/// What one poll found.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub posts: Vec<Post>,
    /// The cursor to commit once the posts are stored. Every successful poll returns
    /// one (unchanged after a 304); `None` only in batches built by hand.
    pub cursor: Option<Cursor>,
}

/// How a source is doing (for `/healthz`, metrics and the failing-source alert).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SourceHealth {
    pub name: String,
    pub kind: String,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    pub next_poll: Option<DateTime<Utc>>,
    /// Posts returned by the last successful poll.
    pub last_posts: usize,
    /// Something worth knowing that is not an error (an empty timeline, a disconnect).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

type PollFuture<'a> = Pin<Box<dyn Future<Output = Result<Batch, SourceError>> + Send + 'a>>;

/// One configured feed. Object-safe; the daemon holds `Box<dyn Source>`.
pub trait Source: Send {
    /// The `[[source]]` entry's name.
    fn name(&self) -> &str;
    /// `hackernews`, `reddit`, ...
    fn kind(&self) -> &'static str;
    /// Fetches what is new since the committed cursor. Saves nothing.
    fn poll(&mut self) -> PollFuture<'_>;
    /// Saves `cursor` (from a batch this source returned) as the committed one.
    fn commit(&mut self, cursor: Cursor) -> Result<(), StateError>;
    fn health(&self) -> SourceHealth;
    /// How long to wait before the next poll, given how the last one went (zero before
    /// the first poll). Matches `health().next_poll`.
    fn next_delay(&self) -> Duration;
}

/// What every source is built with.
#[derive(Clone)]
pub struct SourceContext {
    pub user_agent: String,
    /// `[daemon] poll_interval`, for sources without `every`.
    pub default_every: Duration,
    /// The brands' search terms, for sources that search server-side, and the local
    /// pre-filter of the Bluesky firehose.
    pub search_terms: Vec<String>,
    pub state: Arc<dyn StateStore>,
    pub http_settings: HttpSettings,
    /// First delay after a failure; doubles per consecutive failure, with jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Shared client and per-host limiter; built from the settings by [`SourceContext::new`].
    pub http: Http,
    /// For `overhear backfill`: where time-cursor sources (Hacker News, Stack Exchange)
    /// start when they have no saved cursor, instead of taking only the newest page.
    pub backfill_since: Option<chrono::DateTime<chrono::Utc>>,
}

impl SourceContext {
    pub fn new(
        user_agent: impl Into<String>,
        default_every: Duration,
        search_terms: Vec<String>,
        state: Arc<dyn StateStore>,
        http_settings: HttpSettings,
    ) -> Result<SourceContext, SourceError> {
        let user_agent = user_agent.into();
        let http = Http::new(&user_agent, http_settings.clone())?;
        Ok(SourceContext {
            user_agent,
            default_every,
            search_terms,
            state,
            http_settings,
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
            http,
            backfill_since: None,
        })
    }
}

impl SourceContext {
    /// The context the daemon (and `overhear poll`) builds from a whole config.
    pub fn for_config(
        config: &crate::config::Config,
        state: Arc<dyn StateStore>,
    ) -> Result<SourceContext, SourceError> {
        SourceContext::new(
            config.daemon.user_agent.clone(),
            config.daemon.poll_interval,
            search_terms_of(&config.brands),
            state,
            HttpSettings::default(),
        )
    }
}

/// A search source's queries: its own `queries`, else the brands' search terms; an
/// error naming the source when there are neither.
pub(crate) fn queries_or_search_terms(
    own: &[String],
    ctx: &SourceContext,
    name: &str,
) -> Result<Vec<String>, SourceError> {
    let queries = if own.is_empty() {
        ctx.search_terms.clone()
    } else {
        own.to_vec()
    };
    if queries.is_empty() {
        return Err(SourceError::Config(format!(
            "source {name:?}: no queries and no brand search terms"
        )));
    }
    Ok(queries)
}

/// The terms sent to server-side search: each brand's `search_terms`, else its name.
pub fn search_terms_of(brands: &[BrandConfig]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for b in brands {
        let terms = if b.search_terms.is_empty() {
            vec![b.name.clone()]
        } else {
            b.search_terms.clone()
        };
        for t in terms {
            if !t.trim().is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(&t)) {
                out.push(t);
            }
        }
    }
    out
}

/// Builds the source of one `[[source]]` entry.
pub fn build(cfg: &SourceConfig, ctx: &SourceContext) -> Result<Box<dyn Source>, SourceError> {
    let name = cfg.name();
    let every = cfg.every().unwrap_or(ctx.default_every);
    Ok(match cfg {
        SourceConfig::Hackernews(c) => Polled::boxed(
            name.clone(),
            every,
            ctx,
            hackernews::HackerNews::new(c, ctx, &name)?,
        ),
        SourceConfig::Reddit(c) => Polled::boxed(
            name.clone(),
            every,
            ctx,
            reddit::Reddit::new(c, ctx, &name)?,
        ),
        SourceConfig::Mastodon(c) => Polled::boxed(
            name.clone(),
            every,
            ctx,
            mastodon::Mastodon::new(c, ctx, &name)?,
        ),
        SourceConfig::Bluesky(c) => Polled::boxed(
            name.clone(),
            every,
            ctx,
            bluesky::Bluesky::new(c, ctx, &name)?,
        ),
        SourceConfig::Lobsters(c) => Polled::boxed(
            name.clone(),
            every,
            ctx,
            lobsters::Lobsters::new(c, ctx, &name)?,
        ),
        SourceConfig::Stackexchange(c) => Polled::boxed(
            name.clone(),
            every,
            ctx,
            stackexchange::StackExchange::new(c, ctx, &name)?,
        ),
        SourceConfig::Rss(c) => {
            Polled::boxed(name.clone(), every, ctx, rss::Rss::new(c, ctx, &name)?)
        }
    })
}

/// What one kind's fetch produced.
pub(crate) struct Fetched<S> {
    pub posts: Vec<Post>,
    pub state: S,
    /// The server asked for at least this much time before the next request.
    pub wait_at_least: Option<Duration>,
    pub note: Option<String>,
}

/// One kind of source: fetch from a state, return posts and the next state.
pub(crate) trait Kind: Send + 'static {
    type State: Serialize + DeserializeOwned + Default + Clone + Send + Sync + 'static;
    const KIND: &'static str;
    fn fetch<'a>(
        &'a mut self,
        state: &'a Self::State,
    ) -> impl Future<Output = Result<Fetched<Self::State>, SourceError>> + Send + 'a;
}

/// The [`Source`] around a [`Kind`]: state loading, committing, health, backoff.
pub(crate) struct Polled<K: Kind> {
    name: String,
    every: Duration,
    store: Arc<dyn StateStore>,
    backoff_base: Duration,
    backoff_max: Duration,
    committed: Option<K::State>,
    health: SourceHealth,
    wait_at_least: Option<Duration>,
    /// Decided (jitter included) when the last poll ended; zero before the first.
    delay: Duration,
    inner: K,
}

impl<K: Kind> Polled<K> {
    fn boxed(name: String, every: Duration, ctx: &SourceContext, inner: K) -> Box<dyn Source> {
        Box::new(Polled {
            health: SourceHealth {
                name: name.clone(),
                kind: K::KIND.to_string(),
                ..SourceHealth::default()
            },
            name,
            every,
            store: ctx.state.clone(),
            backoff_base: ctx.backoff_base,
            backoff_max: ctx.backoff_max,
            committed: None,
            wait_at_least: None,
            delay: Duration::ZERO,
            inner,
        })
    }

    fn load(&mut self) -> Result<K::State, SourceError> {
        if let Some(s) = &self.committed {
            return Ok(s.clone());
        }
        let state = match self.store.load(&self.name)? {
            Some(bytes) => match serde_json::from_slice::<K::State>(&bytes) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(source = %self.name, error = %e, "saved cursor unreadable; starting afresh");
                    K::State::default()
                }
            },
            None => K::State::default(),
        };
        self.committed = Some(state.clone());
        Ok(state)
    }

    /// The interval after a success, backoff with jitter after failures; never less
    /// than what the server asked for.
    fn compute_delay(&self) -> Duration {
        let floor = self.wait_at_least.unwrap_or(Duration::ZERO);
        let n = self.health.consecutive_failures;
        if n == 0 {
            return self.every.max(floor);
        }
        backoff(self.backoff_base, self.backoff_max, n).max(floor)
    }

    async fn poll_inner(&mut self) -> Result<Batch, SourceError> {
        let result = async {
            let state = self.load()?;
            let fetched = self.inner.fetch(&state).await?;
            let cursor = serde_json::to_vec(&fetched.state)
                .map_err(|e| SourceError::Malformed(format!("encoding the cursor: {e}")))?;
            Ok::<_, SourceError>((fetched, cursor))
        }
        .await;
        let now = Utc::now();
        match result {
            Ok((fetched, cursor)) => {
                self.health.last_success = Some(now);
                self.health.consecutive_failures = 0;
                self.health.last_posts = fetched.posts.len();
                self.health.note = fetched.note;
                self.wait_at_least = fetched.wait_at_least;
                self.delay = self.compute_delay();
                self.health.next_poll =
                    chrono::Duration::from_std(self.delay).ok().map(|d| now + d);
                tracing::debug!(source = %self.name, posts = fetched.posts.len(), "polled");
                Ok(Batch {
                    posts: fetched.posts,
                    cursor: Some(Cursor(cursor)),
                })
            }
            Err(e) => {
                self.health.last_error = Some(e.to_string());
                self.health.last_error_at = Some(now);
                self.health.consecutive_failures += 1;
                self.wait_at_least = e.retry_after();
                self.delay = self.compute_delay();
                self.health.next_poll =
                    chrono::Duration::from_std(self.delay).ok().map(|d| now + d);
                // a 403 or a 429 is a warning: the source retries later
                tracing::warn!(
                    source = %self.name,
                    kind = K::KIND,
                    failures = self.health.consecutive_failures,
                    error = %e,
                    "poll failed"
                );
                Err(e)
            }
        }
    }
}

impl<K: Kind> Source for Polled<K> {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        K::KIND
    }

    fn poll(&mut self) -> PollFuture<'_> {
        Box::pin(self.poll_inner())
    }

    fn commit(&mut self, cursor: Cursor) -> Result<(), StateError> {
        let state: K::State = serde_json::from_slice(&cursor.0)
            .map_err(|e| StateError(format!("not a cursor of this source: {e}")))?;
        self.store.save(&self.name, &cursor.0)?;
        self.committed = Some(state);
        Ok(())
    }

    fn health(&self) -> SourceHealth {
        self.health.clone()
    }

    fn next_delay(&self) -> Duration {
        self.delay
    }
}

/// Exponential backoff with jitter: `base * 2^(n-1)`, capped, times 0.5..1.5.
pub fn backoff(base: Duration, max: Duration, failures: u32) -> Duration {
    use rand::Rng;
    let exp = base.saturating_mul(1u32 << failures.saturating_sub(1).min(20));
    let capped = exp.min(max);
    let factor: f64 = rand::thread_rng().gen_range(0.5..1.5);
    capped.mul_f64(factor).min(max)
}

/// A bounded window of the ids a source emitted last, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    ids: VecDeque<String>,
    #[serde(skip)]
    index: Option<HashSet<String>>,
}

/// How many ids each source remembers.
pub const SEEN_WINDOW: usize = 2000;

impl Seen {
    pub fn contains(&mut self, id: &str) -> bool {
        if self.index.is_none() {
            self.index = Some(self.ids.iter().cloned().collect());
        }
        self.index.as_ref().is_some_and(|i| i.contains(id))
    }

    /// Remembers `id`; false if it was already there.
    pub fn insert(&mut self, id: &str) -> bool {
        if self.contains(id) {
            return false;
        }
        self.ids.push_back(id.to_string());
        if let Some(i) = self.index.as_mut() {
            i.insert(id.to_string());
        }
        while self.ids.len() > SEEN_WINDOW {
            if let Some(old) = self.ids.pop_front() {
                if let Some(i) = self.index.as_mut() {
                    i.remove(&old);
                }
            }
        }
        true
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Keeps the posts not seen before (nor twice in this batch), remembering them.
pub(crate) fn keep_new(seen: &mut Seen, posts: Vec<Post>) -> Vec<Post> {
    posts.into_iter().filter(|p| seen.insert(&p.id)).collect()
}

/// Parses a base URL from config, or the default.
pub(crate) fn base_url(configured: Option<&str>, default: &str) -> Result<url::Url, SourceError> {
    let raw = configured.unwrap_or(default).trim_end_matches('/');
    url::Url::parse(raw).map_err(|e| SourceError::Config(format!("{raw:?} is not a URL: {e}")))
}

/// `base` + `/path` with query pairs.
pub(crate) fn endpoint(base: &url::Url, path: &str, query: &[(&str, &str)]) -> url::Url {
    let mut u = base.clone();
    let joined = format!(
        "{}/{}",
        u.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    u.set_path(&joined);
    if !query.is_empty() {
        u.query_pairs_mut().extend_pairs(query.iter().copied());
    }
    u
}

/// Reads a secret from the environment variable named in config, if one is named.
pub(crate) fn env_secret(var: Option<&String>) -> Result<Option<String>, SourceError> {
    match var {
        None => Ok(None),
        Some(v) => match std::env::var(v) {
            Ok(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            _ => Err(SourceError::Config(format!(
                "environment variable {v} is not set"
            ))),
        },
    }
}

/// Seconds since the epoch to a time; out of range becomes now.
pub(crate) fn from_unix(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_else(Utc::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_window_is_bounded_and_survives_serde() {
        let mut s = Seen::default();
        for i in 0..SEEN_WINDOW + 10 {
            assert!(s.insert(&i.to_string()));
        }
        assert_eq!(s.len(), SEEN_WINDOW);
        assert!(!s.contains("0"));
        let bytes = serde_json::to_vec(&s).unwrap();
        let mut back: Seen = serde_json::from_slice(&bytes).unwrap();
        assert!(back.contains(&(SEEN_WINDOW + 9).to_string()));
        assert!(!back.insert("20"));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let b = Duration::from_secs(10);
        let m = Duration::from_secs(100);
        assert!(backoff(b, m, 1) <= Duration::from_secs(15));
        assert!(backoff(b, m, 1) >= Duration::from_secs(5));
        assert!(backoff(b, m, 30) <= m);
    }

    #[test]
    fn endpoints_keep_the_base_path() {
        let b = base_url(Some("http://127.0.0.1:9/api/v1/"), "x").unwrap();
        assert_eq!(
            endpoint(&b, "search_by_date", &[("query", "a b")]).as_str(),
            "http://127.0.0.1:9/api/v1/search_by_date?query=a+b"
        );
    }
}
