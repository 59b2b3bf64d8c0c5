//! A worker's `/healthz` (200 once it is connected and runs the hub's config, with
//! the hosts it holds; 503 before; `config_refused` says why the hub's latest config
//! was not run here, when it was not) and `/metrics`, behind the same access guard as
//! the hub's API: loopback by default, a token when bound elsewhere.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio_util::sync::CancellationToken;

use crate::cluster::ClusterConfig;
use crate::config::Config;
use crate::daemon::api;
use crate::daemon::metrics::Metrics;
use crate::daemon::pipeline::{setup, DaemonError};

#[derive(Debug, Default, Clone)]
struct Inner {
    worker: String,
    client: Option<async_nats::Client>,
    config: bool,
    /// Why the hub's latest config was not run here (names only, never a value).
    refused: Option<String>,
    hosts: Vec<String>,
}

pub(super) struct Status(Mutex<Inner>);

impl Status {
    pub(super) fn new(worker: &str) -> Status {
        Status(Mutex::new(Inner {
            worker: worker.to_string(),
            ..Default::default()
        }))
    }

    fn with(&self, f: impl FnOnce(&mut Inner)) {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub(super) fn set_client(&self, client: async_nats::Client) {
        self.with(|i| i.client = Some(client))
    }

    pub(super) fn set_config(&self, ok: bool) {
        self.with(|i| i.config = ok)
    }

    pub(super) fn set_refused(&self, why: Option<String>) {
        self.with(|i| i.refused = why)
    }

    pub(super) fn set_hosts(&self, hosts: Vec<String>) {
        self.with(|i| i.hosts = hosts)
    }

    fn get(&self) -> Inner {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[derive(Clone)]
struct AppState {
    status: Arc<Status>,
    metrics: Arc<Metrics>,
}

async fn healthz(State(s): State<AppState>) -> impl IntoResponse {
    let st = s.status.get();
    let nats = st
        .client
        .as_ref()
        .is_some_and(|c| c.connection_state() == async_nats::connection::State::Connected);
    let code = if nats && st.config {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if code == StatusCode::OK { "ok" } else { "starting" },
        "worker": st.worker,
        "nats": if nats { "connected" } else { "connecting" },
        "config": st.config,
        "config_refused": st.refused,
        "hosts": st.hosts,
    });
    (code, axum::Json(body))
}

async fn metrics_page(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}

/// Binds `[cluster] worker_bind` and serves until `cancel`.
pub(super) async fn serve(
    own: &Config,
    cfg: &ClusterConfig,
    status: Arc<Status>,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, DaemonError> {
    let mut daemon = own.daemon.clone();
    daemon.api_bind = cfg.worker_bind;
    let access = api::Access::from_config(&daemon).map_err(|e| {
        setup(
            "the worker's health endpoint",
            e.to_string()
                .replace("[daemon] api_bind", "[cluster] worker_bind"),
        )
    })?;
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_page))
        .with_state(AppState { status, metrics });
    let app = api::guarded(app, access);
    let listener = tokio::net::TcpListener::bind(cfg.worker_bind)
        .await
        .map_err(|e| {
            setup(
                &format!(
                    "[cluster] worker_bind = {} (is another worker running here?)",
                    cfg.worker_bind
                ),
                e,
            )
        })?;
    tracing::info!(bind = %cfg.worker_bind, "worker health and metrics");
    Ok(tokio::spawn(api::serve(listener, app, cancel)))
}
