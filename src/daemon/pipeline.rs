//! Start-up, the stage tasks and the channels between them, reload and shutdown.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::api::{self, ApiState};
use super::classify::{self, Job};
use super::metrics::Metrics;
use crate::alerts::{run_sender, Alerter, Sender, SystemClock};
use crate::config::Config;
use crate::matcher::Matcher;
use crate::post::{Post, Sentiment};
use crate::sources::{Source, SourceContext, StateStore};
use crate::store::{MentionFilter, Store, Upsert};

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

/// Posts one poll of one source produced, and where to say they are safely stored.
struct SourceBatch {
    source: String,
    posts: Vec<Post>,
    ack: oneshot::Sender<Result<(), String>>,
}

/// What reload swaps: the parts of the pipeline that follow the config.
struct Live {
    matcher: Arc<Matcher>,
    alerter: Arc<Alerter>,
    /// Wakes the outbox sender of this generation when alerts were queued.
    wake: Arc<Notify>,
    brands: Vec<String>,
}

/// The outbox sender task of one config generation.
struct SenderTask {
    cancel: CancellationToken,
    handle: tokio::task::JoinHandle<()>,
}

impl SenderTask {
    async fn stop(self) {
        self.cancel.cancel();
        // a send in progress is finished first
        let _ = tokio::time::timeout(Duration::from_secs(30), self.handle).await;
    }
}

/// When each failing source started failing, and why (for source-health emails).
type Failing = std::collections::HashMap<String, (chrono::DateTime<Utc>, String)>;

struct Shared {
    store: Store,
    metrics: Arc<Metrics>,
    live: RwLock<Live>,
    model_id: String,
    failing: std::sync::Mutex<Failing>,
}

impl Shared {
    fn matcher(&self) -> Arc<Matcher> {
        self.live
            .read()
            .map(|l| l.matcher.clone())
            .unwrap_or_else(|p| p.into_inner().matcher.clone())
    }

    fn alerter(&self) -> Arc<Alerter> {
        self.live
            .read()
            .map(|l| l.alerter.clone())
            .unwrap_or_else(|p| p.into_inner().alerter.clone())
    }

    fn wake_sender(&self) {
        let wake = self
            .live
            .read()
            .map(|l| l.wake.clone())
            .unwrap_or_else(|p| p.into_inner().wake.clone());
        wake.notify_one();
    }

    fn set_failing(&self, source: &str, error: Option<String>) {
        let mut f = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        match error {
            None => {
                f.remove(source);
            }
            Some(e) => {
                let since = f.get(source).map_or_else(Utc::now, |(t, _)| *t);
                f.insert(source.to_string(), (since, e));
            }
        }
    }
}

fn setup(what: &str, e: impl std::fmt::Display) -> DaemonError {
    DaemonError::Setup {
        what: what.to_string(),
        message: e.to_string(),
    }
}

/// Compiles the queries and builds the alert rules and the outbox sender of a config.
fn build_live(config: &Config, store: &Store) -> Result<(Live, Sender), DaemonError> {
    let matcher =
        Matcher::compile(&config.brands).map_err(|e| DaemonError::Config(e.to_string()))?;
    let (sender, alerter) = Sender::from_config(store.clone(), config, Arc::new(SystemClock))
        .map_err(|e| setup("email", e))?;
    let live = Live {
        matcher: Arc::new(matcher),
        alerter,
        wake: sender.waker(),
        brands: config.brands.iter().map(|b| b.name.clone()).collect(),
    };
    Ok((live, sender))
}

fn spawn_sender(sender: Sender) -> SenderTask {
    let cancel = CancellationToken::new();
    let handle = tokio::spawn(run_sender(sender, cancel.clone()));
    SenderTask { cancel, handle }
}

