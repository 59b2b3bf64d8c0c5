//! Who may use the local API, checked on every request before any route runs:
//!
//! 1. `Host` (DNS rebinding): everything but `/healthz` must be asked for by a name
//!    that is this daemon's: `localhost`, a loopback address, the bind address (any
//!    address when bound to `0.0.0.0`/`::`), or the host of `[daemon] public_url`.
//!    A web page whose own name was re-pointed at this machine sends its own name,
//!    and gets 421.
//! 2. The token: `/api/*` and `/metrics` (unless `metrics_public`) always want
//!    `Authorization: Bearer TOKEN`, compared in constant time; else 401. The token
//!    is `[daemon] api_token_env`/`api_token_file`, or, with neither set, the one
//!    the daemon keeps in `data_dir/api-token` ([`super::token_file`]): loopback is
//!    no credential (every local user and process, and a reverse proxy, connect from
//!    it). The inbox's pages (everything else) want a logged-in session instead,
//!    checked by `crate::web`; `/healthz` answers everyone who names a right host,
//!    with details (each alert destination's state) only for the token.
//! 3. Cross-site requests: a state-changing method (anything but GET/HEAD/OPTIONS)
//!    with `Sec-Fetch-Site: cross-site`/`same-site`, or an `Origin` that is not this
//!    request's own (or `public_url`'s), gets 403: a web page cannot make the daemon
//!    reload, even without a token.
//!
//! The token lives here as its SHA-256 digest only, and is never logged or echoed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::daemon::DaemonConfig;
use crate::util::SecretError;

/// The shortest token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

/// Why the API cannot start with this config.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(
        "[daemon] api_bind = {0} is reachable from other machines, but no API token is \
         set: set [daemon] api_token_env (or api_token_file) to a secret of at least \
         16 characters (e.g. `openssl rand -hex 32`), or bind a loopback address \
         (api_bind = \"127.0.0.1:7878\")"
    )]
    Exposed(SocketAddr),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(
        "the API token is {0} characters: use at least {MIN_TOKEN_LEN} \
         (e.g. `openssl rand -hex 32`)"
    )]
    TooShort(usize),
    #[error("[daemon] public_url {0:?} is not an http(s) URL with a host")]
    PublicUrl(String),
    #[error("{0} (no [daemon] api_token_env or api_token_file is set, so the daemon keeps its API token there)")]
    TokenFile(#[from] super::token_file::TokenFileError),
}

/// What the config says about exposure, without reading the secret: `check` and
/// `run` refuse a non-loopback `api_bind` with no token configured.
pub fn exposure(cfg: &DaemonConfig) -> Result<(), AccessError> {
    if !cfg.api_bind.ip().is_loopback() && !cfg.api_token().is_set() {
        return Err(AccessError::Exposed(cfg.api_bind));
    }
    Ok(())
}

/// What `overhear check` says when `public_url` names a host other machines reach:
/// which routes a stranger then meets and what guards each.
pub fn public_url_warning(cfg: &DaemonConfig) -> Option<String> {
    let url = cfg.public_url.as_deref()?;
    let host = public_host(url).ok()?;
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback {
        return None;
    }
    let token = if cfg.api_token().is_set() {
        "the API token you configured"
    } else {
        "the token the daemon keeps in DATA_DIR/api-token (no api_token_env/api_token_file \
         is set; set one to use the API from another machine)"
    };
    let metrics = if cfg.metrics_public {
        "/metrics is open to everyone (metrics_public = true): brand and source names, counts"
    } else {
        "/metrics wants the token"
    };
    Some(format!(
        "[daemon] public_url = {url:?}: whoever reaches {host} reaches this daemon through \
         your proxy. There: /login, the inbox (/, /m/ID, /dashboard) for logged-in users \
         only; action links (/a/...) for whoever holds one (they are signed, single-use and \
         expire); /healthz says ok/starting/degraded to anyone; /api/* wants {token}; \
         {metrics}. Serve it over https only, and keep users' passwords strong."
    ))
}

/// The host of `public_url`, lowercased.
pub fn public_host(u: &str) -> Result<String, AccessError> {
    let bad = || AccessError::PublicUrl(u.to_string());
    let url = url::Url::parse(u).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad());
    }
    let host = url.host_str().ok_or_else(bad)?;
    Ok(normal_host(host))
}

