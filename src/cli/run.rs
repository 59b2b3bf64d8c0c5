//! `overhear run`: the daemon, in the foreground, logging to stderr.

use std::process::ExitCode;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    let config = match global.load_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("overhear")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(crate::daemon::run(global.config.clone(), config))?;
    Ok(ExitCode::SUCCESS)
}
