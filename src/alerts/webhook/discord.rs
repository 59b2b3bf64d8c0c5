//! Discord channel webhooks: one embed per mention (Discord allows ten a message).
//!
//! `allowed_mentions: {"parse": []}` tells Discord to ping nobody whatever the text
//! says, and [`escape`] also defangs `@everyone`, `@here` and `<@…>` and
//! backslash-escapes markdown, so a post's text arrives as the text it was. A
//! link's target goes through [`link_url`] (percent-encoding what could end the
//! `[text](url)` or start another link), its text through [`escape`]: a post URL
//! with `)[Resolved](…` stays one link to that post.

use serde_json::{json, Value};

use super::chat::{ChatContent, ChatMention};
use crate::alerts::render::Segment;

/// Discord counts every embed's text towards 6000 characters a message.
const MESSAGE_BUDGET: usize = 5500;

/// Discord markdown escaping, with mass mentions and user/role mentions defanged
/// (a zero-width space after the `@`).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '#' | '-' | '[' | ']' | '(' | ')' | ':'
        ) {
            out.push('\\');
        }
        out.push(c);
        if c == '@' {
            out.push('\u{200B}');
        }
    }
    out
}

/// `url` safe inside the parentheses of a markdown link: every byte that is not
/// an unreserved or plain delimiter character of a URL (`(`, `)`, `[`, `]`, `<`,
/// `>`, whitespace, quotes, backslash, backtick, non-ASCII …) is percent-encoded;
/// `%` is kept, so an already-encoded URL is unchanged.
pub fn link_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len() + 8);
    for b in url.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b':'
                    | b'/'
                    | b'?'
                    | b'#'
                    | b'@'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'%'
            )
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A markdown link: `text` escaped, `url` encoded.
fn link(text: &str, url: &str) -> String {
    format!("[{}]({})", escape(text), link_url(url))
}

fn markdown(segs: &[Segment]) -> String {
    segs.iter()
        .map(|s| {
            let t = escape(&s.text);
            if s.hl && !s.text.trim().is_empty() {
                format!("**{t}**")
            } else {
                t
            }
        })
        .collect()
}

fn cap(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    // never end on a lone backslash: it would escape the ellipsis
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    while out.ends_with('\\') {
        out.pop();
    }
    out.push('…');
    out
}

fn color(label: &str) -> u32 {
    match label.to_ascii_lowercase().as_str() {
        "negative" => 0xD9_3F_3F,
        "positive" => 0x2E_A0_43,
        _ => 0x8A_8F_98,
    }
}

fn embed(m: &ChatMention, budget: usize, actions: &[(String, String)]) -> Value {
    let title = if m.title.is_empty() {
        format!("{} on {}", m.brand, m.source)
    } else {
        super::chat::plain(&m.title)
    };
    let mut description = markdown(&m.text);
    if m.cut {
        description.push_str(" […]");
    }
    let mut links = Vec::new();
    if let Some(url) = &m.url {
        links.push(link(&m.reply_label(), url));
    }
    for (label, url) in actions {
        links.push(link(label, url));
    }
    if !links.is_empty() {
        description = cap(description, budget.saturating_sub(400).max(100));
        description.push_str("\n\n");
        description.push_str(&links.join("  ·  "));
    } else {
        description = cap(description, budget.max(100));
    }
    let mut fields = vec![
        json!({"name": "Sentiment", "value": escape(&m.sentiment()), "inline": true}),
        json!({"name": "Source", "value": escape(&m.source), "inline": true}),
    ];
    if let Some(a) = &m.author {
        fields.push(json!({"name": "Author", "value": cap(escape(a), 200), "inline": true}));
    }
    let mut e = json!({
        // an embed title is not markdown: only the mention defang applies
        "title": cap(title.replace('@', "@\u{200B}"), 256),
        "description": description,
        "color": color(&m.label),
        "fields": fields,
        "timestamp": m.posted_at.to_rfc3339(),
        "footer": {"text": format!("overhear · {} · {}", m.brand, m.age)},
    });
    if let Some(url) = &m.url {
        e["url"] = json!(url);
    }
    e
}

