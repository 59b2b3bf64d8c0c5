//! A cluster on loopback for the cluster tests: a real `nats-server -js` (file
//! storage, restartable on the same port and store), growing RSS feeds on several
//! ports (one lease each), a real SMTP server, the hub (`overhear run`) and workers
//! (`overhear worker`) as real processes.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::daemon_support::{free_port, start_smtp, Daemon, KeepOnFailure, Mail};

/// The negative text every item carries (each one alerts).
pub const TEXT: &str =
    "Acme support kept me on hold for three hours and then refused my refund. Awful, never again.";

/// Tests share the machine's two cores: one cluster at a time.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

mod feeds;
mod nats;
pub use feeds::*;
pub use nats::*;

/// A whole cluster's files and processes.
pub struct Cluster {
    pub dir: KeepOnFailure,
    pub nats: Nats,
    pub feeds: Feeds,
    pub mails: Arc<Mutex<Vec<Mail>>>,
    pub hub_config: PathBuf,
    pub api: u16,
    pub hub: Option<Daemon>,
    /// (name, config, health port, process)
    pub workers: Vec<(String, PathBuf, u16, Option<Daemon>)>,
    runs: usize,
}

pub const LEASE_TTL_SECS: u64 = 3;

impl Cluster {
    pub async fn start(bin: PathBuf, hosts: usize, workers: usize, total: usize) -> Cluster {
        let dir = KeepOnFailure(Some(tempfile::tempdir().unwrap()));
        let nats = Nats::start(bin, dir.path());
        let feeds = Feeds::start(hosts, total, 3, Duration::from_secs(2)).await;
        let (smtp, mails) = start_smtp();
        let api = free_port();
        let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sentiment");
        let cluster = |user: &str| {
            format!(
                "[cluster]\nnats_url = \"{}\"\nlease_ttl = \"{LEASE_TTL_SECS}s\"\nuser = \"{user}\"\npassword_env = \"NATS_{}_PASSWORD\"\n",
                nats.url(),
                user.to_uppercase()
            )
        };
        let hub = format!(
            "[daemon]\ndata_dir = \"{data}\"\napi_bind = \"127.0.0.1:{api}\"\nshutdown_timeout = \"10s\"\n\n[model]\npath = \"{model}\"\nalert_threshold = 0.5\n\n[email]\ntransport = \"smtp\"\nsmtp_url = \"smtp://127.0.0.1:{smtp}?tls=none\"\nfrom = \"overhear <alerts@overhear.test>\"\n\n[[brand]]\nname = \"Acme\"\nquery = \"acme\"\nalert_to = [\"support@acme.test\"]\n\n[alerts]\nbacklog = \"alert\"\nmax_age = \"0s\"\n\n{sources}{cluster}",
            data = dir.path().join("hub-data").display(),
            model = model.display(),
            sources = feeds.source_toml(),
            cluster = cluster("hub"),
        );
        let hub_config = dir.path().join("hub.toml");
        std::fs::write(&hub_config, hub).unwrap();
        let mut ws = Vec::new();
        for i in 1..=workers {
            let name = format!("w{i}");
            let port = free_port();
            let text = format!(
                "[daemon]\ndata_dir = \"{data}\"\n\n[model]\npath = \"{model}\"\n\n{cluster}worker_bind = \"127.0.0.1:{port}\"\nworker_name = \"{name}\"\n",
                data = dir.path().join(format!("{name}-data")).display(),
                model = model.display(),
                cluster = cluster("worker"),
            );
            let path = dir.path().join(format!("{name}.toml"));
            std::fs::write(&path, text).unwrap();
            ws.push((name, path, port, None));
        }
        Cluster {
            dir,
            nats,
            feeds,
            mails,
            hub_config,
            api,
            hub: None,
            workers: ws,
            runs: 0,
        }
    }

    fn spawn(&mut self, args: &[&str], config: &Path, log: &str) -> Daemon {
        self.runs += 1;
        let log = std::fs::File::create(self.dir.path().join(format!("{log}.{}.log", self.runs)))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_overhear"))
            .args(args)
            .arg("--config")
            .arg(config)
            .env("OVERHEAR_LOG", "info,overhear=debug")
            .envs(nats_passwords())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Daemon(child)
    }

    pub async fn start_hub(&mut self) {
        let config = self.hub_config.clone();
        let mut d = self.spawn(&["run"], &config, "hub");
        crate::daemon_support::wait_healthy(self.api, &mut d).await;
        self.hub = Some(d);
    }

    pub async fn start_worker(&mut self, i: usize) {
        let (name, config, port, _) = self.workers[i].clone_parts();
        let mut d = self.spawn(&["worker"], &config, &name);
        let url = format!("http://127.0.0.1:{port}/healthz");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(s) = d.0.try_wait().unwrap() {
                panic!("worker {name} exited early: {s}");
            }
            if reqwest::get(&url)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "worker {name} did not become healthy"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.workers[i].3 = Some(d);
    }

    /// Starts worker `i` without waiting for it to be healthy (it may refuse the
    /// hub's config, and then never is).
    pub fn spawn_worker(&mut self, i: usize) {
        let (name, config, _, _) = self.workers[i].clone_parts();
        let d = self.spawn(&["worker"], &config, &name);
        self.workers[i].3 = Some(d);
    }

    /// Worker `i`'s `/healthz` (status, body), or `None` while it does not answer.
    pub async fn worker_health(&self, i: usize) -> Option<(u16, serde_json::Value)> {
        let url = format!("http://127.0.0.1:{}/healthz", self.workers[i].2);
        let r = reqwest::get(&url).await.ok()?;
        let status = r.status().as_u16();
        Some((status, r.json().await.ok()?))
    }

