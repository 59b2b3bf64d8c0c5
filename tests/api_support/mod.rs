//! The real `overhear run` binary on loopback for the API tests: a config with no
//! sources, a pre-filled database, the daemon process (killed at the end of the
//! test), raw HTTP requests with any headers, and the CLI with or without the token.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use overhear::store::{Store, StoredMention};
use serde_json::Value;

use crate::store_support::{brand, post, sentiment};

pub const TOKEN: &str = "test-token-0123456789abcdef-api";
pub const TOKEN_ENV: &str = "OVERHEAR_TEST_API_TOKEN";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The daemon process (killed at the end of the test) and its files.
pub struct Daemon {
    pub child: Child,
    pub port: u16,
    pub config: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.path().join("daemon.log"));
            eprintln!("daemon log:\n{}", log.unwrap_or_default());
        }
    }
}

impl Daemon {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `Bearer …` with the token this daemon keeps in its data folder (for a config
    /// with no api_token_env/_file).
    pub fn auth(&self) -> String {
        bearer(&daemon_token(self.dir.path()))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }
}

/// A config with no sources (nothing is polled), `daemon_extra` added to `[daemon]`.
pub fn write_config(dir: &Path, bind: &str, daemon_extra: &str) -> PathBuf {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sentiment");
    let text = format!(
        r#"
[daemon]
data_dir = "{data}"
api_bind = "{bind}"
shutdown_timeout = "5s"
{daemon_extra}

[model]
path = "{model}"

[email]
transport = "file"
from = "overhear <alerts@overhear.test>"

[[brand]]
name = "Acme"
query = "acme"
alert_to = ["support@acme.test"]
"#,
        data = dir.join("data").display(),
        model = model.display(),
    );
    let path = dir.join("overhear.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Stores `n` classified mentions of Acme; every third pair shares a millisecond,
/// so that paging has ties to get right.
pub fn fill(data: &Path, n: usize) {
    let store = Store::open(data).unwrap();
    let now = Utc::now();
    let items: Vec<_> = (0..n)
        .map(|i| {
            let at = now - chrono::Duration::seconds((i / 3) as i64);
            let p = post(
                "hackernews",
                &i.to_string(),
                &format!("https://e.test/{i}"),
                "acme did a thing",
                at,
            );
            (p, vec![brand("Acme")])
        })
        .collect();
    let ups = store.upsert_many(&items, now).unwrap();
    let labelled: Vec<_> = ups
        .iter()
        .map(|u| (u.id().to_string(), sentiment("neutral", 0.9)))
        .collect();
    store.set_sentiments(&labelled).unwrap();
}

pub fn start(dir: tempfile::TempDir, config: PathBuf, port: u16) -> Daemon {
    let log = std::fs::File::create(dir.path().join("daemon.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_overhear"))
        .args(["run", "--config"])
        .arg(&config)
        .env(TOKEN_ENV, TOKEN)
        .env("OVERHEAR_LOG", "info,overhear=debug")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut d = Daemon {
        child,
        port,
        config,
        dir,
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = d.child.try_wait().unwrap() {
            panic!("overhear exited early: {status}\n{}", d.log());
        }
        if healthy(&d.url("/healthz")) {
            return d;
        }
        assert!(Instant::now() < deadline, "overhear did not become healthy");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs `f` on a fresh runtime (the tests themselves are plain threads).
pub fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .unwrap()
}

pub fn healthy(url: &str) -> bool {
    block(async { client(Duration::from_secs(2)).get(url).send().await })
        .map(|r| r.status().is_success())
        .unwrap_or(false)
}

/// The status of one raw HTTP/1.1 request to `port`: `headers` as given, and a
/// `Host: 127.0.0.1:PORT` unless they name another.
pub fn raw_status(port: u16, method: &str, path: &str, headers: &[(&str, &str)]) -> u16 {
    raw(port, method, path, headers, "").0
}

/// One raw HTTP/1.1 request to `port` with a body: the status and the body of the
/// answer. `Host: 127.0.0.1:PORT` unless `headers` name another.
pub fn raw(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer to {method} {path}: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

/// The token a daemon with no `api_token_env`/`_file` keeps in `data_dir/api-token`
/// (the data folder of [`write_config`]).
pub fn daemon_token(dir: &Path) -> String {
    let file = dir.join("data").join("api-token");
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .trim()
        .to_string()
}

/// (method, path, headers, expected status).
pub type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, u16);

pub fn expect(port: u16, cases: &[Case]) {
    for (method, path, headers, want) in cases {
        let got = raw_status(port, method, path, headers);
        assert_eq!(got, *want, "{method} {path} {headers:?}");
    }
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// `GET url` with the token: the page's mention ids and its next cursor.
pub fn page(url: &str) -> (Vec<String>, Option<String>) {
    let v: Value = block(async {
        let r = client(Duration::from_secs(30))
            .get(url)
            .header("Authorization", bearer(TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{url}");
        r.json().await.unwrap()
    });
    let rows: Vec<StoredMention> =
        serde_json::from_value(v["mentions"].clone()).expect("a mentions array");
    let next = v["next_cursor"].as_str().map(str::to_string);
    (rows.into_iter().map(|m| m.id).collect(), next)
}

pub fn cli(d: &Daemon, args: &[&str], token: Option<&str>) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_overhear"));
    c.arg("--config").arg(&d.config).args(args);
    match token {
        Some(t) => c.env(TOKEN_ENV, t),
        None => c.env_remove(TOKEN_ENV),
    };
    c.output().unwrap()
}

/// Runs `overhear run --config config` expecting it to exit by itself within 60 s:
/// its output (`None`: it was still running, and was killed).
pub fn run_until_exit(config: &Path) -> Option<std::process::Output> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_overhear"))
        .args(["run", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(child.wait_with_output().unwrap())
}

/// `overhear --config cfg ARGS` as a user would run it with no daemon token set
/// (TZ=UTC, USER=tester).
pub fn overhear(cfg: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_overhear"))
        .arg("--config")
        .arg(cfg)
        .args(args)
        .env("TZ", "UTC")
        .env("USER", "tester")
        .env_remove(TOKEN_ENV)
        .output()
        .unwrap()
}

/// The stdout of a command that must have succeeded (else both outputs, failing).
pub fn ok(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stops the daemon with SIGTERM and waits (at most 30 s) until it has exited.
pub fn stop(d: &mut Daemon) {
    let pid = d.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while d.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
}
