//! The API's listener: HTTP/1.1 with deadlines on whole requests and a bound on open
//! connections (`axum::serve` offers neither).
//!
//! - A client must send a request's headers within [`HEADER_READ_TIMEOUT`] (the
//!   first request's and every later one's on a kept-alive connection), and its body
//!   within [`BODY_READ_TIMEOUT`] plus one second per [`MIN_BODY_RATE`] bytes
//!   announced, at most [`MAX_BODY`] bytes; else 408 (or 413) and the connection is
//!   closed. A connection lives at most [`MAX_CONNECTION_AGE`]: then it finishes the
//!   request in flight and closes. A slow client cannot hold a connection for long.
//! - At most [`MAX_CONNECTIONS`] connections are served at once. Past that, up to
//!   [`HEALTH_CONNECTIONS`] more are taken that answer `/healthz` only (with a
//!   shorter header deadline, then closed; everything else there is 503), so that a
//!   monitor still hears the daemon while a few hundred sockets are held open by
//!   someone; any further connection is closed at once.
//! - Every request carries its peer address as an
//!   `axum::extract::ConnectInfo<SocketAddr>` extension (the inbox's login limits
//!   count per client).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower_service::Service;

/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's body, before the allowance for its
/// size ([`MIN_BODY_RATE`]).
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The slowest a body may arrive, in bytes per second, beyond [`BODY_READ_TIMEOUT`].
pub const MIN_BODY_RATE: u64 = 16 * 1024;
/// The largest request body taken (the API's bodies are a few hundred bytes).
pub const MAX_BODY: usize = 1024 * 1024;
/// How long one connection is served before it is asked to close.
pub const MAX_CONNECTION_AGE: Duration = Duration::from_secs(300);
/// The most connections served at once.
pub const MAX_CONNECTIONS: usize = 512;
/// The connections taken past [`MAX_CONNECTIONS`], for `/healthz` only.
pub const HEALTH_CONNECTIONS: usize = 16;
/// The header deadline on those.
const HEALTH_HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a connection asked to close may take to finish its request.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `cancel`; then asks open connections to finish
/// their request in flight and close, and waits for them.
pub async fn serve(listener: TcpListener, app: Router, cancel: CancellationToken) {
    let full = app.clone().layer(axum::middleware::from_fn(whole_body));
    let health_only = app
        .layer(axum::middleware::from_fn(whole_body))
        .layer(axum::middleware::from_fn(only_healthz));
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let health_permits = Arc::new(Semaphore::new(HEALTH_CONNECTIONS));
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(accepted) => accepted,
                Err(e) => {
                    // EMFILE and friends: wait a little instead of spinning
                    tracing::warn!(error = %e, "local API: cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = cancel.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let (permit, app, header_timeout) = match permits.clone().try_acquire_owned() {
            Ok(p) => (p, full.clone(), HEADER_READ_TIMEOUT),
            Err(_) => match health_permits.clone().try_acquire_owned() {
                Ok(p) => (p, health_only.clone(), HEALTH_HEADER_TIMEOUT),
                Err(_) => {
                    tracing::debug!(%peer, "local API: every connection is taken; closing this one");
                    continue;
                }
            },
        };
        conns.spawn(connection(
            stream,
            peer,
            app,
            header_timeout,
            permit,
            cancel.clone(),
        ));
    }
    while conns.join_next().await.is_some() {}
}

/// Serves one connection until it ends, it is too old, or `cancel`.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    header_timeout: Duration,
    _permit: OwnedSemaphorePermit,
    cancel: CancellationToken,
) {
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        let mut app = app.clone();
        async move {
            // a Router is always ready
            std::future::poll_fn(|cx| Service::<Request>::poll_ready(&mut app, cx)).await?;
            let r: Result<Response, Infallible> = app.call(req).await;
            r
        }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = cancel.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
        _ = tokio::time::sleep(MAX_CONNECTION_AGE) => {
            conn.as_mut().graceful_shutdown();
            match tokio::time::timeout(CLOSE_GRACE, conn).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::debug!(%peer, "local API connection closed: too old");
                    return;
                }
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "local API connection ended");
    }
}

/// The deadline for a body of `len` bytes (unknown: the base alone).
fn body_deadline(len: Option<u64>) -> Duration {
    let extra = len.map_or(0, |n| n / MIN_BODY_RATE);
    BODY_READ_TIMEOUT.saturating_add(Duration::from_secs(extra))
}

/// Reads the whole body before any handler runs, within [`body_deadline`]: a client
/// that trickles its body gets 408 and loses the connection.
async fn whole_body(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let len = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if len == Some(0) || (len.is_none() && parts.headers.get(header::TRANSFER_ENCODING).is_none()) {
        return next.run(Request::from_parts(parts, body)).await;
    }
    if len.is_some_and(|n| n > MAX_BODY as u64) {
        return closing(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is too large\n",
        );
    }
    match tokio::time::timeout(body_deadline(len), axum::body::to_bytes(body, MAX_BODY)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(_)) => closing(
            StatusCode::BAD_REQUEST,
            "the request body could not be read (or is too large)\n",
        ),
        Err(_) => closing(
            StatusCode::REQUEST_TIMEOUT,
            "the request body did not arrive in time\n",
        ),
    }
}

/// A refusal that closes the connection.
fn closing(status: StatusCode, why: &'static str) -> Response {
    let mut r = (status, why).into_response();
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// On the connections past [`MAX_CONNECTIONS`]: `/healthz` only.
async fn only_healthz(req: Request, next: Next) -> Response {
    if req.uri().path() == "/healthz" {
        let mut r = next.run(req).await;
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return r;
    }
    let mut r = closing(
        StatusCode::SERVICE_UNAVAILABLE,
        "too many connections; try again shortly\n",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bigger_bodies_get_more_time_at_the_minimum_rate() {
        assert_eq!(body_deadline(None), BODY_READ_TIMEOUT);
        assert_eq!(body_deadline(Some(100)), BODY_READ_TIMEOUT);
        assert_eq!(
            body_deadline(Some(MAX_BODY as u64)),
            BODY_READ_TIMEOUT + Duration::from_secs(64)
        );
        assert!(body_deadline(Some(u64::MAX)) > BODY_READ_TIMEOUT);
    }
}
