//! `overhear test-reply-account NAME`: checks a `[[reply_account]]`'s credentials
//! without posting anything (Mastodon `verify_credentials`, Bluesky `getSession`,
//! Stack Exchange `/me`) and says who it would post as. Never touches the
//! database, so it works while the daemon runs; never prints a secret.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The `name` of a `[[reply_account]]` entry.
    pub name: String,
}

pub fn run(args: Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    let config = global.load_config()?;
    let Some(cfg) = config
        .reply_accounts
        .iter()
        .find(|a| a.name().eq_ignore_ascii_case(&args.name))
    else {
        let known: Vec<&str> = config.reply_accounts.iter().map(|a| a.name()).collect();
        anyhow::bail!(
            "no [[reply_account]] is named {:?} ({})",
            args.name,
            if known.is_empty() {
                "none is configured".to_string()
            } else {
                format!("configured: {}", known.join(", "))
            }
        );
    };
    let http = crate::sources::Http::new(
        &config.daemon.user_agent,
        crate::sources::HttpSettings::default(),
    )?;
    let net = crate::reply::client(cfg, &http).map_err(|e| anyhow::anyhow!("{e}"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match rt.block_on(net.verify()) {
        Ok(who) => {
            let limit = net.limit();
            println!(
                "{}: ok, replies go out as {who} ({} {} at most); nothing was posted",
                cfg.name(),
                limit.max,
                limit.unit
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}: the credentials do not work: {e}", cfg.name());
            Ok(ExitCode::FAILURE)
        }
    }
}
