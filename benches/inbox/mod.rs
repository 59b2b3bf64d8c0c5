//! Inbox benchmark, run by `benches/store.rs` when `OVERHEAR_BENCH_INBOX=1`: stores N
//! mentions (20 brands, a year of posts, a third negative, 2% of those triaged),
//! serves the real inbox router on loopback with a logged-in session, and times
//! whole requests (routing, session, store reads, rendering) as p50/p95 over many
//! runs: the inbox's first page, filters, and the dashboard.
//!
//! `OVERHEAR_BENCH_INBOX=1 OVERHEAR_BENCH_N=100000 cargo bench --bench store`.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use overhear::store::{Action, Status, Store, Transition, Via};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len().saturating_sub(1)) as f64 * p).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Stores `n` mentions and triages 2% of the negatives; returns the negatives' ids.
fn populate(store: &Store, n: u64, rng: &mut StdRng) -> Vec<String> {
    let now = Utc::now();
    let t = Instant::now();
    let mut done = 0;
    let mut negatives = Vec::new();
    while done < n {
        let k = 1_000.min(n - done);
        let items: Vec<_> = (done..done + k)
            .map(|i| super::make(i, rng, now.timestamp()))
            .collect();
        let pairs: Vec<_> = items
            .iter()
            .map(|(p, b, _)| (p.clone(), b.clone()))
            .collect();
        let ups = store.upsert_many(&pairs, now).expect("upsert");
        let verdicts: Vec<_> = ups
            .iter()
            .zip(&items)
            .map(|(u, (_, _, s))| (u.id().to_string(), s.clone()))
            .collect();
        for (id, s) in &verdicts {
            if s.label == "negative" {
                negatives.push(id.clone());
            }
        }
        store.set_sentiments(&verdicts).expect("sentiment");
        done += k;
        if done % 100_000 == 0 {
            eprintln!(
                "{done} mentions stored ({:.0} s)",
                t.elapsed().as_secs_f64()
            );
        }
    }
    let stored = t.elapsed();
    // 2% of the negatives triaged: acknowledged, resolved or dismissed
    let mut triaged = 0;
    for id in &negatives {
        if !rng.gen_bool(0.02) {
            continue;
        }
        let action = match rng.gen_range(0..3) {
            0 => Action::Ack,
            1 => Action::Resolve,
            _ => Action::Dismiss(overhear::store::DismissReason::NotNegative),
        };
        let tr = Transition {
            action,
            by: "dana".into(),
            via: Via::Cli,
            note: None,
            corrected: None,
        };
        if store.triage(id, &tr, now).is_ok() {
            triaged += 1;
        }
    }
    store
        .add_user("dana", None, "correct horse battery staple", now)
        .expect("user");
    println!(
        "{n} mentions stored in {:.0} s; {} negative, {triaged} triaged",
        stored.as_secs_f64(),
        negatives.len(),
    );
    negatives
}

pub fn run(n: u64, dir: &Path) {
    let store = Store::open(dir).expect("open");
    let mut rng = StdRng::seed_from_u64(16);
    let now = Utc::now();
    // a database kept from an earlier run (OVERHEAR_BENCH_DIR) is measured again as is
    let negatives = if store.len() as u64 >= n {
        println!(
            "measuring the {} mentions already in {}",
            store.len(),
            dir.display()
        );
        // kept from an older build: its counters and summaries as this build keeps them
        let t = Instant::now();
        store.recount().expect("recount");
        println!("recounted in {:.0} s", t.elapsed().as_secs_f64());
        store
            .list_stored(&overhear::store::MentionFilter {
                sentiment: Some("negative".into()),
                limit: Some(1),
                ..Default::default()
            })
            .expect("list")
            .into_iter()
            .map(|m| m.id)
            .collect()
    } else {
        populate(&store, n, &mut rng)
    };
    println!(
        "{} open negatives",
        store.count_in(Status::New, "negative", None).unwrap_or(0)
    );
    let (token, _) = store.start_session("dana", now).expect("session");
    let brands: Vec<String> = (0..20).map(|b| format!("brand{b:02}")).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let web = overhear::web::WebState::new(store.clone(), None, brands);
        let app = overhear::web::router(web);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = reqwest::Client::new();
        println!(
            "{:<34} {:>6} {:>9} {:>9} {:>9}",
            "request", "runs", "p50 ms", "p95 ms", "max ms"
        );
        for (path, runs) in [
            ("/", 50),
            ("/?brand=brand03", 50),
            ("/?status=all&sentiment=all", 50),
            ("/?status=resolved", 50),
            ("/?source=reddit&since=7d", 50),
            ("/m/__first__", 50),
            ("/dashboard?days=7", 10),
            ("/dashboard?days=30", 10),
            ("/dashboard?days=90", 10),
        ] {
            let path = if path == "/m/__first__" {
                format!("/m/{}", negatives.first().cloned().unwrap_or_default())
            } else {
                path.to_string()
            };
            let mut times = Vec::with_capacity(runs);
            for _ in 0..runs {
                let t = Instant::now();
                let r = client
                    .get(format!("http://127.0.0.1:{port}{path}"))
                    .header("cookie", format!("overhear_session={token}"))
                    .send()
                    .await
                    .expect("request");
                assert!(r.status().is_success(), "{path}: {}", r.status());
                let _ = r.bytes().await;
                times.push(t.elapsed());
            }
            times.sort();
            println!(
                "{:<34} {:>6} {:>9.1} {:>9.1} {:>9.1}",
                path,
                runs,
                pct(&times, 0.5),
                pct(&times, 0.95),
                pct(&times, 1.0)
            );
        }
    });
}
