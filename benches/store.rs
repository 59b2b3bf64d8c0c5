//! Store benchmark: inserts/s, `list --brand --since` at N stored mentions, and disk
//! used per mention.
//!
//! `cargo bench --bench store` (N = 1,000,000); `OVERHEAR_BENCH_N=100000 cargo bench
//! --bench store` for a quicker run; `OVERHEAR_BENCH_DIR=path` to keep the database.
//! With `OVERHEAR_BENCH_SEARCH=1` it runs the full-text search benchmark instead
//! (`search/mod.rs`); with `OVERHEAR_BENCH_INBOX=1` the inbox's pages
//! (`inbox/mod.rs`).

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use overhear::post::{BrandMatch, Field, MatchedTerm, Post, Sentiment};
use overhear::store::{MentionFilter, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "inbox/mod.rs"]
mod inbox;
#[path = "search/mod.rs"]
mod search;

const BRANDS: usize = 20;
const SOURCES: [&str; 5] = ["hackernews", "reddit", "mastodon", "bluesky", "rss"];
const LABELS: [&str; 3] = ["negative", "neutral", "positive"];
const WORDS: [&str; 16] = [
    "the", "widget", "broke", "again", "support", "was", "great", "shipping", "slow", "love",
    "price", "update", "app", "crashes", "thanks", "team",
];

fn make(i: u64, rng: &mut StdRng, now_s: i64) -> (Post, Vec<BrandMatch>, Sentiment) {
    let source = SOURCES[(i % 5) as usize];
    let brand = format!("brand{:02}", rng.gen_range(0..BRANDS));
    let words: Vec<&str> = (0..rng.gen_range(10..40))
        .map(|_| WORDS[rng.gen_range(0..WORDS.len())])
        .collect();
    let text = format!("{brand} {}", words.join(" "));
    let created = Utc
        .timestamp_opt(now_s - rng.gen_range(0..365 * 86400), 0)
        .single()
        .unwrap_or_else(Utc::now);
    let post = Post {
        rating: None,
        owned_by: None,
        id: format!("{source}:{i}"),
        url: format!("https://{source}.example/item/{i}"),
        author: Some(format!("user{}", rng.gen_range(0..100_000))),
        title: None,
        text,
        created_at: created,
        created_at_is_first_seen: false,
        source: source.into(),
        source_name: source.into(),
        site: format!("{source}.example"),
        parent_id: None,
        thread_id: None,
        engagement: Some(rng.gen_range(0..500)),
        lang: Some("en".into()),
        links: Vec::new(),
    };
    let m = BrandMatch {
        brand: brand.clone(),
        query: "default".into(),
        terms: vec![MatchedTerm {
            term: brand.clone(),
            field: Field::Text,
            start: 0,
            end: brand.len(),
        }],
    };
    let label = LABELS[rng.gen_range(0..3)];
    let s = Sentiment {
        label: label.into(),
        scores: LABELS
            .iter()
            .map(|l| (l.to_string(), if *l == label { 0.8 } else { 0.1 }))
            .collect(),
        model: "bench@0".into(),
    };
    (post, vec![m], s)
}

