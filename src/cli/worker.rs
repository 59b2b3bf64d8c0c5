//! `overhear worker`: one worker of a cluster, in the foreground, logging to stderr.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    if global.config.is_none() {
        eprintln!(
            "overhear worker needs --config FILE with a [cluster] table (nats_url = \"nats://…\")"
        );
        return Ok(ExitCode::from(2));
    }
    let config = match super::run::load(global) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    super::run::runtime("overhear-worker")?.block_on(crate::daemon::worker::run(config))?;
    Ok(ExitCode::SUCCESS)
}
