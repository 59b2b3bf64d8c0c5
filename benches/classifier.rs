//! Classifier throughput and latency on the bundled model, and where the limit is.
//!
//! `cargo bench --bench classifier` (or `scripts/bench-classifier.sh`, which also runs
//! the Python `transformers` pipeline on the same texts and weights and prints the
//! ratios). Settings from the environment:
//!
//! - `OVERHEAR_BENCH_MODEL` (default `models/sentiment`)
//! - `OVERHEAR_BENCH_DATA`: the labelled sentiment dev.tsv (no default: the data is not
//!   in the repository; models/train/README.md says where it comes from). Unset: skipped.
//! - `OVERHEAR_BENCH_THREADS` (default 2), `OVERHEAR_BENCH_TEXTS` (default 1000)
//! - `OVERHEAR_BENCH_PRECISIONS` (default `f32,bf16`): each is measured in turn
//! - `OVERHEAR_BENCH_OUT`: also write the figures there as JSON
//! - `OVERHEAR_BENCH_BASELINE`: another model directory (e.g. the previous weights). Then
//!   both run in f32, alternately, three rounds each, in this one run, and the bench
//!   prints the ratios model / baseline of throughput and single-text latency (the best
//!   round of each, so that a neighbour's burst counts against neither)
//!
//! Prints texts/s at batch sizes 1, 8, 32, 64 (texts taken in file order, as a
//! pipeline would get them), the same with the whole set handed over at once (the
//! classifier sorts it into length buckets), p50/p99 latency of a single text, the
//! model's multiply-adds at the measured token lengths, the machine's measured f32
//! matmul peak on the same threads, and the fraction of it achieved.

use std::path::PathBuf;
use std::time::Instant;

use clap::ValueEnum;
use overhear::classifier::eval::parse_tsv;
use overhear::classifier::{Classifier, Precision};
use serde_json::json;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// Multiply-adds of one BERT-family forward pass for a text of `n` tokens.
fn macs(n: f64, hidden: f64, inter: f64, layers: f64, labels: f64) -> f64 {
    let per_layer = 4.0 * n * hidden * hidden + 2.0 * n * n * hidden + 2.0 * n * hidden * inter;
    layers * per_layer + hidden * hidden + hidden * labels
}

/// Best GFLOP/s of a 1024x1024 matmul in `kind` over a few runs.
fn matmul_peak(kind: tch::Kind) -> f64 {
    let _g = tch::no_grad_guard();
    let a = tch::Tensor::randn([1024, 1024], (kind, tch::Device::Cpu));
    let b = tch::Tensor::randn([1024, 1024], (kind, tch::Device::Cpu));
    let _ = a.matmul(&b);
    let mut best = 0.0f64;
    for _ in 0..5 {
        let reps = 10;
        let t = Instant::now();
        for _ in 0..reps {
            let _ = a.matmul(&b);
        }
        let flops = 2.0 * 1024f64.powi(3) * reps as f64;
        best = best.max(flops / t.elapsed().as_secs_f64() / 1e9);
    }
    best
}

/// Throughput at each batch size, the whole set at once, and single-text latency.
fn measure(c: &Classifier, texts: &[String]) -> anyhow::Result<serde_json::Value> {
    // warm-up
    c.classify(&texts[..64.min(texts.len())])?;
    let mut by_batch = serde_json::Map::new();
    println!("{:>6} {:>12}", "batch", "texts/s");
    for b in [1usize, 8, 32, 64] {
        let t = Instant::now();
        for chunk in texts.chunks(b) {
            c.classify(chunk)?;
        }
        let rate = texts.len() as f64 / t.elapsed().as_secs_f64();
        println!("{b:>6} {rate:>12.1}");
        by_batch.insert(b.to_string(), json!(rate));
    }
    // The whole backlog at once: sorted into length buckets of at most 64.
    let t = Instant::now();
    c.classify(texts)?;
    let bucketed = texts.len() as f64 / t.elapsed().as_secs_f64();
    println!(
        "{:>6} {bucketed:>12.1}  (whole set, length-sorted batches of at most 64)",
        "all"
    );
    let mut lat = Vec::new();
    for text in texts.iter().take(300) {
        let t = Instant::now();
        c.classify(std::slice::from_ref(text))?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&lat, 0.5), percentile(&lat, 0.99));
    println!("single text latency: p50 {p50:.2} ms, p99 {p99:.2} ms");
    let best = by_batch
        .values()
        .filter_map(|v| v.as_f64())
        .fold(bucketed, f64::max);
    Ok(json!({
        "model": c.id(), "texts_per_s": by_batch, "texts_per_s_bucketed": bucketed,
        "best_texts_per_s": best, "latency_ms": {"p50": p50, "p99": p99},
    }))
}

