//! The real `overhear run` binary on loopback, for the end-to-end tests: a real SMTP
//! server that collects what it accepts, the daemon process (killed if a test ends
//! without stopping it), and waits on its API, its logs and its mail.
#![allow(dead_code)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::sources_support::overhear_ok;

// ---- a real SMTP server (mailin-embedded), collecting what it accepts ----

#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Clone, Default)]
struct Sink {
    current: Arc<Mutex<Mail>>,
    received: Arc<Mutex<Vec<Mail>>>,
    /// How long each message waits for its "250 OK" at the end of DATA.
    delay: Duration,
}

impl mailin_embedded::Handler for Sink {
    fn data_start(
        &mut self,
        _: &str,
        _: &str,
        _: bool,
        to: &[String],
    ) -> mailin_embedded::Response {
        *self.current.lock().unwrap() = Mail {
            to: to.to_vec(),
            data: String::new(),
        };
        mailin_embedded::response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current
            .lock()
            .unwrap()
            .data
            .push_str(&String::from_utf8_lossy(buf));
        Ok(())
    }
    fn data_end(&mut self) -> mailin_embedded::Response {
        std::thread::sleep(self.delay);
        let mail = std::mem::take(&mut *self.current.lock().unwrap());
        self.received.lock().unwrap().push(mail);
        mailin_embedded::response::OK
    }
}

pub fn start_smtp() -> (u16, Arc<Mutex<Vec<Mail>>>) {
    start_smtp_slow(Duration::ZERO)
}

/// [`start_smtp`] taking `per_message` to accept each message (a burst of alerts
/// then takes a while to go out).
pub fn start_smtp_slow(per_message: Duration) -> (u16, Arc<Mutex<Vec<Mail>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sink = Sink {
        delay: per_message,
        ..Sink::default()
    };
    let received = sink.received.clone();
    let mut server = mailin_embedded::Server::new(sink);
    server.with_name("sink.test").with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    (port, received)
}

/// An RSS 2.0 feed of `(guid, title, body)` items, posted ten minutes ago (news, not
/// older than `[alerts] max_age`).
pub fn rss(items: &[(&str, &str, &str)]) -> String {
    let at = (chrono::Utc::now() - chrono::Duration::minutes(10)).to_rfc2822();
    let mut out = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>reviews</title><link>http://reviews.test/</link><description>d</description>",
    );
    for (guid, title, body) in items {
        out.push_str(&format!(
            "<item><guid>{guid}</guid><title>{title}</title><link>http://reviews.test/{guid}</link><description>{body}</description><pubDate>{at}</pubDate></item>"
        ));
    }
    out.push_str("</channel></rss>");
    out
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Keeps the daemon's files (logs, database, mail) when the test fails or
/// OVERHEAR_E2E_KEEP is set, and says where.
pub struct KeepOnFailure(pub Option<tempfile::TempDir>);

impl KeepOnFailure {
    pub fn path(&self) -> &Path {
        self.0
            .as_ref()
            .map(|d| d.path())
            .unwrap_or(Path::new("/nonexistent"))
    }
}

impl Drop for KeepOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("OVERHEAR_E2E_KEEP").is_some() {
            if let Some(d) = self.0.take() {
                eprintln!("e2e: daemon logs and data kept in {}", d.keep().display());
            }
        }
    }
}

pub struct Setup {
    pub dir: KeepOnFailure,
    pub config: PathBuf,
    pub api: u16,
}

/// The daemon process; killed if the test ends without stopping it.
pub struct Daemon(pub Child);

impl std::ops::Deref for Daemon {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Daemon {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Setup {
    /// `Authorization: Bearer …` with the token the daemon keeps in its data folder
    /// (these configs set no api_token_env, so the daemon made one at start).
    pub fn auth(&self) -> String {
        let file = self.dir.path().join("data").join("api-token");
        let token =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        format!("Bearer {}", token.trim())
    }

