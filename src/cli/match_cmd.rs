//! `overhear match`: try a brand query on texts from stdin, one per line.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use crate::matcher::{BrandConfig, Matcher, MatcherError};
use crate::post::Post;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The query to try (see docs/queries.md), e.g. '"acme corp" OR #acme'.
    #[arg(required_unless_present = "brand", conflicts_with = "brand")]
    pub query: Option<String>,
    /// Use the queries of this configured brand instead (from --config).
    #[arg(long, value_name = "NAME")]
    pub brand: Option<String>,
    /// One JSON object per line: {"line", "matched", "terms": [{"term","field","start","end"}]}.
    #[arg(long)]
    pub json: bool,
}

/// Exit codes: 0 some line matched, 1 none did, 2 the query (or brand) is wrong.
pub fn run(args: Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    let brand = match (&args.query, &args.brand) {
        (Some(q), _) => {
            if let Err((column, message)) = crate::matcher::validate_query(q) {
                eprintln!("error: column {column}: {message}");
                eprintln!("  {q}");
                let pad: String = q
                    .chars()
                    .take(column.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                eprintln!("  {pad}^");
                return Ok(ExitCode::from(2));
            }
            BrandConfig::from_query("query", q)
        }
        (None, Some(name)) => {
            let config = match global.load_config() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return Ok(ExitCode::from(2));
                }
            };
            match config.brands.iter().find(|b| b.name == *name) {
                Some(b) => b.clone(),
                None => {
                    let known: Vec<&str> = config.brands.iter().map(|b| b.name.as_str()).collect();
                    eprintln!(
                        "error: no brand {name:?} in the config (brands: {})",
                        known.join(", ")
                    );
                    return Ok(ExitCode::from(2));
                }
            }
        }
        (None, None) => anyhow::bail!("give a query, or --brand NAME"),
    };
    let matcher = match Matcher::compile(std::slice::from_ref(&brand)) {
        Ok(m) => m,
        Err(e @ (MatcherError::Query { .. } | MatcherError::NoQuery { .. })) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.into()),
    };

    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut any = false;
    for (i, line) in stdin.lock().lines().enumerate() {
        let line = line?;
        let n = i + 1;
        let post = Post {
            rating: None,
            owned_by: None,
            id: format!("stdin:{n}"),
            url: String::new(),
            author: None,
            title: None,
            text: line,
            created_at: chrono::Utc::now(),
            created_at_is_first_seen: true,
            source: "stdin".into(),
            source_name: "stdin".into(),
            site: String::new(),
            parent_id: None,
            thread_id: None,
            engagement: None,
            lang: None,
            links: Vec::new(),
        };
        let found = matcher.match_post(&post);
        let matched = !found.is_empty();
        any |= matched;
        let terms: Vec<_> = found.into_iter().flat_map(|b| b.terms).collect();
        if args.json {
            let v = serde_json::json!({ "line": n, "matched": matched, "terms": terms });
            writeln!(out, "{v}")?;
        } else if matched {
            let shown: Vec<String> = terms
                .iter()
                .map(|t| {
                    let what = post.text.get(t.start..t.end).unwrap_or("");
                    format!("{} {:?} at {}..{}", t.term, what, t.start, t.end)
                })
                .collect();
            writeln!(out, "{n}: match: {}", shown.join(", "))?;
        } else {
            writeln!(out, "{n}: no match")?;
        }
    }
    out.flush()?;
    Ok(if any {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
