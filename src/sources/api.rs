//! What the HTTP API sources share, so that each kind's file keeps only its own API:
//! where requests go ([`Api`], [`endpoint`]), a search source's queries and backfill
//! start ([`Queries`]), the per-query newest-timestamp cursor ([`NewestState`]), and the
//! end of every fetch ([`Gather`]: oldest first, nothing emitted twice).
//!
//! Helpers only: never polls on its own, never saves a cursor (that is `polled.rs`),
//! never parses a kind's response.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::fetch::Http;
use super::seen::keep_new;
use super::{Fetched, Seen, SourceContext, SourceError};
use crate::post::Post;

/// The shared client, an API's base URL and the `[[source]]` entry's name: what every
/// HTTP API source holds.
pub(crate) struct Api {
    pub http: Http,
    pub base: url::Url,
    /// Stamped on each post as `source_name`.
    pub name: String,
}

impl Api {
    /// `configured` (the entry's `base_url`), else `default`.
    pub fn new(
        ctx: &SourceContext,
        configured: Option<&str>,
        default: &str,
        name: &str,
    ) -> Result<Api, SourceError> {
        Ok(Api {
            http: ctx.http.clone(),
            base: base_url(configured, default)?,
            name: name.to_string(),
        })
    }

    /// The base URL + `/path` with query pairs.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> url::Url {
        endpoint(&self.base, path, query)
    }
}

/// A server-side search source's queries, and where a query without a cursor starts.
pub(crate) struct Queries {
    pub queries: Vec<String>,
    /// Start here (seconds) when a query has no cursor yet (`overhear backfill`).
    pub backfill_since: Option<i64>,
}

impl Queries {
    /// The source's own `queries`, else the brands' search terms; an error naming the
    /// source when there are neither.
    pub fn new(own: &[String], ctx: &SourceContext, name: &str) -> Result<Queries, SourceError> {
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
        Ok(Queries {
            queries,
            backfill_since: ctx.backfill_since.map(|t| t.timestamp()),
        })
    }

    /// Where `query` starts: its newest timestamp seen, else the backfill start.
    pub fn since(&self, state: &NewestState, query: &str) -> Option<i64> {
        state.newest.get(query).copied().or(self.backfill_since)
    }
}

/// The cursor of a source that asks for "newer than": the newest timestamp seen per
/// query (or endpoint), and the ids emitted last.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct NewestState {
    #[serde(default)]
    pub newest: BTreeMap<String, i64>,
    #[serde(default)]
    pub seen: Seen,
    /// Per query, the time ranges not fetched yet: more arrived since the last poll
    /// than one poll may page through, so the rest is paged back in the next polls.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub gaps: BTreeMap<String, Vec<Gap>>,
}

/// A time range of one query still to fetch (seconds, both ends included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Gap {
    pub from: i64,
    pub to: i64,
    /// Posts the server said were left in it, when it said (what is lost if the gap
    /// has to be given up).
    #[serde(default)]
    pub left: u64,
}

impl Gap {
    /// What is left of this gap after paging through it found `oldest` (newest
    /// first) and stopped before the end: `None` when `complete`. Always progresses,
    /// even past a page of posts from one second.
    pub fn rest(self, complete: bool, oldest: Option<i64>, left: u64) -> Option<Gap> {
        (!complete).then(|| Gap {
            from: self.from,
            to: oldest
                .filter(|o| *o < self.to)
                .unwrap_or(self.to.saturating_sub(1)),
            left,
        })
    }
}

/// Gaps kept per query at most; past that the oldest is given up (and counted).
pub(crate) const MAX_GAPS: usize = 8;

impl NewestState {
    /// Records that `key` has seen a post from `t` (seconds).
    pub fn saw(&mut self, key: &str, t: i64) {
        let e = self.newest.entry(key.to_string()).or_insert(t);
        *e = (*e).max(t);
    }

    /// `key`'s gaps, newest first.
    pub fn gaps_of(&self, key: &str) -> Vec<Gap> {
        let mut g = self.gaps.get(key).cloned().unwrap_or_default();
        g.sort_by_key(|g| std::cmp::Reverse(g.to));
        g
    }

    /// Records that `key`'s posts in `from..=to` were not all fetched. Returns how
    /// many posts were given up (an old gap dropped past [`MAX_GAPS`]).
    pub fn open_gap(&mut self, key: &str, gap: Gap) -> u64 {
        if gap.from > gap.to {
            return 0;
        }
        let gaps = self.gaps.entry(key.to_string()).or_default();
        gaps.push(gap);
        gaps.sort_by_key(|g| std::cmp::Reverse(g.to));
        let mut lost = 0u64;
        while gaps.len() > MAX_GAPS {
            if let Some(old) = gaps.pop() {
                lost = lost.saturating_add(old.left.max(1));
            }
        }
        lost
    }

