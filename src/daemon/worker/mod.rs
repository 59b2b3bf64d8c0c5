//! `overhear worker`: one worker of a cluster. It reads the hub's config from the
//! config bucket (and again whenever the hub reloads), takes leases on a fair share
//! of the configured hosts, polls their sources, matches and classifies what they
//! return and publishes each poll's result for the hub (`poll`). `/healthz` and
//! `/metrics` are served on `[cluster] worker_bind`.
//!
//! Its own file gives only `[cluster]` (where NATS is, who this worker is), `[model]`
//! (the model on this machine) and `[daemon]`'s API token settings; brands and
//! sources come from the hub. A clean stop gives its leases back at once.

mod health;
mod poll;
mod state;
mod trust;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::hub::{cursor_key, Committed};
use super::metrics::Metrics;
use super::pipeline::{setup, DaemonError};
use crate::cluster::lease::{self, Leases};
use crate::cluster::{Cluster, ClusterConfig, CONFIG_KEY};
use crate::config::Config;
use crate::matcher::Matcher;
use crate::sources::{host_of, StateStore};
use state::WorkerState;

/// The hub's config as this worker runs it.
struct Generation {
    text: String,
    config: Config,
    matcher: Arc<Matcher>,
    /// Each host's sources (by index in `config.sources`).
    hosts: HashMap<String, Vec<usize>>,
}

impl Generation {
    /// The hub's config `text`, if it builds here and this worker's own `[cluster]`
    /// allows every secret and `allow_private` it uses (see `trust`).
    fn parse(text: &str, own: &ClusterConfig) -> Result<Generation, String> {
        let config = Config::parse(text, "<the hub's config>").map_err(|e| e.to_string())?;
        let refused = trust::refusals(&config, own);
        if !refused.is_empty() {
            return Err(format!("refused: {}", refused.join("; ")));
        }
        let matcher = Matcher::compile(&config.brands).map_err(|e| e.to_string())?;
        let mut hosts: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, s) in config.sources.iter().enumerate() {
            hosts.entry(host_of(s)).or_default().push(i);
        }
        Ok(Generation {
            text: text.to_string(),
            config,
            matcher: Arc::new(matcher),
            hosts,
        })
    }

    /// The `[[source]]` entries of `host`.
    fn sources_of(&self, host: &str) -> Vec<&crate::sources::SourceConfig> {
        self.hosts
            .get(host)
            .into_iter()
            .flatten()
            .map(|&i| &self.config.sources[i])
            .collect()
    }

    fn host_list(&self) -> Vec<String> {
        let mut v: Vec<String> = self.hosts.keys().cloned().collect();
        v.sort();
        v
    }
}

/// The default worker name: this machine's host name and the process id.
fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".into());
    let host: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{host}-{}", std::process::id())
}

