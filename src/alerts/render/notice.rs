//! The `notice` template's content for every email that is not about mentions:
//! summaries, spikes, failing sources, undeliverable alerts and the test email. Each
//! is a [`Notice`]: a subject, a heading, lines and titled sections.
//!
//! Builds values only: never renders (the `Renderer` does, and makes the subject
//! header-safe) and never reads the store: a summary's counts come in its payload.

use serde::Serialize;

use super::text::{header_safe, title_or_text};
use crate::alerts::item::{DeliveryFailed, SourceHealth, Spike, Summary};

/// What a notice email says.
pub(super) struct Notice {
    pub subject: String,
    pub heading: String,
    pub lines: Vec<String>,
    pub sections: Vec<Section>,
}

impl Notice {
    /// The notice as plain strings, for chat messages (each format escapes them).
    pub(super) fn plain(self) -> super::PlainNotice {
        super::PlainNotice {
            title: self.heading,
            lines: self.lines,
            sections: self
                .sections
                .into_iter()
                .map(|s| (s.title, s.lines))
                .collect(),
        }
    }
}

#[derive(Serialize)]
pub(super) struct Section {
    title: String,
    lines: Vec<String>,
}

fn change(cur: u64, prev: u64) -> String {
    if prev == 0 {
        if cur == 0 {
            "no change".into()
        } else {
            "new".into()
        }
    } else {
        let pct = (cur as f64 - prev as f64) / prev as f64 * 100.0;
        format!("{pct:+.0}%")
    }
}

fn mention_line(m: &crate::post::Mention) -> String {
    let p = &m.post;
    let what = title_or_text(p);
    format!(
        "{} ({} by {}, engagement {}): {}",
        header_safe(&what, 120),
        p.source,
        p.author.as_deref().unwrap_or("unknown"),
        p.engagement.map_or_else(|| "n/a".into(), |e| e.to_string()),
        p.url
    )
}

/// The "answered in public" lines of a summary, against the previous period.
fn answered_lines(s: &Summary) -> Vec<String> {
    let Some(a) = &s.answered else {
        return vec!["Not watched: list the brand's own `accounts` in its [[brand]] entry and overhear checks whether it answered each negative post in public.".into()];
    };
    let share = |n: u64, of: u64| {
        if of == 0 {
            "-".to_string()
        } else {
            format!("{:.0}%", n as f64 * 100.0 / of as f64)
        }
    };
    let time = |t: Option<f64>| t.map_or("-".to_string(), crate::util::pretty_secs);
    let (c, p) = (&a.current, &a.previous);
    vec![
        format!(
            "{} of {} negative mentions answered ({}; the previous period: {} of {}, {}).",
            c.answered,
            c.negatives,
            share(c.answered, c.negatives),
            p.answered,
            p.negatives,
            share(p.answered, p.negatives)
        ),
        format!(
            "Within 1 h: {} (previously {}); within 24 h: {} (previously {}).",
            share(c.within_1h, c.negatives),
            share(p.within_1h, p.negatives),
            share(c.within_24h, c.negatives),
            share(p.within_24h, p.negatives)
        ),
        format!(
            "Time to the first answer: median {}, 90th percentile {} (previously {}, {}).",
            time(c.median_secs),
            time(c.p90_secs),
            time(p.median_secs),
            time(p.p90_secs)
        ),
    ]
}

