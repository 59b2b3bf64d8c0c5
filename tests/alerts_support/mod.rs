//! Helpers shared by tests/alerts_*.rs: mentions, configs, senders and a loopback SMTP
//! server. Test-only: never used by the daemon, never reaches outside the temporary
//! folders and loopback ports it makes.
#![allow(dead_code)]

pub mod flaky;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use mailin_embedded::{response, AuthMechanism, Handler, Response, Server, SslConfig};
use overhear::alerts::{
    build_transport, Alerter, AlertsConfig, Clock, EmailConfig, Sender, TestClock, Transport,
    TransportKind,
};
use overhear::matcher::BrandConfig;
use overhear::post::{BrandMatch, Field, MatchedTerm, Mention, Post, Sentiment};
use overhear::store::Store;

pub fn t(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smtp")
}

pub fn brand(name: &str, to: &[&str]) -> BrandConfig {
    let text = format!(
        "name = {name:?}\nquery = '\"acme corp\"'\nalert_to = [{}]\n",
        to.iter()
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    toml::from_str(&text).unwrap()
}

/// A negative mention of Acme whose title and text contain HTML and a CR/LF.
pub fn mention(id: &str, p_negative: f32) -> Mention {
    let title = "Acme corp <script>alert(1)</script>\r\nBcc: victim@evil.example".to_string();
    let text = "I waited 3 weeks & acme corp still has <b>no</b> refund.\nNever again.".to_string();
    let ts = text.find("acme corp").unwrap();
    Mention {
        post: Post {
            rating: None,
            owned_by: None,
            id: format!("hackernews:{id}"),
            url: format!("https://news.ycombinator.com/item?id={id}"),
            author: Some("angry <user>".into()),
            title: Some(title),
            text,
            created_at: t(2026, 11, 23, 12, 0),
            created_at_is_first_seen: false,
            source: "hackernews".into(),
            source_name: "hackernews".into(),
            site: "news.ycombinator.com".into(),
            parent_id: None,
            thread_id: None,
            engagement: Some(42),
            lang: None,
            links: vec![],
        },
        brands: vec![BrandMatch {
            brand: "Acme".into(),
            query: "default".into(),
            terms: vec![
                MatchedTerm {
                    term: "acme corp".into(),
                    field: Field::Text,
                    start: ts,
                    end: ts + 9,
                },
                MatchedTerm {
                    term: "acme corp".into(),
                    field: Field::Title,
                    start: 0,
                    end: 9,
                },
            ],
        }],
        sentiment: Some(Sentiment {
            label: "negative".into(),
            scores: vec![
                ("negative".into(), p_negative),
                ("neutral".into(), (1.0 - p_negative) * 0.75),
                ("positive".into(), (1.0 - p_negative) * 0.25),
            ],
            model: "test@0".into(),
        }),
        first_seen: t(2026, 11, 23, 12, 1),
        updated_at: None,
    }
}

/// [`mention`], posted and first seen just now: for tests on the system clock (a post
/// older than `[alerts] max_age` would go with the backlog, not alone).
pub fn mention_now(id: &str, p_negative: f32) -> Mention {
    let mut m = mention(id, p_negative);
    m.post.created_at = Utc::now();
    m.first_seen = Utc::now();
    m
}

/// The .eml files the file transport wrote in `dir`, sorted.
pub fn emails(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .map(|e| std::fs::read_to_string(e.path()).unwrap())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

pub fn alerts_config(extra: &str) -> AlertsConfig {
    toml::from_str(extra).unwrap()
}

pub fn file_email(dir: &Path) -> EmailConfig {
    EmailConfig {
        transport: TransportKind::File,
        mail_dir: Some(dir.to_path_buf()),
        ..EmailConfig::default()
    }
}

/// Email config for the loopback server: STARTTLS with the fixture CA, AUTH PLAIN.
pub fn smtp_email(port: u16, password_file: &Path) -> EmailConfig {
    EmailConfig {
        transport: TransportKind::Smtp,
        from: "overhear <alerts@overhear.test>".into(),
        smtp_url: Some(format!("smtp://localhost:{port}")),
        username: Some("alerts".into()),
        password_file: Some(password_file.to_path_buf()),
        ca_file: Some(fixtures().join("ca.pem")),
        timeout: std::time::Duration::from_secs(10),
        ..EmailConfig::default()
    }
}

/// Email config for a [`flaky::FlakySmtp`] server: plain SMTP, no AUTH.
pub fn plain_email(url: &str, timeout: std::time::Duration) -> EmailConfig {
    EmailConfig {
        transport: TransportKind::Smtp,
        from: "overhear <alerts@overhear.test>".into(),
        smtp_url: Some(url.to_string()),
        timeout,
        ..EmailConfig::default()
    }
}

/// Rules for one brand, Acme, alerting `to`, with `[alerts]` set by `alerts_toml`.
pub fn acme_alerter(alerts_toml: &str, to: &[&str]) -> Arc<Alerter> {
    Arc::new(Alerter::new(
        &alerts_config(alerts_toml),
        &[brand("Acme", to)],
        0.8,
    ))
}

/// A sender through `transport`, from `email.from`.
pub fn sender_with(
    store: &Store,
    alerter: &Arc<Alerter>,
    transport: Transport,
    email: &EmailConfig,
    clock: Arc<dyn Clock>,
) -> Sender {
    Sender::new(
        store.clone(),
        alerter.clone(),
        transport,
        email.from.parse().unwrap(),
        clock,
    )
}

/// A sender through the transport `email` configures (`mail_dir` for the file one).
pub fn sender_for(
    store: &Store,
    alerter: &Arc<Alerter>,
    email: &EmailConfig,
    mail_dir: &Path,
    clock: Arc<dyn Clock>,
) -> Sender {
    let transport = build_transport(email, mail_dir).unwrap();
    sender_with(store, alerter, transport, email, clock)
}

/// Writes the SMTP password to a file in `dir` (as `email.password_file` reads it).
pub fn password_file(dir: &Path, pw: &str) -> PathBuf {
    let p = dir.join("smtp-password");
    std::fs::write(&p, format!("{pw}\n")).unwrap();
    p
}

/// What most SMTP tests start from: a store in a temporary folder, a clock at
/// 2026-11-23 12:05, Acme's rules and a sender to the loopback server on `port`
/// logging in with `password`.
pub struct SmtpRig {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub clock: Arc<TestClock>,
    pub alerter: Arc<Alerter>,
    pub sender: Sender,
}

impl SmtpRig {
    pub fn new(alerts_toml: &str, to: &[&str], port: u16, password: &str) -> SmtpRig {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let clock = Arc::new(TestClock::new(t(2026, 11, 23, 12, 5)));
        let alerter = acme_alerter(alerts_toml, to);
        let sender = smtp_sender(
            &store,
            &alerter,
            port,
            &password_file(dir.path(), password),
            &clock,
        );
        SmtpRig {
            dir,
            store,
            clock,
            alerter,
            sender,
        }
    }
}

/// A sender to the loopback server on `port` (see [`smtp_email`]).
pub fn smtp_sender(
    store: &Store,
    alerter: &Arc<Alerter>,
    port: u16,
    pw_file: &Path,
    clock: &Arc<TestClock>,
) -> Sender {
    sender_for(
        store,
        alerter,
        &smtp_email(port, pw_file),
        Path::new("unused"),
        clock.clone(),
    )
}

/// One message the server accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub raw: String,
}

impl Received {
    /// A header value (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\r\n\r\n").next()?;
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// The decoded body of the part with this content type.
    pub fn part(&self, content_type: &str) -> Option<String> {
        let i = self.raw.find(&format!("Content-Type: {content_type}"))?;
        let rest = &self.raw[i..];
        let body_start = rest.find("\r\n\r\n")? + 4;
        let body = &rest[body_start..];
        let ct = self.header("Content-Type")?;
        let boundary = ct.split("boundary=").nth(1)?.trim_matches('"').to_string();
        let end = body
            .find(&format!("\r\n--{boundary}"))
            .unwrap_or(body.len());
        let decoded =
            quoted_printable::decode(&body[..end], quoted_printable::ParseMode::Robust).ok()?;
        Some(String::from_utf8_lossy(&decoded).replace("\r\n", "\n"))
    }
}

#[derive(Clone)]
struct Sink {
    received: Arc<Mutex<Vec<Received>>>,
    reject: Vec<String>,
    password: String,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Sink {
    fn rcpt(&mut self, to: &str) -> Response {
        // "nobody@" refuses every address that starts so; a whole address only itself
        let addr = to.trim().trim_matches(['<', '>']);
        if self.reject.iter().any(|r| {
            if r.ends_with('@') {
                addr.starts_with(r.as_str())
            } else {
                addr.eq_ignore_ascii_case(r)
            }
        }) {
            response::NO_MAILBOX
        } else {
            response::OK
        }
    }
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.from = from.to_string();
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> Response {
        let r = Received {
            from: self.from.clone(),
            to: self.to.clone(),
            raw: String::from_utf8_lossy(&self.data).into_owned(),
        };
        self.received.lock().unwrap().push(r);
        response::OK
    }
    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> Response {
        if user == "alerts" && password == self.password {
            response::AUTH_OK
        } else {
            response::INVALID_CREDENTIALS
        }
    }
}

/// A loopback SMTP server (STARTTLS with the fixture certificate, AUTH PLAIN with
/// user `alerts` and `password`) that refuses the recipients in `reject` (an entry
/// ending in `@` refuses every address that starts with it).
pub struct SmtpServer {
    pub port: u16,
    pub received: Arc<Mutex<Vec<Received>>>,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl SmtpServer {
    pub fn start(port: u16, password: &str, reject: &[&str]) -> SmtpServer {
        install_crypto();
        SmtpServer::spawn(port, password, reject, |server| {
            server
                .with_ssl(SslConfig::SelfSigned {
                    cert_path: fixtures().join("server.pem").display().to_string(),
                    key_path: fixtures().join("server.key").display().to_string(),
                })
                .unwrap()
                .with_auth(AuthMechanism::Plain);
        })
    }

    /// A plain server: no TLS, no AUTH (behind [`tls_front`] for implicit TLS).
    pub fn start_plain(port: u16) -> SmtpServer {
        SmtpServer::spawn(port, "", &[], |_| {})
    }

    /// Serves on `port` in a thread, after `setup` (TLS, AUTH) has had its say.
    fn spawn(
        port: u16,
        password: &str,
        reject: &[&str],
        setup: impl FnOnce(&mut Server<Sink>),
    ) -> SmtpServer {
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink {
            received: received.clone(),
            reject: reject.iter().map(|s| s.to_string()).collect(),
            password: password.to_string(),
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
        };
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let mut server = Server::new(sink);
        setup(&mut server);
        server
            .with_name("localhost")
            .with_num_threads(16)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve().map_err(|e| e.to_string());
        });
        SmtpServer { port, received }
    }

    pub fn messages(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// Implicit TLS in front of a plain SMTP server on `backend`: returns the TLS port.
pub async fn tls_front(backend: u16) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(fixtures().join("server.pem"))
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
    let key = PrivateKeyDer::from_pem_file(fixtures().join("server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(("127.0.0.1", backend)).await
                else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    port
}
