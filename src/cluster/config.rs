//! `[cluster]`: run as the hub of a cluster (`overhear run`) or as one of its workers
//! (`overhear worker`). Absent, overhear is the single-process daemon it always was.
//! Settings only: depends on nothing of overhear but `crate::util`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::util::{Problem, SecretRef};

/// The `[cluster]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// The NATS server(s), comma-separated: `nats://host:4222`; `tls://host:4222`
    /// requires TLS.
    pub nats_url: String,
    /// A user name for NATS (with a password from `password_env`/`password_file`).
    pub user: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    /// A NATS token instead of a user and password.
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
    /// A NATS credentials file (JWT and NKey seed), as `nsc` writes them.
    pub credentials_file: Option<PathBuf>,
    /// Extra CA certificate (PEM) for a `tls://` server with a private CA.
    pub tls_ca_file: Option<PathBuf>,
    /// Prefix of every stream, bucket and subject, so that two clusters can share
    /// one NATS (default `overhear`).
    pub prefix: String,
    /// How long a worker owns a host's sources without renewing (default 30s). A dead
    /// worker's sources move to another within about this long.
    #[serde(with = "crate::util::duration")]
    pub lease_ttl: Duration,
    /// The bound of the results stream in bytes (default 256 MiB): past it, workers
    /// wait and retry instead of piling up results the hub has not stored.
    pub max_bytes: i64,
    /// How many results the hub works on at once (the consumer's `max_ack_pending`).
    pub max_ack_pending: i64,
    /// A worker's `/healthz` and `/metrics` (default `127.0.0.1:7879`).
    pub worker_bind: SocketAddr,
    /// This worker's name in leases and metrics (default: host name and process id).
    pub worker_name: Option<String>,
    /// A worker's own allow-list: the environment variables and files that the hub's
    /// config may make this worker read and send (a source's `*_env`/`*_file`, e.g.
    /// `["OVERHEAR_MASTODON_TOKEN", "/run/secrets/reddit_secret"]`). A hub config that
    /// names any other is refused. Default empty: no secrets. Read on workers only.
    pub allow_secrets: Vec<String>,
    /// Whether the hub's config may set `allow_private = true` on a source this worker
    /// polls (redirects into loopback and private addresses). Default false: such a
    /// config is refused. Read on workers only.
    pub allow_private: bool,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            nats_url: "nats://127.0.0.1:4222".into(),
            user: None,
            password_env: None,
            password_file: None,
            token_env: None,
            token_file: None,
            credentials_file: None,
            tls_ca_file: None,
            prefix: "overhear".into(),
            lease_ttl: Duration::from_secs(30),
            max_bytes: 256 << 20,
            max_ack_pending: 64,
            worker_bind: SocketAddr::from(([127, 0, 0, 1], 7879)),
            worker_name: None,
            allow_secrets: Vec::new(),
            allow_private: false,
        }
    }
}

impl ClusterConfig {
    pub fn password(&self) -> SecretRef {
        SecretRef::new(self.password_env.clone(), self.password_file.clone())
    }

    pub fn token(&self) -> SecretRef {
        SecretRef::new(self.token_env.clone(), self.token_file.clone())
    }

    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut p = |key: &str, msg: String| out.push(Problem::new(key, msg));
        if self.nats_url.trim().is_empty() {
            p(
                "cluster.nats_url",
                "is empty: say where NATS is, like nats://127.0.0.1:4222".into(),
            );
        }
        for url in self.nats_url.split(',') {
            let url = url.trim();
            let ok = url::Url::parse(url).is_ok_and(|u| {
                matches!(u.scheme(), "nats" | "tls" | "ws" | "wss") && u.host_str().is_some()
            });
            if !url.is_empty() && !ok {
                p(
                    "cluster.nats_url",
                    format!("{url:?} is not a nats:// or tls:// URL with a host"),
                );
            }
            if url::Url::parse(url).is_ok_and(|u| u.password().is_some()) {
                p(
                    "cluster.nats_url",
                    "holds a password: put it in password_env or password_file".into(),
                );
            }
        }
        if self.password_env.is_some() && self.password_file.is_some() {
            p(
                "cluster.password_file",
                "set password_env or password_file, not both".into(),
            );
        }
        if self.token_env.is_some() && self.token_file.is_some() {
            p(
                "cluster.token_file",
                "set token_env or token_file, not both".into(),
            );
        }
        if self.password().is_set() && self.user.is_none() {
            p("cluster.user", "a password needs a user".into());
        }
        if self.user.is_some() && !self.password().is_set() {
            p(
                "cluster.password_env",
                "the user needs a password (password_env or password_file)".into(),
            );
        }
        if self.token().is_set() && self.user.is_some() {
            p(
                "cluster.token_env",
                "set a token or a user and password, not both".into(),
            );
        }
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !valid(&self.prefix) {
            p(
                "cluster.prefix",
                format!("{:?}: letters, digits, - and _ only", self.prefix),
            );
        }
        if let Some(n) = &self.worker_name {
            if !valid(n) {
                p(
                    "cluster.worker_name",
                    format!("{n:?}: letters, digits, - and _ only"),
                );
            }
        }
        for (i, s) in self.allow_secrets.iter().enumerate() {
            if s.trim().is_empty() || s.trim() != s {
                p(
                    &format!("cluster.allow_secrets[{i}]"),
                    format!("{s:?}: an environment variable's name or a file's path"),
                );
            }
        }
        if self.lease_ttl < Duration::from_secs(2) || self.lease_ttl > Duration::from_secs(3600) {
            p(
                "cluster.lease_ttl",
                format!("{:?}: between 2s and 1h", self.lease_ttl),
            );
        }
        if self.max_bytes < 1 << 20 {
            p("cluster.max_bytes", "at least 1 MiB (1048576)".into());
        }
        if !(1..=100_000).contains(&self.max_ack_pending) {
            p("cluster.max_ack_pending", "between 1 and 100000".into());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ClusterConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_are_valid_and_problems_are_named() {
        assert!(ClusterConfig::default().problems().is_empty());
        let c = parse("nats_url = \"nats://u:pw@h:4222\"\nuser = \"u\"\nprefix = \"a.b\"\nlease_ttl = \"1s\"\n");
        let keys: Vec<String> = c.problems().into_iter().map(|p| p.key).collect();
        assert!(keys.contains(&"cluster.nats_url".to_string()), "{keys:?}");
        assert!(
            keys.contains(&"cluster.password_env".to_string()),
            "{keys:?}"
        );
        assert!(keys.contains(&"cluster.prefix".to_string()), "{keys:?}");
        assert!(keys.contains(&"cluster.lease_ttl".to_string()), "{keys:?}");
        let c = parse("nats_url = \"http://h\"\n");
        assert_eq!(c.problems().len(), 1);
    }
}
