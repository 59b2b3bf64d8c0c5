//! Shared by the inbox tests: a daemon (no sources) over a database of mentions
//! (negative ones of Acme, one whose text is `<script>`), a user made with the real
//! `overhear user add`, and a cookie-keeping HTTP client that logs in like a browser.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use overhear::store::Store;

use crate::api_support::{start, write_config, Daemon};
use crate::store_support::{brand, post, sentiment};

pub const USER: &str = "dana";
pub const EMAIL: &str = "dana@acme.test";
pub const PASSWORD: &str = "correct horse battery staple";
pub const HOSTILE: &str = "<script>alert('acme')</script> acme refund <b>never</b> came";

/// Stores the inbox's mentions; their ids, newest first.
pub fn fill_inbox(data: &Path) -> Vec<String> {
    let s = Store::open(data).unwrap();
    let now = Utc::now();
    let texts = [
        HOSTILE,
        "acme support kept me on hold for three hours, no refund",
        "acme shipping is late again, third time",
        "love the new acme dashboard",
    ];
    let mut ids = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let mut p = post(
            "hackernews",
            &format!("90{i}"),
            &format!("https://news.ycombinator.com/item?id=90{i}"),
            text,
            now - chrono::Duration::minutes(10 * i as i64 + 5),
        );
        p.author = Some(format!("user{i}"));
        let mut b = brand("Acme");
        if let Some(at) = text.find("acme") {
            b.terms[0].start = at;
            b.terms[0].end = at + 4;
        }
        let up = s.upsert_mention(&p, &[b], p.created_at).unwrap();
        let label = if i == 3 { "positive" } else { "negative" };
        s.set_sentiment(up.id(), &sentiment(label, 0.93)).unwrap();
        ids.push(up.id().to_string());
    }
    ids
}

/// `overhear user add` of [`USER`] with the password on stdin.
pub fn add_user(config: &Path, token: Option<&str>) {
    add_named_user(config, USER, EMAIL, token);
}

/// `overhear user add LOGIN --email EMAIL` with [`PASSWORD`] on stdin.
pub fn add_named_user(config: &Path, login: &str, email: &str, token: Option<&str>) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_overhear"));
    c.arg("--config")
        .arg(config)
        .args(["user", "add", login, "--email", email, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(t) = token {
        c.env(crate::api_support::TOKEN_ENV, t);
    }
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "user add: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A daemon with an API token over the inbox's mentions, with the user added
/// before it started; the mention ids, newest first.
pub fn daemon_with_inbox(extra: &str) -> (Daemon, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::api_support::free_port();
    let daemon_extra = format!(
        "api_token_env = \"{}\"\n{extra}",
        crate::api_support::TOKEN_ENV
    );
    let config = write_config(dir.path(), &format!("127.0.0.1:{port}"), &daemon_extra);
    let ids = fill_inbox(&dir.path().join("data"));
    add_user(&config, None);
    (start(dir, config, port), ids)
}

/// A browser-like client: keeps cookies by hand, follows no redirect.
pub struct Browser {
    pub base: String,
    pub cookies: Vec<(String, String)>,
    client: reqwest::Client,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Browser {
    pub fn new(d: &Daemon) -> Browser {
        Browser::from_address(d, None)
    }

    /// A browser whose connections come from `local` (any 127.x address reaches
    /// the daemon on 127.0.0.1).
    pub fn from_address(d: &Daemon, local: Option<std::net::IpAddr>) -> Browser {
        Browser {
            base: d.url(""),
            cookies: Vec::new(),
            client: reqwest::Client::builder()
                .no_proxy()
                .local_address(local)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, r: reqwest::Response) -> Page {
        for v in r.headers().get_all(reqwest::header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (kv, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            if !val.is_empty() && !v.contains("Max-Age=0") {
                self.cookies.push((k.to_string(), val.to_string()));
            }
        }
        Page {
            status: r.status().as_u16(),
            location: r
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|l| l.to_str().unwrap().to_string()),
            headers: r.headers().clone(),
            body: r.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", &self.base)
            .body(body)
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    /// Logs in through the login form; the page it lands on.
    pub async fn login(&mut self, login: &str, password: &str) -> Page {
        let page = self.get("/login").await;
        let csrf = hidden(&page.body, "csrf");
        self.post(
            "/login",
            &[
                ("login", login),
                ("password", password),
                ("csrf", &csrf),
                ("next", "/"),
            ],
        )
        .await
    }
}

/// The value of the first hidden input named `name`.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_string()
}

/// Stops the daemon (SIGTERM) and starts it again on the same files.
pub fn restart(d: &mut Daemon) {
    let _ = Command::new("kill")
        .args(["-TERM", &d.child.id().to_string()])
        .status();
    let _ = d.child.wait();
    let log = std::fs::OpenOptions::new()
        .append(true)
        .open(d.dir.path().join("daemon.log"))
        .unwrap();
    d.child = Command::new(env!("CARGO_BIN_EXE_overhear"))
        .args(["run", "--config"])
        .arg(&d.config)
        .env(crate::api_support::TOKEN_ENV, crate::api_support::TOKEN)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !crate::api_support::healthy(&d.url("/healthz")) {
        assert!(
            std::time::Instant::now() < deadline,
            "no restart: {}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
