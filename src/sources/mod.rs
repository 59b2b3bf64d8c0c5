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
//!
//! # Files
//!
//! One file per kind (`hackernews.rs`, `reddit.rs`, `mastodon.rs`, `bluesky/`,
//! `lobsters.rs`, `stackexchange.rs`, `rss.rs`, `discourse.rs`, `appstore.rs`,
//! `github.rs`, `devto.rs`, `lemmy.rs`; Reddit's OAuth client, which the thread
//! watch shares, is `reddit_oauth.rs`); `owned.rs` stamps an owned channel's brand
//! (`brand = NAME`) on each post; what they share is in `api.rs` (URLs,
//! queries, the newest-timestamp cursor, the end of a fetch), `polled.rs` (state,
//! commit, health, backoff), `fetch.rs` (the polite HTTP client; `redact.rs` keeps
//! secrets out of the URLs it logs), `text.rs` and
//! `seen.rs`. `config.rs` holds the `[[source]]` settings.
//!
//! Sources produce posts and nothing else: they never match brands, never touch the
//! store except through [`StateStore`], and never read the configuration file (the
//! brands' search terms and the daemon's settings arrive in [`SourceContext`]).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::post::Post;

mod api;
mod appstore;
mod bluesky;
mod config;
mod context;
mod devto;
mod discourse;
mod error;
pub mod fetch;
mod github;
mod hackernews;
mod lemmy;
mod lobsters;
mod mastodon;
mod owned;
mod polled;
mod redact;
mod reddit;
mod reddit_oauth;
pub mod redirect;
mod rss;
mod seen;
mod stackexchange;
mod state;
pub mod text;
mod wait;

pub(crate) use api::{
    base_url, endpoint, from_unix, has_seen, off_runtime, secret, Api, Gap, Gather, HasSeen,
    NewestState, Queries,
};
pub use config::*;
pub use context::SourceContext;
pub use error::SourceError;
pub use fetch::{Http, HttpSettings, Validators};
pub use polled::backoff;
use polled::Polled;
pub(crate) use polled::{Fetched, Kind};
pub use reddit_oauth::RedditOAuth;
pub use rss::parse_feed_bytes;
pub(crate) use seen::keep_new;
pub use seen::{Seen, SEEN_WINDOW};
pub use state::{MemoryState, StateError, StateStore};

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
    /// Posts given up since the source started: more arrived between two polls than
    /// its paging bounds allow (Hacker News, Stack Exchange). Also in the log.
    #[serde(skip_serializing_if = "is_zero")]
    pub skipped: u64,
    /// Something worth knowing that is not an error (an empty timeline, a disconnect).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

pub type PollFuture<'a> = Pin<Box<dyn Future<Output = Result<Batch, SourceError>> + Send + 'a>>;

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

/// Builds the source of one `[[source]]` entry.
pub fn build(cfg: &SourceConfig, ctx: &SourceContext) -> Result<Box<dyn Source>, SourceError> {
    let private;
    let ctx = if cfg.allow_private() {
        private = SourceContext {
            http: ctx.http.allowing_private(),
            ..ctx.clone()
        };
        &private
    } else {
        ctx
    };
    let name = cfg.name();
    let every = cfg.every().unwrap_or(ctx.default_every);
    let n = name.as_str();
    let source = match cfg {
        SourceConfig::Hackernews(c) => {
            Polled::boxed(n, every, ctx, hackernews::HackerNews::new(c, ctx, n)?)
        }
        SourceConfig::Reddit(c) => Polled::boxed(n, every, ctx, reddit::Reddit::new(c, ctx, n)?),
        SourceConfig::Mastodon(c) => {
            Polled::boxed(n, every, ctx, mastodon::Mastodon::new(c, ctx, n)?)
        }
        SourceConfig::Bluesky(c) => Polled::boxed(n, every, ctx, bluesky::Bluesky::new(c, ctx, n)?),
        SourceConfig::Lobsters(c) => {
            Polled::boxed(n, every, ctx, lobsters::Lobsters::new(c, ctx, n)?)
        }
        SourceConfig::Stackexchange(c) => {
            Polled::boxed(n, every, ctx, stackexchange::StackExchange::new(c, ctx, n)?)
        }
        SourceConfig::Rss(c) => Polled::boxed(n, every, ctx, rss::Rss::new(c, ctx, n)?),
        SourceConfig::Discourse(c) => {
            Polled::boxed(n, every, ctx, discourse::Discourse::new(c, ctx, n)?)
        }
        SourceConfig::Appstore(c) => {
            Polled::boxed(n, every, ctx, appstore::AppStore::new(c, ctx, n)?)
        }
        SourceConfig::Github(c) => Polled::boxed(n, every, ctx, github::GitHub::new(c, ctx, n)?),
        SourceConfig::Devto(c) => Polled::boxed(n, every, ctx, devto::DevTo::new(c, ctx, n)?),
        SourceConfig::Lemmy(c) => Polled::boxed(n, every, ctx, lemmy::Lemmy::new(c, ctx, n)?),
    };
    Ok(match cfg.brand() {
        Some(brand) => owned::Owned::boxed(source, brand),
        None => source,
    })
}

