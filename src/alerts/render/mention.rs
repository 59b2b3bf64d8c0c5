//! The `mentions` template's view of an alert: the post quoted with the brand's
//! matched terms highlighted, its probabilities and the reason it alerted; and the
//! subject and heading of a single alert, a batch or a digest.
//!
//! Builds values only: never renders or escapes (the templates do), and never puts
//! post text in a subject without [`header_safe`].

use serde::Serialize;

use super::text::{floor_boundary, header_safe, lines, segments, title_or_text, Segment};
use crate::alerts::item::MentionAlert;
use crate::alerts::rules::BACKLOG_SHOWN;
use crate::alerts::webhook::chat::reply_label;
use crate::post::Field;

/// Longest quoted post text, in bytes.
const MAX_QUOTE: usize = 3000;

#[derive(Serialize)]
struct Prob {
    label: String,
    pct: String,
}

#[derive(Serialize)]
struct Link {
    label: String,
    url: String,
}

#[derive(Serialize)]
pub(super) struct MentionView {
    brand: String,
    label: String,
    source: String,
    site: String,
    title_segments: Vec<Segment>,
    quote_lines: Vec<Vec<Segment>>,
    author: String,
    when: String,
    engagement: String,
    /// `★☆☆☆☆` for a review's rating.
    rating: Option<String>,
    /// Where the brand answers instead, for posts with no public thread.
    answer_elsewhere: Option<&'static str>,
    url: String,
    safe_url: bool,
    probabilities: Vec<Prob>,
    reason: String,
    /// "Reply on Hacker News", to the post (http(s) only).
    reply: Option<Link>,
    /// The one-click actions (empty without `[daemon] public_url`).
    actions: Vec<Link>,
}

/// The (label, URL) of the action links of the mention of a post id.
pub(super) type LinksOf<'a> = dyn Fn(&str) -> Vec<(String, String)> + 'a;

fn mention_view(a: &MentionAlert, links: &LinksOf<'_>) -> MentionView {
    let m = &a.mention;
    let p = &m.post;
    let spans = |field: Field| m.term_spans(Some(&a.brand), field);
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
    let safe_url = p.url.starts_with("https://") || p.url.starts_with("http://");
    MentionView {
        reply: safe_url.then(|| Link {
            label: reply_label(&p.source, &p.site),
            url: p.reply_page(),
        }),
        rating: p
            .stars()
            .map(|s| format!("{s} ({} of 5)", p.rating.unwrap_or(0))),
        answer_elsewhere: crate::post::answer_elsewhere(&p.source),
        actions: links(&p.id)
            .into_iter()
            .map(|(label, url)| Link { label, url })
            .collect(),
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
        safe_url,
        probabilities,
        reason: a.reason.clone(),
    }
}

/// The header-safe subject, the heading and the mention views of one email made of
/// `alerts` for `brand` (a digest may have none); `links` gives each mention's
/// action links from its post id.
pub(super) fn email(
    brand: &str,
    alerts: &[&MentionAlert],
    is_digest: bool,
    links: &LinksOf<'_>,
) -> (String, String, Vec<MentionView>) {
    let views: Vec<MentionView> = alerts.iter().map(|a| mention_view(a, links)).collect();
    let subject = if is_digest {
        format!(
            "[overhear] {brand} digest: {} mention{}",
            alerts.len(),
            if alerts.len() == 1 { "" } else { "s" }
        )
    } else if let [a] = alerts {
        let p = &a.mention.post;
        let what = title_or_text(p);
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
    (subject, heading, views)
}

/// The header-safe subject, the heading, the lines under it and the views of one
/// backlog message (`rules::backlog`): how many mentions of each brand and label,
/// and the worst [`BACKLOG_SHOWN`] of them (highest probability first); the rest are
/// in the inbox at `inbox` (`public_url`), when known.
pub(super) fn backlog_email(
    alerts: &[&MentionAlert],
    inbox: Option<&str>,
    links: &LinksOf<'_>,
) -> (String, String, Vec<String>, Vec<MentionView>) {
    let counts = backlog_counts(alerts);
    let n = alerts.len();
    let brands: Vec<&str> =
        counts
            .iter()
            .map(|(b, _, _)| b.as_str())
            .fold(Vec::new(), |mut v, b| {
                if !v.contains(&b) {
                    v.push(b);
                }
                v
            });
    let subject = header_safe(
        &format!(
            "[overhear] {}: {n} earlier mention{} found when overhear started listening",
            brands.join(", "),
            if n == 1 { "" } else { "s" }
        ),
        200,
    );
    let heading = format!(
        "{}: {n} mention{} written before overhear listened",
        brands.join(", "),
        if n == 1 { "" } else { "s" }
    );
    let mut intro: Vec<String> = counts
        .iter()
        .map(|(brand, label, k)| format!("{brand}: {k} {label}"))
        .collect();
    let worst = worst_first(alerts);
    let shown = worst.len().min(BACKLOG_SHOWN);
    intro.push(if shown < n {
        format!(
            "The worst {shown} are below; the other {} are in the inbox{}.",
            n - shown,
            inbox.map(|u| format!(": {u}")).unwrap_or_default()
        )
    } else {
        format!(
            "They are below, and in the inbox{}.",
            inbox.map(|u| format!(": {u}")).unwrap_or_default()
        )
    });
    intro.push(
        "They came with the first poll of a source or brand (or were older than [alerts] max_age), so they are summarised here instead of one alert each; new posts alert as usual."
            .into(),
    );
    let views = worst
        .into_iter()
        .take(BACKLOG_SHOWN)
        .map(|a| mention_view(a, links))
        .collect();
    (subject, heading, intro, views)
}

/// (brand, label, count) of `alerts`, in the order first seen.
pub(crate) fn backlog_counts(alerts: &[&MentionAlert]) -> Vec<(String, String, usize)> {
    let mut counts: Vec<(String, String, usize)> = Vec::new();
    for a in alerts {
        match counts
            .iter_mut()
            .find(|(b, l, _)| *b == a.brand && *l == a.label)
        {
            Some((_, _, k)) => *k += 1,
            None => counts.push((a.brand.clone(), a.label.clone(), 1)),
        }
    }
    counts
}

/// `alerts`, highest probability first (then newest first).
pub(crate) fn worst_first<'a>(alerts: &[&'a MentionAlert]) -> Vec<&'a MentionAlert> {
    let mut v = alerts.to_vec();
    v.sort_by(|a, b| {
        b.probability
            .total_cmp(&a.probability)
            .then(b.mention.post.created_at.cmp(&a.mention.post.created_at))
    });
    v
}