/// The best of several rounds: the highest rate per key, the lowest latency.
fn best_of(rounds: &[serde_json::Value]) -> serde_json::Value {
    let mut best = rounds[0].clone();
    for r in &rounds[1..] {
        for key in ["1", "8", "32", "64"] {
            let (a, b) = (&best["texts_per_s"][key], &r["texts_per_s"][key]);
            if b.as_f64() > a.as_f64() {
                best["texts_per_s"][key] = b.clone();
            }
        }
        if r["texts_per_s_bucketed"].as_f64() > best["texts_per_s_bucketed"].as_f64() {
            best["texts_per_s_bucketed"] = r["texts_per_s_bucketed"].clone();
        }
        for key in ["p50", "p99"] {
            let (a, b) = (&best["latency_ms"][key], &r["latency_ms"][key]);
            if b.as_f64() < a.as_f64() {
                best["latency_ms"][key] = b.clone();
            }
        }
    }
    best
}

/// `model` against `baseline` in f32, alternating rounds; prints model / baseline.
fn compare(
    model: &std::path::Path,
    baseline: &std::path::Path,
    texts: &[String],
) -> anyhow::Result<serde_json::Value> {
    let mut m = Classifier::load(model, 128, 64)?;
    m.set_precision(Precision::F32);
    let mut b = Classifier::load(baseline, 128, 64)?;
    b.set_precision(Precision::F32);
    let (mut rm, mut rb) = (Vec::new(), Vec::new());
    for round in 1..=3 {
        println!("== against the baseline, round {round}: {}", m.id());
        rm.push(measure(&m, texts)?);
        println!(
            "== against the baseline, round {round}: baseline {}",
            b.id()
        );
        rb.push(measure(&b, texts)?);
    }
    let (bm, bb) = (best_of(&rm), best_of(&rb));
    let ratio = |v: &serde_json::Value, w: &serde_json::Value| {
        v.as_f64().zip(w.as_f64()).map(|(x, y)| x / y)
    };
    let mut ratios = serde_json::Map::new();
    println!("model / baseline (f32, best of 3 rounds each; > 1 is faster for throughput, slower for latency):");
    for key in ["1", "8", "32", "64"] {
        let r = ratio(&bm["texts_per_s"][key], &bb["texts_per_s"][key]);
        println!(
            "  texts/s at batch {key:>2}: {}",
            r.map_or("-".into(), |r| format!("{r:.3}"))
        );
        ratios.insert(format!("texts_per_s_batch_{key}"), json!(r));
    }
    let r = ratio(&bm["texts_per_s_bucketed"], &bb["texts_per_s_bucketed"]);
    println!(
        "  texts/s, whole set:   {}",
        r.map_or("-".into(), |r| format!("{r:.3}"))
    );
    ratios.insert("texts_per_s_bucketed".into(), json!(r));
    for key in ["p50", "p99"] {
        let r = ratio(&bm["latency_ms"][key], &bb["latency_ms"][key]);
        println!(
            "  single-text {key}:      {}",
            r.map_or("-".into(), |r| format!("{r:.3}"))
        );
        ratios.insert(format!("latency_{key}"), json!(r));
    }
    Ok(json!({"model": bm, "baseline": bb, "ratios": ratios}))
}

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    // `cargo bench` passes --bench; `cargo test --all-targets` passes nothing: then run
    // a few texts only, as a smoke test that the bench still works.
    let benching = std::env::args().any(|a| a == "--bench");
    // As the overhear binary does at start, so the classifier runs as in the daemon.
    overhear::classifier::limit_kernel_cache();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let model = root.join(env("OVERHEAR_BENCH_MODEL", "models/sentiment"));
    let Some(data) = std::env::var_os("OVERHEAR_BENCH_DATA").map(|d| root.join(d)) else {
        eprintln!(
            "classifier bench skipped: set OVERHEAR_BENCH_DATA to a labelled sentiment TSV \
             (id, source, label, score, text: dev.tsv; models/train/README.md says where it comes from)"
        );
        return Ok(());
    };
    let threads: i32 = env("OVERHEAR_BENCH_THREADS", "2").parse()?;
    let limit: usize = if benching {
        env("OVERHEAR_BENCH_TEXTS", "1000").parse()?
    } else {
        16
    };
    let precisions: Vec<Precision> = env("OVERHEAR_BENCH_PRECISIONS", "f32,bf16")
        .split(',')
        .map(|p| Precision::from_str(p.trim(), true).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<_>>()?;
    if !model.join("config.json").is_file() || !data.is_file() {
        eprintln!(
            "classifier bench skipped: needs {} and {}",
            model.display(),
            data.display()
        );
        return Ok(());
    }
    tch::set_num_threads(threads);
    // The peak is taken before and after the classifier runs, and the higher one kept:
    // on a shared machine one of the two can land in someone else's burst.
    let peak_before = matmul_peak(tch::Kind::Float);
    let rows = parse_tsv(&std::fs::read_to_string(&data)?).map_err(anyhow::Error::msg)?;
    let texts: Vec<String> = rows.into_iter().take(limit).map(|r| r.text).collect();
    let mut results = serde_json::Map::new();
    let mut lengths = Vec::new();
    let mut labels = 0usize;
    for precision in precisions {
        let mut c = Classifier::load(&model, 128, 64)?;
        c.set_precision(precision);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        lengths = c.token_ids(&refs).iter().map(Vec::len).collect();
        labels = c.labels().len();
        let mean_len = lengths.iter().sum::<usize>() as f64 / lengths.len().max(1) as f64;
        println!(
            "== {precision}: model {} | {} texts, mean {mean_len:.1} tokens | {threads} threads",
            c.id(),
            texts.len(),
        );
        let mut r = measure(&c, &texts)?;
        r["mean_tokens"] = json!(mean_len);
        results.insert(precision.to_string(), r);
    }

    let compared = match std::env::var_os("OVERHEAR_BENCH_BASELINE") {
        Some(b) => Some(compare(&model, &root.join(b), &texts)?),
        None => None,
    };

    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("config.json"))?)?;
    let get = |k: &str| cfg.get(k).and_then(|v| v.as_f64()).unwrap_or(0.0);
    let per_text: f64 = lengths
        .iter()
        .map(|&n| {
            macs(
                n as f64,
                get("hidden_size"),
                get("intermediate_size"),
                get("num_hidden_layers"),
                labels as f64,
            )
        })
        .sum::<f64>()
        / lengths.len().max(1) as f64;
    let peak = matmul_peak(tch::Kind::Float).max(peak_before);
    let peak_bf16 = matmul_peak(tch::Kind::BFloat16);
    let limit_rate = peak * 1e9 / (2.0 * per_text);
    println!(
        "model: {:.0} M multiply-adds per text (mean); f32 matmul peak {peak:.1} GFLOP/s \
         (bf16 {peak_bf16:.1}) -> f32 compute limit {limit_rate:.0} texts/s",
        per_text / 1e6,
    );
    for (name, r) in results.iter_mut() {
        let best = r["best_texts_per_s"].as_f64().unwrap_or(0.0);
        println!(
            "{name}: best {best:.1} texts/s = {:.0}% of the f32 limit",
            100.0 * best / limit_rate
        );
        r["fraction_of_limit"] = json!(best / limit_rate);
    }
    let out = json!({
        "texts": texts.len(), "threads": threads, "by_precision": results,
        "macs_per_text": per_text, "matmul_gflops": peak, "matmul_gflops_bf16": peak_bf16,
        "compute_limit_texts_per_s": limit_rate, "against_baseline": compared,
    });
    if let Ok(path) = std::env::var("OVERHEAR_BENCH_OUT") {
        std::fs::write(path, serde_json::to_string_pretty(&out)?)?;
    }
    Ok(())
}
