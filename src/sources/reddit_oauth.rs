//! Reddit's application-only OAuth: a `[[source]]` entry's client id and secret,
//! its token endpoint and OAuth host, and the token got last. The Reddit source and
//! the thread watch each hold one, built from the same entry.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use url::Url;

use super::fetch::{Expect, Http};
use super::{base_url, secret, RedditConfig, SourceError};

const DEFAULT_OAUTH_BASE: &str = "https://oauth.reddit.com";
const DEFAULT_TOKEN_URL: &str = "https://www.reddit.com/api/v1/access_token";

/// A token and when to stop using it.
type Cached = Option<(String, Instant)>;

/// An entry's OAuth client; clones share the token.
#[derive(Clone)]
pub struct RedditOAuth {
    /// Where OAuth requests go (`oauth_base_url`, default `https://oauth.reddit.com`).
    pub base: Url,
    token_url: Url,
    id: String,
    secret: String,
    token: Arc<Mutex<Cached>>,
}

impl std::fmt::Debug for RedditOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedditOAuth")
            .field("base", &self.base.as_str())
            .field("token_url", &self.token_url.as_str())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct Token {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl RedditOAuth {
    /// The entry's OAuth client: `None` without a client id and secret. Errors name
    /// the variable, the file or the URL setting, never a secret.
    pub fn from_config(cfg: &RedditConfig) -> Result<Option<RedditOAuth>, SourceError> {
        let id = secret(cfg.client_id_env.as_ref(), cfg.client_id_file.as_ref())?;
        let secret = secret(
            cfg.client_secret_env.as_ref(),
            cfg.client_secret_file.as_ref(),
        )?;
        let base = base_url(cfg.oauth_base_url.as_deref(), DEFAULT_OAUTH_BASE)?;
        let token_url = base_url(cfg.token_url.as_deref(), DEFAULT_TOKEN_URL)?;
        Ok(id.zip(secret).map(|(id, secret)| RedditOAuth {
            base,
            token_url,
            id,
            secret,
            token: Arc::default(),
        }))
    }

    fn cached(&self) -> std::sync::MutexGuard<'_, Cached> {
        match self.token.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// A token still valid, else a new one from the token endpoint (asked with
    /// `user_agent` where the entry sets one: Reddit blocks generic agents).
    pub async fn bearer(
        &self,
        http: &Http,
        user_agent: Option<&str>,
    ) -> Result<String, SourceError> {
        if let Some((t, until)) = self.cached().as_ref() {
            if Instant::now() < *until {
                return Ok(t.clone());
            }
        }
        let mut req = http
            .client()
            .post(self.token_url.clone())
            .basic_auth(&self.id, Some(&self.secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials");
        if let Some(ua) = user_agent {
            req = req.header("user-agent", ua);
        }
        let resp = http
            .send(&self.token_url, req, Expect::Json)
            .await?
            .ok_or_else(|| SourceError::Malformed("304 from the token endpoint".into()))?;
        let token: Token = resp.json()?;
        let ttl = Duration::from_secs(token.expires_in.unwrap_or(3600).saturating_sub(60));
        *self.cached() = Some((token.access_token.clone(), Instant::now() + ttl));
        Ok(token.access_token)
    }

    /// The token was refused (401: expired or revoked): the next call gets a new one.
    pub fn forget(&self) {
        *self.cached() = None;
    }
}
