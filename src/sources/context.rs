//! What every source is built with: the shared HTTP client and its settings, the
//! default interval, the brands' search terms and the state store, all as plain
//! values. Never reads the configuration file: its caller (the daemon, `overhear
//! poll`, `overhear backfill`) fills it in.

use std::sync::Arc;
use std::time::Duration;

use super::{Http, HttpSettings, SourceError, StateStore};

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

    /// Whether a source built with `other` would be built the same as with `self`
    /// (every setting equal; the state store and the client are not settings).
    pub fn same_settings(&self, other: &SourceContext) -> bool {
        self.user_agent == other.user_agent
            && self.default_every == other.default_every
            && self.search_terms == other.search_terms
            && self.http_settings == other.http_settings
            && self.backoff_base == other.backoff_base
            && self.backoff_max == other.backoff_max
            && self.backfill_since == other.backfill_since
    }
}
