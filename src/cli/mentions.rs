//! `overhear mentions list|search|show|export` (and `ack|resolve|dismiss|reopen`, in
//! `triage.rs`): read and search stored mentions and change their triage state,
//! through the running daemon's API when it answers, else in the database directly.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Local, NaiveDate, TimeZone, Utc};

use crate::search::Order;
use crate::store::client::{ApiToken, Reader};
use crate::store::{MentionFilter, Status, StoredMention};

#[path = "triage.rs"]
mod triage;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List mentions, newest first.
    List {
        #[command(flatten)]
        filters: Filters,
        /// A JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Full-text search: words, "phrases", AND/OR/NOT (or -word), (groups),
    /// brand:Acme, source:reddit, site:, author:, title:, text:, sentiment:, status:,
    /// assignee:. Newest first (the 50 newest unless --limit says otherwise).
    Search {
        /// The query, e.g. 'refund NOT shipping' or '"lost my order" brand:Acme'.
        query: String,
        #[command(flatten)]
        filters: Filters,
        /// newest (the default) or relevance (best match first).
        #[arg(long, value_enum, default_value_t = Order::Newest)]
        sort: Order,
        /// A JSON array instead of a table (as `list --json`).
        #[arg(long)]
        json: bool,
    },
    /// Show one mention in full: by id, post id (hackernews:8863) or URL.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Write mentions to stdout as CSV, a JSON array or one JSON object per line.
    Export {
        #[arg(long, value_enum)]
        format: ExportFormat,
        #[command(flatten)]
        filters: Filters,
    },
    #[command(flatten)]
    Triage(triage::Command),
    /// Answer a mention in its public thread as a [[reply_account]]:
    /// --as ACCOUNT and --text, --template NAME or --text-file FILE (- for stdin).
    Reply(super::reply::Args),
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
    Ndjson,
}

/// Filters shared by `list` and `export`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Filters {
    /// Only mentions of this brand (case-insensitive).
    #[arg(long)]
    pub brand: Option<String>,
    /// Only this sentiment label: negative, neutral, positive, unclassified.
    #[arg(long)]
    pub sentiment: Option<String>,
    /// Only posts from this source kind (reddit) or source name.
    #[arg(long)]
    pub source: Option<String>,
    /// Only mentions in this triage state.
    #[arg(long, value_enum)]
    pub status: Option<Status>,
    /// Only mentions assigned to this user (case-insensitive).
    #[arg(long, value_name = "NAME")]
    pub assignee: Option<String>,
    /// Only posts since: a duration back from now (7d, 12h), a date (2025-01-31,
    /// local midnight) or an RFC 3339 time.
    #[arg(long, value_parser = parse_since)]
    pub since: Option<DateTime<Utc>>,
    /// Only posts before this (same forms as --since).
    #[arg(long, value_parser = parse_since)]
    pub until: Option<DateTime<Utc>>,
    /// At most this many (list defaults to 50; export to all).
    #[arg(long)]
    pub limit: Option<usize>,
}

impl Filters {
    fn to_filter(&self, default_limit: Option<usize>) -> MentionFilter {
        MentionFilter {
            brand: self.brand.clone(),
            sentiment: self.sentiment.clone(),
            source: self.source.clone(),
            since: self.since,
            until: self.until,
            status: self.status,
            assignee: self.assignee.clone(),
            limit: self.limit.or(default_limit),
        }
    }
}

/// `7d`, `2025-01-31` (local midnight) or an RFC 3339 time.
pub(super) fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let midnight = d.and_hms_opt(0, 0, 0).ok_or("invalid date")?;
        return Local
            .from_local_datetime(&midnight)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| format!("{text} has no local midnight"));
    }
    let d = crate::util::duration::parse(text)
        .map_err(|e| format!("{e}, or a date (2025-01-31), or an RFC 3339 time"))?;
    let d = chrono::Duration::from_std(d).map_err(|_| format!("{text} is too long ago"))?;
    Utc::now()
        .checked_sub_signed(d)
        .ok_or_else(|| format!("{text} is too long ago"))
}

/// Opens the reader named by the config: the daemon's API (with the config's API
/// token), else the database.
pub(super) fn reader(global: &super::Global) -> anyhow::Result<Reader> {
    let config = global.load_config()?;
    let token = api_token(&config.daemon);
    let r = Reader::connect(&config.daemon.data_dir, config.daemon.api_bind, token)?;
    tracing::debug!("reading mentions through the {}", r.via());
    Ok(r)
}

