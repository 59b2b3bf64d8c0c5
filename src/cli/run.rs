//! `overhear run`: the daemon, in the foreground, logging to stderr.

use std::process::ExitCode;

use anyhow::Context;

use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    let config = match load(global) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    runtime("overhear")?.block_on(crate::daemon::run(global.config.clone(), config))?;
    Ok(ExitCode::SUCCESS)
}

/// The config of a long-running command; a bad one is printed and exits with 2.
pub(super) fn load(global: &super::Global) -> Result<Config, ExitCode> {
    global.load_config().map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(2)
    })
}

/// The multi-threaded runtime of a long-running command.
pub(super) fn runtime(thread_name: &str) -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(thread_name)
        .build()
        .context("cannot start the async runtime")
}