    /// A NATS connection as the workers' user (what a worker, or anyone holding its
    /// credentials, can do).
    pub async fn as_worker(&self) -> async_nats::Client {
        async_nats::ConnectOptions::with_user_and_password("worker".into(), WORKER_PASSWORD.into())
            .connect(self.nats.url())
            .await
            .unwrap()
    }

    /// The `host:port` feed `h` is on (its lease's host).
    pub fn feed_host(&self, h: usize) -> String {
        format!("127.0.0.1:{}", self.feeds.ports[h])
    }

    pub fn worker_pid(&self, i: usize) -> u32 {
        self.workers[i].3.as_ref().map(|d| d.0.id()).unwrap()
    }

    pub fn signal_worker(&self, i: usize, sig: &str) {
        crate::daemon_support::signal(&self.workers[i].3.as_ref().unwrap().0, sig);
    }

    pub fn kill_worker(&mut self, i: usize) {
        if let Some(mut d) = self.workers[i].3.take() {
            let _ = d.0.kill();
            let _ = d.0.wait();
        }
    }

    pub fn kill_hub(&mut self) {
        if let Some(mut d) = self.hub.take() {
            let _ = d.0.kill();
            let _ = d.0.wait();
        }
    }

    /// The hub's `/metrics`.
    pub async fn hub_metrics(&self) -> String {
        let url = format!("http://127.0.0.1:{}/metrics", self.api);
        // the hub's own token (its config names none)
        let token = std::fs::read_to_string(self.dir.path().join("hub-data").join("api-token"))
            .unwrap_or_default();
        let req = reqwest::Client::new()
            .get(&url)
            .header("Authorization", format!("Bearer {}", token.trim()));
        match req.send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// host → owner, from the hub's `overhear_cluster_host_owner`.
    pub async fn owners(&self) -> HashMap<String, String> {
        let text = self.hub_metrics().await;
        text.lines()
            .filter(|l| l.starts_with("overhear_cluster_host_owner{"))
            .filter_map(|l| {
                let host = l.split("host=\"").nth(1)?.split('"').next()?.to_string();
                let worker = l.split("worker=\"").nth(1)?.split('"').next()?.to_string();
                Some((host, worker))
            })
            .collect()
    }

    /// Waits until every item's link is stored on the hub, and then until the mail
    /// has been quiet for a few seconds; returns (stored links, mails).
    pub async fn settle(&self, within: Duration) -> (Vec<String>, Vec<Mail>) {
        let want = self.feeds.all_links();
        let deadline = Instant::now() + within;
        let mut links;
        loop {
            links = self.stored_links();
            if want.iter().all(|l| links.contains(l)) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "timed out: {} of {} items stored",
                want.iter().filter(|l| links.contains(l)).count(),
                want.len()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let mut last = usize::MAX;
        let mut quiet = Instant::now();
        loop {
            let n = self.mails.lock().unwrap().len();
            let alerted = self.alerted_links();
            if n != last {
                last = n;
                quiet = Instant::now();
            } else if quiet.elapsed() > Duration::from_secs(6)
                && want.iter().all(|l| alerted.contains_key(l))
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for the alerts: {} mails",
                n
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        (self.stored_links(), self.mails.lock().unwrap().clone())
    }

    /// The post links of the hub's stored mentions (one entry per stored mention).
    pub fn stored_links(&self) -> Vec<String> {
        let out = crate::sources_support::overhear(
            &["mentions", "list", "--json", "--limit", "100000"],
            &self.hub_config,
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m["post"]["url"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many mails name each item link.
    pub fn alerted_links(&self) -> HashMap<String, usize> {
        let mails = self.mails.lock().unwrap().clone();
        let mut out = HashMap::new();
        for l in self.feeds.all_links() {
            let n = mails.iter().filter(|m| mentions_link(&m.data, &l)).count();
            if n > 0 {
                out.insert(l, n);
            }
        }
        out
    }

    /// Asserts: every item stored exactly once, and alerted in exactly one mail.
    pub async fn assert_once_each(&self, within: Duration) {
        let (stored, _) = self.settle(within).await;
        let mut seen = HashMap::<&String, usize>::new();
        for l in &stored {
            *seen.entry(l).or_default() += 1;
        }
        let doubled: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(doubled.is_empty(), "stored twice: {doubled:?}");
        let alerted = self.alerted_links();
        let bad: Vec<_> = self
            .feeds
            .all_links()
            .into_iter()
            .filter(|l| alerted.get(l) != Some(&1))
            .map(|l| (alerted.get(&l).copied().unwrap_or(0), l))
            .collect();
        assert!(
            bad.is_empty(),
            "items not alerted exactly once (count, link): {bad:?}"
        );
    }

    pub fn log(&self, prefix: &str) -> String {
        let mut out = String::new();
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(prefix) && n.ends_with(".log"))
            .collect();
        names.sort();
        for n in names {
            out.push_str(&std::fs::read_to_string(self.dir.path().join(n)).unwrap_or_default());
        }
        out
    }
}

/// Whether a mail's (quoted-printable) text names `link`.
fn mentions_link(data: &str, link: &str) -> bool {
    let flat = data
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    // the item number ends the link: item-1 must not match item-10
    flat.match_indices(link)
        .any(|(i, _)| !flat[i + link.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

trait CloneParts {
    fn clone_parts(&self) -> (String, PathBuf, u16, ());
}

impl CloneParts for (String, PathBuf, u16, Option<Daemon>) {
    fn clone_parts(&self) -> (String, PathBuf, u16, ()) {
        (self.0.clone(), self.1.clone(), self.2, ())
    }
}
