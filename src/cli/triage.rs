//! `overhear mentions ack|resolve|dismiss|reopen`: change a mention's triage state,
//! through the running daemon's API when it answers (`POST /api/mentions/{id}/...`),
//! else in the database; and how `show` prints that state and its history.
//!
//! The store decides which changes are valid; this file only asks for them, and
//! never changes a mention's post, brands or sentiment.

use std::io::Write;
use std::process::ExitCode;

use crate::store::client::Reader;
use crate::store::{Action, DismissReason, StoredMention, Transition, Via};

/// The triage subcommands of `overhear mentions`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Take a mention: acknowledged, assigned to you (or to --as NAME).
    Ack {
        /// Mention id, post id (hackernews:8863) or URL.
        id: String,
        #[command(flatten)]
        change: Change,
    },
    /// Mark a mention answered.
    Resolve {
        id: String,
        #[command(flatten)]
        change: Change,
    },
    /// Mark a mention as needing no answer.
    Dismiss {
        id: String,
        /// Why it needs no answer (not-negative is kept as feedback for the model).
        #[arg(long, value_enum)]
        reason: DismissReason,
        /// With --reason not-negative: the label it should have had (positive, neutral).
        #[arg(long, value_name = "LABEL")]
        label: Option<String>,
        #[command(flatten)]
        change: Change,
    },
    /// Put a mention back to new, unassigned.
    Reopen {
        id: String,
        #[command(flatten)]
        change: Change,
    },
}

/// What every change takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Change {
    /// A note for the history (for resolve: how it was answered).
    #[arg(long)]
    note: Option<String>,
    /// Who makes the change (default: $USER, else "cli").
    #[arg(long = "as", value_name = "NAME")]
    by: Option<String>,
    /// Print the mention afterwards as JSON.
    #[arg(long)]
    json: bool,
}

/// `$USER`, else `cli`.
fn default_name() -> String {
    std::env::var("USER")
        .ok()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "cli".to_string())
}

pub fn run(cmd: Command, reader: &Reader, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let (id, action, change, corrected) = match cmd {
        Command::Ack { id, change } => (id, Action::Ack, change, None),
        Command::Resolve { id, change } => (id, Action::Resolve, change, None),
        Command::Dismiss {
            id,
            reason,
            label,
            change,
        } => (id, Action::Dismiss(reason), change, label),
        Command::Reopen { id, change } => (id, Action::Reopen, change, None),
    };
    let t = Transition {
        action,
        by: change.by.clone().unwrap_or_else(default_name),
        via: Via::Cli,
        note: change.note.clone(),
        corrected,
    };
    let Some(m) = reader.triage(&id, &t)? else {
        eprintln!("no mention {id:?}");
        return Ok(ExitCode::from(1));
    };
    let r = if change.json {
        serde_json::to_writer_pretty(&mut *out, &m)?;
        writeln!(out)
    } else {
        let from = m.triage.history.last().map(|c| c.from.as_str());
        writeln!(out, "{}: {} -> {}", m.id, from.unwrap_or("?"), state(&m))
    };
    super::finish(r.and_then(|_| out.flush()))
}

/// `acknowledged (dana)`, `dismissed: spam`, `new`.
pub(super) fn state(m: &StoredMention) -> String {
    let t = &m.triage;
    let mut s = t.status.to_string();
    if let Some(r) = t.reason {
        s.push_str(&format!(": {r}"));
    }
    if let Some(a) = &t.assignee {
        s.push_str(&format!(" ({a})"));
    }
    s
}

/// The state, note and history lines of `show`.
pub(super) fn write_state(out: &mut impl Write, m: &StoredMention) -> std::io::Result<()> {
    writeln!(out, "status:     {}", state(m))?;
    if let Some(n) = &m.triage.note {
        writeln!(out, "note:       {}", one_line(n))?;
    }
    if m.triage.history.is_empty() {
        return Ok(());
    }
    writeln!(out, "history:")?;
    for c in &m.triage.history {
        write!(
            out,
            "  {}  {} via {}: {} -> {}",
            super::local(c.at),
            c.by,
            c.via,
            c.from,
            c.to
        )?;
        if let Some(r) = c.reason {
            write!(out, " ({r})")?;
        }
        match &c.note {
            Some(n) => writeln!(out, " \"{}\"", one_line(n))?,
            None => writeln!(out)?,
        }
    }
    Ok(())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
