//! The command line: one file per subcommand, each a `run(args, &Global)`.
//!
//! Parsing, the shared flags and config loading live here; a subcommand does its
//! work through the components' APIs and never reimplements a stage.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::daemon::LogFormat;

mod backfill;
mod check;
mod classify;
mod db;
mod eval;
mod match_cmd;
mod mentions;
mod outbox;
mod poll;
mod reply;
mod responses;
mod run;
mod stats;
mod test_email;
mod test_reply_account;
mod test_webhook;
mod user;
mod worker;

/// Hears what the public internet says about your brand.
#[derive(Debug, Parser)]
#[command(name = "overhear", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// Config file (default: the embedded copy of config/overhear.toml).
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "OVERHEAR_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    /// Log format on stderr (default: [daemon] log_format, else human).
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// More log output: -v every crate's info (the daemon alone shows its own info
    /// and everyone's warnings), -vv debug, -vvv trace. OVERHEAR_LOG overrides.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl Global {
    /// The config file named by --config, or the embedded default.
    pub fn load_config(&self) -> anyhow::Result<Config> {
        Config::load_or_default(self.config.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: poll sources, classify mentions, store them, send alerts.
    Run(run::Args),
    /// Run one worker of a cluster: poll a fair share of the hub's sources, publish
    /// to NATS (needs --config FILE with [cluster]).
    Worker(worker::Args),
    /// Fetch, store and classify the last days of history (a first run; no emails).
    Backfill(backfill::Args),
    /// Validate a config file and say exactly what is wrong (--model: load the model too).
    Check(check::Args),
    /// Classify texts (arguments, or one per line on stdin).
    Classify(classify::Args),
    /// Evaluate the classifier on a labelled TSV file.
    Eval(eval::Args),
    /// Try a brand query on texts from stdin, one per line.
    Match(match_cmd::Args),
    /// Fetch one source now and print the posts it yields, one JSON object per line.
    Poll(poll::Args),
    /// Stored mentions: list, search, show, export; ack, resolve, dismiss, reopen.
    Mentions(mentions::Args),
    /// Counts of mentions per sentiment; --responses: how fast the brand answered.
    Stats(stats::Args),
    /// Database maintenance: check, compact, retention, reindex.
    Db(db::Args),
    /// Send one test email through the configured transport.
    TestEmail(test_email::Args),
    /// Send one test message to an [[alerts.webhook]] and print its server's answer.
    TestWebhook(test_webhook::Args),
    /// Check a [[reply_account]]'s credentials without posting; say who it posts as.
    TestReplyAccount(test_reply_account::Args),
    /// The alert outbox: list entries, queue a failed alert again.
    Outbox(outbox::Args),
    /// Who may log in to the inbox: add, list, remove, passwd.
    User(user::Args),
}

/// Parses the command line, runs the subcommand, prints errors, returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let daemon = matches!(cli.command, Command::Run(_) | Command::Worker(_));
    init_logging(&cli.global, daemon);
    let result = match cli.command {
        Command::Run(a) => run::run(a, &cli.global),
        Command::Worker(a) => worker::run(a, &cli.global),
        Command::Backfill(a) => backfill::run(a, &cli.global),
        Command::Check(a) => check::run(a, &cli.global),
        Command::Classify(a) => classify::run(a, &cli.global),
        Command::Eval(a) => eval::run(a, &cli.global),
        Command::Match(a) => match_cmd::run(a, &cli.global),
        Command::Poll(a) => poll::run(a, &cli.global),
        Command::Mentions(a) => mentions::run(a, &cli.global),
        Command::Stats(a) => stats::run(a, &cli.global),
        Command::Db(a) => db::run(a, &cli.global),
        Command::TestEmail(a) => test_email::run(a, &cli.global),
        Command::TestWebhook(a) => test_webhook::run(a, &cli.global),
        Command::TestReplyAccount(a) => test_reply_account::run(a, &cli.global),
        Command::Outbox(a) => outbox::run(a, &cli.global),
        Command::User(a) => user::run(a, &cli.global),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The log filter without OVERHEAR_LOG: the daemon tells its own news (INFO) and
/// everyone's warnings, a command only warnings; each `-v` opens more, for every
/// crate (html5ever's complaints about a feed's HTML stay at errors).
fn default_filter(verbose: u8, daemon: bool) -> &'static str {
    match (verbose, daemon) {
        (0, false) => "warn,html5ever=error",
        (0, true) => "warn,overhear=info,html5ever=error",
        (1, _) => "info,html5ever=error",
        (2, _) => "debug,html5ever=error",
        _ => "trace",
    }
}

fn init_logging(global: &Global, daemon: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("OVERHEAR_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(default_filter(global.verbose, daemon)));
    let format = global.log_format.unwrap_or_else(|| {
        // The config may ask for JSON logs; a broken config is reported later.
        global
            .config
            .as_deref()
            .and_then(|p| Config::load(p).ok())
            .map(|c| c.daemon.log_format)
            .unwrap_or_default()
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Human => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}

/// The model directory: `--model`, else the config's `[model] path`.
pub(crate) fn model_config(
    global: &Global,
    model: Option<&Path>,
) -> anyhow::Result<crate::classifier::ModelConfig> {
    let mut cfg = match (&global.config, model) {
        // --model alone needs no config file at all
        (None, Some(_)) => crate::classifier::ModelConfig::default(),
        _ => global.load_config()?.model,
    };
    if let Some(m) = model {
        cfg.path = m.to_path_buf();
    }
    Ok(cfg)
}
