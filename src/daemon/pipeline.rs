//! Start-up, the stage tasks and the bounded channels between them, the signal loop
//! and graceful shutdown. The stages themselves live in `ingest`, `classify`,
//! `alert_stage`, `scheduler` and `source_tasks`; reload in `reload`. This file only
//! wires them: it never matches, classifies or renders anything itself.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::alert_stage::alert_stage;
use super::api::{self, ApiState};
use super::classify::{self, Job};
use super::ingest::ingest;
use super::metrics::Metrics;
use super::reload::{build_live, reload, spawn_sender, Generation};
use super::scheduler::scheduler;
use super::shared::{Shared, SourceBatch};
use super::source_tasks::{build_sources, spawn_sources};
use crate::config::Config;
use crate::sources::StateStore;
use crate::store::Store;

/// Why the daemon could not start (or had to stop).
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("invalid configuration:\n{0}")]
    Config(String),
    #[error("cannot load the sentiment model: {0}")]
    Model(#[from] crate::classifier::ClassifierError),
    #[error("cannot open the database in {dir}: {source}")]
    Store {
        dir: PathBuf,
        source: crate::store::StoreError,
    },
    #[error("cannot listen on {addr} for the local API: {source} (is another overhear running? set [daemon] api_bind)")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot set up {what}: {message}")]
    Setup { what: String, message: String },
}

pub(super) fn setup(what: &str, e: impl std::fmt::Display) -> DaemonError {
    DaemonError::Setup {
        what: what.to_string(),
        message: e.to_string(),
    }
}