fn build_sources(
    config: &Config,
    matcher: &Matcher,
    state: Arc<dyn StateStore>,
) -> Result<Vec<Box<dyn Source>>, DaemonError> {
    let mut ctx = SourceContext::for_config(config, state).map_err(|e| setup("sources", e))?;
    ctx.search_terms = matcher.all_search_terms();
    config
        .sources
        .iter()
        .map(|s| {
            crate::sources::build(s, &ctx)
                .map_err(|e| DaemonError::Config(format!("source {:?}: {e}", s.name())))
        })
        .collect()
}

/// Runs the daemon until SIGTERM/SIGINT. `config_path` is re-read on SIGHUP and
/// `POST /api/reload` (`None`: the embedded default, which cannot change).
pub async fn run(config_path: Option<PathBuf>, config: Config) -> Result<(), DaemonError> {
    let metrics = Arc::new(Metrics::new());

    // Start-up checks, before anything is polled: model, store, queries, transport.
    let model_cfg = config.model.clone();
    tracing::info!(path = %model_cfg.path.display(), "loading the sentiment model");
    let classifier = tokio::task::spawn_blocking(move || crate::classifier::load(&model_cfg))
        .await
        .map_err(|e| setup("the model loader", e))??;
    tracing::info!(model = %classifier.id(), labels = ?classifier.labels(), "model loaded");

    let store = Store::open(&config.daemon.data_dir).map_err(|source| DaemonError::Store {
        dir: config.daemon.data_dir.clone(),
        source,
    })?;
    let (live, sender) = build_live(&config, &store)?;

    let shared = Arc::new(Shared {
        store: store.clone(),
        metrics: metrics.clone(),
        live: RwLock::new(live),
        model_id: classifier.id(),
        failing: Default::default(),
    });

    // The local API.
    let ready = Arc::new(AtomicBool::new(false));
    let (reload_tx, mut reload_rx) = mpsc::channel(4);
    let api_state = ApiState {
        ready: ready.clone(),
        metrics: metrics.clone(),
        reload: reload_tx,
    };
    let app = api::router(api_state).merge(crate::store::api_router(store.clone()));
    let listener = tokio::net::TcpListener::bind(config.daemon.api_bind)
        .await
        .map_err(|source| DaemonError::Bind {
            addr: config.daemon.api_bind,
            source,
        })?;
    let api_cancel = CancellationToken::new();
    let api_task = {
        let c = api_cancel.clone();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(c.cancelled_owned());
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "local API stopped");
            }
        })
    };

    // Stages and channels (all bounded).
    let (ingest_tx, ingest_rx) = mpsc::channel::<SourceBatch>(16);
    let (classify_tx, classify_rx) = mpsc::channel::<Job<String>>(512);
    let (classified_tx, classified_rx) = mpsc::channel(512);
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

    // Mentions stored before a crash but never classified go through again.
    let requeue = {
        let shared = shared.clone();
        let tx = classify_tx.clone();
        tokio::spawn(async move {
            match shared.store.unclassified(usize::MAX) {
                Ok(pending) if !pending.is_empty() => {
                    tracing::info!(
                        count = pending.len(),
                        "classifying mentions left over from the last run"
                    );
                    for m in pending {
                        let job = Job {
                            item: m.id,
                            text: m.mention.post.classifier_text(),
                        };
                        if tx.send(job).await.is_err() {
                            break;
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "cannot list unclassified mentions"),
            }
        })
    };
    drop(classify_tx);

    let mut sender = spawn_sender(sender);
    let scheduler_cancel = CancellationToken::new();
    let scheduler = tokio::spawn(scheduler(shared.clone(), scheduler_cancel.clone()));

    // Sources last: everything downstream is ready for them.
    let state: Arc<dyn StateStore> = Arc::new(store.clone());
    let mut sources_cancel = CancellationToken::new();
    let mut source_tasks = JoinSet::new();
    let first = build_sources(&config, &shared.matcher(), state.clone())?;
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
    let budget = current.daemon.shutdown_timeout;
    let drained = tokio::time::timeout(budget, async {
        sources_cancel.cancel();
        while source_tasks.join_next().await.is_some() {}
        drop(ingest_tx);
        requeue.abort();
        while stages.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            ?budget,
            "shutdown budget spent; unfinished work resumes at the next start"
        );
    }
    scheduler_cancel.cancel();
    let _ = scheduler.await;
    sender.stop().await;
    if let Err(e) = store.flush() {
        tracing::error!(error = %e, "final flush failed");
    }
    api_cancel.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(2), api_task).await;
    tracing::info!("stopped");
    Ok(())
}

