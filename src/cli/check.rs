//! `overhear check FILE`: validate a config file.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config file to check (default: --config, else the embedded default).
    pub file: Option<PathBuf>,
    /// Also load the model the config names.
    #[arg(long)]
    pub model: bool,
}

pub fn run(args: Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    let path = args.file.or_else(|| global.config.clone());
    let shown = path
        .as_ref()
        .map_or("<embedded default config>".to_string(), |p| {
            p.display().to_string()
        });
    let config = match Config::load_or_default(path.as_deref()) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!(
                "{shown}: {} problem{} found",
                errors.0.len(),
                if errors.0.len() == 1 { "" } else { "s" }
            );
            return Ok(ExitCode::from(2));
        }
    };
    if let Err(e) = crate::daemon::api::exposure(&config.daemon) {
        eprintln!("{shown}: {e}");
        return Ok(ExitCode::from(2));
    }
    if let Some(w) = crate::daemon::api::public_url_warning(&config.daemon) {
        eprintln!("{shown}: warning: {w}");
    }
    // what the daemon reads at start: each webhook's URL and secret
    let mut bad = 0;
    for w in &config.alerts.webhook {
        if let Err(e) = crate::alerts::Webhook::build(w) {
            eprintln!("{shown}: {e}");
            bad += 1;
        }
    }
    // and each reply account's secrets (read, never printed)
    if let Ok(http) = crate::sources::Http::new(
        &config.daemon.user_agent,
        crate::sources::HttpSettings::default(),
    ) {
        for a in &config.reply_accounts {
            if let Err(e) = crate::reply::client(a, &http) {
                eprintln!("{shown}: {e}");
                bad += 1;
            }
        }
    }
    if bad > 0 {
        return Ok(ExitCode::from(2));
    }
    if args.model {
        let c = crate::classifier::load(&config.model)?;
        println!(
            "model {} loaded ({}): labels {:?}",
            c.id(),
            c.precision_summary(),
            c.labels()
        );
    }
    let hooks = config.alerts.webhook.len();
    println!(
        "{shown}: ok ({} brand{}, {} source{}{})",
        config.brands.len(),
        if config.brands.len() == 1 { "" } else { "s" },
        config.sources.len(),
        if config.sources.len() == 1 { "" } else { "s" },
        match hooks {
            0 => String::new(),
            1 => ", 1 webhook".to_string(),
            n => format!(", {n} webhooks"),
        }
    );
    Ok(ExitCode::SUCCESS)
}