/// Runs the daemon until SIGTERM/SIGINT. `config_path` is re-read on SIGHUP and
/// `POST /api/reload` (`None`: the embedded default, which cannot change).
pub async fn run(config_path: Option<PathBuf>, config: Config) -> Result<(), DaemonError> {
    let metrics = Arc::new(Metrics::new());
    // Who may use the API: refused before anything loads when it would be exposed.
    let access = api::Access::from_config(&config.daemon).map_err(|e| setup("the local API", e))?;

    // Start-up checks, before anything is polled: model, store, queries, transport.
    let model_cfg = config.model.clone();
    tracing::info!(path = %model_cfg.path.display(), "loading the sentiment model");
    let classifier = tokio::task::spawn_blocking(move || crate::classifier::load(&model_cfg))
        .await
        .map_err(|e| setup("the model loader", e))??;
    tracing::info!(model = %classifier.id(), precision = %classifier.precision_summary(), labels = ?classifier.labels(), "model loaded");

    let store = Store::open(&config.daemon.data_dir).map_err(|source| DaemonError::Store {
        dir: config.daemon.data_dir.clone(),
        source,
    })?;
    let brands: Vec<String> = config.brands.iter().map(|b| b.name.clone()).collect();
    match store.adopt_first_polls(&brands) {
        Ok(0) => {}
        Ok(n) => tracing::info!(sources = n, "sources polled before this version: their next posts alert as new ones, not as a backlog"),
        Err(e) => return Err(setup("record first polls", e)),
    }
    let (live, sender) = build_live(&config, &store, &metrics)?;
    let search = super::ingest::open_search(&config.daemon.data_dir, &store, &metrics);

    let shared = Arc::new(Shared {
        store: store.clone(),
        metrics: metrics.clone(),
        live: RwLock::new(live),
        model_id: classifier.id(),
        failing: std::sync::Mutex::new(saved_failing(&store, &config)),
        retries: Default::default(),
        search: search.clone(),
        polled: Default::default(),
        replies: Arc::new(crate::reply::Desk::new(super::reload::build_replies(
            &config, &store,
        ))),
    });

    // Drafts waiting for approval are told to the brands' recipients.
    {
        let weak = Arc::downgrade(&shared);
        shared.replies.set_notifier(Arc::new(move |m, r| {
            let Some(shared) = weak.upgrade() else { return };
            let draft = crate::alerts::Draft {
                id: &r.id,
                account: &r.account,
                author: &r.author,
                text: &r.text,
            };
            let items = shared
                .alerter()
                .approval_items(m, &draft, chrono::Utc::now());
            match shared.store.enqueue(&items) {
                Ok(_) => shared.wake_sender(),
                Err(e) => {
                    tracing::error!(reply = %r.id, error = %e, "cannot queue the approval notices")
                }
            }
        }));
    }

    // The local API.
    let ready = Arc::new(AtomicBool::new(false));
    let (reload_tx, mut reload_rx) = mpsc::channel(4);
    let api_state = ApiState {
        ready: ready.clone(),
        metrics: metrics.clone(),
        reload: reload_tx,
        senders: crate::alerts::sender_health(&store),
        replies: shared.replies.clone(),
    };
    let web = crate::web::WebState::new(
        store.clone(),
        config.daemon.public_url.as_deref(),
        config.brands.iter().map(|b| b.name.clone()).collect(),
    )
    .with_search(search.clone())
    .with_overdue({
        let shared = shared.clone();
        Arc::new(move |m, now| shared.alerter().is_overdue(m, now))
    })
    .with_destinations({
        let shared = shared.clone();
        Arc::new(move |to| shared.alerter().is_destination(to))
    })
    .with_trusted_proxies(config.daemon.trusted_proxies())
    .with_replies(Some(shared.replies.clone()));
    let app = api::router(api_state)
        .merge(crate::store::api::api_router_with_search(
            store.clone(),
            search.clone(),
        ))
        .merge(crate::web::router(web));
    let app = api::guarded(app, access);
    let listener = tokio::net::TcpListener::bind(config.daemon.api_bind)
        .await
        .map_err(|source| DaemonError::Bind {
            addr: config.daemon.api_bind,
            source,
        })?;
    let api_cancel = CancellationToken::new();
    let mut api_task = {
        let c = api_cancel.clone();
        tokio::spawn(async move {
            api::serve(listener, app, c).await;
        })
    };

    // Stages and channels (all bounded).
    let (ingest_tx, ingest_rx) = mpsc::channel::<SourceBatch>(16);
    let (classify_tx, classify_rx) = mpsc::channel::<Job<String>>(512);
    let (classified_tx, classified_rx) = mpsc::channel(512);
    let verdicts_tx = classified_tx.clone();
    let mut stages = JoinSet::new();
    stages.spawn(ingest(shared.clone(), ingest_rx, classify_tx.clone()));
    stages.spawn(classify::run(
        classifier,
        classify_rx,
        classified_tx,
        config.model.max_batch,
        config.model.batch_wait,
        metrics.clone(),
    ));
    stages.spawn(alert_stage(shared.clone(), classified_rx));

    // Mentions stored before a crash but never classified go through again, and so
    // do those a failed step (store write, model) left behind, with backoff.
    let requeue_cancel = CancellationToken::new();
    let requeue = tokio::spawn(super::retry::run(
        shared.clone(),
        classify_tx.clone(),
        requeue_cancel.clone(),
    ));
    // Replies go out as they are written (and those a stop left behind, again).
    let replies_cancel = CancellationToken::new();
    let replies_task = tokio::spawn(shared.replies.clone().run(replies_cancel.clone()));

    let mut hub_cluster: Option<crate::cluster::Cluster> = None;
    // A hub: the workers poll; their results come from the stream.
    let hub_cancel = CancellationToken::new();
    let mut hub_tasks = JoinSet::new();
    if let Some(cluster_cfg) = &config.cluster {
        let cluster = crate::cluster::Cluster::connect(cluster_cfg, "overhear-hub")
            .await
            .map_err(|e| setup("the cluster", e))?;
        let text = config_text(config_path.as_deref())?;
        super::hub::publish_config(&cluster, &text)
            .await
            .map_err(|e| setup("the cluster", e))?;
        let hub = super::hub::Hub::new(
            cluster.clone(),
            shared.clone(),
            classify_tx.clone(),
            verdicts_tx,
        );
        hub_tasks.spawn(hub.run(hub_cancel.clone()));
        hub_tasks.spawn(super::hub::observe(
            cluster.clone(),
            shared.clone(),
            hub_cancel.clone(),
        ));
        hub_cluster = Some(cluster);
        tracing::info!(
            stream = %cluster_cfg.prefix,
            "cluster hub: the workers poll the sources; their results are stored here"
        );
    } else {
        drop(verdicts_tx);
    }
    drop(classify_tx);

    let mut sender = spawn_sender(sender);
    let scheduler_cancel = CancellationToken::new();
    let scheduler = tokio::spawn(scheduler(shared.clone(), scheduler_cancel.clone()));

    // Sources last: everything downstream is ready for them.
    let state: Arc<dyn StateStore> = Arc::new(store.clone());
    let mut sources_cancel = CancellationToken::new();
    let mut source_tasks = JoinSet::new();
    let first = if config.cluster.is_some() {
        Vec::new()
    } else {
        build_sources(&config, &shared.matcher(), state.clone())?
    };
    // The thread watch shares the sources' client: one budget per host.
    let http = match first.first() {
        Some(r) => r.ctx.http.clone(),
        None => {
            config
                .source_context(&shared.matcher(), state.clone())
                .map_err(|e| setup("the thread watch", e))?
                .http
        }
    };
    let watcher_cancel = CancellationToken::new();
    let watcher = tokio::spawn(super::watcher::watcher(
        shared.clone(),
        http,
        watcher_cancel.clone(),
    ));
    spawn_sources(
        &mut source_tasks,
        first,
        &ingest_tx,
        &sources_cancel,
        &shared,
    );

    ready.store(true, Ordering::SeqCst);
    super::notify::notify("READY=1");
    tracing::info!(
        api = %config.daemon.api_bind,
        sources = config.sources.len(),
        brands = config.brands.len(),
        "overhear is running"
    );

    let mut current = config;
    let signals = Signals::new().map_err(|e| setup("signal handlers", e))?;
    let mut signals = signals;
    loop {
        let reply = tokio::select! {
            sig = signals.next() => match sig {
                Sig::Reload => None,
                Sig::Stop => break,
            },
            Some(reply) = reload_rx.recv() => Some(reply),
        };
        let mut gen = Generation {
            config: &mut current,
            sources: &mut source_tasks,
            sources_cancel: &mut sources_cancel,
            sender: &mut sender,
            cluster: hub_cluster.as_ref(),
        };
        let r = reload(&config_path, &shared, &state, &mut gen, &ingest_tx).await;
        if let Err(e) = &r {
            tracing::error!("reload rejected, the old config keeps running: {e}");
        }
        if let Some(reply) = reply {
            let _ = reply.send(r.map_err(|e| e.to_string()));
        }
    }

    // Graceful shutdown: stop polling, drain the stages, flush, within the budget.
    super::notify::notify("STOPPING=1");
    tracing::info!("shutting down: no more polls; finishing in-flight work");
    ready.store(false, Ordering::SeqCst);
    // The whole shutdown fits `shutdown_timeout` (systemd's TimeoutStopSec must be
    // longer): draining the stages gets what is left after a reserve for the outbox
    // sender's message in flight, the final flush and the API's goodbye.
    let budget = current.daemon.shutdown_timeout;
    let deadline = tokio::time::Instant::now() + budget;
    let reserve = (budget / 4).min(Duration::from_secs(5));
    let drained = tokio::time::timeout_at(deadline - reserve, async {
        sources_cancel.cancel();
        while source_tasks.join_next().await.is_some() {}
        // the message being stored is finished; the rest stays unacknowledged
        hub_cancel.cancel();
        while hub_tasks.join_next().await.is_some() {}
        drop(ingest_tx);
        requeue_cancel.cancel();
        requeue.abort();
        while stages.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            ?budget,
            "shutdown budget spent; unfinished work resumes at the next start"
        );
        sources_cancel.cancel();
        source_tasks.abort_all();
        hub_tasks.abort_all();
        stages.abort_all();
    }
    scheduler_cancel.cancel();
    scheduler.abort();
    watcher_cancel.cancel();
    watcher.abort();
    // a reply cut off mid-request is `sending`: the next start tries it again with
    // the same key
    replies_cancel.cancel();
    let _ = tokio::time::timeout(Duration::from_millis(200), replies_task).await;
    let left = |floor: Duration| {
        deadline
            .saturating_duration_since(tokio::time::Instant::now())
            .max(floor)
    };
    sender.stop_within(left(Duration::from_millis(100))).await;
    if let Some(s) = &search {
        s.shutdown(left(Duration::from_millis(100))).await;
    }
    if let Err(e) = store.flush() {
        tracing::error!(error = %e, "final flush failed");
    }
    api_cancel.cancel();
    if tokio::time::timeout(left(Duration::from_millis(100)), &mut api_task)
        .await
        .is_err()
    {
        api_task.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

/// The config file's text, as the workers get it.
pub(super) fn config_text(path: Option<&std::path::Path>) -> Result<String, DaemonError> {
    match path {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| setup("the cluster", format!("cannot read {}: {e}", p.display()))),
        None => Ok(crate::config::EMBEDDED_DEFAULT.to_string()),
    }
}

/// The failing sources saved by the last run, for those still configured.
fn saved_failing(store: &Store, config: &Config) -> super::shared::Failing {
    let mut failing: super::shared::Failing = match store.daemon_state(super::shared::FAILING_KEY) {
        Ok(f) => f.unwrap_or_default(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read which sources were failing");
            Default::default()
        }
    };
    let names: Vec<String> = config.sources.iter().map(|s| s.name()).collect();
    failing.retain(|name, _| names.contains(name));
    failing
}

enum Sig {
    Reload,
    Stop,
}

struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> Sig {
        tokio::select! {
            _ = self.term.recv() => Sig::Stop,
            _ = self.int.recv() => Sig::Stop,
            _ = self.hup.recv() => Sig::Reload,
        }
    }
}