/// The parts of the running daemon that a reload replaces.
struct Generation<'a> {
    config: &'a mut Config,
    sources: &'a mut JoinSet<()>,
    sources_cancel: &'a mut CancellationToken,
    sender: &'a mut SenderTask,
}

/// Re-reads the config; on any error the running generation is left untouched.
async fn reload(
    path: &Option<PathBuf>,
    shared: &Arc<Shared>,
    state: &Arc<dyn StateStore>,
    gen: &mut Generation<'_>,
    ingest_tx: &mpsc::Sender<SourceBatch>,
) -> Result<(), DaemonError> {
    let Some(path) = path else {
        return Err(DaemonError::Config(
            "running on the embedded default config: nothing to re-read (start with --config FILE)"
                .into(),
        ));
    };
    tracing::info!(config = %path.display(), "re-reading the configuration");
    let new = Config::load(path).map_err(|e| DaemonError::Config(e.to_string()))?;
    let (live, sender) = build_live(&new, &shared.store)?;
    let sources = build_sources(&new, &live.matcher, state.clone())?;
    if new.model != gen.config.model {
        tracing::warn!("[model] changed: a restart is needed for that part to take effect");
    }
    if new.daemon.api_bind != gen.config.daemon.api_bind
        || new.daemon.data_dir != gen.config.daemon.data_dir
    {
        tracing::warn!(
            "[daemon] data_dir/api_bind changed: a restart is needed for that part to take effect"
        );
    }
    // The old sender stops before the new one starts, so no entry is sent twice.
    let old_sender = std::mem::replace(gen.sender, spawn_sender_later());
    old_sender.stop().await;
    match shared.live.write() {
        Ok(mut l) => *l = live,
        Err(p) => *p.into_inner() = live,
    }
    *gen.sender = spawn_sender(sender);
    gen.sources_cancel.cancel();
    while gen.sources.join_next().await.is_some() {}
    *gen.sources_cancel = CancellationToken::new();
    spawn_sources(gen.sources, sources, ingest_tx, gen.sources_cancel, shared);
    tracing::info!(
        sources = new.sources.len(),
        brands = new.brands.len(),
        "configuration reloaded"
    );
    *gen.config = new;
    Ok(())
}

/// A placeholder that is replaced before anything waits on it.
fn spawn_sender_later() -> SenderTask {
    SenderTask {
        cancel: CancellationToken::new(),
        handle: tokio::spawn(async {}),
    }
}

fn spawn_sources(
    tasks: &mut JoinSet<()>,
    sources: Vec<Box<dyn Source>>,
    tx: &mpsc::Sender<SourceBatch>,
    cancel: &CancellationToken,
    shared: &Arc<Shared>,
) {
    for s in sources {
        tasks.spawn(source_task(s, tx.clone(), cancel.clone(), shared.clone()));
    }
}

fn jitter(base: Duration, fraction: f64) -> Duration {
    let extra = base.as_secs_f64() * fraction * rand::thread_rng().gen::<f64>();
    base + Duration::from_secs_f64(extra)
}

