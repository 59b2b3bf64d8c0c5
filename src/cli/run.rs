//! `overhear run`: the daemon. Until the pipeline lands, it checks the config, loads
//! the model and classifies the sample posts in config/sample-posts.txt.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sample posts to classify.
    #[arg(long, default_value = "config/sample-posts.txt")]
    pub samples: PathBuf,
}

pub fn run(args: Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    let config = global.load_config()?;
    let classifier = crate::classifier::load(&config.model)
        .with_context(|| format!("cannot load the model from {}", config.model.path.display()))?;
    tracing::info!(model = classifier.id(), "model loaded");
    let text = std::fs::read_to_string(&args.samples)
        .with_context(|| format!("cannot read {}", args.samples.display()))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    for (line, p) in lines.iter().zip(classifier.classify(&lines)?) {
        println!(
            "{:<8} {:.2}  {line}",
            p.label,
            p.score(&p.label).unwrap_or(0.0)
        );
    }
    Ok(ExitCode::SUCCESS)
}
