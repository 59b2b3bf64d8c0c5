//! Shared by the browser tests: headless Chromium driven over WebDriver
//! (chromium-driver, from Debian) with fantoccini, its console, screenshots kept in
//! `target/tmp/`, waits on the page, and the login form. Without chromium the test
//! is skipped loudly, or fails when OVERHEAR_REQUIRE_BROWSER=1.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

pub struct Driver(Child, pub u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tool(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

/// chromedriver on a free port, or `None` (and why) when it is not installed.
pub fn driver() -> Option<Driver> {
    let (Some(bin), Some(_)) = (tool("chromedriver"), tool("chromium")) else {
        crate::skip_support::skip(
            "OVERHEAR_REQUIRE_BROWSER",
            "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)",
        );
        return None;
    };
    let port = crate::api_support::free_port();
    let child = Command::new(bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(Driver(child, port))
}

/// A new browser session (its own cookies) on `d`.
pub async fn browser(d: &Driver) -> Client {
    // fantoccini speaks plain HTTP to chromedriver, but its rustls needs a provider
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": tool("chromium").unwrap(),
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,900", "--no-first-run", "--disable-extensions"],
        }),
    );
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", d.1))
        .await
        .unwrap()
}

/// The browser console's entries since the last call (chromedriver's log endpoint).
pub async fn console(c: &Client, d: &Driver) -> Vec<serde_json::Value> {
    let id = c.session_id().await.unwrap().unwrap();
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/session/{id}/se/log", d.1))
        .json(&json!({"type": "browser"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["value"].as_array().cloned().unwrap_or_default()
}

/// The console has no error since the last look.
pub async fn no_console_errors(c: &Client, d: &Driver) {
    let errors: Vec<_> = console(c, d)
        .await
        .into_iter()
        .filter(|e| e["level"] == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

/// A screenshot kept as `target/tmp/{path}` (`inbox/mention.png`).
pub async fn shot(c: &Client, path: &str) {
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, c.screenshot().await.unwrap()).unwrap();
}

pub async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

pub async fn wait_text(c: &Client, css: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if e.text().await.unwrap_or_default().contains(want) {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{css} never showed {want:?}:\n{}",
            c.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Logs in through the login form at `base` (the daemon's URL).
pub async fn login(c: &Client, base: &str, user: &str, password: &str) {
    c.goto(&format!("{base}/")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().starts_with("/login"));
    c.find(Locator::Css("input[name=login]"))
        .await
        .unwrap()
        .send_keys(user)
        .await
        .unwrap();
    c.find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    c.find(Locator::Css(".login button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while c.current_url().await.unwrap().path().starts_with("/login") {
        assert!(Instant::now() < deadline, "{user} could not log in");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
