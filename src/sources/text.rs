//! HTML to plain text: tags stripped, entities decoded, links collected. Hand-written
//! and total: any input (even random bytes decoded lossily) gives some text, never a panic.

use url::Url;

/// Plain text of an HTML fragment, and the absolute links (`<a href>`) found in it.
/// Relative links are resolved against `base` when one is given.
pub fn html_to_text_and_links(html: &str, base: Option<&Url>) -> (String, Vec<String>) {
    let mut links = Vec::new();
    let mut text = strip(html, base, &mut links);
    // Double-escaped HTML (reddit's Atom, some CMSs): the first pass leaves markup or
    // entities behind; one more pass decodes them.
    if looks_escaped(&text) {
        text = strip(&text, base, &mut links);
    }
    links.dedup();
    (text, links)
}

/// Plain text of an HTML fragment.
pub fn html_to_text(html: &str) -> String {
    html_to_text_and_links(html, None).0
}

/// Decodes entities in a text that is not HTML (titles, JSON strings).
pub fn decode_entities(text: &str) -> String {
    let once = html_escape::decode_html_entities(text).into_owned();
    normalize_space(&once)
}

fn looks_escaped(text: &str) -> bool {
    ["&lt;", "&gt;", "&amp;", "&quot;", "&#"]
        .iter()
        .any(|p| text.contains(p))
        || has_tag(text)
}

fn has_tag(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    ["<p>", "<br", "<a href", "<div", "<span", "</p>", "</a>"]
        .iter()
        .any(|t| lower.contains(t))
}

const BLOCK_TAGS: &[&str] = &[
    "p",
    "br",
    "div",
    "li",
    "ul",
    "ol",
    "tr",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "hr",
    "section",
    "article",
    "header",
    "footer",
    "dd",
    "dt",
];

fn strip(html: &str, base: Option<&Url>, links: &mut Vec<String>) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        push_text(&mut out, &rest[..lt]);
        let after = &rest[lt..];
        if let Some(body) = after.strip_prefix("<!--") {
            rest = match body.find("-->") {
                Some(end) => &body[end + 3..],
                None => "",
            };
            continue;
        }
        if let Some(body) = after.strip_prefix("<![CDATA[") {
            let (inner, next) = match body.find("]]>") {
                Some(end) => (&body[..end], &body[end + 3..]),
                None => (body, ""),
            };
            out.push_str(inner);
            rest = next;
            continue;
        }
        // A tag must start with a letter, '/', '!' or '?'; anything else is a literal '<'.
        let starts_tag = after[1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '/' | '!' | '?'));
        if !starts_tag {
            out.push('<');
            rest = &after[1..];
            continue;
        }
        let Some(gt) = after.find('>') else {
            // an unterminated tag at the end: drop it
            rest = "";
            break;
        };
        let tag = &after[1..gt];
        rest = &after[gt + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if !closing && (name == "script" || name == "style") {
            let close = format!("</{name}");
            let lower = rest.to_ascii_lowercase();
            rest = match lower.find(&close) {
                Some(i) => match rest[i..].find('>') {
                    Some(j) => &rest[i + j + 1..],
                    None => "",
                },
                None => "",
            };
            continue;
        }
        if !closing && name == "a" {
            if let Some(href) = attr(tag, "href") {
                let href = html_escape::decode_html_entities(&href).into_owned();
                let abs = match base {
                    Some(b) => b.join(&href).ok(),
                    None => Url::parse(&href).ok(),
                };
                if let Some(u) = abs {
                    if matches!(u.scheme(), "http" | "https") {
                        links.push(u.to_string());
                    }
                }
            }
        }
        if BLOCK_TAGS.contains(&name.as_str()) {
            out.push('\n');
        } else if name == "td" || name == "th" || name == "img" {
            out.push(' ');
        }
    }
    push_text(&mut out, rest);
    normalize_space(&out)
}

/// A text run of HTML: line breaks in the source are spaces; entities decoded.
fn push_text(out: &mut String, raw: &str) {
    let decoded = html_escape::decode_html_entities(raw);
    out.extend(
        decoded
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c }),
    );
}

/// The value of attribute `name` in a tag's inside (`a href="x" class=y`).
fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name) {
        let start = from + i;
        from = start + name.len();
        let before_ok = start > 0
            && lower[..start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_whitespace());
        let rest = lower[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let offset = tag.len() - rest.len() + 1;
        let value = tag[offset..].trim_start();
        return Some(match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or("").to_string(),
            _ => value
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or("")
                .to_string(),
        });
    }
    None
}

/// Collapses runs of spaces inside lines, trims lines, drops empty lines.
fn normalize_space(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split('\n') {
        let collapsed = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if collapsed.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&collapsed);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tags_and_decodes_entities() {
        let t = html_to_text("Yeah they aren&#x27;t <i>scholarship</i><p>I&#x27;m &amp; you");
        assert_eq!(t, "Yeah they aren't scholarship\nI'm & you");
    }

    #[test]
    fn double_escaped_html_is_decoded() {
        // what feed-rs hands over for reddit's Atom content after the XML layer
        let t = html_to_text(
            "&#32; submitted by &#32; <a href=\"https://www.reddit.com/user/x\"> /u/x </a>",
        );
        assert_eq!(t, "submitted by /u/x");
        let t = html_to_text("&lt;p&gt;Acme &amp;amp; co&lt;/p&gt;");
        assert_eq!(t, "Acme & co");
    }

    #[test]
    fn links_are_collected_and_resolved() {
        let base = Url::parse("https://example.com/blog/").unwrap();
        let (t, links) = html_to_text_and_links(
            "<p>see <a class=x href='/post/1'>this</a> and <a href=\"https://a.example/?a=1&amp;b=2\">that</a></p>",
            Some(&base),
        );
        assert_eq!(t, "see this and that");
        assert_eq!(
            links,
            vec!["https://example.com/post/1", "https://a.example/?a=1&b=2"]
        );
    }

    #[test]
    fn scripts_comments_and_literal_brackets() {
        let t = html_to_text("a <script>x<y</script>b <!-- SC_OFF --> 1 < 2 <style>p{}</style>c");
        assert_eq!(t, "a b 1 < 2 c");
        assert_eq!(html_to_text("<unterminated"), "");
        assert_eq!(html_to_text("<a href=\"x"), "");
    }
}
