//! `overhear classify`: sentiment of texts given as arguments or one per line on stdin.
//!
//! Loads the model and prints; never opens the database or talks to the daemon.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;

use crate::classifier::{Classifier, Prediction, ScoreMap};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Texts to classify; with none, one text per line is read from stdin.
    pub texts: Vec<String>,
    /// Model directory (default: the config's [model] path).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// One JSON object per line: {"text", "label", "scores"}.
    #[arg(long)]
    pub json: bool,
    /// Number format to compute in (default: the config's [model] precision).
    #[arg(long, value_enum)]
    pub precision: Option<crate::classifier::Precision>,
}

#[derive(Serialize)]
struct Line<'a> {
    text: &'a str,
    label: &'a str,
    scores: ScoreMap<'a>,
}

/// Lines read from stdin are classified this many at a time, so output streams.
const CHUNK: usize = 256;

pub fn run(args: Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    let mut cfg = super::model_config(global, args.model.as_deref())?;
    if let Some(p) = args.precision {
        cfg.precision = p;
    }
    let classifier = crate::classifier::load(&cfg)
        .with_context(|| format!("cannot load the model from {}", cfg.path.display()))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if !args.texts.is_empty() {
        emit(&classifier, &args.texts, args.json, &mut out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("reading texts from stdin, one per line (Ctrl-D to end)");
    }
    let mut chunk = Vec::with_capacity(CHUNK);
    for line in stdin.lock().lines() {
        let line = line.context("cannot read stdin")?;
        chunk.push(line);
        if chunk.len() == CHUNK {
            emit(&classifier, &chunk, args.json, &mut out)?;
            chunk.clear();
        }
    }
    emit(&classifier, &chunk, args.json, &mut out)?;
    Ok(ExitCode::SUCCESS)
}

fn emit(
    classifier: &Classifier,
    texts: &[String],
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if texts.is_empty() {
        return Ok(());
    }
    let predictions = classifier.classify(texts)?;
    for (text, p) in texts.iter().zip(&predictions) {
        if json {
            let line = Line {
                text,
                label: &p.label,
                scores: ScoreMap(&p.scores),
            };
            serde_json::to_writer(&mut *out, &line)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", human(text, p))?;
        }
    }
    out.flush()?;
    Ok(())
}

fn human(text: &str, p: &Prediction) -> String {
    let scores: Vec<String> = p
        .scores
        .iter()
        .map(|(l, s)| format!("{l} {s:.2}"))
        .collect();
    format!("{:<8}  [{}]  {}", p.label, scores.join(", "), text)
}
