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

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use url::Url;

use super::fetch::{Expect, GetOpts, Http};
use super::{
    backoff, base_url, endpoint, env_secret, keep_new, BlueskyConfig, Fetched, Kind, Seen,
    SourceContext, SourceError,
};
use crate::post::Post;

const DEFAULT_JETSTREAM: &str = "wss://jetstream2.us-east.bsky.network/subscribe";
const DEFAULT_PDS: &str = "https://bsky.social";
const POST_COLLECTION: &str = "app.bsky.feed.post";
/// Largest websocket message accepted.
const MAX_MESSAGE: usize = 1 << 20;
/// On a restart, replay this much before the saved cursor (dropped again by the seen window).
const REWIND_US: i64 = 2_000_000;

pub(crate) struct Bluesky {
    name: String,
    jetstream: Option<Url>,
    terms: Vec<String>,
    queue: usize,
    backoff_base: Duration,
    backoff_max: Duration,
    stream: Option<Stream>,
    search: Option<Search>,
}

struct Stream {
    rx: mpsc::Receiver<(i64, Post)>,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Default)]
struct Shared {
    /// `time_us` of the last event fully processed (queued if it matched).
    processed: AtomicI64,
    connected: AtomicBool,
    connect_failures: AtomicU64,
    malformed: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Shared {
    fn error(&self, e: String) {
        tracing::warn!(error = %e, "bluesky jetstream");
        if let Ok(mut g) = self.last_error.lock() {
            *g = Some(e);
        }
    }
}

struct Search {
    http: Http,
    pds: Url,
    handle: String,
    password: String,
    token: Option<String>,
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
        let search = match env_secret(cfg.app_password_env.as_ref())? {
            Some(password) => {
                let handle = cfg.handle.clone().ok_or_else(|| {
                    SourceError::Config(format!("source {name:?}: app_password_env needs handle"))
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
                "source {name:?}: jetstream = false needs app_password_env for searchPosts"
            )));
        }
        Ok(Bluesky {
            name: name.to_string(),
            jetstream,
            terms: ctx.search_terms.iter().map(|t| t.to_lowercase()).collect(),
            queue: cfg.queue.max(1),
            backoff_base: ctx.backoff_base,
            backoff_max: ctx.backoff_max,
            stream: None,
            search,
        })
    }

    fn start(&mut self, url: &Url, cursor: Option<i64>) {
        let (tx, rx) = mpsc::channel(self.queue);
        let shared = Arc::new(Shared::default());
        if let Some(c) = cursor {
            shared.processed.store(c, Ordering::SeqCst);
        }
        let task = tokio::spawn(run_stream(
            url.clone(),
            cursor.map(|c| c - REWIND_US),
            tx,
            shared.clone(),
            self.terms.clone(),
            self.name.clone(),
            (self.backoff_base, self.backoff_max),
        ));
        self.stream = Some(Stream { rx, shared, task });
    }
}

/// The case-insensitive local pre-filter: does the text contain a search term? With no
/// terms every post passes (the queue bound still holds).
fn mentions_a_term(terms: &[String], text: &str) -> bool {
    if terms.is_empty() {
        return true;
    }
    let lower = text.to_lowercase();
    terms.iter().any(|t| lower.contains(t.as_str()))
}

#[derive(Debug, Deserialize)]
struct Event {
    did: String,
    time_us: i64,
    kind: String,
    #[serde(default)]
    commit: Option<Commit>,
}

