//! `overhear db compact|check|retention`: maintenance on the database itself.
//! These open the database directly, so the daemon must not be running.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

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
    /// Remove mentions whose post is older than --keep, with their index entries.
    Retention {
        /// How long to keep mentions: 365d, 26w, ...
        #[arg(long, value_parser = crate::util::duration::parse)]
        keep: Duration,
    },
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
            let n = store.retention(keep)?;
            println!(
                "removed {n} mention{} older than {}; {} left",
                if n == 1 { "" } else { "s" },
                humantime::format_duration(keep),
                store.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
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
