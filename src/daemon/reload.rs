//! One config generation and its replacement: building the matcher, alert rules and
//! outbox sender of a config, and swapping them (and the source tasks) in on SIGHUP or
//! `POST /api/reload`. A config that does not build leaves the running generation
//! untouched; the model, the store and the API socket are never replaced here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::pipeline::{setup, DaemonError};
use super::shared::{Live, Shared, SourceBatch};
use super::source_tasks::{build_sources, spawn_sources, Running};
use crate::alerts::render::ActionLinks;
use crate::alerts::{run_sender, Alerter, Sender, SystemClock};
use crate::config::Config;
use crate::matcher::Matcher;
use crate::sources::StateStore;
use crate::store::Store;
use crate::web::links::{data_dir_of, Key, Signer};

/// The outbox sender task of one config generation.
pub(super) struct SenderTask {
    cancel: CancellationToken,
    handle: tokio::task::JoinHandle<()>,
}

impl SenderTask {
    /// Stops the sender at shutdown: a send in progress may finish within `within`;
    /// after that the task is abandoned (what it had not marked sent goes out at the
    /// next start, with the same Message-ID).
    pub(super) async fn stop_within(mut self, within: Duration) {
        self.cancel.cancel();
        if tokio::time::timeout(within, &mut self.handle)
            .await
            .is_err()
        {
            tracing::warn!(
                ?within,
                "the outbox sender did not stop in time; unsent alerts go out at the next start"
            );
            self.handle.abort();
        }
    }

    pub(super) async fn stop(self) {
        self.cancel.cancel();
        // a send in progress is finished first
        let _ = tokio::time::timeout(Duration::from_secs(30), self.handle).await;
    }
}

/// Compiles the queries and builds the alert rules and the outbox sender of a config.
/// The replies of `config`: each `[[reply_account]]` with its network's client
/// (one that cannot be made says why when used).
pub(super) fn build_replies(config: &Config, store: &Store) -> crate::reply::Replies {
    let http = crate::sources::Http::new(
        &config.daemon.user_agent,
        crate::sources::HttpSettings::default(),
    );
    crate::reply::Replies::new(config, store.clone(), &move |a| match &http {
        Ok(h) => crate::reply::client(a, h),
        Err(e) => Err(crate::reply::PostError::Refused {
            status: None,
            why: format!("no HTTP client: {e}"),
        }),
    })
}

pub(super) fn build_live(
    config: &Config,
    store: &Store,
    metrics: &Arc<super::metrics::Metrics>,
) -> Result<(Live, Sender), DaemonError> {
    let matcher =
        Matcher::compile(&config.brands).map_err(|e| DaemonError::Config(e.to_string()))?;
    let alerter = Arc::new(Alerter::new(
        &config.alerts,
        &config.brands,
        config.model.alert_threshold,
    ));
    let sender = Sender::from_config(
        store.clone(),
        alerter.clone(),
        &config.email,
        &config.mail_dir(),
        Arc::new(SystemClock),
    )
    .map_err(|e| setup("alert delivery", e))?
    .with_observer(metrics.clone());
    let sender = match action_links(config, store)? {
        Some(links) => sender.with_links(links),
        None => sender,
    };
    let hooks = sender.webhooks();
    if !hooks.is_empty() {
        tracing::info!(webhooks = ?hooks, "alerts also go to webhooks");
    }
    // a reply account is one of its brands' accounts, as configured and as its
    // posted replies named it
    let posted: Vec<(String, String)> = match store.replies() {
        Ok(all) => all
            .into_iter()
            .filter_map(|r| Some((r.account, r.posted_by?)))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the replies; their accounts are not watched for");
            Vec::new()
        }
    };
    let brands = crate::reply::with_reply_accounts(&config.brands, &config.reply_accounts, &posted);
    let watch = crate::watch::Plan::from_config(&brands, &config.sources)
        .map_err(|e| DaemonError::Config(e.to_string()))?;
    let live = Live {
        matcher: Arc::new(matcher),
        alerter,
        wake: sender.waker(),
        brands: config.brands.iter().map(|b| b.name.clone()).collect(),
        watch: Arc::new(watch),
        sources: Arc::new(super::shared::Configured::all(&config.sources)),
    };
    Ok((live, sender))
}