    /// `GET path` on the daemon's API with its token: the body.
    pub async fn api_get(&self, path: &str) -> String {
        reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}{path}", self.api))
            .header("Authorization", self.auth())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

pub fn start(setup: &Setup, log: &str) -> Daemon {
    let log = std::fs::File::create(setup.dir.path().join(log)).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_overhear"))
        .args(["run", "--config"])
        .arg(&setup.config)
        .env("OVERHEAR_LOG", "info,overhear=debug")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Daemon(child)
}

pub async fn wait_healthy(api: u16, child: &mut Child) {
    let url = format!("http://127.0.0.1:{api}/healthz");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("overhear exited early: {status}");
        }
        if let Ok(r) = reqwest::get(&url).await {
            if r.status().is_success() {
                return;
            }
        }
        assert!(Instant::now() < deadline, "overhear did not become healthy");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} failed");
}

pub fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "overhear did not exit in {within:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn mentions(setup: &Setup) -> Vec<Value> {
    let out = overhear_ok(
        &["mentions", "list", "--json", "--limit", "1000"],
        &setup.config,
    );
    match serde_json::from_slice::<Value>(&out.stdout).unwrap() {
        Value::Array(a) => a,
        other => panic!("not a JSON array: {other}"),
    }
}

pub fn message_id(data: &str) -> String {
    data.lines()
        .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
        .map(|l| l[11..].trim().to_string())
        .unwrap_or_else(|| panic!("no Message-ID in {data}"))
}

pub fn brands_of(m: &Value) -> Vec<String> {
    m["brands"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|b| b["brand"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

pub async fn wait_for<F: Fn() -> bool>(what: &str, within: Duration, f: F) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until `server` has answered two more requests on each of `paths` than it
/// had at the call: the first is a poll that began after the call, the second comes
/// a whole poll interval later, when whatever the first one brought has been stored
/// and sent. A test that asserts nothing was sent twice waits for this rather than
/// for a time shorter than a poll.
pub async fn wait_two_more_polls(server: &wiremock::MockServer, paths: &[&str], within: Duration) {
    let count =
        |reqs: &[wiremock::Request], p: &str| reqs.iter().filter(|r| r.url.path() == p).count();
    let before = server.received_requests().await.unwrap_or_default();
    let want: Vec<usize> = paths.iter().map(|p| count(&before, p) + 2).collect();
    let deadline = Instant::now() + within;
    loop {
        let now = server.received_requests().await.unwrap_or_default();
        if paths.iter().zip(&want).all(|(p, w)| count(&now, p) >= *w) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for two more polls of each of {paths:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub fn log_of(setup: &Setup, name: &str) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(setup.dir.path().join(name)) {
        let _ = f.read_to_string(&mut s);
    }
    s
}

/// The brand most tests watch, alerting support@acme.test.
pub const ACME: &str =
    "[[brand]]\nname = \"Acme\"\nquery = \"acme\"\nalert_to = [\"support@acme.test\"]\n";

/// `[email]` through the SMTP server on `port` (no TLS: loopback).
pub fn smtp_email(port: u16) -> String {
    format!("[email]\ntransport = \"smtp\"\nsmtp_url = \"smtp://127.0.0.1:{port}?tls=none\"\nfrom = \"overhear <alerts@overhear.test>\"\n")
}

/// An RSS `[[source]]` named `name`, polled every 10 s.
pub fn rss_source(name: &str, url: &str) -> String {
    format!("[[source]]\nkind = \"rss\"\nname = \"{name}\"\nurl = \"{url}\"\nevery = \"10s\"\n")
}

/// A config's text: `[daemon]` on loopback port `api` with its data in `dir/data`
/// (plus `daemon_extra` keys), the bundled model alerting from P >= 0.5, then `rest`
/// (email, alerts, brands, sources), with `[alerts] backlog = "alert"` unless `rest`
/// sets `backlog`.
pub fn config_text(dir: &Path, api: u16, daemon_extra: &str, rest: &str) -> String {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sentiment");
    // these tests take what the first poll finds as news: one alert per post
    // (`tests/first_start.rs` tests the backlog digest, and says so itself)
    let rest = if rest.contains("backlog =") {
        rest.to_string()
    } else if rest.contains("[alerts]\n") {
        rest.replacen("[alerts]\n", "[alerts]\nbacklog = \"alert\"\n", 1)
    } else {
        format!("{rest}\n[alerts]\nbacklog = \"alert\"\n")
    };
    format!(
        "[daemon]\ndata_dir = \"{data}\"\napi_bind = \"127.0.0.1:{api}\"\n{daemon_extra}\n[model]\npath = \"{model}\"\nalert_threshold = 0.5\n\n{rest}",
        data = dir.join("data").display(),
        model = model.display(),
    )
}

/// [`config_text`] written to `dir/overhear.toml`; returns its path.
pub fn write_test_config(dir: &Path, api: u16, daemon_extra: &str, rest: &str) -> PathBuf {
    let path = dir.join("overhear.toml");
    std::fs::write(&path, config_text(dir, api, daemon_extra, rest)).unwrap();
    path
}
