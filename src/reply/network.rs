//! What every network's client implements: post one reply (with the key that makes a
//! retry harmless), say which mentions it can answer and how long a reply may be,
//! and check its credentials without posting.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::post::Post;

/// One reply to send, as a network's client sees it.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// The reply's id in the store: the same on every attempt (Mastodon's
    /// `Idempotency-Key`, the seed of Bluesky's record key).
    pub key: &'a str,
    /// The text as the user wrote it (the client adds what its network needs, such
    /// as Mastodon's `@author` at the start).
    pub text: &'a str,
    /// The mention's post: its id, URL, author and thread say what to reply to.
    pub post: &'a Post,
    /// 1 for the first attempt. Later attempts first look for an earlier one that
    /// went through (Stack Exchange), or rely on the key (Mastodon, Bluesky).
    pub attempt: u32,
    /// When the reply was queued (Bluesky's `createdAt`, its record key).
    pub queued_at: DateTime<Utc>,
}

/// What a network said when it took a reply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Posted {
    /// Where a person reads the reply.
    pub url: String,
    /// The network's id for it (status id, AT-URI, comment id).
    pub remote_id: String,
    /// When the network says it was posted (else when it answered).
    pub at: DateTime<Utc>,
    /// The account as the thread watch names it: `mastodon:acme@acme.social`,
    /// `bluesky:acme.com`, `stackexchange:stackoverflow/123`.
    pub by: String,
}

/// Why a reply did not go out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PostError {
    /// Worth another attempt: 408, 429, 5xx, a network error. `after` is the wait the
    /// server asked for.
    #[error("{why}")]
    Retry {
        why: String,
        after: Option<Duration>,
    },
    /// Final: the network refused it (any other 4xx), or it cannot be sent at all (a
    /// mention the account cannot answer, a missing credential). Never retried
    /// on its own; a user may retry it.
    #[error("{why}")]
    Refused { status: Option<u16>, why: String },
}

/// How a network counts a reply's length, and its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Limit {
    /// `"characters"` (Unicode scalar values) or `"graphemes"`.
    pub unit: &'static str,
    pub max: usize,
    /// Stack Exchange comments must have at least this many characters.
    pub min: usize,
}

pub type NetFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, PostError>> + Send + 'a>>;

/// One `[[reply_account]]`'s client.
pub trait Network: Send + Sync {
    /// `mastodon`, `bluesky`, `stackexchange`.
    fn kind(&self) -> &'static str;
    /// Whether this account can answer `post` in its thread: its source kind (and,
    /// for Stack Exchange, its site) fits. `Err` says why not, for the user.
    fn fits(&self, post: &Post) -> Result<(), String>;
    /// The limit a reply's text must keep to.
    fn limit(&self) -> Limit;
    /// Posts `out` once. Never retries on its own: the sender decides.
    fn post<'a>(&'a self, out: Outgoing<'a>) -> NetFuture<'a, Posted>;
    /// Checks the credentials without posting (`verify_credentials`, `getSession`,
    /// `/me`): the account as [`Posted::by`] names it.
    fn verify(&self) -> NetFuture<'_, String>;
}
