//! `overhear stats`: mentions per sentiment per day or week, as a table or JSON.
//!
//! Reads mentions through the running daemon's API when it answers, else from the
//! database (see `mentions.rs`); never changes a mention.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use super::mentions::{finish, parse_since, reader, write_columns};
use crate::store::{Bucket, StatsRow};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only mentions of this brand (case-insensitive).
    #[arg(long)]
    pub brand: Option<String>,
    /// Since: a duration back from now (30d), a date or an RFC 3339 time.
    #[arg(long, value_parser = parse_since, default_value = "30d")]
    pub since: DateTime<Utc>,
    /// Bucket width (UTC days; weeks start on Monday).
    #[arg(long, value_enum, default_value = "day")]
    pub by: Bucket,
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// How fast the brand answered negative mentions in public, per week, brand and
    /// source (the thread watch: `accounts` in `[[brand]]`).
    #[arg(long)]
    pub responses: bool,
}

/// Known labels first, in this order; others after, alphabetically.
const ORDER: [&str; 4] = ["negative", "neutral", "positive", "unclassified"];

fn columns(rows: &[StatsRow]) -> Vec<String> {
    let mut labels: Vec<String> = rows.iter().flat_map(|r| r.counts.keys().cloned()).collect();
    labels.sort_by_key(|l| {
        (
            ORDER.iter().position(|o| o == l).unwrap_or(ORDER.len()),
            l.clone(),
        )
    });
    labels.dedup();
    labels
}

pub fn run(args: Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    let reader = reader(global)?;
    if args.responses {
        let mut rows = reader.responses(args.brand.as_deref(), args.since)?;
        // the store keeps brand names lowercased: show them as configured
        if let Ok(config) = global.load_config() {
            for r in &mut rows {
                if let Some(b) = config
                    .brands
                    .iter()
                    .find(|b| b.name.eq_ignore_ascii_case(&r.brand))
                {
                    r.brand = b.name.clone();
                }
            }
        }
        return super::responses::print(&rows, args.json);
    }
    let rows = reader.stats(args.brand.as_deref(), Some(args.since), args.by)?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let result = if args.json {
        serde_json::to_writer_pretty(&mut out, &rows)
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(out))
    } else {
        write_table(&mut out, &rows, args.by)
    };
    finish(result.and_then(|_| out.flush()))
}

fn write_table(out: &mut impl Write, rows: &[StatsRow], by: Bucket) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "no mentions in that period");
    }
    let labels = columns(rows);
    let first = match by {
        Bucket::Day => "DAY (UTC)",
        Bucket::Week => "WEEK OF (UTC)",
    };
    let mut header = vec![first.to_string()];
    header.extend(labels.iter().map(|l| l.to_uppercase()));
    header.push("TOTAL".into());
    let mut totals = vec![0u64; labels.len() + 1];
    let mut cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut line = vec![r.bucket.to_string()];
            for (i, l) in labels.iter().enumerate() {
                let n = r.counts.get(l).copied().unwrap_or(0);
                totals[i] += n;
                line.push(n.to_string());
            }
            totals[labels.len()] += r.total;
            line.push(r.total.to_string());
            line
        })
        .collect();
    let mut sum = vec!["all".to_string()];
    sum.extend(totals.iter().map(|n| n.to_string()));
    cells.push(sum);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    write_columns(out, &header, &cells)
}
