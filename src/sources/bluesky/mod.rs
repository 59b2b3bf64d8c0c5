//! Bluesky: the Jetstream firehose (`wantedCollections=app.bsky.feed.post`), matched
//! locally against the brands' search terms, resumed by `cursor` (microseconds); and
//! `app.bsky.feed.searchPosts` when an app password is configured.
//!
//! The firehose is push-based: a background task (started by the first poll) reads the
//! websocket, keeps the posts that mention a search term in a bounded queue, and
//! reconnects with backoff from the last event it processed. A poll drains the queue;
//! its cursor is the `time_us` up to which every event was processed. When the queue is
//! full the task stops reading (the server may then drop us; we resume from the cursor),
//! so nothing is lost and memory stays bounded.
//!
//! `jetstream.rs` is the firehose reader, `search.rs` the searchPosts client; this file
//! holds the source itself and the record-to-post mapping both share. Like every
//! source, it never matches brands or stores posts: it only yields them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::{
    base_url, keep_new, secret, BlueskyConfig, Fetched, Kind, Seen, SourceContext, SourceError,
};
use crate::post::Post;

mod jetstream;
mod search;

use jetstream::Stream;
use search::Search;

pub(crate) const DEFAULT_JETSTREAM: &str = "wss://jetstream2.us-east.bsky.network/subscribe";
pub(crate) const DEFAULT_PDS: &str = "https://bsky.social";
const POST_COLLECTION: &str = "app.bsky.feed.post";

pub(crate) struct Bluesky {
    name: String,
    jetstream: Option<Url>,
    /// The brands' search terms, lowercase (firehose pre-filter, searchPosts queries).
    terms: Vec<String>,
    queue: usize,
    stream_settings: jetstream::Settings,
    stream: Option<Stream>,
    /// Firehose posts taken from the queue and not yet committed, with their
    /// `time_us`: every poll returns them until a commit covers them, so a poll that
    /// fails later (searchPosts) or a batch the daemon could not store loses none.
    /// At most `queue` (the firehose waits meanwhile).
    pending: Vec<(i64, Post)>,
    search: Option<Search>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct State {
    /// Jetstream `time_us` up to which every event was handled.
    #[serde(default)]
    cursor: Option<i64>,
    /// Newest `indexedAt` per search term.
    #[serde(default)]
    search_since: BTreeMap<String, String>,
    #[serde(default)]
    seen: Seen,
}

impl Bluesky {
    pub fn new(cfg: &BlueskyConfig, ctx: &SourceContext, name: &str) -> Result<Self, SourceError> {
        let jetstream = if cfg.jetstream {
            Some(base_url(cfg.jetstream_url.as_deref(), DEFAULT_JETSTREAM)?)
        } else {
            None
        };
        let search = match secret(
            cfg.app_password_env.as_ref(),
            cfg.app_password_file.as_ref(),
        )? {
            Some(password) => {
                let handle = cfg.handle.clone().ok_or_else(|| {
                    SourceError::Config(format!(
                        "source {name:?}: app_password_env or app_password_file needs handle"
                    ))
                })?;
                Some(Search {
                    http: ctx.http.clone(),
                    pds: base_url(cfg.pds_url.as_deref(), DEFAULT_PDS)?,
                    handle,
                    password,
                    token: None,
                })
            }
            None => None,
        };
        if jetstream.is_none() && search.is_none() {
            return Err(SourceError::Config(format!(
                "source {name:?}: jetstream = false needs app_password_env or app_password_file for searchPosts"
            )));
        }
        let terms: Vec<String> = ctx.search_terms.iter().map(|t| t.to_lowercase()).collect();
        Ok(Bluesky {
            name: name.to_string(),
            jetstream,
            terms: terms.clone(),
            queue: cfg.queue.max(1),
            stream_settings: jetstream::Settings {
                terms,
                name: name.to_string(),
                queue: cfg.queue.max(1),
                backoff: (ctx.backoff_base, ctx.backoff_max),
                connect_timeout: ctx.http_settings.connect_timeout,
                // no frame for a request timeout: ping; another: reconnect
                idle: ctx.http_settings.request_timeout,
            },
            stream: None,
            pending: Vec::new(),
            search,
        })
    }
}

#[derive(Debug, Deserialize)]
struct Record {
    #[serde(default)]
    text: String,
    #[serde(default, rename = "createdAt")]
    created_at: Option<String>,
    #[serde(default)]
    langs: Vec<String>,
    #[serde(default)]
    reply: Option<Reply>,
    #[serde(default)]
    facets: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Reply {
    #[serde(default)]
    parent: Option<StrongRef>,
    #[serde(default)]
    root: Option<StrongRef>,
}

#[derive(Debug, Deserialize)]
struct StrongRef {
    uri: String,
}

fn post_url(did_or_handle: &str, rkey: &str) -> String {
    format!("https://bsky.app/profile/{did_or_handle}/post/{rkey}")
}

fn record_post(
    name: &str,
    did: &str,
    rkey: &str,
    author: Option<String>,
    rec: Record,
    fallback_time: DateTime<Utc>,
    engagement: Option<i64>,
) -> Post {
    let created = rec
        .created_at
        .as_deref()
        .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
        .map(|d| d.with_timezone(&Utc));
    let links = rec
        .facets
        .iter()
        .filter_map(|f| f.get("features")?.as_array().cloned())
        .flatten()
        .filter_map(|f| f.get("uri")?.as_str().map(str::to_string))
        .filter(|u| Url::parse(u).is_ok())
        .collect();
    Post {
        rating: None,
        owned_by: None,
        id: format!("bluesky:at://{did}/{POST_COLLECTION}/{rkey}"),
        url: post_url(did, rkey),
        author: author.or_else(|| Some(did.to_string())),
        title: None,
        text: rec.text,
        created_at: created.unwrap_or(fallback_time),
        created_at_is_first_seen: created.is_none(),
        source: "bluesky".into(),
        source_name: name.to_string(),
        site: "bsky.app".into(),
        parent_id: rec
            .reply
            .as_ref()
            .and_then(|r| r.parent.as_ref())
            .map(|p| format!("bluesky:{}", p.uri)),
        thread_id: rec
            .reply
            .as_ref()
            .and_then(|r| r.root.as_ref())
            .map(|p| format!("bluesky:{}", p.uri)),
        engagement,
        lang: rec.langs.into_iter().next(),
        links,
    }
}

impl Kind for Bluesky {
    type State = State;
    const KIND: &'static str = "bluesky";

    async fn fetch(&mut self, state: &State) -> Result<Fetched<State>, SourceError> {
        let mut next = state.clone();
        let mut posts = Vec::new();
        let mut note = None;
        if let Some(url) = self.jetstream.clone() {
            if self.stream.is_none() {
                self.stream = Some(Stream::start(
                    &url,
                    state.cursor,
                    self.stream_settings.clone(),
                ));
            }
            if let Some(stream) = self.stream.as_mut() {
                note = stream.drain(&mut self.pending, self.queue, &mut next)?;
            }
            posts.extend(self.pending.iter().map(|(_, p)| p.clone()));
        }
        if let Some(search) = self.search.as_mut() {
            posts.extend(
                search
                    .fetch(&self.name, &self.terms, state, &mut next)
                    .await?,
            );
        }
        let posts = keep_new(&mut next.seen, posts);
        Ok(Fetched {
            posts,
            state: next,
            wait_at_least: None,
            note,
            skipped: 0,
        })
    }

    fn committed(&mut self, state: &State) {
        if let Some(c) = state.cursor {
            self.pending.retain(|(t, _)| *t > c);
        }
    }
}