/// One source on its own schedule: poll, hand the posts on, commit the cursor once
/// they are stored, sleep.
async fn source_task(
    mut source: Box<dyn Source>,
    tx: mpsc::Sender<SourceBatch>,
    cancel: CancellationToken,
    shared: Arc<Shared>,
) {
    let metrics = shared.metrics.clone();
    let name = source.name().to_string();
    // A small random start offset, so that sources don't all fire at once.
    let mut delay = jitter(Duration::from_millis(50), 10.0);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        let polled = tokio::select! {
            _ = cancel.cancelled() => return,
            r = source.poll() => r,
        };
        match polled {
            Ok(batch) => {
                shared.set_failing(&name, None);
                metrics.set("overhear_source_up", &[("source", &name)], 1.0);
                metrics.inc(
                    "overhear_posts_fetched_total",
                    &[("source", &name)],
                    batch.posts.len() as f64,
                );
                let (ack, acked) = oneshot::channel();
                let cursor = batch.cursor.clone();
                let sent = tx
                    .send(SourceBatch {
                        source: name.clone(),
                        posts: batch.posts,
                        ack,
                    })
                    .await;
                if sent.is_err() {
                    return;
                }
                match acked.await {
                    Ok(Ok(())) => {
                        if let Some(cursor) = cursor {
                            if let Err(e) = source.commit(cursor) {
                                tracing::error!(source = %name, error = %e, "cannot save the cursor; the next poll repeats this one");
                            }
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::error!(source = %name, error = %e, "posts were not stored; the cursor stays where it was")
                    }
                    Err(_) => return,
                }
            }
            Err(e) => {
                shared.set_failing(&name, Some(e.to_string()));
                metrics.set("overhear_source_up", &[("source", &name)], 0.0);
                metrics.inc(
                    "overhear_source_errors_total",
                    &[("source", &name), ("error", e.kind())],
                    1.0,
                );
                // the source has logged it, with its failure count
                tracing::debug!(source = %name, error = %e, "poll failed");
            }
        }
        delay = jitter(source.next_delay(), 0.1);
    }
}

/// Matches each post and stores the mentions; new or edited ones go to the classifier.
async fn ingest(
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
            // One transaction and one flush for the whole poll.
            match shared.store.upsert_many(&matched, Utc::now()) {
                Ok(outcomes) => {
                    for ((post, _), outcome) in matched.iter().zip(outcomes) {
                        let id = match outcome {
                            Upsert::New { id }
                            | Upsert::Updated {
                                id,
                                text_changed: true,
                            } => id,
                            _ => continue,
                        };
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
        let _ = batch.ack.send(result);
    }
}

/// Records each verdict: alerts go to the outbox first, then the mention is marked
/// classified, so that a crash in between repeats the (idempotent) enqueue.
async fn alert_stage(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<(String, Result<crate::classifier::Prediction, String>)>,
) {
    /// Verdicts recorded together: one outbox write and one sentiment transaction
    /// (two flushes) per group instead of per mention.
    const GROUP: usize = 256;
    while let Some(first) = rx.recv().await {
        let mut verdicts = vec![first];
        while verdicts.len() < GROUP {
            match rx.try_recv() {
                Ok(v) => verdicts.push(v),
                Err(_) => break,
            }
        }
        record_verdicts(&shared, verdicts);
    }
}

fn record_verdicts(
    shared: &Shared,
    verdicts: Vec<(String, Result<crate::classifier::Prediction, String>)>,
) {
    let alerter = shared.alerter();
    let now = Utc::now();
    let mut items = Vec::new();
    let mut classified: Vec<(String, Sentiment)> = Vec::new();
    let mut mentions = Vec::new();
    for (id, verdict) in verdicts {
        let prediction = match verdict {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(mention = %id, error = %e, "classification failed; retried at the next start");
                continue;
            }
        };
        let sentiment = Sentiment {
            label: prediction.label,
            scores: prediction.scores,
            model: shared.model_id.clone(),
        };
        let mut mention = match shared.store.get(&id) {
            Ok(Some(m)) => m,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!(mention = %id, error = %e, "cannot read a mention");
                continue;
            }
        };
        mention.sentiment = Some(sentiment.clone());
        items.extend(alerter.evaluate(&mention, now));
        classified.push((id, sentiment));
        mentions.push(mention);
    }
    if !items.is_empty() {
        match shared.store.enqueue(&items) {
            Ok(n) => {
                shared
                    .metrics
                    .inc("overhear_alerts_queued_total", &[], n as f64);
                shared.wake_sender();
            }
            Err(e) => {
                // Not marked classified either: the next start classifies them again.
                tracing::error!(error = %e, count = classified.len(), "cannot queue alerts; retried at the next start");
                return;
            }
        }
    }
    if let Err(e) = shared.store.set_sentiments(&classified) {
        tracing::error!(error = %e, count = classified.len(), "cannot store sentiments; retried at the next start");
        return;
    }
    for m in &mentions {
        let label = m.sentiment.as_ref().map_or("", |s| s.label.as_str());
        for b in &m.brands {
            shared.metrics.inc(
                "overhear_mentions_total",
                &[("brand", &b.brand), ("sentiment", label)],
                1.0,
            );
        }
    }
}