/// The host a `[[source]]` entry polls (`host:port` when its URL names a port): the
/// unit of a cluster's leases, so that one worker at a time polls each host and its
/// rate budget holds cluster-wide. A URL that does not parse is its own "host".
pub fn host_of(cfg: &SourceConfig) -> String {
    let url: String = match cfg {
        SourceConfig::Hackernews(c) => c
            .base_url
            .clone()
            .unwrap_or(hackernews::DEFAULT_BASE.into()),
        SourceConfig::Reddit(c) => c.base_url.clone().unwrap_or(reddit::DEFAULT_BASE.into()),
        SourceConfig::Mastodon(c) => {
            if c.instance.contains("://") {
                c.instance.clone()
            } else {
                format!("https://{}", c.instance)
            }
        }
        SourceConfig::Bluesky(c) if c.jetstream => c
            .jetstream_url
            .clone()
            .unwrap_or(bluesky::DEFAULT_JETSTREAM.into()),
        SourceConfig::Bluesky(c) => c.pds_url.clone().unwrap_or(bluesky::DEFAULT_PDS.into()),
        SourceConfig::Lobsters(c) => c.base_url.clone().unwrap_or(lobsters::DEFAULT_BASE.into()),
        SourceConfig::Stackexchange(c) => c
            .base_url
            .clone()
            .unwrap_or(stackexchange::DEFAULT_BASE.into()),
        SourceConfig::Rss(c) => c.url.clone(),
        SourceConfig::Discourse(c) => c.base_url.clone(),
        SourceConfig::Appstore(c) => c.base_url.clone().unwrap_or(appstore::DEFAULT_BASE.into()),
        SourceConfig::Github(c) => c.base_url.clone().unwrap_or(github::DEFAULT_BASE.into()),
        SourceConfig::Devto(c) => c.base_url.clone().unwrap_or(devto::DEFAULT_BASE.into()),
        SourceConfig::Lemmy(c) => c.instance.clone(),
    };
    match url::Url::parse(&url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => url,
        },
        Err(_) => url,
    }
}

#[cfg(test)]
mod host_tests {
    use super::*;

    #[test]
    fn sources_name_the_host_they_poll() {
        let parse = |t: &str| -> SourceConfig {
            #[derive(serde::Deserialize)]
            struct W {
                source: Vec<SourceConfig>,
            }
            toml::from_str::<W>(t).unwrap().source.remove(0)
        };
        assert_eq!(
            host_of(&parse("[[source]]\nkind = \"hackernews\"\n")),
            "hn.algolia.com"
        );
        assert_eq!(
            host_of(&parse(
                "[[source]]\nkind = \"rss\"\nurl = \"http://127.0.0.1:8080/a.xml\"\n"
            )),
            "127.0.0.1:8080"
        );
        assert_eq!(
            host_of(&parse(
                "[[source]]\nkind = \"mastodon\"\ninstance = \"mastodon.social\"\n"
            )),
            "mastodon.social"
        );
        assert_eq!(
            host_of(&parse("[[source]]\nkind = \"bluesky\"\n")),
            "jetstream2.us-east.bsky.network"
        );
    }
}