fn dir_size(p: &std::path::Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_size(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// CPU time this process used (user + system), from /proc; 0 where unavailable.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // fields after the parenthesised command name; utime and stime are 14th and 15th
    let Some(rest) = stat.rsplit(')').next() else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run tiny.
    let benching = std::env::args().any(|a| a == "--bench");
    let n: u64 = std::env::var("OVERHEAR_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 1_000_000 } else { 2_000 });
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = std::env::var("OVERHEAR_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| tmp.path().to_path_buf());
    if std::env::var_os("OVERHEAR_BENCH_SEARCH").is_some() {
        search::run(n, &dir);
        return;
    }
    if std::env::var_os("OVERHEAR_BENCH_INBOX").is_some() {
        inbox::run(n, &dir);
        return;
    }
    let store = Store::open(&dir).expect("open");
    let mut rng = StdRng::seed_from_u64(6);
    let now = Utc::now();
    let now_s = now.timestamp();

    // Bulk load: 1,000 posts per transaction and flush, then their sentiment in a
    // second transaction; queries are timed at each checkpoint on the way to N.
    let checkpoints: Vec<u64> = [10_000u64, 100_000, 250_000, 500_000, 1_000_000]
        .into_iter()
        .filter(|c| *c < n)
        .chain([n])
        .collect();
    println!(
        "{:>9} {:>10} {:>10} {:>10} {:>12} {:>12} {:>10} {:>9} {:>9}",
        "stored",
        "ins/s",
        "ins/cpu-s",
        "sent/s",
        "list50 ms",
        "list-all ms",
        "rows",
        "count ms",
        "bytes/m"
    );
    let batch: u64 = std::env::var("OVERHEAR_BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let mut done = 0u64;
    for &cp in &checkpoints {
        let mut insert_time = Duration::ZERO;
        let mut insert_cpu = 0.0;
        let mut set_time = Duration::ZERO;
        let from = done;
        while done < cp {
            let k = batch.min(cp - done);
            let items: Vec<_> = (done..done + k).map(|i| make(i, &mut rng, now_s)).collect();
            let pairs: Vec<(Post, Vec<BrandMatch>)> = items
                .iter()
                .map(|(p, b, _)| (p.clone(), b.clone()))
                .collect();
            let (t, c) = (Instant::now(), cpu_seconds());
            let ups = store.upsert_many(&pairs, now).expect("upsert");
            insert_time += t.elapsed();
            insert_cpu += cpu_seconds() - c;
            let verdicts: Vec<(String, Sentiment)> = ups
                .iter()
                .zip(&items)
                .map(|(u, (_, _, s))| (u.id().to_string(), s.clone()))
                .collect();
            let t = Instant::now();
            store.set_sentiments(&verdicts).expect("sentiment");
            set_time += t.elapsed();
            done += k;
        }
        let added = (done - from) as f64;
        // `mentions list --brand B --since 7d` (the CLI's default limit 50, and all rows)
        let since = now - chrono::Duration::days(7);
        let (mut t50, mut tall, mut tcount, mut rows) = (Vec::new(), Vec::new(), Vec::new(), 0);
        for r in 0..20 {
            let f = MentionFilter {
                brand: Some(format!("brand{:02}", r % BRANDS)),
                since: Some(since),
                limit: Some(50),
                ..Default::default()
            };
            let t = Instant::now();
            let _ = store.list(&f).expect("list");
            t50.push(t.elapsed());
            let all = MentionFilter {
                limit: None,
                ..f.clone()
            };
            let t = Instant::now();
            rows = store.list(&all).expect("list").len();
            tall.push(t.elapsed());
            let neg = MentionFilter {
                sentiment: Some("negative".into()),
                ..all
            };
            let t = Instant::now();
            let _ = store.count(&neg).expect("count");
            tcount.push(t.elapsed());
        }
        println!(
            "{:>9} {:>10.0} {:>10.0} {:>10.0} {:>12.2} {:>12.2} {:>10} {:>9.2} {:>9.0}",
            done,
            added / insert_time.as_secs_f64(),
            added / insert_cpu.max(1e-9),
            added / set_time.as_secs_f64(),
            ms(median(t50)),
            ms(median(tall)),
            rows,
            ms(median(tcount)),
            store.size_on_disk().expect("size") as f64 / done as f64,
        );
    }

    // Durable one-at-a-time upserts, as the daemon does them (flush per call).
    let singles = 500u64;
    let t = Instant::now();
    for i in n..n + singles {
        let (p, b, _) = make(i, &mut rng, now_s);
        store.upsert_mention(&p, &b, now).expect("upsert");
    }
    let e = t.elapsed();
    println!(
        "durable upsert_mention (flush each): {:.0} inserts/s ({:.2} ms each)",
        singles as f64 / e.as_secs_f64(),
        e.as_secs_f64() * 1000.0 / singles as f64
    );
    let t = Instant::now();
    let stats = store
        .stats(
            Some("brand03"),
            Some(now - chrono::Duration::days(30)),
            overhear::store::Bucket::Day,
        )
        .expect("stats");
    println!(
        "stats --brand --since 30d --by day: {:.2} ms ({} rows)",
        ms(t.elapsed()),
        stats.len()
    );

    store.flush().expect("flush");
    let sled_size = store.size_on_disk().expect("size");
    let total = n + singles;
    drop(store);
    std::thread::sleep(Duration::from_millis(500));
    let du = dir_size(&dir.join("db"));
    println!(
        "disk: {:.1} MiB on disk ({:.0} bytes/mention; sled reports {:.1} MiB)",
        du as f64 / 1048576.0,
        du as f64 / total as f64,
        sled_size as f64 / 1048576.0
    );
}
