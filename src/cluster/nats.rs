//! The NATS side of a cluster: connecting (credentials, TLS) and the JetStream
//! resources every member expects, made idempotently by whoever starts first:
//!
//! | name                     | kind                   | holds                                  |
//! |--------------------------|------------------------|----------------------------------------|
//! | `{prefix}-results`       | stream, work queue     | poll results, `{prefix}.results.{host}` |
//! | `{prefix}-leases`        | KV, TTL = `lease_ttl`  | host key → the worker that polls it     |
//! | `{prefix}-workers`       | KV, TTL = `lease_ttl`  | `{name}-{process id}` → its heartbeat    |
//! | `{prefix}-cursors`       | KV                     | source → the cursor the hub committed   |
//! | `{prefix}-config`        | KV                     | `config` → the hub's config file        |
//!
//! The results stream is bounded in bytes and discards *new* messages when full, so
//! a hub that falls behind makes workers wait and retry their publish; nothing a
//! worker polled is dropped. File storage: a restarted server keeps everything.
//!
//! Key-value buckets are created as their streams (`KV_{bucket}`) rather than
//! through the client's bucket call, which asks the server for account limits in a
//! form Debian's nats-server 2.9 does not answer; the result is the same bucket.

use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};

use super::config::ClusterConfig;

/// Why the cluster could not be reached or set up.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot connect to NATS at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("cannot read the NATS {what}: {message}")]
    Secret { what: String, message: String },
    #[error("NATS JetStream: cannot set up {what}: {message} (is nats-server running with -js?)")]
    Setup { what: String, message: String },
    #[error("NATS: {0}")]
    Nats(String),
}

fn setup_err(what: &str, e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Setup {
        what: what.to_string(),
        message: e.to_string(),
    }
}

/// A connection with the cluster's resources.
#[derive(Clone)]
pub struct Cluster {
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub leases: kv::Store,
    pub workers: kv::Store,
    pub cursors: kv::Store,
    pub config: kv::Store,
    pub settings: ClusterConfig,
}

/// The key of the hub's config in the config bucket.
pub const CONFIG_KEY: &str = "config";

impl Cluster {
    /// The hub: connects (as `name`, shown in the server's connection list) and makes
    /// sure the stream and buckets exist.
    pub async fn connect(cfg: &ClusterConfig, name: &str) -> Result<Cluster, ClusterError> {
        Cluster::open(cfg, name, true).await
    }

    /// A worker: connects and opens the stream and buckets the hub made, creating
    /// nothing (a worker's NATS user may not; it retries until the hub has started).
    pub async fn join(cfg: &ClusterConfig, name: &str) -> Result<Cluster, ClusterError> {
        Cluster::open(cfg, name, false).await
    }

    async fn open(cfg: &ClusterConfig, name: &str, create: bool) -> Result<Cluster, ClusterError> {
        let client = connect(cfg, name).await?;
        let js = jetstream::new(client.clone());
        let ttl = cfg.lease_ttl;
        let p = &cfg.prefix;
        let leases = bucket(&js, &format!("{p}-leases"), ttl, create).await?;
        let workers = bucket(&js, &format!("{p}-workers"), ttl, create).await?;
        let cursors = bucket(&js, &format!("{p}-cursors"), Duration::ZERO, create).await?;
        let config = bucket(&js, &format!("{p}-config"), Duration::ZERO, create).await?;
        let c = Cluster {
            client,
            js,
            leases,
            workers,
            cursors,
            config,
            settings: cfg.clone(),
        };
        if create {
            c.results_stream().await?;
        } else {
            c.js.get_stream(c.stream_name())
                .await
                .map_err(|e| setup_err("the results stream (has the hub started?)", e))?;
        }
        Ok(c)
    }

    pub fn stream_name(&self) -> String {
        format!("{}-results", self.settings.prefix)
    }

