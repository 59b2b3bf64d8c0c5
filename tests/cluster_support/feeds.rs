//! The cluster tests' growing RSS feeds, one port per host (one lease each), which
//! record every request: when, and which process sent it. The workers all poll with
//! the hub's config (one User-Agent, one URL per feed) from 127.0.0.1, so the
//! feed server tells them apart the way the kernel does: the requesting socket's
//! inode (`/proc/net/tcp`) and the process holding it (`/proc/PID/fd`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Path as UrlPath, State};
use axum::routing::get;
use chrono::{DateTime, Utc};

use super::TEXT;

/// One request to a feed.
#[derive(Debug, Clone)]
pub struct FeedRequest {
    pub host: usize,
    pub at: DateTime<Utc>,
    /// The process whose socket sent it (`None`: gone before it could be looked up).
    pub pid: Option<u32>,
    /// How many items it was served (items `0..served` of the host).
    pub served: usize,
}

/// Growing RSS feeds: host `i` serves `/feed.xml` with the items that have "been
/// written" so far, `burst` more every `step` from its first request, up to `total`.
#[derive(Clone)]
pub struct Feeds {
    pub ports: Vec<u16>,
    first: Arc<Mutex<HashMap<usize, Instant>>>,
    pub requests: Arc<Mutex<HashMap<usize, Vec<Instant>>>>,
    log: Arc<Mutex<Vec<FeedRequest>>>,
    total: usize,
    burst: usize,
    step: Duration,
}

/// The link of host `host`'s item `i`.
pub fn link(host: usize, i: usize) -> String {
    format!("http://feeds.test/h{host}/item-{i}")
}

impl Feeds {
    pub async fn start(hosts: usize, total: usize, burst: usize, step: Duration) -> Feeds {
        let mut feeds = Feeds {
            ports: Vec::new(),
            first: Default::default(),
            requests: Default::default(),
            log: Default::default(),
            total,
            burst,
            step,
        };
        for _ in 0..hosts {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            feeds.ports.push(listener.local_addr().unwrap().port());
            let app = axum::Router::new()
                .route("/:host/feed.xml", get(feed))
                .with_state(feeds.clone())
                .into_make_service_with_connect_info::<SocketAddr>();
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
        }
        feeds
    }

    /// Every item's link, over all hosts.
    pub fn all_links(&self) -> Vec<String> {
        (0..self.ports.len())
            .flat_map(|h| (0..self.total).map(move |i| link(h, i)))
            .collect()
    }

    /// The shortest time between two polls of one host (by anyone): the per-host
    /// budget holds cluster-wide when it is about the source's interval.
    pub fn min_gap(&self) -> Duration {
        let r = self.requests.lock().unwrap();
        r.values()
            .flat_map(|times| times.windows(2).map(|w| w[1] - w[0]))
            .min()
            .unwrap_or(Duration::MAX)
    }

    /// Every request so far, in the order they came.
    pub fn log(&self) -> Vec<FeedRequest> {
        self.log.lock().unwrap().clone()
    }

    pub fn source_toml(&self) -> String {
        self.ports
            .iter()
            .enumerate()
            .map(|(h, port)| {
                format!("[[source]]\nkind = \"rss\"\nname = \"feed{h}\"\nurl = \"http://127.0.0.1:{port}/{h}/feed.xml\"\nevery = \"10s\"\n\n")
            })
            .collect()
    }
}

async fn feed(
    State(f): State<Feeds>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    UrlPath(host): UrlPath<usize>,
) -> impl axum::response::IntoResponse {
    // looked up while the requesting socket is surely open: it waits for this answer
    let pid = tokio::task::spawn_blocking(move || pid_of_peer(peer))
        .await
        .unwrap();
    let first = *f
        .first
        .lock()
        .unwrap()
        .entry(host)
        .or_insert_with(Instant::now);
    f.requests
        .lock()
        .unwrap()
        .entry(host)
        .or_default()
        .push(Instant::now());
    let steps = (first.elapsed().as_millis() / f.step.as_millis().max(1)) as usize;
    let n = (f.burst * (steps + 1)).min(f.total);
    f.log.lock().unwrap().push(FeedRequest {
        host,
        at: Utc::now(),
        pid,
        served: n,
    });
    let mut out = String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>reviews</title><link>http://feeds.test/</link><description>d</description>");
    for i in (0..n).rev() {
        out.push_str(&format!(
            "<item><guid>{l}</guid><title>Acme review {host}-{i}</title><link>{l}</link><description>{TEXT} (#{host}-{i})</description><pubDate>Mon, 30 Nov 2026 10:00:00 GMT</pubDate></item>",
            l = link(host, i)
        ));
    }
    out.push_str("</channel></rss>");
    ([("content-type", "application/rss+xml")], out)
}

/// The process that holds the client end of a loopback IPv4 connection whose
/// client address is `peer`.
fn pid_of_peer(peer: SocketAddr) -> Option<u32> {
    let SocketAddr::V4(v4) = peer else {
        return None;
    };
    // /proc/net/tcp writes an address as the hex of its bytes in host (little-endian)
    // order, then ':' and the port in hex
    let local = format!(
        "{:08X}:{:04X}",
        u32::from_le_bytes(v4.ip().octets()),
        v4.port()
    );
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let inode = table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(1) == Some(&local.as_str())).then(|| f.get(9).map(|s| s.to_string()))?
    })?;
    let want = format!("socket:[{inode}]");
    for proc_dir in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = proc_dir.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(proc_dir.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == want.as_str()) {
                return Some(pid);
            }
        }
    }
    None
}
