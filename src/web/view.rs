//! What the pages show of a mention: plain values for the templates (which escape
//! them), with the matched terms as highlighted segments.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::alerts::render::{segments, Segment};
use crate::alerts::webhook::chat::{age, reply_label, source_title};
use crate::matcher::OWNED_CHANNEL;
use crate::post::Field;
use crate::store::StoredMention;

/// The longest text a row quotes, in bytes.
const ROW_TEXT: usize = 320;

#[derive(Debug, Serialize)]
pub struct Score {
    pub label: String,
    pub pct: String,
}

#[derive(Debug, Serialize)]
pub struct HistoryLine {
    pub at: String,
    pub age: String,
    pub by: String,
    pub via: String,
    pub from: String,
    pub to: String,
    pub note: Option<String>,
    pub reason: Option<String>,
}

/// One mention, as a row of the inbox and as the mention page.
#[derive(Debug, Serialize)]
pub struct MentionView {
    pub id: String,
    pub brands: Vec<String>,
    pub label: String,
    /// "94%" of the label, "" when unclassified.
    pub pct: String,
    pub source: String,
    pub site: String,
    pub author: String,
    pub age: String,
    pub when: String,
    pub title: Vec<Segment>,
    /// The text, cut for a row (`cut`), whole for the page.
    pub text: Vec<Segment>,
    pub cut: bool,
    pub url: Option<String>,
    /// "Reply on Hacker News", "Read it on the App Store".
    pub reply_label: String,
    /// Where the brand answers instead, for posts with no public thread.
    pub answer_elsewhere: Option<&'static str>,
    /// `★☆☆☆☆` for a review's rating.
    pub rating: Option<String>,
    pub thread_url: Option<String>,
    pub status: String,
    /// Still `new` past its brand's `escalate_after` (set by the page, from the rules).
    pub overdue: bool,
    pub assignee: Option<String>,
    pub note: Option<String>,
    pub reason: Option<String>,
    pub terms: Vec<String>,
    pub scores: Vec<Score>,
    pub history: Vec<HistoryLine>,
    /// The brand's public answer (the thread watch): who, how long after the post,
    /// and where.
    pub answered: Option<Answered>,
    /// The post was deleted (its thread answered 404).
    pub gone: bool,
}

#[derive(Debug, Serialize)]
pub struct Answered {
    pub by: String,
    /// "40 min after the post".
    pub after: String,
    pub url: Option<String>,
}

