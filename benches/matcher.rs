//! Matching throughput for 10, 1,000 and 10,000 brands over real posts (the texts of
//! the labelled sentiment dev.tsv, with brand names injected into every 10th one),
//! side by side with the naive approach: one case-insensitive whole-word regex per
//! brand, tried on every post.
//!
//! `OVERHEAR_BENCH_DATA=path/to/dev.tsv cargo bench --bench matcher`. Without the
//! corpus the benchmark says how to get it and measures nothing (the build never fails).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use overhear::matcher::{BrandConfig, Matcher};
use overhear::post::Post;
use regex::Regex;

const SIZES: [usize; 3] = [10, 1_000, 10_000];

fn corpus_path() -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var_os("OVERHEAR_BENCH_DATA")?);
    Some(if path.is_relative() {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
    } else {
        path
    })
}

fn texts() -> Option<Vec<String>> {
    let Some(path) = corpus_path().filter(|p| p.is_file()) else {
        eprintln!(
            "benches/matcher: skipping: set OVERHEAR_BENCH_DATA to a labelled sentiment TSV \
             (id, source, label, score, text: dev.tsv; models/train/README.md says where it comes from)"
        );
        return None;
    };
    let data = std::fs::read_to_string(&path).ok()?;
    let texts: Vec<String> = data
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').nth(4))
        .map(str::to_string)
        .collect();
    (!texts.is_empty()).then_some(texts)
}

/// `n` distinct made-up brand names (zorvex, quantelia, ...).
fn names(n: usize) -> Vec<String> {
    const SYL: [&str; 32] = [
        "zor", "vex", "quan", "tel", "bri", "mox", "dra", "lun", "kip", "fen", "glo", "rix", "sta",
        "vio", "nex", "pra", "tuv", "wen", "yol", "cair", "dex", "jum", "plo", "sar", "thi", "ulm",
        "vor", "xan", "zep", "ber", "cog", "hald",
    ];
    let mut out = Vec::with_capacity(n);
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut seen = std::collections::HashSet::new();
    while out.len() < n {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let k = 2 + (seed % 2) as usize;
        let name: String = (0..k)
            .map(|i| SYL[((seed >> (8 + 5 * i)) % 32) as usize])
            .collect();
        if seen.insert(name.clone()) {
            out.push(name);
        }
    }
    out
}

fn brands(names: &[String]) -> Vec<BrandConfig> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let q = match i % 4 {
                0 => n.clone(),
                1 => format!("\"{n} corp\" OR #{n} OR {n}"),
                2 => format!("{n}* -scam"),
                _ => format!("{n}.com OR @{n} OR ({n} NEAR/5 (refund OR support))"),
            };
            BrandConfig::from_query(n, &q)
        })
        .collect()
}

fn posts(texts: &[String], names: &[String]) -> Vec<Post> {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let text = if i % 10 == 0 {
                let name = &names[(i / 10) % names.len()];
                let mid = t[..t.len() / 2].rfind(' ').unwrap_or(0);
                format!("{} {} {}", &t[..mid], capitalise(name), &t[mid..])
            } else {
                t.clone()
            };
            Post {
                rating: None,
                owned_by: None,
                id: format!("bench:{i}"),
                url: format!("https://example.org/{i}"),
                author: None,
                title: None,
                text,
                created_at: Utc::now(),
                created_at_is_first_seen: false,
                source: "rss".into(),
                source_name: "bench".into(),
                site: "example.org".into(),
                parent_id: None,
                thread_id: None,
                engagement: None,
                lang: None,
                links: Vec::new(),
            }
        })
        .collect()
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn naive(names: &[String]) -> Vec<Regex> {
    names
        .iter()
        .filter_map(|n| Regex::new(&format!(r"(?i)\b{}\b", regex::escape(n))).ok())
        .collect()
}

fn run_matcher(m: &Matcher, posts: &[Post]) -> usize {
    posts.iter().map(|p| m.match_post(p).len()).sum()
}

fn run_naive(res: &[Regex], posts: &[Post]) -> usize {
    posts
        .iter()
        .map(|p| res.iter().filter(|r| r.is_match(&p.text)).count())
        .sum()
}

fn bytes(posts: &[Post]) -> u64 {
    posts.iter().map(|p| p.text.len() as u64).sum()
}

/// Posts the naive approach is measured over (it is slow with many brands).
fn naive_posts(n: usize) -> usize {
    match n {
        0..=100 => usize::MAX,
        101..=1_000 => 500,
        _ => 60,
    }
}

fn bench(c: &mut Criterion) {
    let Some(texts) = texts() else {
        return;
    };
    for &n in &SIZES {
        let names = names(n);
        let m = match Matcher::compile(&brands(&names)) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("benches/matcher: {e}");
                return;
            }
        };
        let posts = posts(&texts, &names);
        let res = naive(&names);
        let mut g = c.benchmark_group(format!("brands_{n}"));
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        g.throughput(Throughput::Bytes(bytes(&posts)));
        g.bench_function("overhear", |b| {
            b.iter(|| run_matcher(&m, black_box(&posts)))
        });
        let few = &posts[..posts.len().min(naive_posts(n))];
        g.throughput(Throughput::Bytes(bytes(few)));
        g.bench_function("naive_regex_per_brand", |b| {
            b.iter(|| run_naive(&res, black_box(few)))
        });
        g.finish();
    }
    summary(&texts);
}

/// A plain table of MB/s and posts/s, for the record.
fn summary(texts: &[String]) {
    println!("\nsummary (median of 5 runs)");
    println!(
        "{:>7} {:>12} {:>12} {:>12} {:>12} {:>9} {:>8}",
        "brands", "MB/s", "posts/s", "naive MB/s", "naive p/s", "speedup", "matches"
    );
    let mut base = None;
    for &n in &SIZES {
        let names = names(n);
        let Ok(m) = Matcher::compile(&brands(&names)) else {
            return;
        };
        let posts = posts(texts, &names);
        let res = naive(&names);
        let few = &posts[..posts.len().min(naive_posts(n))];
        let (t, found) = median(|| run_matcher(&m, &posts));
        let (tn, _) = median(|| run_naive(&res, few));
        let mbs = bytes(&posts) as f64 / t / 1e6;
        let pps = posts.len() as f64 / t;
        let nmbs = bytes(few) as f64 / tn / 1e6;
        let npps = few.len() as f64 / tn;
        base.get_or_insert(mbs);
        println!(
            "{n:>7} {mbs:>12.1} {pps:>12.0} {nmbs:>12.3} {npps:>12.0} {:>8.1}x {found:>8}",
            mbs / nmbs
        );
    }
    if let Some(b) = base {
        println!("(10 brands: {b:.1} MB/s)");
    }
}

fn median(mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut times = Vec::new();
    let mut out = 0;
    for _ in 0..5 {
        let t = Instant::now();
        out = black_box(f());
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    (times[2].max(1e-9), out)
}

criterion_group!(benches, bench);
criterion_main!(benches);