/// The token the config names, and where it comes from; with none named, the one
/// the daemon keeps in `data_dir/api-token`. A token that cannot be read is not
/// sent; the daemon's 401 then names where it should have come from.
pub(super) fn api_token(d: &crate::daemon::DaemonConfig) -> ApiToken {
    let (from, value) = match (&d.api_token_env, &d.api_token_file) {
        (Some(var), _) => (
            format!("the environment variable {var} ([daemon] api_token_env)"),
            d.api_token()
                .resolve("API token")
                .map_err(|e| e.to_string()),
        ),
        (None, Some(path)) => (
            format!("the file {} ([daemon] api_token_file)", path.display()),
            d.api_token()
                .resolve("API token")
                .map_err(|e| e.to_string()),
        ),
        (None, None) => {
            let file = crate::daemon::api::token_file::path(&d.data_dir);
            (
                format!(
                    "the file {} (the daemon's own token: no [daemon] api_token_env or \
                     api_token_file is set; run this as a user who can read it)",
                    file.display()
                ),
                crate::daemon::api::token_file::read(&d.data_dir).map_err(|e| e.to_string()),
            )
        }
    };
    let value = match value {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!("no API token to send: {e}");
            None
        }
    };
    ApiToken { value, from }
}

pub fn run(args: Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    if let Command::Search { query, .. } = &args.command {
        // a mistake in the query is said before anything is opened
        if let Err(e) = crate::search::parse(query) {
            eprintln!("{e}\n  {query}\n  {:>w$}", "^", w = e.column);
            return Ok(ExitCode::from(2));
        }
    }
    let reader = reader(global)?;
    let out = std::io::stdout().lock();
    let mut out = BufWriter::new(out);
    let result = match args.command {
        Command::List { filters, json } => {
            let rows = reader.list(&filters.to_filter(Some(50)))?;
            if json {
                serde_json::to_writer_pretty(&mut out, &rows)?;
                writeln!(out)
            } else {
                write_table(&mut out, &rows)
            }
        }
        Command::Search {
            query,
            filters,
            sort,
            json,
        } => {
            let rows = reader.search(&query, &filters.to_filter(Some(50)), sort)?;
            if json {
                serde_json::to_writer_pretty(&mut out, &rows)?;
                writeln!(out)
            } else {
                write_table(&mut out, &rows)
            }
        }
        Command::Show { id, json } => {
            let Some(m) = reader.get(&id)? else {
                eprintln!("no mention {id:?}");
                return Ok(ExitCode::from(1));
            };
            if json {
                serde_json::to_writer_pretty(&mut out, &m)?;
                writeln!(out)
            } else {
                write_show(&mut out, &m)
            }
        }
        Command::Export { format, filters } => {
            let rows = reader.list(&filters.to_filter(None))?;
            match format {
                ExportFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &rows)?;
                    writeln!(out)
                }
                ExportFormat::Ndjson => rows.iter().try_for_each(|m| {
                    serde_json::to_writer(&mut out, m)?;
                    writeln!(out)
                }),
                ExportFormat::Csv => write_csv(&mut out, &rows),
            }
        }
        Command::Triage(cmd) => return triage::run(cmd, &reader, &mut out),
        Command::Reply(a) => {
            let config = global.load_config()?;
            return super::reply::run(a, &reader, &config, &mut out);
        }
    };
    finish(result.and_then(|_| out.flush()))
}

/// A closed pipe (`| head`) is not an error.
pub(super) fn finish(r: std::io::Result<()>) -> anyhow::Result<ExitCode> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        r => {
            r.context("cannot write to stdout")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub(super) fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%Y-%m-%d %H:%M").to_string()
}