/// Digests, summaries, spikes and source health: checked every `TICK`.
async fn scheduler(shared: Arc<Shared>, cancel: CancellationToken) {
    const TICK: Duration = Duration::from_secs(30);
    let mut tick = tokio::time::interval(TICK);
    let mut since = Utc::now();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = Utc::now();
        match shared.store.outbox_depth() {
            Ok(d) => {
                let m = &shared.metrics;
                m.set("overhear_outbox_depth", &[], d.pending as f64);
                m.set(
                    "overhear_alerts_delivered",
                    &[("result", "sent")],
                    d.sent as f64,
                );
                m.set(
                    "overhear_alerts_delivered",
                    &[("result", "failed")],
                    d.failed as f64,
                );
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the outbox depth"),
        }
        let items = match scheduled_items(&shared, since, now) {
            Ok(items) => items,
            Err(e) => {
                tracing::warn!(error = %e, "scheduled emails failed; retried at the next tick");
                continue;
            }
        };
        if !items.is_empty() {
            match shared.store.enqueue(&items) {
                Ok(_) => shared.wake_sender(),
                Err(e) => {
                    tracing::error!(error = %e, "cannot queue scheduled emails");
                    continue;
                }
            }
        }
        since = now;
    }
}

/// Everything the clock (rather than a new mention) makes due in `(since, now]`.
fn scheduled_items(
    shared: &Shared,
    since: chrono::DateTime<Utc>,
    now: chrono::DateTime<Utc>,
) -> Result<Vec<crate::alerts::OutboxItem>, crate::store::StoreError> {
    let alerter = shared.alerter();
    let mut items = alerter.digest_ticks(since, now);
    for period in alerter.summaries_due(since, now) {
        let filter = |from, to| MentionFilter {
            brand: Some(period.brand.clone()),
            since: Some(from),
            until: Some(to),
            ..Default::default()
        };
        let current = shared.store.list(&filter(period.start, period.end))?;
        let previous = shared
            .store
            .list(&filter(period.previous_start, period.start))?;
        items.extend(alerter.summary_items(
            &period,
            &current,
            &crate::alerts::tally(&previous),
            now,
        ));
    }
    // Spikes: negatives in the last hour against the hourly mean of the last week.
    let brands: Vec<String> = shared
        .live
        .read()
        .map(|l| l.brands.clone())
        .unwrap_or_else(|p| p.into_inner().brands.clone());
    for brand in brands {
        let count = |from: chrono::DateTime<Utc>| {
            shared.store.count(&MentionFilter {
                brand: Some(brand.clone()),
                sentiment: Some("negative".into()),
                since: Some(from),
                until: Some(now),
                ..Default::default()
            })
        };
        let last_hour = count(now - chrono::Duration::hours(1))?;
        // The week's baseline (a longer scan) only matters once the hour is busy.
        let busy = alerter
            .rule(&brand)
            .is_some_and(|r| last_hour >= r.spike_min_count.max(1));
        if !busy {
            continue;
        }
        let week = count(now - chrono::Duration::days(7))?;
        let baseline = week.saturating_sub(last_hour) as f64 / (7.0 * 24.0 - 1.0);
        items.extend(alerter.spike_items(&brand, last_hour, baseline, now));
    }
    let failing = shared
        .failing
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    for (source, (since, error)) in failing {
        items.extend(alerter.source_health_items(&source, since, &error, now));
    }
    Ok(items)
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
