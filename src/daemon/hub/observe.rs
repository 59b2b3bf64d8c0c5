//! The hub's side of the config bucket, and what it shows of the cluster in
//! `/metrics`: who owns which configured host, how many workers live, what is
//! pending.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::labels::{plain_name, OTHER};
use crate::cluster::{lease, Cluster, CONFIG_KEY};
use crate::daemon::shared::Shared;

/// Puts the hub's config file where workers read it (on start and every reload).
pub(in crate::daemon) async fn publish_config(cluster: &Cluster, text: &str) -> Result<(), String> {
    cluster
        .config
        .put(CONFIG_KEY, text.to_string().into())
        .await
        .map(|_| ())
        .map_err(|e| format!("cannot publish the config to the workers: {e}"))
}

/// Every few seconds: who owns which host, how many workers live, what is pending.
pub(in crate::daemon) async fn observe(
    cluster: Cluster,
    shared: Arc<Shared>,
    cancel: CancellationToken,
) {
    let m = &shared.metrics;
    loop {
        if let Ok(owners) = lease::owners(&cluster.leases).await {
            // Anyone who may write leases writes these: only the configured hosts,
            // one series each, and only plain names.
            let hosts: std::collections::HashSet<String> =
                shared.sources().values().map(|c| c.host.clone()).collect();
            let mut per: HashMap<String, f64> = HashMap::new();
            let mut series = Vec::new();
            for (host, value) in &owners {
                if !hosts.contains(host) {
                    continue;
                }
                let worker = match lease::holder_name(value.as_bytes()) {
                    Some(w) if plain_name(w) => w.to_string(),
                    _ => OTHER.to_string(),
                };
                *per.entry(worker.clone()).or_default() += 1.0;
                series.push((
                    vec![("host", host.clone()), ("worker", worker.clone())],
                    1.0,
                ));
            }
            m.set_all("overhear_cluster_host_owner", &series);
            let owned: Vec<_> = per
                .into_iter()
                .map(|(w, n)| (vec![("worker", w)], n))
                .collect();
            m.set_all("overhear_cluster_hosts_owned", &owned);
        }
        if let Ok(n) = lease::live_workers(&cluster.workers).await {
            m.set("overhear_cluster_workers", &[], n as f64);
        }
        if let Ok(mut s) = cluster.js.get_stream(cluster.stream_name()).await {
            if let Ok(info) = s.info().await {
                m.set(
                    "overhear_cluster_pending_results",
                    &[],
                    info.state.messages as f64,
                );
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}
