//! The source tasks against a real store and a loopback feed: a panicking source is
//! rebuilt, a reload keeps an unchanged source's schedule, one bad post is rejected
//! alone.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::super::metrics::Metrics;
use super::super::reload::{build_live, reload, spawn_sender, Generation};
use super::super::shared::{Shared, SourceBatch};
use super::*;
use crate::config::Config;
use crate::post::Post;
use crate::sources::{Batch, Cursor, SourceHealth, StateError};

fn config_text(data: &Path, hn: &str, query: &str) -> String {
    format!(
        "[daemon]\ndata_dir = {data:?}\n\n[email]\ntransport = \"file\"\nfrom = \"o <o@localhost>\"\n\n\
         [[brand]]\nname = \"Acme\"\nquery = '\"acme corp\"'\nalert_to = [\"a@example.com\"]\n\n\
         [[source]]\nkind = \"hackernews\"\nbase_url = \"{hn}\"\nqueries = [\"{query}\"]\nevery = \"1h\"\n"
    )
}

fn shared_for(config: &Config) -> (Arc<Shared>, crate::alerts::Sender) {
    let store = crate::store::Store::open(&config.daemon.data_dir).unwrap();
    let metrics = Arc::new(Metrics::new());
    let (live, sender) = build_live(config, &store, &metrics).unwrap();
    let replies = Arc::new(crate::reply::Desk::new(
        super::super::reload::build_replies(config, &store),
    ));
    let shared = Arc::new(Shared {
        replies,
        store,
        metrics,
        live: RwLock::new(live),
        model_id: "test".into(),
        failing: Default::default(),
        retries: Default::default(),
        search: None,
        polled: Default::default(),
    });
    (shared, sender)
}

/// Acks every batch as stored.
fn ack_all() -> mpsc::Sender<SourceBatch> {
    let (tx, mut rx) = mpsc::channel::<SourceBatch>(4);
    tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            let _ = b.ack.send(Ok(()));
        }
    });
    tx
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap_or_default().len()
}

async fn wait_for(server: &MockServer, n: usize) {
    for _ in 0..200 {
        if requests(server).await >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the server never got {n} requests");
}

fn hn_ok() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/json")
        .set_body_string(r#"{"hits":[],"nbPages":1}"#)
}

struct Panics;

impl Source for Panics {
    fn name(&self) -> &str {
        "hackernews"
    }
    fn kind(&self) -> &'static str {
        "hackernews"
    }
    fn poll(&mut self) -> crate::sources::PollFuture<'_> {
        Box::pin(async { panic!("a server made me do it") })
    }
    fn commit(&mut self, _: Cursor) -> Result<(), StateError> {
        Ok(())
    }
    fn health(&self) -> SourceHealth {
        SourceHealth::default()
    }
    fn next_delay(&self) -> Duration {
        Duration::ZERO
    }
}

#[tokio::test]
async fn a_panicking_source_is_reported_and_rebuilt_from_its_entry() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(hn_ok())
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(dir.path(), &server.uri(), "acme");
    let config = Config::parse(&text, "test").unwrap();
    let (shared, _sender) = shared_for(&config);
    let state: Arc<dyn StateStore> = Arc::new(shared.store.clone());
    let mut running = build_sources(&config, &shared.matcher(), state).unwrap();
    running[0].source = Some(Box::new(Panics));
    running[0].ctx.backoff_base = Duration::from_millis(10);
    let mut tasks = JoinSet::new();
    let cancel = CancellationToken::new();
    let tx = ack_all();
    spawn_sources(&mut tasks, running, &tx, &cancel, &shared);
    // the rebuilt (real) source polls the server
    wait_for(&server, 1).await;
    let m = &shared.metrics;
    assert_eq!(
        m.counter(
            "overhear_source_restarts_total",
            &[("source", "hackernews")]
        ),
        1.0
    );
    assert!(m.render().contains("overhear_source_restarts_total"));
    // the rebuilt source's success cleared the failing mark
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(shared.failing.lock().unwrap().is_empty());
    cancel.cancel();
    let back = tasks.join_next().await.unwrap().unwrap();
    assert!(back.source.is_some(), "the task hands its source back");
}

#[tokio::test]
async fn a_reload_keeps_an_unchanged_source_and_its_schedule() {
    let server = MockServer::start().await;
    // the first poll is told to wait an hour
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overhear.toml");
    let text = config_text(&dir.path().join("data"), &server.uri(), "acme");
    std::fs::write(&path, &text).unwrap();
    let mut config = Config::load(&path).unwrap();
    let (shared, sender) = shared_for(&config);
    let state: Arc<dyn StateStore> = Arc::new(shared.store.clone());
    let tx = ack_all();
    let mut tasks = JoinSet::new();
    let mut cancel = CancellationToken::new();
    let first = build_sources(&config, &shared.matcher(), state.clone()).unwrap();
    spawn_sources(&mut tasks, first, &tx, &cancel, &shared);
    wait_for(&server, 1).await;
    let mut sender = spawn_sender(sender);
    let path = Some(path);
    let mut gen = Generation {
        config: &mut config,
        sources: &mut tasks,
        sources_cancel: &mut cancel,
        sender: &mut sender,
        cluster: None,
    };
    reload(&path, &shared, &state, &mut gen, &tx).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        requests(&server).await,
        1,
        "an unchanged source keeps its Retry-After across a reload"
    );

    // a changed entry is rebuilt and polls again
    let changed = config_text(&dir.path().join("data"), &server.uri(), "widget");
    std::fs::write(path.as_ref().unwrap(), changed).unwrap();
    reload(&path, &shared, &state, &mut gen, &tx).await.unwrap();
    wait_for(&server, 2).await;
    gen.sources_cancel.cancel();
}

fn post(id: &str) -> Post {
    Post {
        rating: None,
        owned_by: None,
        id: id.to_string(),
        url: format!("https://example.com/{}", id.replace('\0', "-")),
        author: None,
        title: None,
        text: "we love acme corp".into(),
        created_at: Utc::now(),
        created_at_is_first_seen: false,
        source: "rss".into(),
        source_name: "feed".into(),
        site: "example.com".into(),
        parent_id: None,
        thread_id: None,
        engagement: None,
        lang: None,
        links: vec![],
    }
}

#[tokio::test]
async fn one_post_the_store_rejects_is_dropped_alone() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse(&config_text(dir.path(), "http://127.0.0.1:9", "a"), "t").unwrap();
    let (shared, _sender) = shared_for(&config);
    let (tx, rx) = mpsc::channel(4);
    let (classify_tx, mut classify_rx) = mpsc::channel(16);
    tokio::spawn(super::super::ingest::ingest(
        shared.clone(),
        rx,
        classify_tx,
    ));
    let (ack, acked) = oneshot::channel();
    let batch = Batch {
        posts: vec![post("rss:good-1"), post("rss:bad\0id"), post("rss:good-2")],
        cursor: None,
    };
    tx.send(SourceBatch {
        source: "feed".into(),
        posts: batch.posts,
        ack,
    })
    .await
    .unwrap();
    let r = acked.await.unwrap();
    assert_eq!(r, Ok(()), "the batch is stored, so the cursor may move");
    assert!(shared.store.resolve("rss:good-1").unwrap().is_some());
    assert!(shared.store.resolve("rss:good-2").unwrap().is_some());
    assert_eq!(
        shared
            .metrics
            .counter("overhear_posts_rejected_total", &[("source", "feed")]),
        1.0
    );
    let mut jobs = 0;
    while classify_rx.try_recv().is_ok() {
        jobs += 1;
    }
    assert_eq!(jobs, 2);
}
