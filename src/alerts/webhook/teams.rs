//! Microsoft Teams workflow webhooks ("Post to a channel when a webhook request is
//! received"): a `message` with one Adaptive Card 1.4 attachment.
//!
//! Adaptive Cards render no HTML and ping nobody from text; [`escape`]
//! backslash-escapes their markdown so a post's `**`, `[x](y)` or `# ` stays text.

use serde_json::{json, Value};

use super::chat::{ChatContent, ChatMention};
use crate::alerts::render::Segment;

/// Adaptive Card markdown escaping.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '[' | ']' | '(' | ')' | '#' | '>' | '-' | '+' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn markdown(segs: &[Segment]) -> String {
    segs.iter()
        .map(|s| {
            let t = escape(&s.text);
            if s.hl && !s.text.trim().is_empty() {
                format!("**{}**", t.trim())
            } else {
                t
            }
        })
        .collect()
}

fn text_block(text: String) -> Value {
    json!({"type": "TextBlock", "text": text, "wrap": true})
}

fn mention_items(m: &ChatMention, actions: &[(String, String)]) -> Vec<Value> {
    let mut items = Vec::new();
    if !m.title.is_empty() {
        items.push(json!({"type": "TextBlock", "text": markdown(&m.title), "wrap": true, "weight": "Bolder"}));
    }
    let mut quote = markdown(&m.text);
    if m.cut {
        quote.push_str(" […]");
    }
    items.push(text_block(quote));
    let mut facts = vec![
        json!({"title": "Sentiment", "value": escape(&m.sentiment())}),
        json!({"title": "Source", "value": escape(&m.source)}),
    ];
    if let Some(a) = &m.author {
        facts.push(json!({"title": "Author", "value": escape(a)}));
    }
    facts.push(json!({"title": "Posted", "value": escape(&m.age)}));
    items.push(json!({"type": "FactSet", "facts": facts}));
    let mut buttons = Vec::new();
    if let Some(url) = &m.url {
        buttons.push(json!({"type": "Action.OpenUrl", "title": m.reply_label(), "url": url}));
    }
    for (label, url) in actions {
        buttons.push(json!({"type": "Action.OpenUrl", "title": label, "url": url}));
    }
    if !buttons.is_empty() {
        items.push(json!({"type": "ActionSet", "actions": buttons}));
    }
    items
}

/// The message for `content`; `actions` as for Slack.
pub fn message(content: &ChatContent, actions: &[Vec<(String, String)>]) -> Value {
    let mut body = Vec::new();
    match content {
        ChatContent::Mentions { heading, items } => {
            body.push(json!({"type": "TextBlock", "text": escape(heading), "size": "Medium", "weight": "Bolder", "wrap": true}));
            if items.is_empty() {
                body.push(text_block("No mentions in this digest.".into()));
            }
            for (i, m) in items.iter().enumerate() {
                body.push(json!({
                    "type": "Container",
                    "separator": i > 0,
                    "spacing": "Medium",
                    "items": mention_items(m, actions.get(i).map(Vec::as_slice).unwrap_or(&[])),
                }));
            }
        }
        ChatContent::Notice(n) => {
            body.push(json!({"type": "TextBlock", "text": escape(&n.title), "size": "Medium", "weight": "Bolder", "wrap": true}));
            for l in &n.lines {
                body.push(text_block(escape(l)));
            }
            for (title, lines) in &n.sections {
                if lines.is_empty() {
                    continue;
                }
                body.push(json!({"type": "TextBlock", "text": escape(title), "weight": "Bolder", "wrap": true, "separator": true}));
                let list: Vec<String> = lines.iter().map(|l| format!("- {}", escape(l))).collect();
                body.push(text_block(list.join("\r")));
            }
        }
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "msteams": {"width": "Full"},
                "body": body,
            },
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::webhook::chat::tests_support::hostile;

    #[test]
    fn a_card_in_the_format_workflow_webhooks_accept() {
        let v = message(
            &hostile(),
            &[vec![("I'll take it".into(), "https://x.example/a".into())]],
        );
        assert_eq!(v["type"], "message");
        let card = &v["attachments"][0];
        assert_eq!(
            card["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(card["content"]["type"], "AdaptiveCard");
        let items = &card["content"]["body"][1]["items"];
        let text = items[1]["text"].as_str().unwrap();
        assert!(text.contains("**Acme**"), "{text}");
        assert!(text.contains("\\*\\*bold\\*\\*"), "{text}");
        let actions = &items[3]["actions"];
        assert_eq!(actions[0]["title"], "Reply on Hacker News");
        assert_eq!(actions[1]["title"], "I'll take it");
    }
}
