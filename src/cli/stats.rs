//! `overhear stats` (being built).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _global: &super::Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("this subcommand is not built yet")
}
