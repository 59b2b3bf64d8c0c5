//! The Jetstream firehose reader: a background task that holds the websocket, keeps
//! the posts that mention a search term in a bounded queue, and reconnects with backoff
//! from the last event it processed; [`Stream::drain`] is what a poll takes from it.
//! Never saves a cursor (the poll's state carries it) and never calls searchPosts.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use url::Url;

use super::{record_post, Record, State, POST_COLLECTION};
use crate::post::Post;
use crate::sources::{backoff, SourceError};

/// Largest websocket message accepted.
const MAX_MESSAGE: usize = 1 << 20;
/// On a restart, replay this much before the saved cursor (dropped again by the seen window).
const REWIND_US: i64 = 2_000_000;

pub(super) struct Stream {
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

/// How the reader runs.
#[derive(Debug, Clone)]
pub(super) struct Settings {
    /// The local pre-filter (lowercase).
    pub(super) terms: Vec<String>,
    /// The `[[source]]` name, stamped on posts.
    pub(super) name: String,
    pub(super) queue: usize,
    /// Reconnect backoff: base, max.
    pub(super) backoff: (Duration, Duration),
    /// TCP connect plus the WebSocket upgrade.
    pub(super) connect_timeout: Duration,
    /// Silence for this long is met with a ping; as long again, and the connection is
    /// taken as dead (half-open) and made again from the cursor.
    pub(super) idle: Duration,
}

impl Stream {
    /// Starts the reader from `cursor` (rewound a little; the seen window drops repeats).
    pub(super) fn start(url: &Url, cursor: Option<i64>, settings: Settings) -> Stream {
        let (tx, rx) = mpsc::channel(settings.queue.max(1));
        let shared = Arc::new(Shared::default());
        if let Some(c) = cursor {
            shared.processed.store(c, Ordering::SeqCst);
        }
        let task = tokio::spawn(run_stream(
            url.clone(),
            cursor.map(|c| c - REWIND_US),
            tx,
            shared.clone(),
            settings,
        ));
        Stream { rx, shared, task }
    }

    /// Moves queued posts into `pending` (which holds at most `cap`) and moves `next`'s
    /// cursor past every event handled up to them; an error when the firehose is down
    /// and nothing is pending. Returns the poll's note.
    pub(super) fn drain(
        &mut self,
        pending: &mut Vec<(i64, Post)>,
        cap: usize,
        next: &mut State,
    ) -> Result<Option<String>, SourceError> {
        // every event up to `processed` has been queued if it matched
        let processed = self.shared.processed.load(Ordering::SeqCst);
        let room = cap.saturating_sub(pending.len());
        let mut taken = 0;
        while taken < room {
            let Ok(item) = self.rx.try_recv() else { break };
            pending.push(item);
            taken += 1;
        }
        let newest_pending = pending.iter().map(|(t, _)| *t).max().unwrap_or(0);
        // with no room left, posts may still wait in the queue: go no further than
        // the last one taken
        let newest = if taken >= room {
            newest_pending
        } else {
            processed.max(newest_pending)
        };
        if newest > 0 {
            next.cursor = Some(next.cursor.unwrap_or(0).max(newest));
        }
        let connected = self.shared.connected.load(Ordering::SeqCst);
        let failures = self.shared.connect_failures.load(Ordering::SeqCst);
        let last_error = self.shared.last_error.lock().ok().and_then(|g| g.clone());
        if !connected && failures > 0 && pending.is_empty() {
            return Err(SourceError::Network(
                last_error.unwrap_or_else(|| "jetstream disconnected".into()),
            ));
        }
        let malformed = self.shared.malformed.load(Ordering::Relaxed);
        if malformed > 0 {
            return Ok(Some(format!(
                "{malformed} malformed jetstream frames skipped"
            )));
        }
        Ok(None)
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

/// The firehose reader: runs until the source is dropped.
async fn run_stream(
    url: Url,
    start: Option<i64>,
    tx: mpsc::Sender<(i64, Post)>,
    shared: Arc<Shared>,
    settings: Settings,
) {
    let Settings {
        terms,
        name,
        backoff: (base, max),
        connect_timeout,
        idle,
        ..
    } = settings;
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
        let connect = tokio_tungstenite::connect_async_with_config(u.as_str(), Some(config), false);
        match tokio::time::timeout(connect_timeout, connect).await {
            Err(_) => shared.error(format!(
                "cannot connect to {url}: timed out after {connect_timeout:?}"
            )),
            Ok(Err(e)) => shared.error(format!("cannot connect to {url}: {e}")),
            Ok(Ok((mut ws, _))) => {
                shared.connected.store(true, Ordering::SeqCst);
                let mut pinged = false;
                loop {
                    let msg = match tokio::time::timeout(idle, ws.next()).await {
                        Ok(Some(msg)) => msg,
                        Ok(None) => break,
                        Err(_) if !pinged => {
                            pinged = true;
                            let ping = ws.send(Message::Ping(Vec::new()));
                            match tokio::time::timeout(idle, ping).await {
                                Ok(Ok(())) => continue,
                                _ => {
                                    shared.error(format!("jetstream: cannot ping {url}"));
                                    break;
                                }
                            }
                        }
                        Err(_) => {
                            shared.error(format!(
                                "jetstream: nothing from {url} for {:?}, not even a pong; reconnecting",
                                idle.saturating_mul(2)
                            ));
                            break;
                        }
                    };
                    pinged = false;
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
        }
        if tx.is_closed() {
            return;
        }
        failures += 1;
        shared.connect_failures.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(backoff(base, max, failures)).await;
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
