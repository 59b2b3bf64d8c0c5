//! The ingest stage: matches each polled post against the brands and stores the
//! mentions (one transaction per poll), tells the search index which changed, sends
//! new or edited ones to the classifier, then acks the batch so that its source may
//! commit the cursor. Never classifies or alerts, and a search index failure never
//! fails a batch.

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::mpsc;

use super::classify::Job;
use super::shared::{Shared, SourceBatch};
use crate::post::Post;
use crate::store::{StoreError, Upsert};

/// Matches each post and stores the mentions; new or edited ones go to the classifier.
pub(super) async fn ingest(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<SourceBatch>,
    classify: mpsc::Sender<Job<String>>,
) {
    while let Some(batch) = rx.recv().await {
        let matcher = shared.matcher();
        let matched: Vec<(Post, Vec<crate::post::BrandMatch>)> = batch
            .posts
            .into_iter()
            .filter_map(|post| {
                let brands = matcher.match_post(&post);
                (!brands.is_empty()).then_some((post, brands))
            })
            .collect();
        shared.metrics.inc(
            "overhear_posts_matched_total",
            &[("source", &batch.source)],
            matched.len() as f64,
        );
        let mut result = Ok(());
        if !matched.is_empty() {
            let (matched, stored) = store_matched(&shared, &batch.source, matched);
            match stored {
                Ok(outcomes) => {
                    for ((post, _), outcome) in matched.iter().zip(outcomes) {
                        let Some(id) = to_classify(outcome) else {
                            continue;
                        };
                        shared.retries.sent(&id);
                        let job = Job {
                            item: id,
                            text: post.classifier_text(),
                        };
                        if classify.send(job).await.is_err() {
                            result = Err("shutting down".to_string());
                            break;
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(source = %batch.source, error = %e, "cannot store mentions");
                    result = Err(e.to_string());
                }
            }
        }
        if result.is_ok() {
            note_polled(&shared, &batch.source);
        }
        let _ = batch.ack.send(result);
    }
}

/// Records that a poll of `source` ended now, for every brand whose first poll of it
/// is not recorded yet: its mentions first seen by then are that brand's backlog
/// (`[alerts] backlog`). A failure is logged and tried again after the next poll.
pub(super) fn note_polled(shared: &Shared, source: &str) {
    let brands: Vec<String> = {
        let known = shared.polled.lock().unwrap_or_else(|p| p.into_inner());
        shared
            .brands()
            .into_iter()
            .filter(|b| !known.contains(&(source.to_string(), b.to_lowercase())))
            .collect()
    };
    if brands.is_empty() {
        return;
    }
    match shared.store.note_polled(source, &brands, Utc::now()) {
        Ok(()) => {
            let mut known = shared.polled.lock().unwrap_or_else(|p| p.into_inner());
            known.extend(
                brands
                    .iter()
                    .map(|b| (source.to_string(), b.to_lowercase())),
            );
        }
        Err(e) => {
            tracing::warn!(source, error = %e, "cannot record the end of a poll; tried again after the next one")
        }
    }
}

/// Stores one poll's mentions in one transaction (one flush), falling back to one at
/// a time when the store refuses the batch as invalid, and tells the search index
/// which changed. Returns the mentions kept with their outcomes, in order.
#[allow(clippy::type_complexity)]
pub(super) fn store_matched(
    shared: &Shared,
    source: &str,
    matched: Vec<(Post, Vec<crate::post::BrandMatch>)>,
) -> (
    Vec<(Post, Vec<crate::post::BrandMatch>)>,
    Result<Vec<Upsert>, StoreError>,
) {
    let now = Utc::now();
    let (matched, stored) = match shared.store.upsert_many(&matched, now) {
        Err(StoreError::Invalid(_)) => store_each(shared, source, matched, now),
        other => (matched, other),
    };
    if let (Ok(outcomes), Some(s)) = (&stored, &shared.search) {
        s.changed(outcomes.iter().filter_map(|o| match o {
            Upsert::New { id } | Upsert::Updated { id, .. } => Some(id.clone()),
            Upsert::Unchanged { .. } => None,
        }));
    }
    (matched, stored)
}

/// The mention to classify after this outcome: a new one, or one whose text changed.
pub(super) fn to_classify(outcome: Upsert) -> Option<String> {
    match outcome {
        Upsert::New { id }
        | Upsert::Updated {
            id,
            text_changed: true,
        } => Some(id),
        _ => None,
    }
}

/// After the store refused a batch as invalid: stores its posts one at a time and
/// drops (logged, counted in `overhear_posts_rejected_total`) only those it refuses,
/// so that one bad post (an id with NUL) cannot hold its source's cursor for good.
/// Any other error fails the batch, as before.
#[allow(clippy::type_complexity)]
fn store_each(
    shared: &Shared,
    source: &str,
    matched: Vec<(Post, Vec<crate::post::BrandMatch>)>,
    now: chrono::DateTime<Utc>,
) -> (
    Vec<(Post, Vec<crate::post::BrandMatch>)>,
    Result<Vec<Upsert>, StoreError>,
) {
    let mut kept = Vec::new();
    let mut outcomes = Vec::new();
    for item in matched {
        match shared.store.upsert_many(std::slice::from_ref(&item), now) {
            Ok(mut o) => {
                outcomes.append(&mut o);
                kept.push(item);
            }
            Err(StoreError::Invalid(why)) => {
                tracing::warn!(source, post = ?item.0.id, error = %why, "post rejected by the store; the rest of the poll is kept");
                shared
                    .metrics
                    .inc("overhear_posts_rejected_total", &[("source", source)], 1.0);
            }
            Err(e) => return (kept, Err(e)),
        }
    }
    (kept, Ok(outcomes))
}

/// Opens the full-text index for the daemon (see [`crate::search::Search::start`]),
/// its failures counted in `overhear_search_errors_total`. `None`, logged, when it
/// cannot be opened at all: the daemon runs on without search.
pub(super) fn open_search(
    data_dir: &std::path::Path,
    store: &crate::store::Store,
    metrics: &Arc<super::metrics::Metrics>,
) -> Option<crate::search::Search> {
    let m = metrics.clone();
    let hook: crate::search::ErrorHook = Arc::new(move |op| {
        m.inc("overhear_search_errors_total", &[("op", op)], 1.0);
    });
    match crate::search::Search::start(data_dir, store, hook) {
        Ok(s) => Some(s),
        Err(e) => {
            metrics.inc("overhear_search_errors_total", &[("op", "open")], 1.0);
            tracing::error!(error = %e, "full-text search is off: the search index cannot be opened");
            None
        }
    }
}