/// The signer of the alerts' one-click action links: with `[daemon] public_url`,
/// the key of the data directory (made on first start, 0600). Without it, no links
/// (the emails say how to enable them); the key is still made, so that links work
/// from the first alert once `public_url` is set, and a bad key file is only a
/// warning.
fn action_links(
    config: &Config,
    store: &Store,
) -> Result<Option<Arc<dyn ActionLinks>>, DaemonError> {
    match &config.daemon.public_url {
        Some(url) => {
            let signer = Signer::for_store(store, url).map_err(|e| setup("action links", e))?;
            Ok(Some(signer))
        }
        None => {
            if let Err(e) = Key::load_or_create(data_dir_of(store)) {
                tracing::warn!("{e}");
            }
            Ok(None)
        }
    }
}

pub(super) fn spawn_sender(sender: Sender) -> SenderTask {
    let cancel = CancellationToken::new();
    let handle = tokio::spawn(run_sender(sender, cancel.clone()));
    SenderTask { cancel, handle }
}

/// The parts of the running daemon that a reload replaces.
pub(super) struct Generation<'a> {
    pub(super) config: &'a mut Config,
    pub(super) sources: &'a mut JoinSet<Running>,
    pub(super) sources_cancel: &'a mut CancellationToken,
    pub(super) sender: &'a mut SenderTask,
    /// The hub's cluster: the new config goes to the workers.
    pub(super) cluster: Option<&'a crate::cluster::Cluster>,
}

/// Re-reads the config; on any error the running generation is left untouched.
pub(super) async fn reload(
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
    let (new, text) =
        Config::load_with_text(path).map_err(|e| DaemonError::Config(e.to_string()))?;
    if new.cluster != gen.config.cluster {
        return Err(DaemonError::Config(
            "[cluster] changed: restart the hub for that (the running config is kept)".into(),
        ));
    }
    let (live, sender) = build_live(&new, &shared.store, &shared.metrics)?;
    let sources = match gen.cluster {
        // the workers poll
        Some(_) => Vec::new(),
        None => build_sources(&new, &live.matcher, state.clone())?,
    };
    if let Some(cluster) = gen.cluster {
        super::hub::publish_config(cluster, &text)
            .await
            .map_err(|e| setup("the cluster", e))?;
    }
    if new.model != gen.config.model {
        tracing::warn!("[model] changed: a restart is needed for that part to take effect");
    }
    let (n, o) = (&new.daemon, &gen.config.daemon);
    if n.api_bind != o.api_bind
        || n.data_dir != o.data_dir
        || n.api_token() != o.api_token()
        || n.metrics_public != o.metrics_public
        || n.public_url != o.public_url
    {
        tracing::warn!(
            "[daemon] data_dir/api_bind/API access changed: a restart is needed for that part to take effect"
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
    shared.replies.replace(build_replies(&new, &shared.store));
    gen.sources_cancel.cancel();
    let mut old = Vec::new();
    while let Some(done) = gen.sources.join_next().await {
        match done {
            Ok(r) => old.push(r),
            Err(e) => tracing::error!(error = %e, "a source task ended abnormally"),
        }
    }
    let (sources, kept) = keep_unchanged(sources, old);
    *gen.sources_cancel = CancellationToken::new();
    spawn_sources(gen.sources, sources, ingest_tx, gen.sources_cancel, shared);
    tracing::info!(
        sources = new.sources.len(),
        unchanged = kept,
        brands = new.brands.len(),
        "configuration reloaded"
    );
    *gen.config = new;
    Ok(())
}

/// The new generation's sources, where each one whose entry and settings did not
/// change is the running one (its state, backoff and next poll kept: a reload must
/// not poll every source at once, ignoring a 429 or a Stack Exchange `backoff`).
/// Returns how many were kept.
pub(super) fn keep_unchanged(fresh: Vec<Running>, old: Vec<Running>) -> (Vec<Running>, usize) {
    let mut old: Vec<Option<Running>> = old.into_iter().map(Some).collect();
    let mut kept = 0;
    let sources = fresh
        .into_iter()
        .map(|new| {
            let same = old
                .iter_mut()
                .find(|o| o.as_ref().is_some_and(|o| o.same_as(&new)))
                .and_then(Option::take);
            match same {
                Some(o) if o.source.is_some() => {
                    kept += 1;
                    o
                }
                _ => new,
            }
        })
        .collect();
    (sources, kept)
}

/// A placeholder that is replaced before anything waits on it.
fn spawn_sender_later() -> SenderTask {
    SenderTask {
        cancel: CancellationToken::new(),
        handle: tokio::spawn(async {}),
    }
}
