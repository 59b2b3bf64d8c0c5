//! `overhear outbox list [--failed]` and `overhear outbox retry ID`: what the alert
//! outbox holds, and sending a failed alert again. These open the database directly,
//! so the daemon must not be running.

use std::process::ExitCode;

use crate::alerts::{OutboxEntry, OutboxState};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Every outbox entry (pending, sent, failed), oldest first.
    List {
        /// Only the alerts that could not be delivered.
        #[arg(long)]
        failed: bool,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Queue a sent or failed alert again (ID from `outbox list`, or its full key);
    /// the daemon sends it when it next runs.
    Retry { id: String },
}

fn state(s: OutboxState) -> &'static str {
    match s {
        OutboxState::Pending => "pending",
        OutboxState::Sent => "sent",
        OutboxState::Failed => "failed",
    }
}

fn line(e: &OutboxEntry) -> String {
    let when = match e.state {
        OutboxState::Sent => e.sent_at.map(|t| format!("sent {}", t.to_rfc3339())),
        OutboxState::Pending => Some(format!("next {}", e.next_attempt.to_rfc3339())),
        OutboxState::Failed => None,
    };
    let mut out = format!(
        "{}  {:<7}  {}  attempts {}  {}",
        e.item.short_id(),
        state(e.state),
        e.item.to,
        e.attempts,
        e.item.key
    );
    if let Some(w) = when {
        out.push_str(&format!("  {w}"));
    }
    if let Some(err) = &e.last_error {
        out.push_str(&format!("\n    last error: {err}"));
    }
    out
}

pub fn run(args: Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    let config = global.load_config()?;
    let store = super::db::open(&config.daemon.data_dir)?;
    match args.command {
        Command::List { failed, json } => {
            let entries = store.outbox_entries()?;
            let shown = entries
                .iter()
                .filter(|e| !failed || e.state == OutboxState::Failed);
            for e in shown {
                if json {
                    let v = serde_json::json!({
                        "id": e.item.short_id(),
                        "key": e.item.key,
                        "state": state(e.state),
                        "to": e.item.to,
                        "attempts": e.attempts,
                        "last_error": e.last_error,
                        "sent_at": e.sent_at,
                        "next_attempt": e.next_attempt,
                    });
                    println!("{v}");
                } else {
                    println!("{}", line(e));
                }
            }
        }
        Command::Retry { id } => match store.retry_outbox(&id, chrono::Utc::now())? {
            Some(e) => println!(
                "{} to {} queued again; the daemon sends it when it next runs",
                e.item.short_id(),
                e.item.to
            ),
            None => {
                eprintln!("no outbox entry {id:?} (see `overhear outbox list`)");
                return Ok(ExitCode::from(1));
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}
