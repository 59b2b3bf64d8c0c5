//! `overhear poll SOURCE --once`: fetch one source now and print the posts it yields,
//! one JSON object per line, without storing anything or advancing the saved cursor.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::matcher::Matcher;
use crate::sources::{self, MemoryState};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The `name` of a `[[source]]` entry (defaults to its kind).
    pub source: String,
    /// Poll once and exit (the only mode for now; the daemon polls on a schedule).
    #[arg(long, default_value_t = true)]
    pub once: bool,
    /// Print every post, not only those that mention a brand.
    #[arg(long)]
    pub all_brands: bool,
    /// For push sources (the Bluesky firehose): how long to listen.
    #[arg(long, default_value = "5s", value_parser = crate::util::duration::parse)]
    pub listen: Duration,
}

pub fn run(args: Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    let config = global.load_config()?;
    let Some(cfg) = config.sources.iter().find(|s| s.name() == args.source) else {
        let names: Vec<String> = config.sources.iter().map(|s| s.name()).collect();
        anyhow::bail!(
            "no [[source]] named {:?}; the config has: {}",
            args.source,
            names.join(", ")
        );
    };
    // The same matcher decides what is searched for (as in the daemon) and what is shown.
    let matcher = Matcher::compile(&config.brands)?;
    // A throw-away state store: nothing is read from or written to the daemon's cursors.
    let ctx = config.source_context(&matcher, Arc::new(MemoryState::default()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let posts = runtime.block_on(async {
        let mut source = sources::build(cfg, &ctx)?;
        let mut batch = source.poll().await?;
        if source.kind() == "bluesky" {
            // the firehose pushes: listen a while, then drain (never committing)
            tokio::time::sleep(args.listen).await;
            batch.posts.extend(source.poll().await?.posts);
        }
        Ok::<_, sources::SourceError>(batch.posts)
    })?;
    // Servers search fuzzily: the brands' own queries decide, as in the daemon.
    let mut out = std::io::stdout().lock();
    let mut shown = 0;
    for post in &posts {
        let brands = matcher.match_post(post);
        if !args.all_brands && brands.is_empty() {
            continue;
        }
        let mut line = serde_json::to_value(post)?;
        if let Some(obj) = line.as_object_mut() {
            let names: Vec<&str> = brands.iter().map(|b| b.brand.as_str()).collect();
            obj.insert("brands".into(), serde_json::json!(names));
        }
        serde_json::to_writer(&mut out, &line)?;
        writeln!(out)?;
        shown += 1;
    }
    out.flush()?;
    tracing::info!(source = %args.source, fetched = posts.len(), shown, "polled once");
    Ok(ExitCode::SUCCESS)
}