fn summary_sections(s: &Summary) -> (Vec<String>, Vec<Section>) {
    let neg = s.current.count("negative");
    let lines = vec![
        format!(
            "{} to {}: {} mentions ({} the previous period: {}).",
            s.start.format("%Y-%m-%d %H:%M UTC"),
            s.end.format("%Y-%m-%d %H:%M UTC"),
            s.current.total,
            s.previous.total,
            change(s.current.total, s.previous.total)
        ),
        format!(
            "{} negative ({} the previous period: {}).",
            neg,
            s.previous.count("negative"),
            change(neg, s.previous.count("negative"))
        ),
    ];
    let mut by_sentiment: Vec<String> = s
        .current
        .by_sentiment
        .iter()
        .map(|(l, n)| format!("{l}: {n} ({})", change(*n, s.previous.count(l))))
        .collect();
    for (l, n) in &s.previous.by_sentiment {
        if s.current.count(l) == 0 {
            by_sentiment.push(format!("{l}: 0 (was {n})"));
        }
    }
    let sections = vec![
        Section {
            title: "By sentiment".into(),
            lines: by_sentiment,
        },
        Section {
            title: "By source".into(),
            lines: s
                .current
                .by_source
                .iter()
                .map(|(l, n)| format!("{l}: {n}"))
                .collect(),
        },
        Section {
            title: "Answered in public".into(),
            lines: answered_lines(s),
        },
        Section {
            title: "Most engaged negative mentions".into(),
            lines: s.top_negative.iter().map(mention_line).collect(),
        },
        Section {
            title: "Most engaged positive mentions".into(),
            lines: s.top_positive.iter().map(mention_line).collect(),
        },
    ];
    (lines, sections)
}

pub(super) fn summary(s: &Summary) -> Notice {
    let (lines, sections) = summary_sections(s);
    Notice {
        subject: format!(
            "[overhear] {} {} summary: {} mentions, {} negative",
            s.brand,
            s.period,
            s.current.total,
            s.current.count("negative")
        ),
        heading: format!("{} {} summary", s.brand, s.period),
        lines,
        sections,
    }
}

pub(super) fn spike(s: &Spike) -> Notice {
    Notice {
        subject: format!(
            "[overhear] {}: spike of negative mentions ({} in the last hour, usually {:.1})",
            s.brand, s.last_hour, s.baseline_per_hour
        ),
        heading: format!("Spike of negative mentions: {}", s.brand),
        lines: vec![
            format!(
                "{} negative mentions of {} in the last hour.",
                s.last_hour, s.brand
            ),
            format!(
                "The usual rate is {:.1} an hour; this alert fires at {:.1}x the usual rate.",
                s.baseline_per_hour, s.factor
            ),
        ],
        sections: Vec::new(),
    }
}

pub(super) fn delivery_failed(f: &DeliveryFailed) -> Notice {
    Notice {
        subject: format!("[overhear] an alert to {} could not be delivered", f.to),
        heading: "Alert not delivered".to_string(),
        lines: vec![
            format!(
                "overhear gave up delivering an alert{} to {}.",
                f.brand
                    .as_deref()
                    .map(|b| format!(" about {b}"))
                    .unwrap_or_default(),
                f.to
            ),
            format!("Error: {}", f.error),
            format!("Outbox key: {}", f.key),
        ],
        sections: Vec::new(),
    }
}

pub(super) fn source_health(h: &SourceHealth) -> Notice {
    Notice {
        subject: format!(
            "[overhear] source {} failing since {}",
            h.source,
            h.failing_since.format("%Y-%m-%d %H:%M UTC")
        ),
        heading: format!("Source failing: {}", h.source),
        lines: vec![
            format!(
                "The source {} has failed every poll since {}.",
                h.source,
                h.failing_since.format("%Y-%m-%d %H:%M UTC")
            ),
            format!("Last error: {}", h.last_error),
            "Mentions from this source are not being collected until it recovers.".into(),
        ],
        sections: Vec::new(),
    }
}

/// The `overhear test-email` (or `test-webhook`) message.
pub(super) fn test(transport: &str) -> Notice {
    Notice {
        subject: "[overhear] test email".to_string(),
        heading: "overhear test email".to_string(),
        lines: vec![
            "This is a test email from overhear.".to_string(),
            format!(
                "It was sent through the {transport} transport; alerts will arrive the same way."
            ),
        ],
        sections: Vec::new(),
    }
}
