//! `overhear stats --responses`: how fast the brand answered negative mentions in
//! public, per week, brand and source, and over the whole period.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use super::mentions::{finish, write_columns};
use crate::store::ResponseRow;
use crate::util::pretty_secs;

pub(super) fn print(rows: &[ResponseRow], json: bool) -> anyhow::Result<ExitCode> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    let result = if json {
        serde_json::to_writer_pretty(&mut out, rows)
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(out))
    } else {
        write_table(&mut out, rows)
    };
    finish(result.and_then(|_| out.flush()))
}

fn share(n: u64, of: u64) -> String {
    if of == 0 {
        "-".into()
    } else {
        format!("{:.0}%", n as f64 * 100.0 / of as f64)
    }
}

fn time(t: Option<f64>) -> String {
    t.map_or("-".into(), pretty_secs)
}

fn write_table(out: &mut impl Write, rows: &[ResponseRow]) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(
            out,
            "no negative mentions from sources with threads in that period"
        );
    }
    let header = [
        "WEEK OF (UTC)",
        "BRAND",
        "SOURCE",
        "NEGATIVE",
        "ANSWERED",
        "IN 1 H",
        "IN 24 H",
        "MEDIAN",
        "P90",
    ];
    let mut cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.week.to_string(),
                r.brand.clone(),
                r.source.clone(),
                r.stats.negatives.to_string(),
                format!(
                    "{} ({})",
                    r.stats.answered,
                    share(r.stats.answered, r.stats.negatives)
                ),
                share(r.stats.within_1h, r.stats.negatives),
                share(r.stats.within_24h, r.stats.negatives),
                time(r.stats.median_secs),
                time(r.stats.p90_secs),
            ]
        })
        .collect();
    let (neg, ans, h1, h24) = rows.iter().fold((0, 0, 0, 0), |a, r| {
        (
            a.0 + r.stats.negatives,
            a.1 + r.stats.answered,
            a.2 + r.stats.within_1h,
            a.3 + r.stats.within_24h,
        )
    });
    cells.push(vec![
        "all".into(),
        String::new(),
        String::new(),
        neg.to_string(),
        format!("{ans} ({})", share(ans, neg)),
        share(h1, neg),
        share(h24, neg),
        String::new(),
        String::new(),
    ]);
    write_columns(out, &header, &cells)
}