    /// `gap` of `key` was paged through: done (`rest` `None`), or what is left of it.
    pub fn update_gap(&mut self, key: &str, gap: Gap, rest: Option<Gap>) {
        let Some(gaps) = self.gaps.get_mut(key) else {
            return;
        };
        gaps.retain(|g| *g != gap);
        if let Some(r) = rest.filter(|r| r.from <= r.to) {
            gaps.push(r);
        }
        if gaps.is_empty() {
            self.gaps.remove(key);
        }
    }
}

/// A kind's state that carries a [`Seen`] window.
pub(crate) trait HasSeen {
    fn seen(&mut self) -> &mut Seen;
}

/// `has_seen!(State)`: [`HasSeen`] for a state struct with a `seen: Seen` field.
macro_rules! has_seen {
    ($state:ty) => {
        impl $crate::sources::HasSeen for $state {
            fn seen(&mut self) -> &mut $crate::sources::Seen {
                &mut self.seen
            }
        }
    };
}
pub(crate) use has_seen;

has_seen!(NewestState);

/// What one fetch collects as it goes: the state to commit, the posts, and the
/// longest wait any response asked for.
pub(crate) struct Gather<S> {
    pub next: S,
    pub posts: Vec<Post>,
    pub wait: Option<Duration>,
    /// Posts known to be given up (a paging bound really hit).
    pub skipped: u64,
}

impl<S: Clone + HasSeen> Gather<S> {
    /// Starts from the committed state.
    pub fn new(state: &S) -> Gather<S> {
        Gather {
            next: state.clone(),
            posts: Vec::new(),
            wait: None,
            skipped: 0,
        }
    }

    /// Keeps the longest wait a server asked for.
    pub fn wait_at_least(&mut self, hint: Option<Duration>) {
        self.wait = self.wait.max(hint);
    }

    /// The posts oldest first, as they happened (stable: undated ones keep their
    /// order), less those emitted before, which the new state remembers.
    pub fn finish(mut self, note: Option<String>) -> Fetched<S> {
        self.posts.sort_by_key(|p| p.created_at);
        let posts = keep_new(self.next.seen(), self.posts);
        Fetched {
            posts,
            state: self.next,
            wait_at_least: self.wait,
            note,
            skipped: self.skipped,
        }
    }
}

/// Runs CPU-bound parsing (a body of up to the cap: JSON, a feed, the HTML in them) on
/// the blocking pool, off the runtime's worker threads, so that a big feed cannot
/// stall the API or the sender.
pub(crate) async fn off_runtime<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SourceError> + Send + 'static,
) -> Result<T, SourceError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SourceError::Malformed(format!("parsing failed: {e}")))?
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

/// A secret from `*_env` (an environment variable) or `*_file` (a file, as Docker
/// and Kubernetes mount secrets; surrounding whitespace is not part of it). Errors
/// name the variable or the file, never the secret.
pub(crate) fn secret(
    env: Option<&String>,
    file: Option<&std::path::PathBuf>,
) -> Result<Option<String>, SourceError> {
    if let Some(v) = env_secret(env)? {
        return Ok(Some(v));
    }
    let Some(path) = file else { return Ok(None) };
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Ok(_) => Err(SourceError::Config(format!(
            "the secret file {} is empty",
            path.display()
        ))),
        Err(e) => Err(SourceError::Config(format!(
            "cannot read the secret file {}: {e}",
            path.display()
        ))),
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
    fn gaps_are_bounded_and_what_is_given_up_is_counted() {
        let mut s = NewestState::default();
        for i in 0..MAX_GAPS as i64 {
            assert_eq!(
                s.open_gap(
                    "q",
                    Gap {
                        from: i * 10,
                        to: i * 10 + 5,
                        left: 7
                    }
                ),
                0
            );
        }
        assert_eq!(
            s.open_gap(
                "q",
                Gap {
                    from: 500,
                    to: 600,
                    left: 3
                }
            ),
            7
        );
        let g = s.gaps_of("q");
        assert_eq!(g.len(), MAX_GAPS);
        assert_eq!(g[0].to, 600, "newest first");
        assert!(g.iter().all(|g| g.from != 0), "the oldest went");
        let first = g[0];
        s.update_gap(
            "q",
            first,
            Some(Gap {
                from: 500,
                to: 550,
                left: 1,
            }),
        );
        assert_eq!(s.gaps_of("q")[0].to, 550);
        for g in s.gaps_of("q") {
            s.update_gap("q", g, None);
        }
        assert!(s.gaps.is_empty());
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
