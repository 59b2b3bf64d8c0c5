//! The cluster under load, on loopback: a Jetstream-shaped firehose (a WebSocket
//! server sending Bluesky commit events at `OVERHEAR_BENCH_RATE` posts/s, default
//! 5,000: about 100x the real rate) and a large RSS set (`OVERHEAR_BENCH_FEEDS` feeds
//! on as many ports, `OVERHEAR_BENCH_RSS_RATE` new items/s over all of them), 1,000
//! brands, a real nats-server, the hub and 1 or 2 workers as processes (the release
//! binary). Reports posts/s offered and fetched, mentions stored per second,
//! end-to-end latency (the post's `createdAt` to the hub's store) p50/p99, the hub's
//! lag (publish to store) and the CPU each process used.
//!
//!   OVERHEAR_BENCH_CLUSTER=1 cargo bench --bench cluster
//!
//! Skipped without OVERHEAR_BENCH_CLUSTER (it takes minutes and needs nats-server).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::SinkExt;
use tokio_tungstenite::tungstenite::Message;

fn env_num(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Proc(Child, &'static str);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// CPU seconds a process has used (utime + stime).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

const WORDS: &[&str] = &[
    "the", "support", "line", "kept", "me", "on", "hold", "today", "great", "release", "why", "is",
    "this", "so", "slow", "love", "new", "update", "broken", "again", "refund", "thanks",
];

/// A post's text: random words, and one of the brands for a `share` of them.
fn text(rng: &mut u64, brands: usize, share: f64) -> (String, bool) {
    let mut next = || {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *rng
    };
    let mut t: Vec<String> = (0..12)
        .map(|_| WORDS[(next() % WORDS.len() as u64) as usize].to_string())
        .collect();
    let mention = (next() % 10_000) as f64 / 10_000.0 < share;
    if mention {
        t.insert(3, format!("brand{:04}", next() % brands as u64));
    }
    (t.join(" "), mention)
}

#[derive(Default)]
struct Offered {
    posts: AtomicU64,
    mentions: AtomicU64,
}

/// The firehose: every connection gets `rate` commit events per second.
async fn firehose(
    rate: f64,
    brands: usize,
    share: f64,
    offered: Arc<Offered>,
    stop: Arc<AtomicU64>,
) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let offered = offered.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let mut rng = 0x9e37_79b9_7f4a_7c15u64;
                let start = Instant::now();
                let mut sent = 0u64;
                let mut tick = tokio::time::interval(Duration::from_millis(10));
                while stop.load(Ordering::Relaxed) == 0 {
                    tick.tick().await;
                    let due = (start.elapsed().as_secs_f64() * rate) as u64;
                    while sent < due {
                        let (t, mention) = text(&mut rng, brands, share);
                        let now = chrono::Utc::now();
                        let ev = serde_json::json!({
                            "did": format!("did:plc:bench{:06}", sent % 100_000),
                            "time_us": now.timestamp_micros(),
                            "kind": "commit",
                            "commit": {
                                "rev": format!("r{sent}"), "operation": "create",
                                "collection": "app.bsky.feed.post", "rkey": format!("k{sent}"),
                                "cid": "bafy", "record": {
                                    "$type": "app.bsky.feed.post", "text": t,
                                    "createdAt": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                                    "langs": ["en"]
                                }
                            }
                        });
                        if ws.send(Message::Text(ev.to_string())).await.is_err() {
                            return;
                        }
                        sent += 1;
                        offered.posts.fetch_add(1, Ordering::Relaxed);
                        if mention {
                            offered.mentions.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    port
}

/// The RSS set: `feeds` feeds, each gaining `rate / feeds` items per second; a feed
/// holds its last 500 items.
struct RssSet {
    ports: Vec<u16>,
}

async fn rss_set(
    feeds: usize,
    rate: f64,
    brands: usize,
    share: f64,
    offered: Arc<Offered>,
    stop: Arc<AtomicU64>,
) -> RssSet {
    type Items = Arc<Mutex<Vec<Vec<(u64, String, String)>>>>;
    let items: Items = Arc::new(Mutex::new(vec![Vec::new(); feeds]));
    let mut ports = Vec::new();
    for f in 0..feeds {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        ports.push(listener.local_addr().unwrap().port());
        let items = items.clone();
        let app = axum::Router::new().route(
            "/feed.xml",
            axum::routing::get(move || {
                let items = items.clone();
                async move {
                    let mut out = String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title><link>http://rss.test/</link><description>d</description>");
                    for (n, t, at) in items.lock().unwrap()[f].iter().rev() {
                        out.push_str(&format!("<item><guid>http://rss.test/{f}/{n}</guid><link>http://rss.test/{f}/{n}</link><title>item {n}</title><description>{t}</description><pubDate>{at}</pubDate></item>"));
                    }
                    out.push_str("</channel></rss>");
                    ([("content-type", "application/rss+xml")], out)
                }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
    }
    tokio::spawn(async move {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let start = Instant::now();
        let mut made = 0u64;
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        while stop.load(Ordering::Relaxed) == 0 {
            tick.tick().await;
            let due = (start.elapsed().as_secs_f64() * rate) as u64;
            let mut all = items.lock().unwrap();
            while made < due {
                let (t, mention) = text(&mut rng, brands, share);
                let f = (made % feeds as u64) as usize;
                all[f].push((made, t, chrono::Utc::now().to_rfc2822()));
                if all[f].len() > 500 {
                    all[f].remove(0);
                }
                made += 1;
                offered.posts.fetch_add(1, Ordering::Relaxed);
                if mention {
                    offered.mentions.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
    RssSet { ports }
}

fn nats_server() -> Option<PathBuf> {
    [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

fn spawn(args: &[&str], config: &Path, log: &Path, name: &'static str) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_overhear"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env("OVERHEAR_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    Proc(child, name)
}

async fn healthy(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !reqwest::get(url)
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "{url} never became healthy");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn gauge(metrics: &str, prefix: &str) -> Vec<f64> {
    metrics
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect()
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

struct Scenario {
    name: &'static str,
    firehose: bool,
    workers: usize,
}

async fn run(s: &Scenario, nats_bin: &Path) -> String {
    let secs = env_num("OVERHEAR_BENCH_SECS", 30.0);
    let brands = env_num("OVERHEAR_BENCH_BRANDS", 1000.0) as usize;
    let share = env_num("OVERHEAR_BENCH_MENTION_SHARE", 0.02);
    let dir = tempfile::tempdir().unwrap();
    let nats_port = free_port();
    let nats = Command::new(nats_bin)
        .args([
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            &nats_port.to_string(),
            "-sd",
        ])
        .arg(dir.path().join("nats"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let nats = Proc(nats, "nats-server");
    let offered = Arc::new(Offered::default());
    let stop = Arc::new(AtomicU64::new(0));
    let mut sources = String::new();
    if s.firehose {
        let rate = env_num("OVERHEAR_BENCH_RATE", 5000.0);
        let port = firehose(rate, brands, share, offered.clone(), stop.clone()).await;
        sources.push_str(&format!("[[source]]\nkind = \"bluesky\"\nname = \"firehose\"\njetstream_url = \"ws://127.0.0.1:{port}/subscribe\"\nqueue = 100000\nevery = \"10s\"\n\n"));
    } else {
        let feeds = env_num("OVERHEAR_BENCH_FEEDS", 100.0) as usize;
        let rate = env_num("OVERHEAR_BENCH_RSS_RATE", 1000.0);
        let set = rss_set(feeds, rate, brands, share, offered.clone(), stop.clone()).await;
        for (i, p) in set.ports.iter().enumerate() {
            sources.push_str(&format!("[[source]]\nkind = \"rss\"\nname = \"feed{i}\"\nurl = \"http://127.0.0.1:{p}/feed.xml\"\nevery = \"10s\"\n\n"));
        }
    }
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sentiment");
    let cluster =
        format!("[cluster]\nnats_url = \"nats://127.0.0.1:{nats_port}\"\nlease_ttl = \"10s\"\n");
    let api = free_port();
    let brand_toml: String = (0..brands)
        .map(|i| format!("[[brand]]\nname = \"Brand{i:04}\"\nquery = \"brand{i:04}\"\n\n"))
        .collect();
    let hub_cfg = dir.path().join("hub.toml");
    std::fs::write(&hub_cfg, format!("[daemon]\ndata_dir = \"{}\"\napi_bind = \"127.0.0.1:{api}\"\n\n[model]\npath = \"{}\"\n\n{brand_toml}{sources}{cluster}", dir.path().join("hub-data").display(), model.display())).unwrap();
    let mut procs = vec![spawn(
        &["run"],
        &hub_cfg,
        &dir.path().join("hub.log"),
        "hub",
    )];
    healthy(&format!("http://127.0.0.1:{api}/healthz")).await;
    let mut worker_ports = Vec::new();
    for w in 0..s.workers {
        let port = free_port();
        let cfg = dir.path().join(format!("w{w}.toml"));
        std::fs::write(&cfg, format!("[daemon]\ndata_dir = \"{}\"\n\n[model]\npath = \"{}\"\n\n{cluster}worker_bind = \"127.0.0.1:{port}\"\nworker_name = \"w{w}\"\n", dir.path().join(format!("w{w}-data")).display(), model.display())).unwrap();
        procs.push(spawn(
            &["worker"],
            &cfg,
            &dir.path().join(format!("w{w}.log")),
            "worker",
        ));
        healthy(&format!("http://127.0.0.1:{port}/healthz")).await;
        worker_ports.push(port);
    }
    let cpu0: Vec<f64> = procs
        .iter()
        .map(|p| cpu_secs(p.0.id()))
        .chain([cpu_secs(nats.0.id()), cpu_secs(std::process::id())])
        .collect();
    let started = Instant::now();
    let mut lags = Vec::new();
    let mut pending_max = 0f64;
    while started.elapsed() < Duration::from_secs_f64(secs) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let m = authed_get(
            &format!("http://127.0.0.1:{api}/metrics"),
            &dir.path().join("hub-data"),
        )
        .await
        .unwrap()
        .text()
        .await
        .unwrap_or_default();
        lags.extend(gauge(&m, "overhear_cluster_worker_lag_seconds{"));
        pending_max = gauge(&m, "overhear_cluster_pending_results ")
            .into_iter()
            .fold(pending_max, f64::max);
    }
    stop.store(1, Ordering::Relaxed);
    let run_secs = started.elapsed().as_secs_f64();
    let cpu1: Vec<f64> = procs
        .iter()
        .map(|p| cpu_secs(p.0.id()))
        .chain([cpu_secs(nats.0.id()), cpu_secs(std::process::id())])
        .collect();
    // drain: until the stored count stops growing
    let count = || {
        let out = Command::new(env!("CARGO_BIN_EXE_overhear"))
            .args([
                "mentions", "list", "--json", "--limit", "10000000", "--config",
            ])
            .arg(&hub_cfg)
            .output()
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap_or_default()
    };
    // (longer than a poll interval: the feeds still hold what was offered last)
    let mut last = usize::MAX;
    let mut stable = 0;
    let mut list = serde_json::Value::Null;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        list = count();
        let n = list.as_array().map_or(0, |a| a.len());
        stable = if n == last { stable + 1 } else { 0 };
        if stable >= 5 {
            break;
        }
        last = n;
    }
    let mentions = list.as_array().cloned().unwrap_or_default();
    let mut latency: Vec<f64> = mentions
        .iter()
        .filter_map(|m| {
            let c = chrono::DateTime::parse_from_rfc3339(m["post"]["created_at"].as_str()?).ok()?;
            let f = chrono::DateTime::parse_from_rfc3339(m["first_seen"].as_str()?).ok()?;
            Some((f - c).num_milliseconds() as f64 / 1000.0)
        })
        .collect();
    let mut fetched = 0.0;
    for (w, p) in worker_ports.iter().enumerate() {
        let m = authed_get(
            &format!("http://127.0.0.1:{p}/metrics"),
            &dir.path().join(format!("w{w}-data")),
        )
        .await
        .unwrap()
        .text()
        .await
        .unwrap_or_default();
        fetched += gauge(&m, "overhear_posts_fetched_total{")
            .iter()
            .sum::<f64>();
    }
    let posts = offered.posts.load(Ordering::Relaxed) as f64;
    let offered_mentions = offered.mentions.load(Ordering::Relaxed) as f64;
    let cpu: Vec<String> = procs
        .iter()
        .map(|p| p.1)
        .chain(["nats", "load generator"])
        .zip(cpu0.iter().zip(&cpu1))
        .map(|(n, (a, b))| format!("{n} {:.0}%", (b - a) / run_secs * 100.0))
        .collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for m in &mentions {
        if m["sentiment"]["label"].is_string() {
            *counts.entry("classified").or_default() += 1;
        }
    }
    format!(
        "| {} | {} | {:.0} | {:.0} | {:.0} ({} of {:.0} offered, {} classified) | {:.1} / {:.1} | {:.2} / {:.2} | {:.0} | {} |",
        s.name,
        s.workers,
        posts / run_secs,
        fetched / run_secs,
        mentions.len() as f64 / run_secs,
        mentions.len(),
        offered_mentions,
        counts.get("classified").copied().unwrap_or(0),
        pct(&mut latency, 0.5),
        pct(&mut latency, 0.99),
        pct(&mut lags, 0.5),
        pct(&mut lags, 0.99),
        pending_max,
        cpu.join(", "),
    )
}

fn main() {
    if std::env::var_os("OVERHEAR_BENCH_CLUSTER").is_none() {
        eprintln!("cluster bench skipped: set OVERHEAR_BENCH_CLUSTER=1 (needs nats-server; takes minutes)");
        return;
    }
    let Some(nats) = nats_server() else {
        eprintln!(
            "cluster bench skipped: nats-server is not installed (apt-get install nats-server)"
        );
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let only = std::env::var("OVERHEAR_BENCH_ONLY").unwrap_or_default();
    let scenarios = [
        Scenario {
            name: "firehose",
            firehose: true,
            workers: 1,
        },
        Scenario {
            name: "rss set",
            firehose: false,
            workers: 1,
        },
        Scenario {
            name: "rss set",
            firehose: false,
            workers: 2,
        },
    ];
    println!("| load | workers | posts/s offered | posts/s fetched | mentions stored/s | e2e latency p50 / p99 (s) | hub lag p50 / p99 (s) | max pending results | CPU (of one core) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for s in &scenarios {
        if !only.is_empty() && !s.name.contains(&only) {
            continue;
        }
        let row = rt.block_on(run(s, &nats));
        println!("{row}");
    }
}

/// `GET url` with the token a daemon or worker with no configured one keeps in `data`.
async fn authed_get(url: &str, data: &std::path::Path) -> reqwest::Result<reqwest::Response> {
    let token = std::fs::read_to_string(data.join("api-token")).unwrap_or_default();
    reqwest::Client::new()
        .get(url)
        .header("Authorization", format!("Bearer {}", token.trim()))
        .send()
        .await
}