fn floor(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn http(url: &str) -> Option<String> {
    (url.starts_with("https://") || url.starts_with("http://")).then(|| url.to_string())
}

/// The thread's page on sites whose thread ids are URLs' ids.
fn thread_url(m: &StoredMention) -> Option<String> {
    let p = &m.mention.post;
    let thread = p.thread_id.as_deref()?;
    let id = thread.rsplit(':').next().unwrap_or(thread);
    match p.source.as_str() {
        "hackernews" => Some(format!("https://news.ycombinator.com/item?id={id}")),
        _ => http(thread),
    }
}

impl MentionView {
    /// `whole`: the full text (the mention page), else a row's excerpt.
    pub fn of(m: &StoredMention, now: DateTime<Utc>, whole: bool) -> MentionView {
        let p = &m.mention.post;
        let spans = |field: Field| m.mention.term_spans(None, field);
        let cut = if whole {
            p.text.len()
        } else {
            floor(&p.text, ROW_TEXT)
        };
        let mut terms: Vec<String> = m
            .mention
            .brands
            .iter()
            .flat_map(|b| b.terms.iter().map(|t| t.term.clone()))
            .collect();
        terms.sort();
        terms.dedup();
        if m.mention.brands.iter().any(|b| b.query == OWNED_CHANNEL) {
            terms.push(OWNED_CHANNEL.to_string());
        }
        let (label, pct, scores) = match &m.mention.sentiment {
            Some(s) => (
                s.label.clone(),
                s.score(&s.label)
                    .map_or(String::new(), |p| format!("{:.0}%", p * 100.0)),
                s.scores
                    .iter()
                    .map(|(l, v)| Score {
                        label: l.clone(),
                        pct: format!("{:.1}%", v * 100.0),
                    })
                    .collect(),
            ),
            None => ("unclassified".to_string(), String::new(), Vec::new()),
        };
        let t = &m.triage;
        MentionView {
            id: m.id.clone(),
            brands: {
                let mut b: Vec<String> = m.mention.brands.iter().map(|b| b.brand.clone()).collect();
                b.dedup();
                b
            },
            label,
            pct,
            source: source_title(&p.source, &p.site),
            site: p.site.clone(),
            author: p.author.clone().unwrap_or_default(),
            age: age(p.created_at, now),
            when: p.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            title: p
                .title
                .as_deref()
                .map(|x| segments(&x.replace(['\r', '\n', '\t'], " "), &spans(Field::Title)))
                .unwrap_or_default(),
            text: segments(&p.text[..cut], &spans(Field::Text)),
            cut: cut < p.text.len(),
            url: http(&p.reply_page()),
            reply_label: reply_label(&p.source, &p.site),
            answer_elsewhere: crate::post::answer_elsewhere(&p.source),
            rating: p.stars(),
            thread_url: thread_url(m),
            overdue: false,
            answered: m.answer.answered_at.map(|at| Answered {
                by: m.answer.answered_by.clone().unwrap_or_default(),
                after: format!(
                    "{} after the post",
                    crate::util::pretty_secs((at - p.created_at).num_seconds() as f64)
                ),
                url: m.answer.answer_url.as_deref().and_then(http),
            }),
            gone: m.answer.thread_gone_at.is_some(),
            status: t.status.as_str().to_string(),
            assignee: t.assignee.clone(),
            note: t.note.clone(),
            reason: t.reason.map(|r| r.as_str().to_string()),
            terms,
            scores,
            history: t
                .history
                .iter()
                .rev()
                .map(|c| HistoryLine {
                    at: c.at.format("%Y-%m-%d %H:%M UTC").to_string(),
                    age: age(c.at, now),
                    by: c.by.clone(),
                    via: c.via.to_string(),
                    from: c.from.as_str().to_string(),
                    to: c.to.as_str().to_string(),
                    note: c.note.clone(),
                    reason: c.reason.map(|r| r.as_str().to_string()),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answered_mention_says_by_whom_and_how_soon() {
        let now = Utc::now();
        let mut p = crate::matcher::tests::post("acme broke my order");
        p.created_at = now - chrono::Duration::hours(2);
        let m = StoredMention {
            id: "0123456789abcdef".into(),
            mention: crate::post::Mention {
                post: p,
                brands: vec![],
                sentiment: None,
                first_seen: now,
                updated_at: None,
            },
            alerted_at: None,
            triage: Default::default(),
            answer: crate::store::Answer {
                answered_at: Some(now - chrono::Duration::minutes(80)),
                answered_by: Some("hackernews:acme_support".into()),
                answer_url: Some("javascript:alert(1)".into()),
                thread_gone_at: None,
            },
        };
        let v = MentionView::of(&m, now, false);
        let a = v.answered.unwrap();
        assert_eq!(a.by, "hackernews:acme_support");
        assert_eq!(a.after, "40 min after the post");
        assert_eq!(a.url, None, "only http(s) links are shown");
        assert!(!v.gone);
    }

    #[test]
    fn a_review_from_an_owned_channel_shows_its_stars_why_and_where_to_answer() {
        let now = Utc::now();
        let mut p = crate::matcher::tests::post("the app logs me out every day");
        p.source = "appstore".into();
        p.rating = Some(2);
        p.owned_by = Some("Acme".into());
        let m = StoredMention {
            id: "0123456789abcdef".into(),
            mention: crate::post::Mention {
                post: p,
                brands: vec![crate::post::BrandMatch {
                    brand: "Acme".into(),
                    query: OWNED_CHANNEL.into(),
                    terms: vec![],
                }],
                sentiment: None,
                first_seen: now,
                updated_at: None,
            },
            alerted_at: None,
            triage: Default::default(),
            answer: Default::default(),
        };
        let v = MentionView::of(&m, now, true);
        assert_eq!(v.terms, ["owned channel"]);
        assert_eq!(v.rating.as_deref(), Some("★★☆☆☆"));
        assert_eq!(v.reply_label, "Read it on the App Store");
        assert!(v
            .answer_elsewhere
            .is_some_and(|a| a.contains("App Store Connect")));
    }
}