/// Runs a worker until SIGTERM/SIGINT.
pub async fn run(own: Config) -> Result<(), DaemonError> {
    let cfg: ClusterConfig = own.cluster.clone().ok_or_else(|| {
        DaemonError::Config(
            "overhear worker needs a [cluster] table in its config (nats_url = \"nats://…\")"
                .into(),
        )
    })?;
    let name = cfg.worker_name.clone().unwrap_or_else(default_name);
    let metrics = Arc::new(Metrics::new());
    for (n, kind, help) in [
        (
            "overhear_worker_hosts_held",
            "gauge",
            "Hosts whose lease this worker holds.",
        ),
        (
            "overhear_worker_results_published_total",
            "counter",
            "Poll results (parts) acknowledged by the server, by source.",
        ),
        (
            "overhear_worker_publish_retries_total",
            "counter",
            "Publishes retried (a full stream, an unreachable server).",
        ),
    ] {
        metrics.describe(n, kind, help);
    }

    let model_cfg = own.model.clone();
    tracing::info!(path = %model_cfg.path.display(), "loading the sentiment model");
    let classifier = tokio::task::spawn_blocking(move || crate::classifier::load(&model_cfg))
        .await
        .map_err(|e| setup("the model loader", e))??;
    let model = classifier.id();

    let status = Arc::new(health::Status::new(&name));
    let cancel = CancellationToken::new();
    let http = health::serve(&own, &cfg, status.clone(), metrics.clone(), cancel.clone()).await?;

    let (jobs_tx, jobs_rx) = mpsc::channel(512);
    let (out_tx, mut out_rx) = mpsc::channel::<(poll::Reply, _)>(512);
    tokio::spawn(super::classify::run(
        classifier,
        jobs_rx,
        out_tx,
        own.model.max_batch,
        own.model.batch_wait,
        metrics.clone(),
    ));
    tokio::spawn(async move {
        while let Some((reply, r)) = out_rx.recv().await {
            let _ = reply.send(r);
        }
    });

    let mut signals = Stop::new().map_err(|e| setup("signal handlers", e))?;
    let cluster = tokio::select! {
        c = connect(&cfg, &name) => c,
        _ = signals.next() => return Ok(()),
    };
    status.set_client(cluster.client.clone());
    let worker_id = lease::new_id();
    // one heartbeat per process: two workers of one name count as two
    let beat_key = format!("{name}-{worker_id}");
    tracing::info!(worker = %name, id = %worker_id, "this worker's process id in leases");
    let leases = Arc::new(Leases::new(
        cluster.leases.clone(),
        &name,
        &worker_id,
        cfg.lease_ttl,
    ));
    let wstate = Arc::new(WorkerState::default());
    let mut config_watch = cluster
        .config
        .watch_with_history(CONFIG_KEY)
        .await
        .map_err(|e| setup("the config watch", e))?;
    tracing::info!(worker = %name, "waiting for the hub's config");
    let mut gen: Option<Generation> = None;
    let mut running: Running = HashMap::new();
    // hosts whose sources were seeded with the hub's cursor since the lease was taken
    let mut seeded: std::collections::HashSet<String> = Default::default();
    let mut tick = tokio::time::interval(leases.tick_every());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ctx = Arc::new(poll::Ctx {
        cluster: cluster.clone(),
        leases: leases.clone(),
        worker: name.clone(),
        worker_id: worker_id.clone(),
        model: model.clone(),
        matcher: std::sync::RwLock::new(Arc::new(
            Matcher::compile(&[]).map_err(|e| setup("the matcher", e))?,
        )),
        classify: jobs_tx.clone(),
        metrics: metrics.clone(),
        state: wstate.clone(),
    });
    loop {
        tokio::select! {
            _ = signals.next() => break,
            entry = config_watch.next() => {
                let entry = match entry {
                    Some(Ok(e)) => e,
                    other => {
                        // a lost connection ends the watch: watch again (the current
                        // value comes back first, and is ignored when unchanged)
                        if let Some(Err(e)) = other {
                            tracing::debug!(error = %e, "the config watch failed");
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        if let Ok(w) = cluster.config.watch_with_history(CONFIG_KEY).await {
                            config_watch = w;
                        }
                        continue;
                    }
                };
                let text = String::from_utf8_lossy(&entry.value).into_owned();
                if gen.as_ref().is_some_and(|g| g.text == text) {
                    continue;
                }
                match Generation::parse(&text, &cfg) {
                    Ok(g) => {
                        tracing::info!(sources = g.config.sources.len(), hosts = g.hosts.len(), brands = g.config.brands.len(), "the hub's config is in");
                        ctx.set_matcher(g.matcher.clone());
                        // hosts whose sources changed (or went) start again
                        let changed: Vec<String> = running
                            .keys()
                            .filter(|h| gen.as_ref().map(|old| old.sources_of(h)) != Some(g.sources_of(h)))
                            .cloned()
                            .collect();
                        for host in changed {
                            stop_host(&mut running, &host).await;
                        }
                        for host in leases.held() {
                            if !running.contains_key(&host) {
                                start_host(&g, &host, &ctx, &mut running, &mut seeded).await;
                            }
                        }
                        status.set_config(true);
                        status.set_refused(None);
                        gen = Some(g);
                    }
                    Err(e) => {
                        let kept = if gen.is_some() { "the last one keeps running" } else { "running none" };
                        tracing::error!("the hub's config is not run here ({kept}): {e}");
                        status.set_refused(Some(e));
                    }
                }
            }
            _ = tick.tick() => {
                let Some(g) = &gen else { continue };
                let beat = serde_json::json!({ "hosts": leases.held(), "model": model }).to_string();
                if let Err(e) = cluster.workers.put(&beat_key, beat.into()).await {
                    tracing::warn!(error = %e, "cannot send the heartbeat");
                }
                let live = lease::live_workers(&cluster.workers).await.unwrap_or(1);
                let changes = leases.tick(&g.host_list(), live).await;
                for host in &changes.gained {
                    tracing::info!(%host, workers = live, "took the lease");
                }
                for host in &changes.lost {
                    stop_host(&mut running, host).await;
                    seeded.remove(host);
                    for &i in g.hosts.get(host).into_iter().flatten() {
                        wstate.forget(&g.config.sources[i].name());
                    }
                    tracing::info!(%host, "gave up the host's sources");
                }
                // tasks that ended on their own (the lease ran out locally) start
                // again if the lease is held again
                running.retain(|_, (_, set)| {
                    while set.try_join_next().is_some() {}
                    !set.is_empty()
                });
                for host in &changes.gained {
                    seeded.remove(host);
                }
                for host in leases.held() {
                    if !running.contains_key(&host) {
                        start_host(g, &host, &ctx, &mut running, &mut seeded).await;
                    }
                }
                let held = leases.held();
                metrics.set("overhear_worker_hosts_held", &[], held.len() as f64);
                status.set_hosts(held);
            }
        }
    }
    tracing::info!("shutting down: giving the leases back");
    for (_, (c, _)) in running.iter() {
        c.cancel();
    }
    let budget = own.daemon.shutdown_timeout;
    let _ = tokio::time::timeout(budget, async {
        for (_, (_, mut set)) in running.drain() {
            while set.join_next().await.is_some() {}
        }
    })
    .await;
    leases.release_all().await;
    let _ = cluster.workers.delete(&beat_key).await;
    let _ = cluster.client.flush().await;
    cancel.cancel();
    let _ = http.await;
    tracing::info!("stopped");
    Ok(())
}

/// How long from now until `every` has passed since `polled_ms` (a host taken over
/// is polled on its old schedule, not at once); zero when it has already.
fn not_before(polled_ms: i64, every: Duration) -> Duration {
    let now = chrono::Utc::now().timestamp_millis();
    let since = u64::try_from(now.saturating_sub(polled_ms)).unwrap_or(0);
    every
        .saturating_sub(Duration::from_millis(since))
        .min(every)
}

/// Each held host's source tasks.
type Running = HashMap<String, (CancellationToken, JoinSet<()>)>;

async fn stop_host(running: &mut Running, host: &str) {
    if let Some((c, mut set)) = running.remove(host) {
        c.cancel();
        while set.join_next().await.is_some() {}
    }
}

/// Connects, retrying (with a clear message) until NATS answers.
async fn connect(cfg: &ClusterConfig, name: &str) -> Cluster {
    let mut wait = Duration::from_millis(500);
    loop {
        match Cluster::join(cfg, name).await {
            Ok(c) => {
                tracing::info!(worker = %name, "connected to NATS");
                return c;
            }
            Err(e) => tracing::error!("{e}; retrying in {wait:?}"),
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(10));
    }
}

/// Starts the source tasks of `host`. The first time after the lease was taken (not
/// in `seeded`), each source starts from the cursor the hub committed, not from what
/// this worker remembers, and on its old schedule.
async fn start_host(
    g: &Generation,
    host: &str,
    ctx: &Arc<poll::Ctx>,
    running: &mut Running,
    seeded: &mut std::collections::HashSet<String>,
) {
    let fresh = !seeded.contains(host);
    let wstate = &ctx.state;
    let cluster = &ctx.cluster;
    let Some(indexes) = g.hosts.get(host) else {
        return;
    };
    let cancel = CancellationToken::new();
    let mut set = JoinSet::new();
    let state: Arc<dyn StateStore> = wstate.clone();
    let sctx = match g.config.source_context(&g.matcher, state) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(%host, error = %e, "cannot set up the sources");
            return;
        }
    };
    for &i in indexes {
        let cfg = &g.config.sources[i];
        let name = cfg.name();
        let mut first = tokio::time::Instant::now();
        if fresh {
            let committed = match cluster.cursors.get(cursor_key(&name)).await {
                Ok(v) => v.and_then(|v| serde_json::from_slice::<Committed>(&v).ok()),
                Err(e) => {
                    // Without the committed cursor the source cannot start safely.
                    tracing::warn!(source = %name, error = %e, "cannot read the committed cursor; trying again at the next tick");
                    cancel.cancel();
                    return;
                }
            };
            let every = cfg.every().unwrap_or(g.config.daemon.poll_interval);
            if let Some(c) = &committed {
                first = poll::later(first, not_before(c.polled_ms, every));
            }
            wstate.seed(&name, committed.and_then(|c| hex::decode(c.cursor).ok()));
        }
        match crate::sources::build(cfg, &sctx) {
            Ok(source) => {
                tracing::info!(source = %name, %host, "polling the source");
                set.spawn(poll::run(
                    source,
                    host.to_string(),
                    ctx.clone(),
                    cancel.clone(),
                    first,
                ));
            }
            Err(e) => tracing::error!(source = %name, error = %e, "cannot build the source"),
        }
    }
    running.insert(host.to_string(), (cancel, set));
    seeded.insert(host.to_string());
}

struct Stop {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Stop {
    fn new() -> std::io::Result<Stop> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Stop {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
