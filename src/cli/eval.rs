//! `overhear eval --data FILE.tsv`: how well the classifier does on labelled data.
//! `overhear eval --feedback`: how well it does on the team's own judgements (the
//! alerts they answered, and those they dismissed as not negative), per brand.
//!
//! Reads the file it is given and the model, or the triaged mentions (through the
//! daemon's API when it runs); never writes anything but its report.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::classifier::eval::{parse_tsv, report, Figures, Report};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// TSV with a header row and columns source, label (negative/neutral/positive), text.
    #[arg(long, value_name = "FILE.tsv", required_unless_present = "feedback")]
    pub data: Option<PathBuf>,
    /// Judge the model by the team's corrections instead: alert precision per brand
    /// and the threshold that would have kept it at --target.
    #[arg(long, conflicts_with = "data")]
    pub feedback: bool,
    /// With --feedback: the precision to keep (default 0.90).
    #[arg(long, default_value_t = 0.90)]
    pub target: f64,
    /// Model directory (default: the config's [model] path).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Alert threshold for the alert figures (default: the config's alert_threshold).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Number format to compute in (default: the config's [model] precision).
    #[arg(long, value_enum)]
    pub precision: Option<crate::classifier::Precision>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

fn feedback(args: &Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    use crate::classifier::feedback::{judgements, precision_by_brand, triaged_filters};
    let reader = super::mentions::reader(global)?;
    let mut triaged = Vec::new();
    for f in triaged_filters(None) {
        triaged.extend(reader.list(&f)?);
    }
    let r = precision_by_brand(&judgements(&triaged), args.target);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    if r.is_empty() {
        println!("no judgements yet: answer (ack/resolve) or dismiss --reason not-negative some alerted mentions first");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<20} {:>7} {:>9} {:>9} {:>9} {:>14}",
        "brand",
        "judged",
        "answered",
        "corrected",
        "precision",
        format!("thr@{:.2}", args.target)
    );
    for b in &r {
        println!(
            "{:<20} {:>7} {:>9} {:>9} {:>9} {:>14}",
            b.brand,
            b.judged,
            b.confirmed,
            b.corrected,
            pct(b.precision),
            b.threshold_for_target
                .map_or("-".into(), |t| format!("{t:.2}"))
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(args: Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    if args.feedback {
        return feedback(&args, global);
    }
    let Some(data) = args.data.clone() else {
        anyhow::bail!("give --data FILE.tsv, or --feedback");
    };
    let mut cfg = super::model_config(global, args.model.as_deref())?;
    if let Some(p) = args.precision {
        cfg.precision = p;
    }
    let threshold = args.threshold.unwrap_or(f64::from(cfg.alert_threshold));
    let text = std::fs::read_to_string(&data)
        .with_context(|| format!("cannot read {}", data.display()))?;
    let rows = parse_tsv(&text).map_err(|e| anyhow::anyhow!("{}: {e}", data.display()))?;
    let classifier = crate::classifier::load(&cfg)
        .with_context(|| format!("cannot load the model from {}", cfg.path.display()))?;
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(rows.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut preds = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(256) {
        let texts: Vec<&str> = chunk.iter().map(|r| r.text.as_str()).collect();
        preds.extend(classifier.classify(&texts)?);
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let r = report(&rows, &preds, threshold, classifier.temperature());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print_tables(&r, &classifier.id());
    }
    Ok(ExitCode::SUCCESS)
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.3}", v))
}

fn print_tables(r: &Report, model: &str) {
    println!("model {model}, alert threshold {:.2}", r.threshold);
    match r.ece_uncalibrated {
        Some(before) => println!(
            "calibrated at temperature {}: ece {:.3} (uncalibrated {:.3})\n",
            r.temperature, r.overall.ece, before
        ),
        None => println!("not calibrated (no calibration.json)\n"),
    }
    println!(
        "{:<18} {:>6} {:>9} {:>9} {:>8} {:>10} {:>8} {:>6}",
        "source", "n", "accuracy3", "macro_f1", "binary", "alert_prec", "alert_rec", "ece"
    );
    let line = |name: &str, f: &Figures| {
        println!(
            "{:<18} {:>6} {:>9.3} {:>9.3} {:>8} {:>10} {:>8} {:>6.3}",
            name,
            f.n,
            f.accuracy3,
            f.macro_f1,
            pct(f.binary_accuracy),
            pct(f.alert_precision),
            pct(f.alert_recall),
            f.ece
        );
    };
    for (s, f) in &r.by_source {
        line(s, f);
    }
    line("overall", &r.overall);
    println!("\nalert decision (label negative and P(negative) >= threshold):");
    println!("{:>9} {:>9} {:>7}", "threshold", "precision", "recall");
    for t in &r.thresholds {
        println!(
            "{:>9.2} {:>9} {:>7}",
            t.threshold,
            pct(t.precision),
            pct(t.recall)
        );
    }
}
