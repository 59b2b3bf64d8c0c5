//! The machinery around every source kind: a [`Kind`] only fetches from a state;
//! [`Polled`] loads the committed state, turns the fetch into a [`Batch`], saves the
//! cursor on [`Source::commit`], keeps the health and decides the next delay (backoff
//! with jitter). Never parses a response or knows a kind's API.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::fetch::MAX_SERVER_WAIT;
use super::{Batch, Cursor, PollFuture, Source, SourceContext, SourceError, SourceHealth};
use super::{StateError, StateStore};
use crate::post::Post;

/// What one kind's fetch produced.
pub(crate) struct Fetched<S> {
    pub posts: Vec<Post>,
    pub state: S,
    /// The server asked for at least this much time before the next request.
    pub wait_at_least: Option<Duration>,
    pub note: Option<String>,
    /// Posts known to be given up by this fetch (a paging bound really hit).
    pub skipped: u64,
}

/// One kind of source: fetch from a state, return posts and the next state.
pub(crate) trait Kind: Send + 'static {
    type State: Serialize + DeserializeOwned + Default + Clone + Send + Sync + 'static;
    const KIND: &'static str;
    fn fetch<'a>(
        &'a mut self,
        state: &'a Self::State,
    ) -> impl Future<Output = Result<Fetched<Self::State>, SourceError>> + Send + 'a;
    /// `state` was saved as the committed one (what a kind holds in memory until its
    /// posts are stored can go).
    fn committed(&mut self, _state: &Self::State) {}
}

/// The [`Source`] around a [`Kind`]: state loading, committing, health, backoff.
pub(crate) struct Polled<K: Kind> {
    name: String,
    every: Duration,
    store: Arc<dyn StateStore>,
    backoff_base: Duration,
    backoff_max: Duration,
    committed: Option<K::State>,
    health: SourceHealth,
    wait_at_least: Option<Duration>,
    /// Decided (jitter included) when the last poll ended; zero before the first.
    delay: Duration,
    inner: K,
}

impl<K: Kind> Polled<K> {
    pub(super) fn boxed(
        name: &str,
        every: Duration,
        ctx: &SourceContext,
        inner: K,
    ) -> Box<dyn Source> {
        Box::new(Polled {
            health: SourceHealth {
                name: name.to_string(),
                kind: K::KIND.to_string(),
                ..SourceHealth::default()
            },
            name: name.to_string(),
            every,
            store: ctx.state.clone(),
            backoff_base: ctx.backoff_base,
            backoff_max: ctx.backoff_max,
            committed: None,
            wait_at_least: None,
            delay: Duration::ZERO,
            inner,
        })
    }

    fn load(&mut self) -> Result<K::State, SourceError> {
        if let Some(s) = &self.committed {
            return Ok(s.clone());
        }
        let state = match self.store.load(&self.name)? {
            Some(bytes) => match serde_json::from_slice::<K::State>(&bytes) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(source = %self.name, error = %e, "saved cursor unreadable; starting afresh");
                    K::State::default()
                }
            },
            None => K::State::default(),
        };
        self.committed = Some(state.clone());
        Ok(state)
    }

    /// The interval after a success, backoff with jitter after failures; never less
    /// than what the server asked for.
    fn compute_delay(&self) -> Duration {
        // a server's wait is clamped where it is parsed; clamp again, whatever a kind did
        let floor = self
            .wait_at_least
            .unwrap_or(Duration::ZERO)
            .min(MAX_SERVER_WAIT);
        let n = self.health.consecutive_failures;
        if n == 0 {
            return self.every.max(floor);
        }
        backoff(self.backoff_base, self.backoff_max, n).max(floor)
    }

    async fn poll_inner(&mut self) -> Result<Batch, SourceError> {
        let result = async {
            let state = self.load()?;
            let fetched = self.inner.fetch(&state).await?;
            let cursor = serde_json::to_vec(&fetched.state)
                .map_err(|e| SourceError::Malformed(format!("encoding the cursor: {e}")))?;
            Ok::<_, SourceError>((fetched, cursor))
        }
        .await;
        let now = Utc::now();
        match result {
            Ok((fetched, cursor)) => {
                self.health.last_success = Some(now);
                self.health.consecutive_failures = 0;
                self.health.last_posts = fetched.posts.len();
                self.health.note = fetched.note;
                if fetched.skipped > 0 {
                    self.health.skipped = self.health.skipped.saturating_add(fetched.skipped);
                    tracing::warn!(source = %self.name, skipped = fetched.skipped, "more arrived than the paging bound allows: posts given up");
                }
                self.wait_at_least = fetched.wait_at_least;
                self.delay = self.compute_delay();
                self.health.next_poll = at(now, self.delay);
                tracing::debug!(source = %self.name, posts = fetched.posts.len(), "polled");
                Ok(Batch {
                    posts: fetched.posts,
                    cursor: Some(Cursor(cursor)),
                })
            }
            Err(e) => {
                self.health.last_error = Some(e.to_string());
                self.health.last_error_at = Some(now);
                self.health.consecutive_failures += 1;
                self.wait_at_least = e.retry_after();
                self.delay = self.compute_delay();
                self.health.next_poll = at(now, self.delay);
                // a 403 or a 429 is a warning: the source retries later
                tracing::warn!(
                    source = %self.name,
                    kind = K::KIND,
                    failures = self.health.consecutive_failures,
                    error = %e,
                    "poll failed"
                );
                Err(e)
            }
        }
    }
}

impl<K: Kind> Source for Polled<K> {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        K::KIND
    }

    fn poll(&mut self) -> PollFuture<'_> {
        Box::pin(self.poll_inner())
    }

    fn commit(&mut self, cursor: Cursor) -> Result<(), StateError> {
        let state: K::State = serde_json::from_slice(&cursor.0)
            .map_err(|e| StateError(format!("not a cursor of this source: {e}")))?;
        self.store.save(&self.name, &cursor.0)?;
        self.inner.committed(&state);
        self.committed = Some(state);
        Ok(())
    }

    fn health(&self) -> SourceHealth {
        self.health.clone()
    }

    fn next_delay(&self) -> Duration {
        self.delay
    }
}

/// `now + delay`, or `None` when that is past what a time can hold (never a panic).
fn at(now: DateTime<Utc>, delay: Duration) -> Option<DateTime<Utc>> {
    now.checked_add_signed(chrono::Duration::from_std(delay).ok()?)
}

/// Exponential backoff with jitter: `base * 2^(n-1)`, capped, times 0.5..1.5.
pub fn backoff(base: Duration, max: Duration, failures: u32) -> Duration {
    use rand::Rng;
    let exp = base.saturating_mul(1u32 << failures.saturating_sub(1).min(20));
    let capped = exp.min(max);
    let factor: f64 = rand::thread_rng().gen_range(0.5..1.5);
    capped.mul_f64(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let b = Duration::from_secs(10);
        let m = Duration::from_secs(100);
        assert!(backoff(b, m, 1) <= Duration::from_secs(15));
        assert!(backoff(b, m, 1) >= Duration::from_secs(5));
        assert!(backoff(b, m, 30) <= m);
    }
}