/// The access rules of one daemon.
#[derive(Clone)]
pub struct Access {
    /// SHA-256 of the token.
    token: [u8; 32],
    metrics_public: bool,
    bind: IpAddr,
    public: Option<String>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("token", &"<set>")
            .field("metrics_public", &self.metrics_public)
            .field("bind", &self.bind)
            .field("public", &self.public)
            .finish()
    }
}

impl Access {
    /// Checks exposure and reads the token (from its variable or file), or, with
    /// none configured, reads or makes `data_dir/api-token`.
    pub fn from_config(cfg: &DaemonConfig) -> Result<Access, AccessError> {
        exposure(cfg)?;
        // Surrounding whitespace is never part of it (the header's is trimmed too).
        let token = match cfg.api_token().resolve("API token")? {
            Some(t) if t.trim().chars().count() < MIN_TOKEN_LEN => {
                return Err(AccessError::TooShort(t.trim().chars().count()))
            }
            Some(t) => digest(t.trim().as_bytes()),
            None => digest(super::token_file::ensure(&cfg.data_dir)?.as_bytes()),
        };
        let public = cfg.public_url.as_deref().map(public_host).transpose()?;
        Ok(Access {
            token,
            metrics_public: cfg.metrics_public,
            bind: cfg.api_bind.ip(),
            public,
        })
    }

    /// Is `host` (lowercase, no port, no brackets) one of this daemon's names?
    fn host_ok(&self, host: &str) -> bool {
        if host == "localhost" || self.public.as_deref() == Some(host) {
            return true;
        }
        match host.parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback() || ip == self.bind || self.bind.is_unspecified(),
            Err(_) => false,
        }
    }

    /// Does the request carry the token?
    pub fn token_ok(&self, headers: &HeaderMap) -> bool {
        let want = &self.token;
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            });
        match presented {
            Some(t) => constant_time_eq(&digest(t.as_bytes()), want),
            None => false,
        }
    }

    /// Is this state-changing request from another site?
    fn cross_site(&self, headers: &HeaderMap, host: &Authority) -> bool {
        let fetch_site = headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        if matches!(fetch_site.as_deref(), Some("cross-site" | "same-site")) {
            return true;
        }
        let Some(origin) = headers.get(header::ORIGIN) else {
            return false;
        };
        let Some(origin) = origin.to_str().ok().and_then(origin_authority) else {
            return true; // "null", or not a URL
        };
        origin != *host && self.public.as_deref() != Some(origin.host.as_str())
    }
}

fn digest(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

/// Compares without an early exit, so the time taken says nothing about where the
/// digests differ.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn normal_host(h: &str) -> String {
    h.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// A host and port, as `Host` and `Origin` give them.
#[derive(Debug, PartialEq, Eq)]
struct Authority {
    host: String,
    port: Option<u16>,
}

/// `Host: name[:port]` (port 80 when none is given: the API speaks plain HTTP).
fn host_authority(v: &str) -> Option<Authority> {
    let a: axum::http::uri::Authority = v.parse().ok()?;
    if a.as_str().contains('@') {
        return None;
    }
    Some(Authority {
        host: normal_host(a.host()),
        port: Some(a.port_u16().unwrap_or(80)),
    })
}

/// `Origin: scheme://host[:port]`.
fn origin_authority(v: &str) -> Option<Authority> {
    let u = url::Url::parse(v).ok()?;
    Some(Authority {
        host: normal_host(u.host_str()?),
        port: u.port_or_known_default(),
    })
}

fn refuse(status: StatusCode, why: &'static str) -> Response {
    let mut r = (status, why).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"overhear\""),
        );
    }
    r
}

/// Marks a request that carries the API token (set by [`guard`]): `/healthz` tells
/// such a request more.
#[derive(Debug, Clone, Copy)]
pub struct TokenHolder;

