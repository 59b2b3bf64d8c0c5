//! `overhear mentions reply ID --as ACCOUNT (--text T | --template NAME | --text-file F)`:
//! answer a mention in its public thread as one of the brand's accounts. Through
//! the running daemon's API when it answers (its sender posts it), else in the
//! database, posting it from here. Either way the reply is on disk before it is
//! sent, and the command waits (`--wait`) to say where it went.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::config::Config;
use crate::reply::api::WriteRequest;
use crate::reply::{Replies, ReplyError};
use crate::store::client::{ClientError, Reader};
use crate::store::replies::{ReplyRecord, ReplyState};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Mention id, post id (mastodon:HOST:ID) or URL.
    pub id: String,
    /// The [[reply_account]] to answer as.
    #[arg(long = "as", value_name = "ACCOUNT")]
    pub account: String,
    /// The reply's text.
    #[arg(long, conflicts_with_all = ["template", "text_file"])]
    pub text: Option<String>,
    /// A [[reply_template]] by name ({author} and {brand} filled in).
    #[arg(long, conflicts_with = "text_file")]
    pub template: Option<String>,
    /// Read the text from a file (- for stdin).
    #[arg(long, value_name = "FILE")]
    pub text_file: Option<PathBuf>,
    /// Who writes it (default: $USER, else "cli").
    #[arg(long)]
    pub by: Option<String>,
    /// How long to wait for the network's answer before leaving it queued.
    #[arg(long, default_value = "60s", value_parser = crate::util::duration::parse)]
    pub wait: Duration,
    /// Print the reply as JSON.
    #[arg(long)]
    pub json: bool,
}

fn user() -> String {
    std::env::var("USER")
        .ok()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "cli".to_string())
}

fn text_of(a: &Args) -> anyhow::Result<Option<String>> {
    match (&a.text, &a.text_file) {
        (Some(t), _) => Ok(Some(t.clone())),
        (None, Some(p)) if p.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            Ok(Some(s.trim_end().to_string()))
        }
        (None, Some(p)) => Ok(Some(
            std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?
                .trim_end()
                .to_string(),
        )),
        (None, None) => Ok(None),
    }
}

pub fn run(
    a: Args,
    reader: &Reader,
    config: &Config,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let text = text_of(&a)?;
    if text.is_none() && a.template.is_none() {
        anyhow::bail!("give the reply: --text, --template NAME or --text-file FILE");
    }
    let req = WriteRequest {
        mention: a.id.clone(),
        account: a.account.clone(),
        text,
        template: a.template.clone(),
        by: a.by.clone().unwrap_or_else(user),
        via: Some("cli".into()),
    };
    let rec = match reader {
        Reader::Direct(store) => {
            let replies = direct_replies(config, store);
            let id = store
                .resolve(&req.mention)?
                .ok_or_else(|| anyhow::anyhow!("no mention {}", req.mention))?;
            let w = req.into_write(id).map_err(|e| anyhow::anyhow!(e))?;
            let rec = replies.write(w, chrono::Utc::now()).map_err(refused)?;
            send_here(&replies, &rec, a.wait)?
        }
        Reader::Api { .. } => {
            let rec: ReplyRecord = reader
                .call(|c, api| c.post(format!("http://{api}/api/replies")).json(&req))
                .map_err(api_refused)?
                .ok_or_else(|| anyhow::anyhow!("no mention {}", a.id))?;
            wait_api(reader, rec, a.wait)?
        }
    };
    report(&rec, a.json, out)
}

fn refused(e: ReplyError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

fn api_refused(e: ClientError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// The replies of `config` over `store`, with the real network clients.
fn direct_replies(config: &Config, store: &crate::store::Store) -> Replies {
    let http = crate::sources::Http::new(
        &config.daemon.user_agent,
        crate::sources::HttpSettings::default(),
    );
    Replies::new(config, store.clone(), &move |acc| match &http {
        Ok(h) => crate::reply::client(acc, h),
        Err(e) => Err(crate::reply::PostError::Refused {
            status: None,
            why: format!("no HTTP client: {e}"),
        }),
    })
}

/// No daemon: sends the reply from here, attempt after attempt as they fall due,
/// until it is posted, fails, or `wait` is up (then it stays queued for the daemon).
fn send_here(replies: &Replies, rec: &ReplyRecord, wait: Duration) -> anyhow::Result<ReplyRecord> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let deadline = std::time::Instant::now() + wait;
    loop {
        let now = chrono::Utc::now();
        rt.block_on(replies.send_due(now));
        let cur = replies
            .store()
            .reply(&rec.id)?
            .ok_or_else(|| anyhow::anyhow!("reply {} is gone", rec.id))?;
        if !cur.is_pending() {
            return Ok(cur);
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let until_next = (cur.next_try - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        if left.is_zero() || until_next > left {
            return Ok(cur);
        }
        std::thread::sleep(until_next.max(Duration::from_millis(50)));
    }
}

/// With the daemon: asks where the reply is until it is not pending or `wait` is up.
fn wait_api(reader: &Reader, rec: ReplyRecord, wait: Duration) -> anyhow::Result<ReplyRecord> {
    let deadline = std::time::Instant::now() + wait;
    let mut cur = rec;
    while cur.is_pending() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        let id = cur.id.clone();
        if let Some(r) = reader
            .call::<ReplyRecord>(|c, api| c.get(format!("http://{api}/api/replies/{id}")))
            .map_err(api_refused)?
        {
            cur = r;
        }
    }
    Ok(cur)
}

fn report(r: &ReplyRecord, json: bool, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    if json {
        serde_json::to_writer_pretty(&mut *out, r)?;
        writeln!(out)?;
    } else {
        match r.state {
            ReplyState::Posted => writeln!(
                out,
                "posted as {} ({}): {}",
                r.account,
                r.posted_by.as_deref().unwrap_or(""),
                r.url.as_deref().unwrap_or("")
            )?,
            ReplyState::Draft => writeln!(
                out,
                "saved as draft {}: another user approves it in the inbox ([reply] require_approval)",
                r.id
            )?,
            ReplyState::Failed => writeln!(
                out,
                "not posted: {} (retry or drop it from the mention's page)",
                r.last_error.as_deref().unwrap_or("failed")
            )?,
            ReplyState::Queued | ReplyState::Sending => writeln!(
                out,
                "queued as {}: not posted yet{} (it goes out when the network answers)",
                r.id,
                r.last_error
                    .as_deref()
                    .map(|e| format!(", last try: {e}"))
                    .unwrap_or_default()
            )?,
            ReplyState::Dropped => writeln!(out, "dropped")?,
        }
    }
    out.flush()?;
    Ok(match r.state {
        ReplyState::Posted | ReplyState::Draft => ExitCode::SUCCESS,
        ReplyState::Queued | ReplyState::Sending => ExitCode::from(3),
        _ => ExitCode::FAILURE,
    })
}
