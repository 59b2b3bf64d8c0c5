//! Helpers for the sources tests: fixtures, a fast context, raw TCP servers.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use overhear::sources::{
    build, Batch, HttpSettings, MemoryState, Source, SourceConfig, SourceContext, SourceError,
    StateStore,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The recorded feed responses, inside the repository (see its SOURCES.md).
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds")
}

pub fn fixture(name: &str) -> Vec<u8> {
    let p = fixtures_dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

pub fn fixture_str(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap()
}

pub fn fixture_json(name: &str) -> serde_json::Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

/// A context with small limits so that failure tests are fast.
pub fn ctx(state: Arc<dyn StateStore>, terms: &[&str]) -> SourceContext {
    let mut c = SourceContext::new(
        "overhear-test/0.1 (+https://example.invalid)",
        Duration::from_secs(60),
        terms.iter().map(|s| s.to_string()).collect(),
        state,
        HttpSettings {
            body_cap: 1024 * 1024,
            connect_timeout: Duration::from_millis(500),
            request_timeout: Duration::from_millis(700),
            ..HttpSettings::default()
        },
    )
    .unwrap();
    c.backoff_base = Duration::from_millis(10);
    c.backoff_max = Duration::from_millis(200);
    c
}

/// Parses one `[[source]]` entry from TOML.
pub fn source_config(toml_text: &str) -> SourceConfig {
    #[derive(serde::Deserialize)]
    struct Wrap {
        source: Vec<SourceConfig>,
    }
    let w: Wrap = toml::from_str(toml_text).unwrap();
    w.source.into_iter().next().unwrap()
}

pub fn source(toml_text: &str, state: Arc<MemoryState>, terms: &[&str]) -> Box<dyn Source> {
    build(&source_config(toml_text), &ctx(state, terms)).unwrap()
}

/// Polls and commits, as the daemon does after storing.
pub async fn poll_commit(s: &mut Box<dyn Source>) -> Result<Batch, SourceError> {
    let b = s.poll().await?;
    if let Some(c) = &b.cursor {
        s.commit(c.clone()).unwrap();
    }
    Ok(b)
}

pub fn ids(b: &Batch) -> Vec<String> {
    b.posts.iter().map(|p| p.id.clone()).collect()
}

/// The cursor as JSON.
pub fn cursor_json(b: &Batch) -> serde_json::Value {
    serde_json::from_slice(&b.cursor.as_ref().unwrap().0).unwrap()
}

pub fn saved(state: &MemoryState, name: &str) -> Option<serde_json::Value> {
    state
        .load(name)
        .unwrap()
        .map(|b| serde_json::from_slice(&b).unwrap())
}

/// A TCP server answering every connection with `head` then `body_chunks` (one write
/// each), then closing. Returns its base URL.
pub async fn raw_server(head: String, body_chunks: Vec<Vec<u8>>, repeat: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..repeat {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let head = head.clone();
            let chunks = body_chunks.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = sock.read(&mut buf).await;
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for c in chunks {
                    if sock.write_all(&c).await.is_err() {
                        return;
                    }
                }
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

/// A server streaming a chunked body of `total` bytes (never buffered by the server).
pub async fn endless_chunked_server(content_type: &str, total: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let head = head.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = sock.read(&mut buf).await;
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'a'; 64 * 1024];
                let mut sent = 0;
                while sent < total {
                    let frame = format!("{:x}\r\n", chunk.len());
                    if sock.write_all(frame.as_bytes()).await.is_err()
                        || sock.write_all(&chunk).await.is_err()
                        || sock.write_all(b"\r\n").await.is_err()
                    {
                        return;
                    }
                    sent += chunk.len();
                }
                let _ = sock.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    format!("http://{addr}")
}

// ---- set-up shared by the sources, backfill and end-to-end tests ----

/// A source built from one `[[source]]` entry with a fresh in-memory state, and that
/// state (to look at the saved cursor).
pub fn fresh_source(toml_text: &str, terms: &[&str]) -> (Box<dyn Source>, Arc<MemoryState>) {
    let state = Arc::new(MemoryState::default());
    (source(toml_text, state.clone(), terms), state)
}

/// A 200 with a JSON body, as the APIs send it.
pub fn json_body(v: &serde_json::Value) -> wiremock::ResponseTemplate {
    wiremock::ResponseTemplate::new(200)
        .insert_header("content-type", "application/json; charset=utf-8")
        .set_body_string(v.to_string())
}

/// Answers every GET of `at` (a path) with `response`.
pub async fn serve_get(
    server: &wiremock::MockServer,
    at: &str,
    response: wiremock::ResponseTemplate,
) {
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path(at))
        .respond_with(response)
        .mount(server)
        .await;
}

/// Answers every GET, whatever its path, with `response`.
pub async fn serve_any_get(server: &wiremock::MockServer, response: wiremock::ResponseTemplate) {
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(response)
        .mount(server)
        .await;
}

/// Runs the `overhear` binary with `args` and `--config config`.
pub fn overhear(args: &[&str], config: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_overhear"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

/// [`overhear`], which must succeed (its stderr is shown when it does not).
pub fn overhear_ok(args: &[&str], config: &std::path::Path) -> std::process::Output {
    let out = overhear(args, config);
    assert!(
        out.status.success(),
        "overhear {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
