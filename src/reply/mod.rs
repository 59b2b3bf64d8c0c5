//! Replies: the team answers a mention in its public thread, as one of the brand's
//! accounts (`[[reply_account]]`), from the inbox, the CLI or the API.
//!
//! ```text
//! inbox / CLI / API ─▶ store (replies tree, flushed) ─▶ sender ─▶ network (Mastodon, Bluesky, Stack Exchange)
//!                                                          └─▶ store: posted, the mention answered
//! ```
//!
//! # Files
//!
//! - `config.rs`: `[[reply_account]]`, `[[reply_template]]`, `[reply]`.
//! - `network.rs`: the [`Network`] trait every network implements, what it is given
//!   ([`Outgoing`]) and what it answers ([`Posted`], [`PostError`]).
//! - `mastodon.rs`, `bluesky.rs`, `stackexchange.rs`: one file per network.
//! - `text.rs`: a reply's text: templates, the author mention, each network's limit.
//!
//! # Exactly once
//!
//! A reply is on disk (the store's `replies` tree, flushed) before its first request,
//! with the key every attempt sends: Mastodon's `Idempotency-Key`, Bluesky's record key
//! (a TID fixed per reply, so that a second `createRecord` fails rather than posts
//! twice), and for Stack Exchange a look at the post's comments before any retry.
//! Retries follow 408, 429 (after `Retry-After`), 5xx and network errors with
//! backoff; any other 4xx is final and shown on the mention.

pub mod config;
mod desk;
mod network;
mod send;
mod service;
pub mod text;

pub use config::{ReplyAccountConfig, ReplyConfig, ReplyTemplate};
pub use desk::Desk;
pub use network::{Limit, NetFuture, Network, Outgoing, PostError, Posted};
pub use service::{MakeClient, Offer, Replies, ReplyError, Write};

#[cfg(test)]
mod service_tests;

/// The client of one account. (Interim, until the network clients land: every
/// account says it cannot post yet.)
pub fn client(
    cfg: &ReplyAccountConfig,
    _http: &crate::sources::Http,
) -> Result<std::sync::Arc<dyn Network>, PostError> {
    Err(PostError::Refused {
        status: None,
        why: format!("posting to {} is not in this build yet", cfg.kind()),
    })
}
