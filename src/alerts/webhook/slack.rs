//! Slack incoming webhooks: a Block Kit message with a plain `text` fallback.
//!
//! Everything from a post goes through [`escape`] (`&`, `<`, `>`: Slack's control
//! characters, so `<!channel>`, `<@U123>` and `<https://evil|link>` arrive as
//! text) or sits in `plain_text` objects, which Slack never interprets.

use serde_json::{json, Value};

use super::chat::{ChatContent, ChatMention};
use crate::alerts::render::Segment;

/// Slack's mrkdwn escaping.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escaped text with the highlighted segments in bold. A `*` inside a bold term
/// would end the bold early, so it becomes a look-alike there.
fn mrkdwn(segs: &[Segment]) -> String {
    segs.iter()
        .map(|s| {
            let t = escape(&s.text);
            let trimmed = t.trim();
            if s.hl && !trimmed.is_empty() {
                // Slack bolds `*word*` only when the stars touch the word
                t.replace(trimmed, &format!("*{}*", trimmed.replace('*', "\u{2217}")))
            } else {
                t
            }
        })
        .collect()
}

/// Cuts `s` to at most `max` characters (Slack counts characters).
fn cap(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        s
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn plain_text(s: &str, max: usize) -> Value {
    json!({"type": "plain_text", "text": cap(s.to_string(), max), "emoji": false})
}

fn mention_blocks(m: &ChatMention, actions: &[(String, String)]) -> Vec<Value> {
    let mut text = String::new();
    if !m.title.is_empty() {
        // the title in bold, as one run (a bold term inside it would end it early)
        let title = escape(super::chat::plain(&m.title).trim()).replace('*', "\u{2217}");
        text.push_str(&format!("*{title}*\n"));
    }
    let quote = mrkdwn(&m.text);
    let quote = if m.cut {
        format!("{quote} […]")
    } else {
        quote
    };
    // a quote block per line
    for line in quote.lines() {
        text.push_str("&gt; ");
        text.push_str(line);
        text.push('\n');
    }
    let mut context = vec![
        format!("*{}*", escape(&m.sentiment())),
        escape(&m.brand),
        escape(&m.source),
    ];
    if let Some(a) = &m.author {
        context.push(format!("by {}", escape(a)));
    }
    context.push(escape(&m.age));
    let mut buttons = Vec::new();
    if let Some(url) = &m.url {
        buttons.push(json!({
            "type": "button",
            "text": plain_text(&m.reply_label(), 75),
            "url": url,
            "style": "primary",
        }));
    }
    for (label, url) in actions {
        buttons.push(json!({"type": "button", "text": plain_text(label, 75), "url": url}));
    }
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": cap(text, 3000)}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context.join("  ·  ")}]}),
    ];
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    blocks
}

/// The message for `content`; `actions` are extra buttons (label, URL) per mention,
/// in order (the inbox's action links, when there are any).
pub fn message(content: &ChatContent, actions: &[Vec<(String, String)>]) -> Value {
    let mut blocks = Vec::new();
    match content {
        ChatContent::Mentions { heading, items } => {
            blocks.push(json!({"type": "header", "text": plain_text(heading, 150)}));
            if items.is_empty() {
                blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": "No mentions in this digest."}}));
            }
            for (i, m) in items.iter().enumerate() {
                if i > 0 {
                    blocks.push(json!({"type": "divider"}));
                }
                blocks.extend(mention_blocks(
                    m,
                    actions.get(i).map(Vec::as_slice).unwrap_or(&[]),
                ));
            }
        }
        ChatContent::Notice(n) => {
            blocks.push(json!({"type": "header", "text": plain_text(&n.title, 150)}));
            let lines: Vec<String> = n.lines.iter().map(|l| escape(l)).collect();
            if !lines.is_empty() {
                blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": cap(lines.join("\n"), 3000)}}));
            }
            for (title, lines) in &n.sections {
                if lines.is_empty() {
                    continue;
                }
                let body: Vec<String> = lines.iter().map(|l| format!("• {}", escape(l))).collect();
                blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": cap(format!("*{}*\n{}", escape(title), body.join("\n")), 3000)}}));
            }
        }
    }
    blocks.truncate(50);
    json!({
        "text": escape(&content.fallback()),
        "blocks": blocks,
        "unfurl_links": false,
        "unfurl_media": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::webhook::chat::tests_support::hostile;

    #[test]
    fn control_sequences_from_a_post_arrive_as_text() {
        let v = message(&hostile(), &[]);
        let s = v.to_string();
        assert!(!s.contains("<!channel>"), "{s}");
        assert!(!s.contains("<script>"), "{s}");
        assert!(s.contains("&lt;!channel&gt;"), "{s}");
        assert!(s.contains("&lt;https://evil.example|click&gt;"), "{s}");
    }

    #[test]
    fn matched_terms_are_bold_and_the_reply_button_links_the_post() {
        let v = message(&hostile(), &[]);
        let section = v["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(section.contains("*Acme*"), "{section}");
        assert!(
            section.starts_with("*Acme*") || section.contains("&gt; "),
            "{section}"
        );
        let button = &v["blocks"][3]["elements"][0];
        assert_eq!(button["text"]["text"], "Reply on Hacker News");
        assert_eq!(button["url"], "https://news.ycombinator.com/item?id=1");
        assert_eq!(v["blocks"][0]["type"], "header");
    }

    #[test]
    fn long_text_is_capped_where_slack_would_refuse_it() {
        assert_eq!(cap("x".repeat(200), 150).chars().count(), 150);
        assert_eq!(cap("short".into(), 150), "short");
    }
}
