//! `overhear db compact|check|retention|reindex`: maintenance on the database itself
//! and its search index. These open the database directly, so the daemon must not
//! be running.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;

use crate::store::{Store, StoreError};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Rewrite the database to give back the space deletions left behind.
    Compact,
    /// Check that every index (the status index too) and alias agrees with the
    /// stored mentions, and count mentions per triage state.
    Check {
        #[arg(long)]
        json: bool,
    },
    /// Remove mentions whose post is older than --keep, with their index entries
    /// (and their search index documents).
    Retention {
        /// How long to keep mentions: 365d, 26w, ...
        #[arg(long, value_parser = crate::util::duration::parse)]
        keep: Duration,
    },
    /// Rebuild the full-text search index (data_dir/search) and the dashboard's
    /// counters from the stored mentions.
    Reindex,
}

pub(super) fn open(data_dir: &std::path::Path) -> anyhow::Result<Store> {
    match Store::open_existing(data_dir) {
        Err(StoreError::Locked(path)) => anyhow::bail!(
            "the database at {} is held by another process, most likely the running daemon; \
             stop it (`systemctl stop overhear` or Ctrl-C) and run this again",
            path.display()
        ),
        r => Ok(r?),
    }
}

pub fn run(args: Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    let config = global.load_config()?;
    let data_dir = &config.daemon.data_dir;
    match args.command {
        Command::Compact => {
            drop(open(data_dir)?);
            let c = Store::compact(data_dir).context("compaction failed")?;
            println!(
                "compacted {}: {} -> {}",
                data_dir.display(),
                human(c.before),
                human(c.after)
            );
        }
        Command::Check { json } => {
            let store = open(data_dir)?;
            let r = store.check()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                for p in &r.problems {
                    println!("problem: {p}");
                }
                if r.problem_count > r.problems.len() as u64 {
                    println!("... and {} more", r.problem_count - r.problems.len() as u64);
                }
                let states: Vec<String> =
                    r.statuses.iter().map(|(s, n)| format!("{n} {s}")).collect();
                println!(
                    "{}: {} mentions ({}), {} index entries, {} aliases, {} feedback: {}",
                    store.path().display(),
                    r.mentions,
                    if states.is_empty() {
                        "none".to_string()
                    } else {
                        states.join(", ")
                    },
                    r.index_entries,
                    r.aliases,
                    r.feedback,
                    if r.is_ok() {
                        "ok".to_string()
                    } else {
                        format!("{} problems", r.problem_count)
                    }
                );
            }
            if !r.is_ok() {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Retention { keep } => {
            let store = open(data_dir)?;
            let k = chrono::Duration::from_std(keep)
                .map_err(|_| anyhow::anyhow!("retention {keep:?} is too long"))?;
            let cutoff = Utc::now()
                .checked_sub_signed(k)
                .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
            let n = store.remove_older_than(cutoff)?;
            if let Err(e) = crate::search::remove_older_than(data_dir, cutoff) {
                eprintln!(
                    "warning: the search index still lists them ({e}); the daemon removes them \
                     when it starts, or run `overhear db reindex`"
                );
            }
            println!(
                "removed {n} mention{} older than {}; {} left",
                if n == 1 { "" } else { "s" },
                humantime::format_duration(keep),
                store.len()
            );
        }
        Command::Reindex => reindex(data_dir)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `db reindex`, with a progress bar on a terminal.
fn reindex(data_dir: &std::path::Path) -> anyhow::Result<()> {
    let store = open(data_dir)?;
    let started = std::time::Instant::now();
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(store.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} mentions indexed ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let n = crate::search::reindex(data_dir, &store, |n| bar.set_position(n))
        .context("cannot rebuild the search index")?;
    bar.finish_and_clear();
    println!(
        "indexed {n} mention{} in {:.1} s into {}",
        if n == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64(),
        crate::search::SearchIndex::dir(data_dir).display()
    );
    let counted = store.recount().context("cannot recount the mentions")?;
    println!(
        "counted {counted} mention{}",
        if counted == 1 { "" } else { "s" }
    );
    Ok(())
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}