    /// The subject of one host's results.
    pub fn subject(&self, host: &str) -> String {
        format!(
            "{}.results.{}",
            self.settings.prefix,
            super::wire::host_key(host)
        )
    }

    /// The results stream (made if missing).
    pub async fn results_stream(&self) -> Result<stream::Stream, ClusterError> {
        self.js
            .get_or_create_stream(stream::Config {
                name: self.stream_name(),
                subjects: vec![format!("{}.results.>", self.settings.prefix)],
                retention: stream::RetentionPolicy::WorkQueue,
                discard: stream::DiscardPolicy::New,
                max_bytes: self.settings.max_bytes,
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(|e| setup_err("the results stream", e))
    }

    /// The largest message the server takes (its `max_payload`), with room for headers.
    pub fn max_message(&self) -> usize {
        let max = self.client.server_info().max_payload;
        max.saturating_sub(4096).clamp(16 * 1024, 8 << 20)
    }
}

async fn connect(cfg: &ClusterConfig, name: &str) -> Result<async_nats::Client, ClusterError> {
    let secret = |r: crate::util::SecretRef, what: &str| {
        r.resolve(what).map_err(|e| ClusterError::Secret {
            what: what.to_string(),
            message: e.to_string(),
        })
    };
    let mut opts = async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .max_reconnects(None)
        .request_timeout(Some(Duration::from_secs(10)));
    if let Some(user) = &cfg.user {
        let password = secret(cfg.password(), "NATS password")?.unwrap_or_default();
        opts = opts.user_and_password(user.clone(), password);
    }
    if let Some(token) = secret(cfg.token(), "NATS token")? {
        opts = opts.token(token);
    }
    if let Some(path) = &cfg.credentials_file {
        opts = opts
            .credentials_file(path)
            .await
            .map_err(|e| ClusterError::Secret {
                what: format!("credentials file {}", path.display()),
                message: e.to_string(),
            })?;
    }
    if let Some(ca) = &cfg.tls_ca_file {
        opts = opts.add_root_certificates(ca.clone());
    }
    if cfg
        .nats_url
        .split(',')
        .any(|u| u.trim().starts_with("tls://"))
    {
        opts = opts.require_tls(true);
    }
    opts.connect(cfg.nats_url.as_str())
        .await
        .map_err(|e| ClusterError::Connect {
            url: redact(&cfg.nats_url),
            message: e.to_string(),
        })
}

/// The URL without any user or password, for messages.
fn redact(url: &str) -> String {
    url.split(',')
        .map(|u| match url::Url::parse(u.trim()) {
            Ok(mut p) => {
                let _ = p.set_username("");
                let _ = p.set_password(None);
                p.to_string()
            }
            Err(_) => "<a URL that does not parse>".to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A key-value bucket keeping the last value of each key, `max_age` zero: forever;
/// made first when `create` (the hub), else only opened (a worker).
async fn bucket(
    js: &jetstream::Context,
    name: &str,
    max_age: Duration,
    create: bool,
) -> Result<kv::Store, ClusterError> {
    let what = format!("the key-value bucket {name}");
    if !create {
        return js
            .get_key_value(name)
            .await
            .map_err(|e| setup_err(&format!("{what} (has the hub started?)"), e));
    }
    let window = if max_age.is_zero() {
        Duration::from_secs(120)
    } else {
        max_age.min(Duration::from_secs(120))
    };
    js.get_or_create_stream(stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_age,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        storage: stream::StorageType::File,
        duplicate_window: window,
        ..Default::default()
    })
    .await
    .map_err(|e| setup_err(&what, e))?;
    js.get_key_value(name)
        .await
        .map_err(|e| setup_err(&what, e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_in_messages_carry_no_credentials() {
        let r = super::redact("nats://u:secret@h:4222, tls://x:y@h2:4222");
        assert!(!r.contains("secret") && !r.contains("x:y"), "{r}");
        assert!(r.contains("h:4222") && r.contains("h2:4222"), "{r}");
    }
}
