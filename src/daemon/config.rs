//! `[daemon]`: where data lives, how often to poll, where the local API listens.
//! Settings only: depends on nothing of overhear but `crate::util`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::util::cidr::Cidr;
use crate::util::{Problem, SecretRef};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// The `[daemon]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// The sled database, the mail folder of the file transport, and other state.
    /// Relative paths are relative to the working directory.
    pub data_dir: PathBuf,
    /// Default interval between polls of one source (each source may set `every`).
    #[serde(with = "crate::util::duration")]
    pub poll_interval: Duration,
    /// The local HTTP API (health, metrics, reads for the CLI). Loopback by default.
    pub api_bind: SocketAddr,
    pub log_format: LogFormat,
    /// User-Agent sent to every source; it names overhear so that operators can reach you.
    pub user_agent: String,
    /// Longest time a graceful shutdown may take before the daemon exits anyway.
    #[serde(with = "crate::util::duration")]
    pub shutdown_timeout: Duration,
    /// The API token (`Authorization: Bearer TOKEN` on `/api/*` and `/metrics`): the
    /// name of an environment variable holding it...
    pub api_token_env: Option<String>,
    /// ... or a file holding it (trailing newline ignored).
    pub api_token_file: Option<PathBuf>,
    /// Serve `/metrics` without the token (a Prometheus without credentials).
    pub metrics_public: bool,
    /// The URL the API is reached at through a proxy or a DNS name
    /// (`https://overhear.example.com/`): its host is accepted in `Host` and `Origin`.
    pub public_url: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (addresses or networks,
    /// `10.0.0.1`, `10.0.0.0/8`, `fd00::/8`); empty: the peer is the client. The
    /// inbox's login limits count failures per client address.
    pub trusted_proxies: Vec<String>,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            data_dir: PathBuf::from("data"),
            poll_interval: Duration::from_secs(120),
            api_bind: SocketAddr::from(([127, 0, 0, 1], 7878)),
            log_format: LogFormat::Human,
            user_agent: format!(
                "overhear/{} (brand monitoring; +https://github.com/overhear/overhear)",
                env!("CARGO_PKG_VERSION")
            ),
            shutdown_timeout: Duration::from_secs(20),
            api_token_env: None,
            api_token_file: None,
            metrics_public: false,
            public_url: None,
            trusted_proxies: Vec::new(),
        }
    }
}

impl DaemonConfig {
    /// Where the API token comes from (nothing set: no token).
    pub fn api_token(&self) -> SecretRef {
        SecretRef::new(self.api_token_env.clone(), self.api_token_file.clone())
    }

    /// The valid entries of `trusted_proxies` ([`DaemonConfig::problems`] names the
    /// others).
    pub fn trusted_proxies(&self) -> Vec<Cidr> {
        self.trusted_proxies
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        for p in &self.trusted_proxies {
            if let Err(e) = p.parse::<Cidr>() {
                out.push(Problem::new("daemon.trusted_proxies", e.to_string()));
            }
        }
        if self.poll_interval < Duration::from_secs(10) {
            out.push(Problem::new(
                "daemon.poll_interval",
                format!(
                    "{:?} is too short: at least 10s, to stay polite to public APIs",
                    self.poll_interval
                ),
            ));
        }
        if self.api_token_env.is_some() && self.api_token_file.is_some() {
            out.push(Problem::new(
                "daemon.api_token_file",
                "set api_token_env or api_token_file, not both",
            ));
        }
        if let Some(u) = &self.public_url {
            let ok = url::Url::parse(u)
                .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host_str().is_some());
            if !ok {
                out.push(Problem::new(
                    "daemon.public_url",
                    format!("{u:?} is not an http(s) URL with a host, like https://overhear.example.com/"),
                ));
            }
        }
        if self.user_agent.trim().is_empty() {
            out.push(Problem::new(
                "daemon.user_agent",
                "is empty: public APIs refuse anonymous clients",
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_are_addresses_or_networks_and_a_bad_one_is_named() {
        let cfg = DaemonConfig {
            trusted_proxies: vec!["127.0.0.1".into(), "10.0.0.0/8".into(), "fd00::/8".into()],
            ..DaemonConfig::default()
        };
        assert!(cfg.problems().is_empty(), "{:?}", cfg.problems());
        assert_eq!(cfg.trusted_proxies().len(), 3);
        assert!(DaemonConfig::default().trusted_proxies().is_empty());
        let cfg = DaemonConfig {
            trusted_proxies: vec![
                "10.0.0.0/8".into(),
                "proxy.internal".into(),
                "10.0.0.0/40".into(),
            ],
            ..DaemonConfig::default()
        };
        let problems: Vec<String> = cfg
            .problems()
            .iter()
            .map(|p| format!("{}: {}", p.key, p.message))
            .collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems
                .iter()
                .all(|p| p.contains("daemon.trusted_proxies")),
            "{problems:?}"
        );
        assert!(problems[0].contains("proxy.internal"), "{problems:?}");
        assert_eq!(cfg.trusted_proxies().len(), 1);
    }
}
