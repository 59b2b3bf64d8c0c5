//! `overhear backfill --since 7d`: a first run's history. Fetches what each source
//! still serves from the last N days, stores and classifies the mentions, and saves
//! the cursors, so the daemon then carries on from there. Backfilled mentions are
//! not emailed about: they are history, not news.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::matcher::Matcher;
use crate::post::{BrandMatch, Post, Sentiment};
use crate::sources;
use crate::store::{Store, Upsert};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How far back to go.
    #[arg(long, default_value = "7d", value_parser = crate::util::duration::parse)]
    pub since: Duration,
    /// Only this `[[source]]` (by name).
    #[arg(long)]
    pub source: Option<String>,
}

/// Polls per source: each poll pages back as far as the source allows.
const MAX_ROUNDS: usize = 3;

pub fn run(args: Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    let config = global.load_config()?;
    let store = Store::open(&config.daemon.data_dir).with_context(|| {
        format!(
            "cannot open the database in {} (if the daemon is running, stop it for the backfill)",
            config.daemon.data_dir.display()
        )
    })?;
    let matcher = Matcher::compile(&config.brands)?;
    let classifier = crate::classifier::load(&config.model)
        .with_context(|| format!("cannot load the model from {}", config.model.path.display()))?;
    let cutoff = Utc::now() - chrono::Duration::from_std(args.since)?;
    let mut ctx = config.source_context(&matcher, Arc::new(store.clone()))?;
    ctx.backfill_since = Some(cutoff);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;

    let bars = MultiProgress::new();
    if !std::io::stderr().is_terminal() {
        bars.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let style = ProgressStyle::with_template("{spinner} {prefix:<16} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    let mut failed = false;
    for cfg in &config.sources {
        let name = cfg.name();
        if args.source.as_ref().is_some_and(|s| *s != name) {
            continue;
        }
        let bar = bars.add(ProgressBar::new_spinner());
        bar.set_style(style.clone());
        bar.set_prefix(name.clone());
        bar.enable_steady_tick(Duration::from_millis(120));
        if cfg.kind() == "bluesky" {
            bar.finish_with_message("skipped: the firehose is live only");
            continue;
        }
        let mut fetched = 0usize;
        let mut stored = 0usize;
        let result = runtime.block_on(async {
            let mut source = sources::build(cfg, &ctx)?;
            for _ in 0..MAX_ROUNDS {
                bar.set_message(format!(
                    "fetching... {fetched} posts, {stored} new mentions"
                ));
                let batch = source.poll().await?;
                if batch.posts.is_empty() {
                    break;
                }
                fetched += batch.posts.len();
                let (new, by_label) = ingest(&store, &matcher, &classifier, batch.posts, cutoff)?;
                stored += new;
                for (label, n) in by_label {
                    *totals.entry(label).or_default() += n;
                }
                if let Some(cursor) = batch.cursor {
                    source.commit(cursor)?;
                }
            }
            Ok::<_, anyhow::Error>(())
        });
        match result {
            Ok(()) => bar.finish_with_message(format!("{fetched} posts, {stored} new mentions")),
            Err(e) => {
                failed = true;
                bar.finish_with_message(format!("failed: {e:#}"));
            }
        }
    }
    store.flush()?;
    let summary: Vec<String> = totals.iter().map(|(l, n)| format!("{n} {l}")).collect();
    println!(
        "backfill since {}: {}",
        cutoff
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M"),
        if summary.is_empty() {
            "no new mentions".to_string()
        } else {
            summary.join(", ")
        }
    );
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Matches, stores and classifies one poll's posts; returns the new mentions' count
/// and their labels.
fn ingest(
    store: &Store,
    matcher: &Matcher,
    classifier: &crate::classifier::Classifier,
    posts: Vec<Post>,
    cutoff: chrono::DateTime<Utc>,
) -> anyhow::Result<(usize, BTreeMap<String, u64>)> {
    let matched: Vec<(Post, Vec<BrandMatch>)> = posts
        .into_iter()
        .filter(|p| p.created_at >= cutoff)
        .filter_map(|p| {
            let brands = matcher.match_post(&p);
            (!brands.is_empty()).then_some((p, brands))
        })
        .collect();
    let outcomes = store.upsert_many(&matched, Utc::now())?;
    let mut ids = Vec::new();
    let mut texts = Vec::new();
    for ((post, _), outcome) in matched.iter().zip(outcomes) {
        if let Upsert::New { id }
        | Upsert::Updated {
            id,
            text_changed: true,
        } = outcome
        {
            ids.push(id);
            texts.push(post.classifier_text());
        }
    }
    let mut labels = BTreeMap::new();
    let predictions = classifier.classify(&texts)?;
    let sentiments: Vec<(String, Sentiment)> = ids
        .into_iter()
        .zip(predictions)
        .map(|(id, p)| {
            *labels.entry(p.label.clone()).or_default() += 1;
            let s = Sentiment {
                label: p.label,
                scores: p.scores,
                model: classifier.id(),
            };
            (id, s)
        })
        .collect();
    store.set_sentiments(&sentiments)?;
    // the search index lists them now (the daemon would only at its next start)
    let ids: Vec<String> = sentiments.iter().map(|(id, _)| id.clone()).collect();
    if let Some(data_dir) = store.path().parent() {
        if let Err(e) = crate::search::refresh_now(data_dir, store, &ids) {
            tracing::warn!("the search index does not list the backfilled mentions yet ({e}); the daemon adds them at its next start");
        }
    }
    Ok((sentiments.len(), labels))
}
