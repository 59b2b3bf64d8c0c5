//! Transports: SMTP (STARTTLS or implicit TLS, optional AUTH, a private CA) or
//! `.eml` files in a folder, built from `[email]`; and how a failed send is
//! classified (retry, retry loudly, give up).
//!
//! Sends one finished message and reports the outcome: never retries, never
//! touches the outbox (the sender does both), never logs the password.

use std::path::{Path, PathBuf};

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::alerts::config::{EmailConfig, TransportKind};
use crate::alerts::AlertError;

/// How a send failed, which decides what happens to the alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Server down, timeout, TLS trouble or a 4xx answer: retry with backoff.
    Transient,
    /// The server refused the credentials: retried (the password may be fixed), but
    /// reported loudly.
    Auth,
    /// A 5xx answer (e.g. 550 no such user): give up on this recipient.
    Permanent,
}

/// A failed send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub kind: FailureKind,
    pub message: String,
    /// The server said when to try again (a webhook's 429 or 503 `Retry-After`).
    pub retry_after: Option<std::time::Duration>,
}

impl SendError {
    /// A failure that retrying will not fix.
    pub fn permanent(message: impl Into<String>) -> SendError {
        SendError {
            kind: FailureKind::Permanent,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A failure worth retrying.
    pub fn transient(message: impl Into<String>) -> SendError {
        SendError {
            kind: FailureKind::Transient,
            message: message.into(),
            retry_after: None,
        }
    }
}

/// A lettre transport: SMTP, or .eml files in a folder.
#[derive(Clone)]
pub enum Transport {
    Smtp {
        inner: AsyncSmtpTransport<Tokio1Executor>,
        server: String,
        /// The whole of one email, connection to the last answer (lettre's own
        /// timeout covers only the connection).
        deadline: std::time::Duration,
    },
    File {
        dir: PathBuf,
    },
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    let code = e.status().map(u16::from);
    let kind = match code {
        Some(530 | 534 | 535 | 538) => FailureKind::Auth,
        Some(c) if (500..600).contains(&c) => FailureKind::Permanent,
        _ => FailureKind::Transient,
    };
    let mut message = format!("{e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    if kind == FailureKind::Auth {
        message = format!(
            "SMTP authentication failed ({message}): check email.username and the password (email.password_env / email.password_file)"
        );
    }
    SendError {
        kind,
        message,
        retry_after: None,
    }
}

impl Transport {
    /// `smtp://host:587` or `smtps://host:465`, or `file:DIR`.
    pub fn describe(&self) -> String {
        match self {
            Transport::Smtp { server, .. } => server.clone(),
            Transport::File { dir } => format!("file:{}", dir.display()),
        }
    }

    /// Sends one message; returns the server's answer (or where the file went).
    pub async fn send(&self, msg: Message) -> Result<String, SendError> {
        match self {
            Transport::Smtp {
                inner, deadline, ..
            } => {
                let r = tokio::time::timeout(*deadline, inner.send(msg))
                    .await
                    .map_err(|_| {
                        SendError::transient(format!(
                            "the SMTP server did not finish the email within {} \
                             (4 x email.timeout); it may or may not have been delivered",
                            humantime::format_duration(*deadline)
                        ))
                    })?
                    .map_err(|e| classify(&e))?;
                Ok(format!(
                    "{} {}",
                    r.code(),
                    r.message().collect::<Vec<_>>().join(" ")
                ))
            }
            Transport::File { dir } => {
                let failed = |e: String| {
                    SendError::transient(format!(
                        "cannot write the email to {}: {e}",
                        dir.display()
                    ))
                };
                let d = dir.clone();
                let bytes = msg.formatted();
                let path = tokio::task::spawn_blocking(move || super::file::write_eml(&d, &bytes))
                    .await
                    .map_err(|e| failed(e.to_string()))?
                    .map_err(|e| failed(e.to_string()))?;
                Ok(format!("written to {}", path.display()))
            }
        }
    }
}

/// Builds the configured transport. `mail_dir` is `Config::mail_dir()`. One SMTP
/// connection per email (lettre's `pool` feature is off: pooled connections spawn
/// tasks from destructors, which aborts the process when a runtime shuts down).
pub fn build_transport(cfg: &EmailConfig, mail_dir: &Path) -> Result<Transport, AlertError> {
    match cfg.transport {
        TransportKind::File => {
            crate::store::create_private_dir(mail_dir)
                .map_err(|e| AlertError::Io(mail_dir.to_path_buf(), e))?;
            Ok(Transport::File {
                dir: mail_dir.to_path_buf(),
            })
        }
        TransportKind::Smtp => {
            let raw = cfg.smtp_url.as_deref().ok_or_else(|| {
                AlertError::Config("email.transport = \"smtp\" needs email.smtp_url".into())
            })?;
            let shown = redact_url(raw);
            let url = url::Url::parse(raw)
                .map_err(|e| AlertError::Config(format!("email.smtp_url {shown:?}: {e}")))?;
            let host = url
                .host_str()
                .ok_or_else(|| AlertError::Config(format!("email.smtp_url {shown:?} has no host")))?
                .to_string();
            if url.password().is_some() {
                return Err(AlertError::Config(PASSWORD_IN_URL.into()));
            }
            let implicit = match url.scheme() {
                "smtps" => true,
                "smtp" => false,
                s => {
                    return Err(AlertError::Config(format!(
                        "email.smtp_url scheme {s:?}: expected smtp:// (STARTTLS) or smtps:// (implicit TLS)"
                    )))
                }
            };
            let port = url.port().unwrap_or(if implicit { 465 } else { 587 });
            let mut params = TlsParameters::builder(host.clone());
            if let Some(ca) = &cfg.ca_file {
                let pem = std::fs::read(ca).map_err(|e| AlertError::Io(ca.clone(), e))?;
                let cert = Certificate::from_pem(&pem).map_err(|e| {
                    AlertError::Config(format!("email.ca_file {}: {e}", ca.display()))
                })?;
                params = params.add_root_certificate(cert);
            }
            let params = params
                .build()
                .map_err(|e| AlertError::Config(format!("TLS settings for {host}: {e}")))?;
            let tls_mode = url
                .query_pairs()
                .find(|(k, _)| k == "tls")
                .map(|(_, v)| v.to_string());
            let tls = match (implicit, tls_mode.as_deref()) {
                (true, _) => Tls::Wrapper(params),
                (false, Some("none")) => Tls::None,
                (false, Some("opportunistic")) => Tls::Opportunistic(params),
                _ => Tls::Required(params),
            };
            let user = match url.username() {
                "" => cfg.username.clone(),
                u => Some(percent_decode(u)),
            };
            let password = cfg
                .password()
                .resolve("SMTP password")
                .map_err(AlertError::Secret)?;
            let clear = match &tls {
                Tls::None => Some("none"),
                Tls::Opportunistic(_) => Some("opportunistic"),
                _ => None,
            };
            if let (Some(mode), Some(_)) = (clear, &user) {
                if !is_loopback(&url) {
                    return Err(AlertError::Config(clear_text_auth(mode, &host)));
                }
            }
            let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
                .port(port)
                .tls(tls)
                .timeout(Some(cfg.timeout));
            match (user, password) {
                (Some(u), Some(p)) => b = b.credentials(Credentials::new(u, p)),
                (Some(u), None) => {
                    return Err(AlertError::Config(format!(
                        "SMTP user {u:?} has no password: set email.password_env or email.password_file"
                    )))
                }
                _ => {}
            }
            let scheme = if implicit { "smtps" } else { "smtp" };
            Ok(Transport::Smtp {
                inner: b.build(),
                server: format!("{scheme}://{host}:{port}"),
                deadline: cfg.timeout.saturating_mul(4),
            })
        }
    }
}

pub(crate) const PASSWORD_IN_URL: &str =
    "email.smtp_url holds a password, which overhear does not read from there: remove it \
     from the URL and name where it is with email.password_env (or email.password_file)";

/// The error for credentials over a connection without TLS.
pub(crate) fn clear_text_auth(mode: &str, host: &str) -> String {
    format!(
        "email.smtp_url: tls={mode} with credentials would send the SMTP password to {host} \
         in clear text; use smtps:// (implicit TLS) or smtp:// without ?tls= (STARTTLS \
         required), or a relay on loopback"
    )
}

/// Whether the URL's host is this machine (`localhost`, 127.0.0.0/8, ::1).
pub(crate) fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        // smtp:// is not a special scheme to `url`: an IPv4 address stays a "domain"
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost")
                || d.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback())
        }
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    }
}

/// A URL fit to print: any user name and password in it replaced by `***`.
pub fn redact_url(raw: &str) -> String {
    if let Ok(mut u) = url::Url::parse(raw) {
        if u.username().is_empty() && u.password().is_none() {
            return raw.to_string();
        }
        if u.set_username("***").is_ok() && u.set_password(None).is_ok() {
            return u.to_string();
        }
    }
    // not a URL we can rebuild: cut whatever sits before an `@` in the authority
    let (scheme, rest) = raw.split_once("://").unwrap_or(("", raw));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((_, host)) => {
            if scheme.is_empty() {
                format!("***@{host}{tail}")
            } else {
                format!("{scheme}://***@{host}{tail}")
            }
        }
        None => raw.to_string(),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(Ok(b)) = s.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16)) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
