//! Emails from outbox entries: a subject and plain-text and HTML parts, rendered by
//! minijinja templates (the HTML ones auto-escape everything that comes from a post).

use minijinja::{context, Environment};
use serde::Serialize;

use super::item::{MentionAlert, OutboxEntry, Payload, Summary};
use super::AlertError;
use crate::post::Field;

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Longest quoted post text, in bytes.
const MAX_QUOTE: usize = 3000;

/// Makes text safe for a header: control characters (CR, LF, tab...) become spaces,
/// runs of whitespace collapse, and it is cut to `max` characters.
pub fn header_safe(text: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.chars().count() > max {
        out = out.chars().take(max.saturating_sub(1)).collect::<String>();
        out.push('…');
    }
    out
}

/// A piece of quoted text, highlighted or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub text: String,
    pub hl: bool,
}

/// Splits `text` into highlighted and plain segments from byte spans; spans out of
/// range or not on character boundaries are ignored, overlapping ones merged.
pub fn segments(text: &str, spans: &[(usize, usize)]) -> Vec<Segment> {
    let mut spans: Vec<(usize, usize)> = spans
        .iter()
        .copied()
        .filter(|&(s, e)| {
            s < e && e <= text.len() && text.is_char_boundary(s) && text.is_char_boundary(e)
        })
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    let mut out = Vec::new();
    let mut pos = 0;
    for (s, e) in merged {
        if s > pos {
            out.push(Segment {
                text: text[pos..s].to_string(),
                hl: false,
            });
        }
        out.push(Segment {
            text: text[s..e].to_string(),
            hl: true,
        });
        pos = e;
    }
    if pos < text.len() {
        out.push(Segment {
            text: text[pos..].to_string(),
            hl: false,
        });
    }
    out
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Splits segments into lines at newlines (for quoting).
fn lines(segs: Vec<Segment>) -> Vec<Vec<Segment>> {
    let mut out: Vec<Vec<Segment>> = vec![Vec::new()];
    for s in segs {
        let mut parts = s.text.split('\n').peekable();
        while let Some(p) = parts.next() {
            if !p.is_empty() {
                if let Some(line) = out.last_mut() {
                    line.push(Segment {
                        text: p.trim_end_matches('\r').to_string(),
                        hl: s.hl,
                    });
                }
            }
            if parts.peek().is_some() {
                out.push(Vec::new());
            }
        }
    }
    out
}

#[derive(Serialize)]
struct Prob {
    label: String,
    pct: String,
}

#[derive(Serialize)]
struct MentionView {
    brand: String,
    label: String,
    source: String,
    site: String,
    title_segments: Vec<Segment>,
    quote_lines: Vec<Vec<Segment>>,
    author: String,
    when: String,
    engagement: String,
    url: String,
    safe_url: bool,
    probabilities: Vec<Prob>,
    reason: String,
}

fn mention_view(a: &MentionAlert) -> MentionView {
    let m = &a.mention;
    let p = &m.post;
    let spans = |field: Field| -> Vec<(usize, usize)> {
        m.brands
            .iter()
            .filter(|b| b.brand.eq_ignore_ascii_case(&a.brand))
            .flat_map(|b| b.terms.iter())
            .filter(|t| t.field == field)
            .map(|t| (t.start, t.end))
            .collect()
    };
    let cut = floor_boundary(&p.text, MAX_QUOTE);
    let mut text_segs = segments(&p.text[..cut], &spans(Field::Text));
    if cut < p.text.len() {
        text_segs.push(Segment {
            text: " […]".into(),
            hl: false,
        });
    }
    // a title is one line: CR, LF and tabs become spaces (same byte length, so the spans hold)
    let title_segments = p
        .title
        .as_deref()
        .map(|t| segments(&t.replace(['\r', '\n', '\t'], " "), &spans(Field::Title)))
        .unwrap_or_default();
    let probabilities = m
        .sentiment
        .as_ref()
        .map(|s| {
            s.scores
                .iter()
                .map(|(l, v)| Prob {
                    label: l.clone(),
                    pct: format!("{:.1}", v * 100.0),
                })
                .collect()
        })
        .unwrap_or_default();
    MentionView {
        brand: a.brand.clone(),
        label: a.label.clone(),
        source: if p.source_name.is_empty() || p.source_name == p.source {
            p.source.clone()
        } else {
            format!("{} / {}", p.source, p.source_name)
        },
        site: p.site.clone(),
        title_segments,
        quote_lines: lines(text_segs),
        author: p.author.clone().unwrap_or_else(|| "(unknown)".into()),
        when: format!(
            "{}{}",
            p.created_at.format("%Y-%m-%d %H:%M UTC"),
            if p.created_at_is_first_seen {
                " (first seen)"
            } else {
                ""
            }
        ),
        engagement: p.engagement.map_or_else(|| "n/a".into(), |e| e.to_string()),
        url: p.url.clone(),
        safe_url: p.url.starts_with("https://") || p.url.starts_with("http://"),
        probabilities,
        reason: a.reason.clone(),
    }
}

#[derive(Serialize)]
struct Section {
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
    let what = p
        .title
        .clone()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| p.text.clone());
    format!(
        "{} ({} by {}, engagement {}): {}",
        header_safe(&what, 120),
        p.source,
        p.author.as_deref().unwrap_or("unknown"),
        p.engagement.map_or_else(|| "n/a".into(), |e| e.to_string()),
        p.url
    )
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

/// Renders outbox entries into emails.
pub struct Renderer {
    env: Environment<'static>,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer {
    pub fn new() -> Self {
        let mut env = Environment::new();
        // `.html` templates auto-escape (minijinja's default for that extension).
        for (name, src) in [
            ("mentions.txt", include_str!("templates/mentions.txt")),
            ("mentions.html", include_str!("templates/mentions.html")),
            ("notice.txt", include_str!("templates/notice.txt")),
            ("notice.html", include_str!("templates/notice.html")),
        ] {
            // The templates are compiled in; a syntax error is caught by the tests.
            let _ = env.add_template(name, src);
        }
        Renderer { env }
    }

    fn both(&self, base: &str, ctx: minijinja::Value) -> Result<(String, String), AlertError> {
        let r = |name: String| -> Result<String, AlertError> {
            Ok(self.env.get_template(&name)?.render(&ctx)?)
        };
        Ok((r(format!("{base}.txt"))?, r(format!("{base}.html"))?))
    }

    /// One email from entries for the same recipient (one alert, a batch or a digest).
    pub fn render(&self, entries: &[OutboxEntry]) -> Result<Rendered, AlertError> {
        let first = entries
            .first()
            .ok_or_else(|| AlertError::Render("nothing to render".into()))?;
        let brand = first.item.brand.clone().unwrap_or_default();
        let alerts: Vec<&MentionAlert> = entries
            .iter()
            .filter_map(|e| match &e.item.payload {
                Payload::Mention(a) => Some(a.as_ref()),
                _ => None,
            })
            .collect();
        let is_digest = entries
            .iter()
            .any(|e| e.delivery() == super::Delivery::Digest);
        match &first.item.payload {
            Payload::Mention(_) | Payload::DigestTick { .. } => {
                let views: Vec<MentionView> = alerts.iter().map(|a| mention_view(a)).collect();
                let subject = if is_digest {
                    format!(
                        "[overhear] {brand} digest: {} mention{}",
                        alerts.len(),
                        if alerts.len() == 1 { "" } else { "s" }
                    )
                } else if let [a] = alerts.as_slice() {
                    let p = &a.mention.post;
                    let what = p
                        .title
                        .clone()
                        .filter(|t| !t.is_empty())
                        .unwrap_or_else(|| p.text.clone());
                    format!(
                        "[overhear] {brand}: {} mention on {}: {}",
                        a.label,
                        p.source,
                        header_safe(&what, 80)
                    )
                } else {
                    let mut sources: Vec<&str> = alerts
                        .iter()
                        .map(|a| a.mention.post.source.as_str())
                        .collect();
                    sources.sort_unstable();
                    sources.dedup();
                    let mut labels: Vec<&str> = alerts.iter().map(|a| a.label.as_str()).collect();
                    labels.sort_unstable();
                    labels.dedup();
                    format!(
                        "[overhear] {brand}: {} {} mentions on {}",
                        alerts.len(),
                        labels.join("/"),
                        sources.join(", ")
                    )
                };
                let subject = header_safe(&subject, 200);
                let heading = if is_digest {
                    format!("{brand}: {} mention(s) since the last digest", alerts.len())
                } else {
                    format!("{brand}: {} mention(s) that need an answer", alerts.len())
                };
                let (text, html) = self.both(
                    "mentions",
                    context! { subject => &subject, heading, mentions => views },
                )?;
                Ok(Rendered {
                    subject,
                    text,
                    html,
                })
            }
            Payload::Summary(s) => {
                let (lines, sections) = summary_sections(s);
                let subject = header_safe(
                    &format!(
                        "[overhear] {} {} summary: {} mentions, {} negative",
                        s.brand,
                        s.period,
                        s.current.total,
                        s.current.count("negative")
                    ),
                    200,
                );
                let heading = format!("{} {} summary", s.brand, s.period);
                let (text, html) = self.both(
                    "notice",
                    context! { subject => &subject, heading, lines, sections },
                )?;
                Ok(Rendered {
                    subject,
                    text,
                    html,
                })
            }
            Payload::Spike(s) => {
                let subject = header_safe(
                    &format!(
                        "[overhear] {}: spike of negative mentions ({} in the last hour, usually {:.1})",
                        s.brand, s.last_hour, s.baseline_per_hour
                    ),
                    200,
                );
                let lines = vec![
                    format!("{} negative mentions of {} in the last hour.", s.last_hour, s.brand),
                    format!(
                        "The usual rate is {:.1} an hour; this alert fires at {:.1}x the usual rate.",
                        s.baseline_per_hour, s.factor
                    ),
                ];
                let heading = format!("Spike of negative mentions: {}", s.brand);
                let (text, html) =
                    self.both("notice", context! { subject => &subject, heading, lines, sections => Vec::<Section>::new() })?;
                Ok(Rendered {
                    subject,
                    text,
                    html,
                })
            }
            Payload::DeliveryFailed(f) => {
                let subject = header_safe(
                    &format!("[overhear] an alert to {} could not be delivered", f.to),
                    200,
                );
                let lines = vec![
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
                ];
                let heading = "Alert not delivered".to_string();
                let (text, html) = self.both(
                    "notice",
                    context! { subject => &subject, heading, lines, sections => Vec::<Section>::new() },
                )?;
                Ok(Rendered {
                    subject,
                    text,
                    html,
                })
            }
            Payload::SourceHealth(h) => {
                let subject = header_safe(
                    &format!(
                        "[overhear] source {} failing since {}",
                        h.source,
                        h.failing_since.format("%Y-%m-%d %H:%M UTC")
                    ),
                    200,
                );
                let lines = vec![
                    format!(
                        "The source {} has failed every poll since {}.",
                        h.source,
                        h.failing_since.format("%Y-%m-%d %H:%M UTC")
                    ),
                    format!("Last error: {}", h.last_error),
                    "Mentions from this source are not being collected until it recovers.".into(),
                ];
                let heading = format!("Source failing: {}", h.source);
                let (text, html) =
                    self.both("notice", context! { subject => &subject, heading, lines, sections => Vec::<Section>::new() })?;
                Ok(Rendered {
                    subject,
                    text,
                    html,
                })
            }
        }
    }

    /// The `overhear test-email` message.
    pub fn test_message(&self, transport: &str) -> Result<Rendered, AlertError> {
        let subject = "[overhear] test email".to_string();
        let lines = vec![
            "This is a test email from overhear.".to_string(),
            format!(
                "It was sent through the {transport} transport; alerts will arrive the same way."
            ),
        ];
        let (text, html) = self.both(
            "notice",
            context! { subject => &subject, heading => "overhear test email", lines, sections => Vec::<Section>::new() },
        )?;
        Ok(Rendered {
            subject,
            text,
            html,
        })
    }
}
