//! Why a poll failed: the one error type every source returns, with the short kind
//! name the metrics use and the wait a server asked for. Describes failures only:
//! never retries, logs or decides the backoff (that is `polled.rs`).

use std::time::Duration;

use super::StateError;

/// Why a poll failed. 304 Not Modified is not an error: it is an empty batch.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("rate limited (429){}", wait_text(.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    #[error("unauthorized (401) at {0}: the server wants credentials")]
    Unauthorized(String),
    #[error("forbidden (403) at {0}")]
    Forbidden(String),
    #[error("not found at {0}")]
    NotFound(String),
    #[error("server error {status}{}", wait_text(.retry_after))]
    Server {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("unexpected HTTP status {status} at {url}: {detail}")]
    Status {
        status: u16,
        url: String,
        /// The start of the body (APIs explain their 400s there).
        detail: String,
    },
    #[error("timed out")]
    Timeout,
    #[error("response larger than the {cap}-byte cap")]
    TooLarge { cap: u64 },
    #[error("response cut off: {0}")]
    Truncated(String),
    #[error("malformed response: {0}")]
    Malformed(String),
    #[error("network error: {0}")]
    Network(String),
    #[error("the API said: {0}")]
    Api(String),
    #[error("source configuration: {0}")]
    Config(String),
    #[error(transparent)]
    State(#[from] StateError),
}

fn wait_text(d: &Option<Duration>) -> String {
    match d {
        Some(d) => format!(", retry after {}s", d.as_secs()),
        None => String::new(),
    }
}

impl SourceError {
    /// A short name for the kind of failure (a metrics label).
    pub fn kind(&self) -> &'static str {
        match self {
            SourceError::RateLimited { .. } => "rate_limited",
            SourceError::Unauthorized(_) => "unauthorized",
            SourceError::Forbidden(_) => "forbidden",
            SourceError::NotFound(_) => "not_found",
            SourceError::Server { .. } => "server",
            SourceError::Status { .. } => "status",
            SourceError::Timeout => "timeout",
            SourceError::TooLarge { .. } => "too_large",
            SourceError::Truncated(_) => "truncated",
            SourceError::Malformed(_) => "malformed",
            SourceError::Network(_) => "network",
            SourceError::Api(_) => "api",
            SourceError::Config(_) => "config",
            SourceError::State(_) => "state",
        }
    }

    /// The least time the server asked us to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SourceError::RateLimited { retry_after } | SourceError::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }
}