fn brands(m: &StoredMention) -> String {
    m.mention
        .brands
        .iter()
        .map(|b| b.brand.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn sentiment(m: &StoredMention) -> String {
    match &m.mention.sentiment {
        Some(s) => match s.score(&s.label) {
            Some(p) => format!("{} {:.2}", s.label, p),
            None => s.label.clone(),
        },
        None => "-".into(),
    }
}

fn one_line(text: &str, width: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= width {
        flat
    } else {
        let mut s: String = flat.chars().take(width.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// Rows as aligned columns; the last column is cut to the terminal width.
pub(super) fn write_columns(
    out: &mut impl Write,
    header: &[&str],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: Vec<&str>| -> std::io::Result<()> {
        let n = cells.len();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == n {
                writeln!(out, "{c}")?;
            } else {
                write!(out, "{c:<w$}  ")?;
            }
        }
        Ok(())
    };
    line(out, header.to_vec())?;
    for r in rows {
        line(out, r.iter().map(String::as_str).collect())?;
    }
    Ok(())
}

fn write_table(out: &mut impl Write, rows: &[StoredMention]) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "no mentions");
    }
    let total_width: usize = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(140);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|m| {
            let p = &m.mention.post;
            vec![
                m.id.clone(),
                local(p.created_at),
                p.source.clone(),
                brands(m),
                sentiment(m),
                triage::state(m),
                p.classifier_text(),
            ]
        })
        .collect();
    let fixed: usize = (0..6)
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
                + 2
        })
        .sum();
    let text_width = total_width.saturating_sub(fixed).max(30);
    let cells: Vec<Vec<String>> = cells
        .into_iter()
        .map(|mut r| {
            r[6] = one_line(&r[6], text_width);
            r
        })
        .collect();
    write_columns(
        out,
        &[
            "ID",
            "TIME",
            "SOURCE",
            "BRANDS",
            "SENTIMENT",
            "STATUS",
            "TEXT",
        ],
        &cells,
    )
}

fn write_show(out: &mut impl Write, m: &StoredMention) -> std::io::Result<()> {
    let p = &m.mention.post;
    writeln!(out, "id:         {}", m.id)?;
    writeln!(out, "post:       {}", p.id)?;
    writeln!(out, "url:        {}", p.url)?;
    writeln!(out, "source:     {} ({})", p.source, p.site)?;
    if let Some(a) = &p.author {
        writeln!(out, "author:     {a}")?;
    }
    writeln!(out, "posted:     {}", local(p.created_at))?;
    writeln!(out, "first seen: {}", local(m.mention.first_seen))?;
    if let Some(u) = m.mention.updated_at {
        writeln!(out, "updated:    {}", local(u))?;
    }
    if let Some(a) = m.alerted_at {
        writeln!(out, "alerted:    {}", local(a))?;
    }
    match &m.mention.sentiment {
        Some(s) => {
            let scores: Vec<String> = s
                .scores
                .iter()
                .map(|(l, p)| format!("{l} {p:.3}"))
                .collect();
            writeln!(
                out,
                "sentiment:  {} ({}; model {})",
                s.label,
                scores.join(", "),
                s.model
            )?;
        }
        None => writeln!(out, "sentiment:  not classified yet")?,
    }
    for b in &m.mention.brands {
        let terms: Vec<String> = b
            .terms
            .iter()
            .map(|t| format!("{:?} in {:?}", t.term, t.field))
            .collect();
        writeln!(out, "brand:      {} ({})", b.brand, terms.join(", "))?;
    }
    triage::write_state(out, m)?;
    if let Some(t) = &p.title {
        writeln!(out, "title:      {t}")?;
    }
    writeln!(out)?;
    writeln!(out, "{}", p.text)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn write_csv(out: &mut impl Write, rows: &[StoredMention]) -> std::io::Result<()> {
    writeln!(
        out,
        "id,post_id,created_at,first_seen,source,site,url,author,brands,sentiment,score,title,text,status,assignee,answered_at,answered_by,answer_url"
    )?;
    for m in rows {
        let p = &m.mention.post;
        let (label, score) = match &m.mention.sentiment {
            Some(s) => (
                s.label.clone(),
                s.score(&s.label)
                    .map(|p| format!("{p:.4}"))
                    .unwrap_or_default(),
            ),
            None => (String::new(), String::new()),
        };
        let fields = [
            m.id.clone(),
            p.id.clone(),
            p.created_at.to_rfc3339(),
            m.mention.first_seen.to_rfc3339(),
            p.source.clone(),
            p.site.clone(),
            p.url.clone(),
            p.author.clone().unwrap_or_default(),
            brands(m),
            label,
            score,
            p.title.clone().unwrap_or_default(),
            p.text.clone(),
            m.triage.status.to_string(),
            m.triage.assignee.clone().unwrap_or_default(),
            m.answer
                .answered_at
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
            m.answer.answered_by.clone().unwrap_or_default(),
            m.answer.answer_url.clone().unwrap_or_default(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        writeln!(out, "{}", line.join(","))?;
    }
    Ok(())
}
