//! The local HTTP API: `/healthz`, `/metrics`, `POST /api/reload`, and the read
//! endpoints the `mentions` and `stats` commands use while the daemon holds the
//! database. Every request passes [`access::guard`] (Host, token, cross-site)
//! first; [`listen::serve`] bounds connections and how long a request may take.

mod access;
mod listen;
mod replies;
pub mod token_file;

pub use access::{
    exposure, public_host, public_url_warning, Access, AccessError, TokenHolder, MIN_TOKEN_LEN,
};
pub use listen::{
    serve, BODY_READ_TIMEOUT, HEADER_READ_TIMEOUT, HEALTH_CONNECTIONS, MAX_BODY, MAX_CONNECTIONS,
    MIN_BODY_RATE,
};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::mpsc;

use super::metrics::Metrics;

/// What the API handlers share with the daemon.
#[derive(Clone)]
pub struct ApiState {
    pub ready: Arc<AtomicBool>,
    pub metrics: Arc<Metrics>,
    /// Asks the daemon to re-read its config; the reply says whether it took.
    pub reload: mpsc::Sender<tokio::sync::oneshot::Sender<Result<(), String>>>,
    /// How the alert destinations (email, webhooks) are doing, for `/healthz`.
    pub senders: Arc<crate::alerts::SenderHealth>,
    /// Replies written through `/api/replies`.
    pub replies: Arc<crate::reply::Desk>,
}

/// One line per alert destination tried since the start: `ok` or why not. Names
/// and errors only: a webhook's URL never appears.
fn destination_lines(s: &ApiState) -> String {
    let mut out = String::new();
    for (name, d) in s.senders.destinations() {
        let line = match (&d.failing_since, &d.last_error) {
            (Some(since), Some(e)) => format!(
                "destination {name} ({}): failing since {}: {e}{}\n",
                d.kind,
                since.to_rfc3339(),
                d.next_attempt
                    .map(|t| format!(" (next try {})", t.to_rfc3339()))
                    .unwrap_or_default()
            ),
            _ => format!(
                "destination {name} ({}): ok{}\n",
                d.kind,
                d.last_sent
                    .map(|t| format!(", last sent {}", t.to_rfc3339()))
                    .unwrap_or_default()
            ),
        };
        out.push_str(&line);
    }
    out
}

/// `ok` (200), `starting` or `degraded: …` (503) on the first line; then, for a
/// request with the API token only, one line per alert destination (a failing
/// webhook is told, but does not make the daemon unhealthy: the other destinations
/// and everything upstream keep working). A stranger learns no destination's name
/// or error.
async fn healthz(
    State(s): State<ApiState>,
    holder: Option<axum::Extension<TokenHolder>>,
) -> impl IntoResponse {
    let (code, first) = if !s.ready.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n")
    } else if s.metrics.gauge("overhear_outbox_halted", &[]) > 0.0 {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "degraded: the alert sender is stopped, the outbox cannot record deliveries\n",
        )
    } else {
        (StatusCode::OK, "ok\n")
    };
    let details = if holder.is_some() {
        destination_lines(&s)
    } else {
        String::new()
    };
    (code, format!("{first}{details}"))
}

async fn metrics(State(s): State<ApiState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}

async fn reload(State(s): State<ApiState>) -> impl IntoResponse {
    let (tx, rx) = tokio::sync::oneshot::channel();
    if s.reload.send(tx).await.is_err() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down\n".to_string(),
        );
    }
    match rx.await {
        Ok(Ok(())) => (StatusCode::OK, "reloaded\n".to_string()),
        Ok(Err(e)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("config rejected, the old one keeps running:\n{e}\n"),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down\n".to_string(),
        ),
    }
}

/// The daemon's own routes; the store's read routes are merged in by the caller,
/// then the whole is wrapped by [`guarded`].
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/reload", post(reload))
        .route("/api/replies", post(replies::write))
        .route("/api/replies/:id", get(replies::show))
        .route("/api/replies/:id/:action", post(replies::act))
        .with_state(state)
}

/// `app` behind the access guard: every route, the fallback (404) included.
pub fn guarded(app: Router, access: Access) -> Router {
    app.layer(axum::middleware::from_fn_with_state(
        Arc::new(access),
        access::guard,
    ))
}
