//! HTML to plain text: tags stripped, entities decoded, links collected, with
//! html5ever's tokenizer (linear in the input, whatever it repeats). Total: any input
//! (even random bytes decoded lossily) gives some text, never a panic. CPU-bound: the
//! feed sources, Hacker News and Stack Exchange call it off the runtime's worker
//! threads (`api::off_runtime`).

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{
    states::RawKind, BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer,
    TokenizerOpts,
};
use html5ever::LocalName;
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

/// Collects text and links from the tokens of one HTML fragment.
struct Sink<'a> {
    out: RefCell<String>,
    links: RefCell<Vec<String>>,
    base: Option<&'a Url>,
    /// Inside `<script>` / `<style>` (their text is dropped) until this end tag.
    skip_until: RefCell<Option<LocalName>>,
}

impl TokenSink for Sink<'_> {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        match token {
            Token::CharacterTokens(t) if self.skip_until.borrow().is_none() => {
                push_text(&mut self.out.borrow_mut(), &t);
            }
            Token::TagToken(tag) => return self.tag(tag),
            // comments, doctypes, NUL, parse errors, EOF
            _ => {}
        }
        TokenSinkResult::Continue
    }

    /// `<![CDATA[...]]>` keeps its text (feeds put HTML in it), as before.
    fn adjusted_current_node_present_but_not_in_html_namespace(&self) -> bool {
        true
    }
}

impl Sink<'_> {
    fn tag(&self, tag: Tag) -> TokenSinkResult<()> {
        let name: &str = &tag.name;
        let mut skip = self.skip_until.borrow_mut();
        if let Some(until) = skip.as_ref() {
            if tag.kind == TagKind::EndTag && *until == tag.name {
                *skip = None;
            }
            return TokenSinkResult::Continue;
        }
        if tag.kind == TagKind::StartTag && (name == "script" || name == "style") {
            if tag.self_closing {
                return TokenSinkResult::Continue;
            }
            *skip = Some(tag.name.clone());
            // the tokenizer reads their content as raw text up to the end tag
            return TokenSinkResult::RawData(if name == "script" {
                RawKind::ScriptData
            } else {
                RawKind::Rawtext
            });
        }
        if tag.kind == TagKind::StartTag && name == "a" {
            let href = tag.attrs.iter().find(|a| &*a.name.local == "href");
            if let Some(href) = href {
                let abs = match self.base {
                    Some(b) => b.join(&href.value).ok(),
                    None => Url::parse(&href.value).ok(),
                };
                if let Some(u) = abs.filter(|u| matches!(u.scheme(), "http" | "https")) {
                    self.links.borrow_mut().push(u.to_string());
                }
            }
        }
        let mut out = self.out.borrow_mut();
        if BLOCK_TAGS.contains(&name) {
            out.push('\n');
        } else if matches!(name, "td" | "th" | "img") {
            out.push(' ');
        }
        TokenSinkResult::Continue
    }
}

/// One pass of html5ever's tokenizer (linear in the input; entities decoded in text
/// and attributes; script and style content dropped).
fn strip(html: &str, base: Option<&Url>, links: &mut Vec<String>) -> String {
    let sink = Sink {
        out: RefCell::new(String::with_capacity(html.len())),
        links: RefCell::new(Vec::new()),
        base,
        skip_until: RefCell::new(None),
    };
    let tok = Tokenizer::new(sink, TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let _ = tok.feed(&input);
    tok.end();
    let Sink {
        out, links: found, ..
    } = tok.sink;
    links.extend(found.into_inner());
    normalize_space(&out.into_inner())
}

/// A text run: line breaks in the source are spaces.
fn push_text(out: &mut String, text: &str) {
    out.extend(
        text.chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c }),
    );
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

    /// Stripping used to lowercase the rest of the document at every `<script>` /
    /// `<style>`: quadratic, so a 5 MB feed stalled the runtime.
    #[test]
    fn repeated_scripts_and_styles_are_linear() {
        let html = "<p>acme</p><script>var a = 1;</script><style>p{}</style>".repeat(12_000);
        assert!(html.len() > 600_000);
        let start = std::time::Instant::now();
        let t = html_to_text(&html);
        let took = start.elapsed();
        assert!(t.starts_with("acme\nacme"), "{}", &t[..20]);
        assert_eq!(t.matches("acme").count(), 12_000);
        assert!(took < std::time::Duration::from_secs(3), "took {took:?}");
    }
}