#[derive(Debug, Deserialize)]
struct Commit {
    #[serde(default)]
    operation: String,
    #[serde(default)]
    collection: String,
    #[serde(default)]
    rkey: String,
    #[serde(default)]
    record: Option<Record>,
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

/// The firehose reader: runs until the source is dropped.
async fn run_stream(
    url: Url,
    start: Option<i64>,
    tx: mpsc::Sender<(i64, Post)>,
    shared: Arc<Shared>,
    terms: Vec<String>,
    name: String,
    (base, max): (Duration, Duration),
) {
    let mut cursor = start;
    let mut failures = 0u32;
    let config = WebSocketConfig {
        max_message_size: Some(MAX_MESSAGE),
        max_frame_size: Some(MAX_MESSAGE),
        ..WebSocketConfig::default()
    };
    loop {
        let mut u = url.clone();
        u.query_pairs_mut()
            .append_pair("wantedCollections", POST_COLLECTION);
        if let Some(c) = cursor {
            u.query_pairs_mut().append_pair("cursor", &c.to_string());
        }
        tracing::debug!(source = %name, url = %u, "connecting to jetstream");
        match tokio_tungstenite::connect_async_with_config(u.as_str(), Some(config), false).await {
            Ok((mut ws, _)) => {
                shared.connected.store(true, Ordering::SeqCst);
                while let Some(msg) = ws.next().await {
                    let text = match msg {
                        Ok(Message::Text(t)) => t,
                        Ok(Message::Binary(b)) => String::from_utf8_lossy(&b).into_owned(),
                        Ok(Message::Close(_)) => break,
                        Ok(_) => continue,
                        Err(e) => {
                            shared.error(format!("jetstream connection: {e}"));
                            break;
                        }
                    };
                    let ev: Event = match serde_json::from_str(&text) {
                        Ok(ev) => ev,
                        Err(e) => {
                            shared.malformed.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!(source = %name, error = %e, "malformed jetstream frame");
                            continue;
                        }
                    };
                    failures = 0;
                    shared.connect_failures.store(0, Ordering::SeqCst);
                    // after a reconnect the server replays from the cursor: skip what we had
                    if cursor.is_some_and(|c| ev.time_us <= c) {
                        continue;
                    }
                    if ev.kind == "commit" {
                        if let Some(commit) = ev.commit {
                            if commit.operation == "create" && commit.collection == POST_COLLECTION
                            {
                                if let Some(rec) = commit.record {
                                    if mentions_a_term(&terms, &rec.text) {
                                        let fallback = DateTime::from_timestamp_micros(ev.time_us)
                                            .unwrap_or_else(Utc::now);
                                        let post = record_post(
                                            &name,
                                            &ev.did,
                                            &commit.rkey,
                                            None,
                                            rec,
                                            fallback,
                                            None,
                                        );
                                        if tx.send((ev.time_us, post)).await.is_err() {
                                            return; // the source is gone
                                        }
                                    }
                                }
                            }
                        }
                    }
                    // deletes, updates, identity and account events only move the cursor
                    cursor = Some(ev.time_us);
                    shared.processed.fetch_max(ev.time_us, Ordering::SeqCst);
                }
                shared.connected.store(false, Ordering::SeqCst);
            }
            Err(e) => shared.error(format!("cannot connect to {url}: {e}")),
        }
        if tx.is_closed() {
            return;
        }
        failures += 1;
        shared.connect_failures.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(backoff(base, max, failures)).await;
    }
}

#[derive(Debug, Deserialize)]
struct Session {
    #[serde(rename = "accessJwt")]
    access_jwt: String,
}

#[derive(Debug, Deserialize)]
struct SearchPage {
    #[serde(default)]
    posts: Vec<PostView>,
}

#[derive(Debug, Deserialize)]
struct PostView {
    uri: String,
    #[serde(default)]
    author: Option<Author>,
    record: Record,
    #[serde(default, rename = "indexedAt")]
    indexed_at: Option<String>,
    #[serde(default, rename = "likeCount")]
    like_count: Option<i64>,
    #[serde(default, rename = "repostCount")]
    repost_count: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Author {
    #[serde(default)]
    handle: Option<String>,
}

impl Search {
    async fn login(&mut self) -> Result<String, SourceError> {
        if let Some(t) = &self.token {
            return Ok(t.clone());
        }
        let url = endpoint(&self.pds, "xrpc/com.atproto.server.createSession", &[]);
        let body = serde_json::json!({"identifier": self.handle, "password": self.password});
        let req = self.http.client().post(url.clone()).json(&body);
        let resp = self
            .http
            .send(&url, req, Expect::Json)
            .await?
            .ok_or_else(|| SourceError::Malformed("304 from createSession".into()))?;
        let s: Session = resp.json()?;
        self.token = Some(s.access_jwt.clone());
        Ok(s.access_jwt)
    }

    async fn fetch(
        &mut self,
        name: &str,
        terms: &[String],
        state: &State,
        next: &mut State,
    ) -> Result<Vec<Post>, SourceError> {
        let token = self.login().await?;
        let mut posts = Vec::new();
        for term in terms {
            let since = state.search_since.get(term);
            let mut params = vec![("q", term.as_str()), ("sort", "latest"), ("limit", "100")];
            if let Some(s) = since {
                params.push(("since", s.as_str()));
            }
            let url = endpoint(&self.pds, "xrpc/app.bsky.feed.searchPosts", &params);
            let opts = GetOpts {
                bearer: Some(&token),
                ..GetOpts::default()
            };
            let resp = match self.http.get(&url, Expect::Json, opts).await {
                Err(e @ SourceError::Unauthorized(_)) => {
                    self.token = None;
                    return Err(e);
                }
                other => other?,
            };
            let Some(resp) = resp else { continue };
            let page: SearchPage = resp.json()?;
            for pv in page.posts {
                // at://did/app.bsky.feed.post/rkey
                let rest = pv.uri.trim_start_matches("at://");
                let mut parts = rest.splitn(3, '/');
                let (Some(did), Some(_), Some(rkey)) = (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                if let Some(ix) = &pv.indexed_at {
                    let e = next.search_since.entry(term.clone()).or_insert(ix.clone());
                    if ix > e {
                        *e = ix.clone();
                    }
                }
                let engagement = match (pv.like_count, pv.repost_count) {
                    (None, None) => None,
                    (l, r) => Some(l.unwrap_or(0) + r.unwrap_or(0)),
                };
                let handle = pv.author.and_then(|a| a.handle);
                posts.push(record_post(
                    name,
                    did,
                    rkey,
                    handle,
                    pv.record,
                    Utc::now(),
                    engagement,
                ));
            }
        }
        Ok(posts)
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
                self.start(&url, state.cursor);
            }
            if let Some(stream) = self.stream.as_mut() {
                // every event up to `processed` has been queued if it matched
                let processed = stream.shared.processed.load(Ordering::SeqCst);
                let mut newest = processed;
                while let Ok((t, p)) = stream.rx.try_recv() {
                    newest = newest.max(t);
                    posts.push(p);
                }
                if newest > 0 {
                    next.cursor = Some(newest);
                }
                let connected = stream.shared.connected.load(Ordering::SeqCst);
                let failures = stream.shared.connect_failures.load(Ordering::SeqCst);
                let last_error = stream.shared.last_error.lock().ok().and_then(|g| g.clone());
                if !connected && failures > 0 && posts.is_empty() {
                    return Err(SourceError::Network(
                        last_error.unwrap_or_else(|| "jetstream disconnected".into()),
                    ));
                }
                let malformed = stream.shared.malformed.load(Ordering::Relaxed);
                if malformed > 0 {
                    note = Some(format!("{malformed} malformed jetstream frames skipped"));
                }
            }
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_prefilter() {
        let terms = vec!["acme corp".to_string()];
        assert!(mentions_a_term(&terms, "I love ACME Corp widgets"));
        assert!(!mentions_a_term(&terms, "acme"));
        assert!(mentions_a_term(&[], "anything"));
    }
}
