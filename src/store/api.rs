//! The daemon's read API for the CLI: three GET routes over the store.
//!
//! - `GET /api/mentions?brand=&sentiment=&source=&since=RFC3339&until=RFC3339&limit=N`:
//!   JSON array of [`StoredMention`] (a `Mention` plus its `id`), newest first.
//! - `GET /api/mentions/{id}`: one [`StoredMention`] (the id may also be a post id or
//!   URL); 404 if none.
//! - `GET /api/stats?brand=&since=RFC3339&by=day|week`: JSON array of [`StatsRow`].

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Bucket, MentionFilter, StatsRow, Store, StoreError, StoredMention};

/// Query parameters of `/api/mentions`: the [`MentionFilter`]'s fields by name (the
/// client sends the filter as it is). An empty value filters nothing.
pub type ListQuery = MentionFilter;

/// Query parameters of `/api/stats`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StatsQuery {
    pub brand: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub by: Option<Bucket>,
}

/// The three read routes, ready to be merged into the daemon's router.
pub fn api_router(store: Store) -> Router {
    Router::new()
        .route("/api/mentions", get(list))
        .route("/api/mentions/:id", get(show))
        .route("/api/stats", get(stats))
        .with_state(store)
}

struct ApiError(String);

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, self.0).into_response()
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError(format!("store task failed: {e}")))?
        .map_err(ApiError::from)
}

async fn list(
    State(store): State<Store>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<StoredMention>>, ApiError> {
    let f = non_empty(q);
    Ok(Json(blocking(move || store.list_stored(&f)).await?))
}

/// `?brand=&sentiment=&source=`, sent empty, filter nothing.
fn non_empty(q: ListQuery) -> MentionFilter {
    MentionFilter {
        brand: q.brand.filter(|s| !s.is_empty()),
        sentiment: q.sentiment.filter(|s| !s.is_empty()),
        source: q.source.filter(|s| !s.is_empty()),
        ..q
    }
}

async fn show(State(store): State<Store>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let found = blocking(move || match store.resolve(&id)? {
        Some(id) => store.get_stored(&id),
        None => Ok(None),
    })
    .await?;
    Ok(match found {
        Some(m) => Json(m).into_response(),
        None => (StatusCode::NOT_FOUND, "no such mention").into_response(),
    })
}

async fn stats(
    State(store): State<Store>,
    Query(q): Query<StatsQuery>,
) -> Result<Json<Vec<StatsRow>>, ApiError> {
    let brand = q.brand.filter(|s| !s.is_empty());
    let rows =
        blocking(move || store.stats(brand.as_deref(), q.since, q.by.unwrap_or_default())).await?;
    Ok(Json(rows))
}
