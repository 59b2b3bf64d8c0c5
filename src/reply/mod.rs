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
//! - `mastodon.rs`, `bluesky.rs`, `stackexchange.rs`: one file per network, built
//!   from a `[[reply_account]]` by [`client`].
//! - `request.rs`: the one request helper they share (the answer whatever its
//!   status, errors as [`PostError`], no secret in a message).
//! - `text.rs`: a reply's text: templates and each network's limit.
//! - `service.rs`: [`Replies`], what the inbox, CLI and API ask (write, approve,
//!   retry, drop); `send.rs` its sender; `desk.rs` the daemon's replies across reloads.
//!
//! # Exactly once
//!
//! A reply is on disk (the store's `replies` tree, flushed) before its first request,
//! with the key every attempt sends: Mastodon's `Idempotency-Key`, Bluesky's record key
//! (a TID fixed per reply, so that a second `createRecord` fails rather than posts
//! twice), and for Stack Exchange a look at the post's comments before any retry.
//! Retries follow 408, 429 (after `Retry-After`), 5xx and network errors with
//! backoff; any other 4xx is final and shown on the mention.

mod accounts;
pub mod api;
pub mod bluesky;
pub mod config;
mod desk;
pub mod mastodon;
mod network;
mod request;
mod send;
mod service;
pub mod stackexchange;
#[cfg(test)]
mod test_support;
pub mod text;

use std::sync::Arc;

pub use accounts::with_reply_accounts;
pub use bluesky::graphemes;
pub use config::{ReplyAccountConfig, ReplyConfig, ReplyTemplate};
pub use desk::Desk;
pub use network::{Limit, NetFuture, Network, Outgoing, PostError, Posted};
pub use service::{MakeClient, Offer, Replies, ReplyError, Write};

#[cfg(test)]
mod service_tests;

/// The client of one `[[reply_account]]`, its secrets read from their variables or
/// files. A missing secret is [`PostError::Refused`] naming the variable or the file
/// (never a value).
pub fn client(
    cfg: &ReplyAccountConfig,
    http: &crate::sources::Http,
) -> Result<Arc<dyn Network>, PostError> {
    Ok(match cfg {
        ReplyAccountConfig::Mastodon(a) => {
            let token = secret(
                cfg.name(),
                "token",
                a.token_env.as_ref(),
                a.token_file.as_ref(),
            )?;
            Arc::new(mastodon::Mastodon::new(a, token, http)?)
        }
        ReplyAccountConfig::Bluesky(a) => {
            let password = secret(
                cfg.name(),
                "app_password",
                a.app_password_env.as_ref(),
                a.app_password_file.as_ref(),
            )?;
            Arc::new(bluesky::Bluesky::new(a, password, http)?)
        }
        ReplyAccountConfig::Stackexchange(a) => {
            let key = secret(cfg.name(), "key", a.key_env.as_ref(), a.key_file.as_ref())?;
            let token = secret(
                cfg.name(),
                "access_token",
                a.access_token_env.as_ref(),
                a.access_token_file.as_ref(),
            )?;
            Arc::new(stackexchange::StackExchange::new(a, key, token, http)?)
        }
    })
}

/// One secret of the account `name`: `{stem}_env` or `{stem}_file`.
fn secret(
    name: &str,
    stem: &str,
    env: Option<&String>,
    file: Option<&std::path::PathBuf>,
) -> Result<String, PostError> {
    let refused = |why: String| PostError::Refused { status: None, why };
    match crate::sources::secret(env, file) {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(refused(format!(
            "reply account {name:?}: set {stem}_env (or {stem}_file): it cannot post without it"
        ))),
        Err(crate::sources::SourceError::Config(e)) => {
            Err(refused(format!("reply account {name:?}: {e}")))
        }
        Err(e) => Err(refused(format!("reply account {name:?}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::config::{MastodonAccount, StackExchangeAccount};
    use super::*;

    #[test]
    fn a_missing_secret_is_refused_naming_the_variable_or_the_file() {
        let http = test_support::http();
        let cfg = ReplyAccountConfig::Mastodon(MastodonAccount {
            name: "acme-social".into(),
            instance: "https://acme.social".into(),
            token_env: Some("OVERHEAR_TEST_REPLY_TOKEN_NEVER_SET".into()),
            token_file: None,
        });
        let Err(PostError::Refused { status: None, why }) = client(&cfg, &http) else {
            panic!("a client without its token")
        };
        assert!(why.contains("OVERHEAR_TEST_REPLY_TOKEN_NEVER_SET"), "{why}");

        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("se-token");
        let key = dir.path().join("se-key");
        std::fs::write(&key, "k3y-value\n").unwrap();
        let cfg = ReplyAccountConfig::Stackexchange(StackExchangeAccount {
            name: "acme-so".into(),
            site: "stackoverflow".into(),
            key_env: None,
            key_file: Some(key.clone()),
            access_token_env: None,
            access_token_file: Some(missing.clone()),
            base_url: None,
        });
        let Err(PostError::Refused { why, .. }) = client(&cfg, &http) else {
            panic!("a client without its access token")
        };
        assert!(why.contains(&missing.display().to_string()), "{why}");
        assert!(!why.contains("k3y-value"), "{why}");

        std::fs::write(&missing, "t0ken").unwrap();
        let net = client(&cfg, &http).unwrap();
        assert_eq!(net.kind(), "stackexchange");
    }
}
