//! The API's listener: HTTP/1.1 with a header read timeout and a bound on open
//! connections (`axum::serve` offers neither).
//!
//! - A client must send a request's headers within [`HEADER_READ_TIMEOUT`], the
//!   first request's and every later one's on a kept-alive connection, or the
//!   connection is closed: a slow or idle client cannot keep a connection forever.
//! - At most [`MAX_CONNECTIONS`] connections are served at once; the next one waits
//!   in the kernel's accept queue until one closes, so a flood of connections costs
//!   the daemon no memory beyond that.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The most connections served at once.
pub const MAX_CONNECTIONS: usize = 64;

/// Serves `app` on `listener` until `cancel`; then asks open connections to finish
/// their request in flight and close, and waits for them.
pub async fn serve(listener: TcpListener, app: Router, cancel: CancellationToken) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = cancel.cancelled() => break,
        };
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
        // every request carries its peer (the login limits count per client)
        let service = TowerToHyperService::new(
            app.clone()
                .layer(axum::Extension(axum::extract::ConnectInfo(peer))),
        );
        let cancel = cancel.clone();
        conns.spawn(async move {
            let _permit = permit;
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = cancel.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "local API connection ended");
            }
        });
    }
    while conns.join_next().await.is_some() {}
}