/// The message for `content`; `actions` as for Slack.
pub fn message(content: &ChatContent, actions: &[Vec<(String, String)>]) -> Value {
    let embeds: Vec<Value> = match content {
        ChatContent::Mentions { heading, items } if items.is_empty() => {
            vec![
                json!({"title": cap(heading.clone(), 256), "description": "No mentions in this digest."}),
            ]
        }
        ChatContent::Mentions { items, .. } => {
            let budget = MESSAGE_BUDGET / items.len().max(1);
            items
                .iter()
                .take(10)
                .enumerate()
                .map(|(i, m)| embed(m, budget, actions.get(i).map(Vec::as_slice).unwrap_or(&[])))
                .collect()
        }
        ChatContent::Notice(n) => {
            let mut text: Vec<String> = n.lines.iter().map(|l| escape(l)).collect();
            for (title, lines) in &n.sections {
                if lines.is_empty() {
                    continue;
                }
                text.push(format!("\n**{}**", escape(title)));
                text.extend(lines.iter().map(|l| format!("• {}", escape(l))));
            }
            vec![json!({
                "title": cap(n.title.replace('@', "@\u{200B}"), 256),
                "description": cap(text.join("\n"), 4000),
            })]
        }
    };
    let content_line = match content {
        ChatContent::Mentions { heading, items } if !items.is_empty() => cap(escape(heading), 1900),
        _ => String::new(),
    };
    json!({
        "username": "overhear",
        "content": content_line,
        "embeds": embeds,
        "allowed_mentions": {"parse": []},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::webhook::chat::tests_support::hostile;

    #[test]
    fn mass_mentions_ping_nobody_and_markdown_stays_text() {
        let v = message(&hostile(), &[]);
        assert_eq!(v["allowed_mentions"]["parse"], json!([]));
        let d = v["embeds"][0]["description"].as_str().unwrap();
        assert!(!d.contains("@everyone") && !d.contains("@here"), "{d}");
        assert!(d.contains("@\u{200B}everyone"), "{d}");
        assert!(d.contains("\\*\\*bold\\*\\*"), "{d}");
        assert!(d.contains("**Acme**"), "{d}");
        assert!(
            d.contains("[Reply on Hacker News](https://news.ycombinator.com/item?id=1)"),
            "{d}"
        );
        let author = v["embeds"][0]["fields"][2]["value"].as_str().unwrap();
        assert_eq!(author, "mallory\\_\\*\\_");
    }

    #[test]
    fn ten_long_mentions_stay_inside_discords_message_limit() {
        let ChatContent::Mentions { heading, items } = hostile() else {
            unreachable!()
        };
        let mut one = items[0].clone();
        one.text = crate::alerts::render::segments(&"word ".repeat(400), &[]);
        let content = ChatContent::Mentions {
            heading,
            items: vec![one; 10],
        };
        let v = message(&content, &[]);
        let total: usize = v["embeds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                e["title"].as_str().unwrap_or("").chars().count()
                    + e["description"].as_str().unwrap_or("").chars().count()
                    + e["footer"]["text"].as_str().unwrap_or("").chars().count()
                    + e["fields"]
                        .as_array()
                        .map_or(0, |f| f.iter().map(|f| f.to_string().len()).sum())
            })
            .sum();
        assert!(total < 6000, "{total}");
    }

    /// How many `](` open a link: not escaped with a backslash.
    fn link_starts(d: &str) -> usize {
        d.match_indices("](")
            .filter(|(i, _)| !d[..*i].ends_with('\\'))
            .count()
    }

    #[test]
    fn a_post_url_or_source_cannot_break_out_of_its_link_or_add_one() {
        let ChatContent::Mentions { heading, mut items } = hostile() else {
            unreachable!()
        };
        items[0].url =
            Some("https://evil.example/a)[Resolved](https://evil.example/phish) <b>\tx\ny".into());
        items[0].source = "x](https://evil.example/src) [y".into();
        let actions = vec![vec![(
            "Resolved".to_string(),
            "https://overhear.example/a/tok".to_string(),
        )]];
        let v = message(&ChatContent::Mentions { heading, items }, &actions);
        let d = v["embeds"][0]["description"].as_str().unwrap();
        assert_eq!(link_starts(d), 2, "only the reply link and ours: {d}");
        assert!(
            d.contains(
                "(https://evil.example/a%29%5BResolved%5D%28https://evil.example/phish%29%20%3Cb%3E%09x%0Ay)"
            ),
            "{d}"
        );
        assert!(
            d.contains("[Resolved](https://overhear.example/a/tok)"),
            "{d}"
        );
        assert!(!d.contains("(https://evil.example/phish)"), "{d}");
    }
}
