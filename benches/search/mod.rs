//! Search benchmark, run by `benches/store.rs` when `OVERHEAR_BENCH_SEARCH=1`:
//! stores N mentions whose texts draw from a Zipf vocabulary of 5,000 words (plus
//! "refund", "shipping" and "lost my order" at known rates) through the store,
//! builds the index as `overhear db reindex` does (docs/s), then times full-text
//! searches at the server: the index's hits and the page's 50 mentions read from
//! the store (what `/api/mentions?q=` does), as p50/p95/p99 over 100 runs each.
//!
//! `OVERHEAR_BENCH_SEARCH=1 OVERHEAR_BENCH_N=100000 cargo bench --bench store`.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use overhear::post::{BrandMatch, Post, Sentiment};
use overhear::search::{page, reindex, Order, SearchIndex, SearchQuery};
use overhear::store::Store;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const VOCABULARY: usize = 5_000;
const SYLLABLES: [&str; 10] = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "sa"];

/// A pronounceable word for each rank (`kalo`, `mine`, ...).
fn word(rank: usize) -> String {
    let mut r = rank;
    let mut w = String::new();
    loop {
        w.push_str(SYLLABLES[r % 10]);
        r /= 10;
        if r == 0 {
            break;
        }
    }
    w
}

/// Cumulative Zipf weights (s = 1) over the vocabulary.
fn zipf() -> Vec<f64> {
    let mut acc = 0.0;
    let mut out = Vec::with_capacity(VOCABULARY);
    for r in 1..=VOCABULARY {
        acc += 1.0 / r as f64;
        out.push(acc);
    }
    out
}

fn text(rng: &mut StdRng, cdf: &[f64], words: &[String]) -> String {
    let total = cdf.last().copied().unwrap_or(1.0);
    let n = rng.gen_range(10..60);
    let mut t: Vec<&str> = (0..n)
        .map(|_| {
            let x = rng.gen::<f64>() * total;
            let i = cdf.partition_point(|c| *c < x).min(words.len() - 1);
            words[i].as_str()
        })
        .collect();
    let at = |rng: &mut StdRng, len: usize| rng.gen_range(0..len.max(1));
    if rng.gen_bool(0.03) {
        let i = at(rng, t.len());
        t.insert(i, "refund");
    }
    if rng.gen_bool(0.05) {
        let i = at(rng, t.len());
        t.insert(i, "shipping");
    }
    if rng.gen_bool(0.01) {
        let i = at(rng, t.len());
        t.splice(i..i, ["lost", "my", "order"]);
    }
    t.join(" ")
}

/// The store bench's mention, with a Zipf text (and a title on 30%).
fn make(
    i: u64,
    rng: &mut StdRng,
    now_s: i64,
    cdf: &[f64],
    words: &[String],
) -> (Post, BrandMatch, Sentiment) {
    let (mut post, mut brands, s) = crate::make(i, rng, now_s);
    post.title = rng.gen_bool(0.3).then(|| text(rng, cdf, words));
    post.text = text(rng, cdf, words);
    post.engagement = None;
    let mut b = brands.remove(0);
    b.terms.clear();
    (post, b, s)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

pub fn run(n: u64, dir: &Path) {
    let store = Store::open(dir).expect("open");
    let mut rng = StdRng::seed_from_u64(16);
    let (cdf, words) = (zipf(), (0..VOCABULARY).map(word).collect::<Vec<_>>());
    let now = Utc::now();
    let t = Instant::now();
    let mut done = 0u64;
    while done < n {
        let k = 1_000.min(n - done);
        let items: Vec<_> = (done..done + k)
            .map(|i| make(i, &mut rng, now.timestamp(), &cdf, &words))
            .collect();
        let pairs: Vec<(Post, Vec<BrandMatch>)> = items
            .iter()
            .map(|(p, b, _)| (p.clone(), vec![b.clone()]))
            .collect();
        let ups = store.upsert_many(&pairs, now).expect("upsert");
        let verdicts: Vec<(String, Sentiment)> = ups
            .iter()
            .zip(&items)
            .map(|(u, (_, _, s))| (u.id().to_string(), s.clone()))
            .collect();
        store.set_sentiments(&verdicts).expect("sentiment");
        done += k;
    }
    println!("stored {n} mentions in {:.0} s", t.elapsed().as_secs_f64());

    let t = Instant::now();
    let indexed = reindex(dir, &store, |_| {}).expect("reindex");
    let secs = t.elapsed().as_secs_f64();
    let size: u64 = std::fs::read_dir(SearchIndex::dir(dir))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    println!(
        "reindex: {indexed} mentions in {secs:.1} s ({:.0} docs/s), index {:.1} MiB ({:.0} bytes/mention)",
        indexed as f64 / secs,
        size as f64 / 1048576.0,
        size as f64 / indexed.max(1) as f64
    );

    let index = SearchIndex::open_existing(dir).expect("index");
    let since = Some(now - chrono::Duration::days(30));
    let common = format!("{} {}", word(1), word(2));
    let relevance = |text: &str| SearchQuery {
        order: Order::Relevance,
        ..q(text)
    };
    let queries: Vec<(String, SearchQuery)> = vec![
        ("refund".into(), q("refund")),
        ("refund NOT shipping".into(), q("refund NOT shipping")),
        (
            "refund NOT shipping --since 30d".into(),
            SearchQuery {
                since,
                ..q("refund NOT shipping")
            },
        ),
        ("\"lost my order\"".into(), q("\"lost my order\"")),
        (
            "refund OR shipping brand:brand03".into(),
            q("refund OR shipping brand:brand03"),
        ),
        (format!("{} (2nd commonest word)", word(1)), q(&word(1))),
        (common.clone(), q(&common)),
        ("refund --sort relevance".into(), relevance("refund")),
        (format!("{} --sort relevance", word(1)), relevance(&word(1))),
    ];
    println!(
        "{:<34} {:>6} {:>8} {:>8} {:>8} {:>8}",
        "search (limit 50, at the server)", "rows", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    for (name, query) in &queries {
        for _ in 0..5 {
            let _ = page(&store, &index, query).expect("warm");
        }
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..100 {
            let t = Instant::now();
            rows = page(&store, &index, query).expect("search").mentions.len();
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "{name:<34} {rows:>6} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            pct(&times, 0.5),
            pct(&times, 0.95),
            pct(&times, 0.99),
            pct(&times, 1.0)
        );
    }
}

fn q(text: &str) -> SearchQuery {
    SearchQuery {
        text: text.to_string(),
        limit: 50,
        ..Default::default()
    }
}
