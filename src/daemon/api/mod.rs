//! The local HTTP API: `/healthz`, `/metrics`, `POST /api/reload`, and the read
//! endpoints the `mentions` and `stats` commands use while the daemon holds the
//! database. Every request passes [`access::guard`] (Host, token, cross-site)
//! first; [`listen::serve`] bounds connections and header reads.

mod access;
mod listen;

pub use access::{exposure, public_host, Access, AccessError, MIN_TOKEN_LEN};
pub use listen::{serve, HEADER_READ_TIMEOUT, MAX_CONNECTIONS};

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
}

async fn healthz(State(s): State<ApiState>) -> impl IntoResponse {
    if !s.ready.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n")
    } else if s.metrics.gauge("overhear_outbox_halted", &[]) > 0.0 {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "degraded: the alert sender is stopped, the outbox cannot record deliveries\n",
        )
    } else {
        (StatusCode::OK, "ok\n")
    }
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
        .with_state(state)
}

/// `app` behind the access guard: every route, the fallback (404) included.
pub fn guarded(app: Router, access: Access) -> Router {
    app.layer(axum::middleware::from_fn_with_state(
        Arc::new(access),
        access::guard,
    ))
}
