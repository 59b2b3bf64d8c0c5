//! What the daemon's stage tasks share: the store, the metrics, the live generation
//! of matcher and alert rules (swapped on reload), and which sources are failing. Plain
//! state with poison-tolerant accessors: nothing here starts a task or does I/O.

use std::sync::{Arc, RwLock};

use chrono::Utc;
use tokio::sync::{oneshot, Notify};

use super::metrics::Metrics;
use crate::alerts::Alerter;
use crate::matcher::Matcher;
use crate::post::Post;
use crate::store::Store;

/// Posts one poll of one source produced, and where to say they are safely stored.
pub(super) struct SourceBatch {
    pub(super) source: String,
    pub(super) posts: Vec<Post>,
    pub(super) ack: oneshot::Sender<Result<(), String>>,
}

/// What reload swaps: the parts of the pipeline that follow the config.
pub(super) struct Live {
    pub(super) matcher: Arc<Matcher>,
    pub(super) alerter: Arc<Alerter>,
    /// Wakes the outbox sender of this generation when alerts were queued.
    pub(super) wake: Arc<Notify>,
    pub(super) brands: Vec<String>,
    /// Which alerted mentions' threads are watched, and where.
    pub(super) watch: Arc<crate::watch::Plan>,
    /// The configured `[[source]]` entries by name: a hub takes results, cursors and
    /// metric labels only for these.
    pub(super) sources: Arc<std::collections::HashMap<String, Configured>>,
}

/// What a hub knows of one configured `[[source]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Configured {
    /// Its kind: a post from it has this `source` and an id `KIND:…`.
    pub(super) kind: &'static str,
    /// The host it polls: the lease its results must come under.
    pub(super) host: String,
    /// `brand = NAME`: the brand whose owned channel it is. A worker's posts carry the
    /// hub's word for this, never their own.
    pub(super) brand: Option<String>,
}

impl Configured {
    pub(super) fn all(
        sources: &[crate::sources::SourceConfig],
    ) -> std::collections::HashMap<String, Configured> {
        sources
            .iter()
            .map(|s| {
                (
                    s.name(),
                    Configured {
                        kind: s.kind(),
                        host: crate::sources::host_of(s),
                        brand: s.brand().map(|b| b.trim().to_string()),
                    },
                )
            })
            .collect()
    }
}

/// Where [`Failing`] is saved in the store.
pub(super) const FAILING_KEY: &str = "failing_sources";

/// When each failing source started failing, and why (for source-health emails).
pub(super) type Failing = std::collections::HashMap<String, (chrono::DateTime<Utc>, String)>;

pub(super) struct Shared {
    pub(super) store: Store,
    pub(super) metrics: Arc<Metrics>,
    pub(super) live: RwLock<Live>,
    pub(super) model_id: String,
    pub(super) failing: std::sync::Mutex<Failing>,
    /// Which unclassified mentions are on their way to the classifier (see `retry`).
    pub(super) retries: super::retry::Retries,
    /// The full-text index, told of every change; `None` when it could not be opened.
    pub(super) search: Option<crate::search::Search>,
    /// (source, brand) pairs whose first poll is recorded in the store: spares the
    /// store a lookup per brand on every poll.
    pub(super) polled: std::sync::Mutex<std::collections::HashSet<(String, String)>>,
    /// Replies from the inbox, the CLI and the API, and their sender.
    pub(super) replies: Arc<crate::reply::Desk>,
}

impl Shared {
    pub(super) fn matcher(&self) -> Arc<Matcher> {
        self.live
            .read()
            .map(|l| l.matcher.clone())
            .unwrap_or_else(|p| p.into_inner().matcher.clone())
    }

    pub(super) fn alerter(&self) -> Arc<Alerter> {
        self.live
            .read()
            .map(|l| l.alerter.clone())
            .unwrap_or_else(|p| p.into_inner().alerter.clone())
    }

    pub(super) fn watch_plan(&self) -> Arc<crate::watch::Plan> {
        self.live
            .read()
            .map(|l| l.watch.clone())
            .unwrap_or_else(|p| p.into_inner().watch.clone())
    }

    pub(super) fn brands(&self) -> Vec<String> {
        self.live
            .read()
            .map(|l| l.brands.clone())
            .unwrap_or_else(|p| p.into_inner().brands.clone())
    }

    pub(super) fn sources(&self) -> Arc<std::collections::HashMap<String, Configured>> {
        self.live
            .read()
            .map(|l| l.sources.clone())
            .unwrap_or_else(|p| p.into_inner().sources.clone())
    }

    pub(super) fn wake_sender(&self) {
        let wake = self
            .live
            .read()
            .map(|l| l.wake.clone())
            .unwrap_or_else(|p| p.into_inner().wake.clone());
        wake.notify_one();
    }

    /// Records that `source` failed (`Some(error)`) or works again (`None`). When a
    /// source starts or stops failing, the set is saved, so that a restart in the
    /// middle of an outage keeps its start (and sends no second notice).
    pub(super) fn set_failing(&self, source: &str, error: Option<String>) {
        let snapshot = {
            let mut f = self.failing.lock().unwrap_or_else(|p| p.into_inner());
            let changed = match error {
                None => f.remove(source).is_some(),
                Some(e) => {
                    let known = f.get(source).map(|(t, _)| *t);
                    f.insert(source.to_string(), (known.unwrap_or_else(Utc::now), e));
                    known.is_none()
                }
            };
            changed.then(|| f.clone())
        };
        if let Some(failing) = snapshot {
            if let Err(e) = self.store.set_daemon_state(FAILING_KEY, &failing) {
                tracing::warn!(error = %e, "cannot save which sources are failing");
            }
        }
    }
}