/// The middleware: every request passes here first.
pub async fn guard(State(access): State<Arc<Access>>, mut req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .and_then(host_authority);
    let Some(host) = host.filter(|h| access.host_ok(&h.host)) else {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "this is not the host this daemon serves (set [daemon] public_url for a DNS name)\n",
        );
    };
    let path = req.uri().path();
    // the API and the metrics want the token; the inbox's pages want a session,
    // which the web layer checks (a browser cannot send a bearer token)
    let needs_token = if path == "/metrics" {
        !access.metrics_public
    } else {
        path == "/api" || path.starts_with("/api/")
    };
    let has_token = access.token_ok(req.headers());
    if needs_token && !has_token {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "send the API token: Authorization: Bearer TOKEN\n",
        );
    }
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && access.cross_site(req.headers(), &host) {
        return refuse(StatusCode::FORBIDDEN, "cross-site requests are refused\n");
    }
    if has_token {
        req.extensions_mut().insert(TokenHolder);
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(bind: &str, public: Option<&str>) -> Access {
        Access {
            token: digest(b"0123456789abcdef"),
            metrics_public: false,
            bind: bind.parse().unwrap(),
            public: public.map(|p| public_host(p).unwrap()),
        }
    }

    #[test]
    fn hosts_are_this_daemons_names_only() {
        let a = access("127.0.0.1", Some("https://Overhear.Example.com./x"));
        for ok in [
            "localhost",
            "127.0.0.1",
            "::1",
            "127.0.0.2",
            "overhear.example.com",
        ] {
            assert!(a.host_ok(ok), "{ok}");
        }
        for bad in [
            "evil.test",
            "10.0.0.5",
            "localhost.evil.test",
            "example.com",
        ] {
            assert!(!a.host_ok(bad), "{bad}");
        }
        let any = access("0.0.0.0", None);
        assert!(any.host_ok("10.0.0.5") && !any.host_ok("evil.test"));
        let h = host_authority("[::1]:7878").unwrap();
        assert_eq!((h.host.as_str(), h.port), ("::1", Some(7878)));
        assert!(host_authority("user@evil.test").is_none());
    }

    #[test]
    fn tokens_are_bearer_and_exact() {
        let a = access("127.0.0.1", None);
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, v.parse().unwrap());
            a.token_ok(&h)
        };
        assert!(with("Bearer 0123456789abcdef"));
        assert!(with("bearer 0123456789abcdef"));
        assert!(!with("Bearer 0123456789abcdeg"));
        assert!(!with("Bearer 0123456789abcdef0"));
        assert!(!with("Basic 0123456789abcdef"));
        assert!(!a.token_ok(&HeaderMap::new()));
    }

    #[test]
    fn origins_must_be_the_requests_own() {
        let a = access("127.0.0.1", Some("https://overhear.example.com"));
        let host = host_authority("127.0.0.1:7878").unwrap();
        let with = |k: &'static str, v: &str| {
            let mut h = HeaderMap::new();
            h.insert(k, v.parse().unwrap());
            a.cross_site(&h, &host)
        };
        assert!(!a.cross_site(&HeaderMap::new(), &host));
        assert!(!with("origin", "http://127.0.0.1:7878"));
        assert!(!with("origin", "https://overhear.example.com"));
        assert!(with("origin", "http://127.0.0.1:3000"));
        assert!(with("origin", "http://evil.test"));
        assert!(with("origin", "null"));
        assert!(with("sec-fetch-site", "cross-site"));
        assert!(with("sec-fetch-site", "same-site"));
        assert!(!with("sec-fetch-site", "same-origin"));
    }

    #[test]
    fn the_docker_config_ships_with_a_token_from_the_environment() {
        let text = include_str!("../../../config/docker.toml");
        let c = crate::config::Config::parse(text, "docker.toml").unwrap();
        assert!(!c.daemon.api_bind.ip().is_loopback());
        assert_eq!(
            c.daemon.api_token_env.as_deref(),
            Some("OVERHEAR_API_TOKEN")
        );
        assert!(exposure(&c.daemon).is_ok());
    }

    #[test]
    fn exposure_needs_a_token_off_loopback() {
        let mut cfg = DaemonConfig {
            api_bind: "0.0.0.0:7878".parse().unwrap(),
            ..DaemonConfig::default()
        };
        let e = exposure(&cfg).unwrap_err().to_string();
        assert!(
            e.contains("api_token_env") && e.contains("0.0.0.0:7878"),
            "{e}"
        );
        cfg.api_token_env = Some("OVERHEAR_TEST_SURELY_UNSET_TOKEN".into());
        assert!(exposure(&cfg).is_ok());
        let e = Access::from_config(&cfg).unwrap_err().to_string();
        assert!(e.contains("OVERHEAR_TEST_SURELY_UNSET_TOKEN"), "{e}");
        assert!(exposure(&DaemonConfig::default()).is_ok());
    }
}
