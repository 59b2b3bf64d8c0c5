//! Any RSS 0.9x/1.0/2.0, Atom or JSON Feed, parsed by feed-rs. Conditional GET; items
//! told apart by guid, else link (unless several items share it), else a hash of
//! title and content.

use std::collections::HashMap;

use chrono::Utc;
use feed_rs::model::{Entry, Feed};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use super::fetch::{Expect, GetOpts, Http, Response, Validators};
use super::off_runtime;
use super::text::html_to_text_and_links;
use super::{has_seen, Fetched, Gather, Kind, RssConfig, Seen, SourceContext, SourceError};
use crate::post::Post;

pub(crate) struct Rss {
    http: Http,
    url: Url,
    name: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct State {
    #[serde(default)]
    validators: Validators,
    #[serde(default)]
    seen: Seen,
}

has_seen!(State);

impl Rss {
    pub fn new(cfg: &RssConfig, ctx: &SourceContext, name: &str) -> Result<Self, SourceError> {
        let url = Url::parse(&cfg.url)
            .map_err(|e| SourceError::Config(format!("{:?} is not a URL: {e}", cfg.url)))?;
        Ok(Rss {
            http: ctx.http.clone(),
            url,
            name: name.to_string(),
        })
    }
}

impl Kind for Rss {
    type State = State;
    const KIND: &'static str = "rss";

    async fn fetch(&mut self, state: &State) -> Result<Fetched<State>, SourceError> {
        let mut got = Gather::new(state);
        let opts = GetOpts {
            validators: Some(&state.validators),
            ..GetOpts::default()
        };
        let Some(resp) = self.http.get(&self.url, Expect::Feed, opts).await? else {
            return Ok(got.finish(Some("not modified".into())));
        };
        let (url, name) = (self.url.clone(), self.name.clone());
        let (posts, resp) = off_runtime(move || {
            let feed = parse_feed(&resp)?;
            let posts = feed_posts(&feed, &url, "rss", &name, &|key| native_id(&url, key));
            Ok((posts, resp))
        })
        .await?;
        got.posts = posts;
        got.next.validators = resp.validators.clone();
        got.wait_at_least(resp.wait_hint);
        // oldest first, as they happened (stable: undated items keep feed order)
        Ok(got.finish(None))
    }
}

/// A guid that is a URL (or URN / tag URI) is global; any other is namespaced by the
/// feed's host so that two feeds' `<guid>1</guid>` differ.
fn native_id(feed_url: &Url, key: &str) -> String {
    if key.contains("://") || key.starts_with("urn:") || key.starts_with("tag:") {
        key.to_string()
    } else {
        format!("{}:{key}", feed_url.host_str().unwrap_or("feed"))
    }
}

/// Parses a feed response (any charset), refusing documents cut off mid-way.
pub(crate) fn parse_feed(resp: &Response) -> Result<Feed, SourceError> {
    let bytes = resp.feed_utf8();
    parse_feed_bytes(&bytes, &resp.url)
}

/// Parses a feed already in UTF-8 (what `parse_feed` does after transcoding).
pub fn parse_feed_bytes(bytes: &[u8], url: &Url) -> Result<Feed, SourceError> {
    let text = String::from_utf8_lossy(bytes);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('<') && !xml_is_complete(trimmed) {
        return Err(SourceError::Truncated(format!(
            "{url}: the feed document ends before its root element is closed"
        )));
    }
    feed_rs::parser::Builder::new()
        .base_uri(Some(url.as_str()))
        // empty ids mark entries without one: we choose our own key
        .id_generator(|_, _, _| String::new())
        .build()
        .parse(bytes)
        .map_err(|e| SourceError::Malformed(format!("{url}: not a feed: {e}")))
}

/// Whether an XML document ends by closing its root element (a feed cut off by a
/// server exception does not).
fn xml_is_complete(text: &str) -> bool {
    let mut rest = text;
    // skip the declaration, comments, doctype and processing instructions
    let root = loop {
        let Some(lt) = rest.find('<') else {
            return false;
        };
        rest = &rest[lt..];
        if rest.starts_with("<?") || rest.starts_with("<!") {
            let end = if rest.starts_with("<!--") { "-->" } else { ">" };
            match rest.find(end) {
                Some(i) => rest = &rest[i + end.len()..],
                None => return false,
            }
            continue;
        }
        let name: String = rest[1..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
            .collect();
        break name;
    };
    if root.is_empty() {
        return false;
    }
    let mut end = text.trim_end();
    // trailing comments after the root are allowed
    while end.ends_with("-->") {
        match end.rfind("<!--") {
            Some(i) => end = end[..i].trim_end(),
            None => return false,
        }
    }
    if end.ends_with("/>") && !end.contains(&format!("</{root}")) {
        // <root/>: an empty document
        return true;
    }
    end.strip_suffix('>')
        .map(|e| e.trim_end())
        .is_some_and(|e| e.ends_with(&format!("</{root}")))
}

/// The key that tells an entry apart: its guid, else its link (if no other entry in the
/// document has the same link), else a hash of title and content.
fn entry_key(entry: &Entry, link: Option<&str>, link_count: &HashMap<String, usize>) -> String {
    if !entry.id.trim().is_empty() {
        return entry.id.trim().to_string();
    }
    if let Some(l) = link {
        if link_count.get(l).copied().unwrap_or(0) <= 1 {
            return l.to_string();
        }
    }
    let mut h = Sha256::new();
    h.update(
        entry
            .title
            .as_ref()
            .map(|t| t.content.as_str())
            .unwrap_or(""),
    );
    h.update([0]);
    h.update(entry_html(entry));
    h.update([0]);
    h.update(link.unwrap_or(""));
    format!("sha256:{}", &hex::encode(h.finalize())[..32])
}

fn entry_link(entry: &Entry, feed_url: &Url) -> Option<String> {
    let link = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().map_or(true, |r| r == "alternate"))
        .or_else(|| entry.links.first())?;
    feed_url.join(link.href.trim()).ok().map(|u| u.to_string())
}

fn entry_html(entry: &Entry) -> &str {
    entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .filter(|b| !b.trim().is_empty())
        .or_else(|| entry.summary.as_ref().map(|s| s.content.as_str()))
        .or_else(|| {
            entry
                .media
                .iter()
                .find_map(|m| m.description.as_ref().map(|d| d.content.as_str()))
        })
        .unwrap_or("")
}

/// Every entry of a feed as a post. `native_id` turns an entry's key into the id part
/// after `kind:`.
pub(crate) fn feed_posts(
    feed: &Feed,
    feed_url: &Url,
    kind: &str,
    source_name: &str,
    native_id: &dyn Fn(&str) -> String,
) -> Vec<Post> {
    let now = Utc::now();
    let links: Vec<Option<String>> = feed
        .entries
        .iter()
        .map(|e| entry_link(e, feed_url))
        .collect();
    let mut link_count: HashMap<String, usize> = HashMap::new();
    for l in links.iter().flatten() {
        *link_count.entry(l.clone()).or_default() += 1;
    }
    let feed_home = feed
        .links
        .iter()
        .find(|l| l.rel.as_deref().map_or(true, |r| r == "alternate"))
        .and_then(|l| feed_url.join(&l.href).ok())
        .unwrap_or_else(|| feed_url.clone());
    let mut out = Vec::with_capacity(feed.entries.len());
    for (entry, link) in feed.entries.iter().zip(links) {
        let key = entry_key(entry, link.as_deref(), &link_count);
        let url = link
            .clone()
            .or_else(|| {
                Url::parse(entry.id.trim())
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .map(|u| u.to_string())
            })
            .unwrap_or_else(|| feed_home.to_string());
        let base = Url::parse(&url).ok();
        let (text, mut found) = html_to_text_and_links(entry_html(entry), base.as_ref());
        if let Some(l) = &link {
            if !found.contains(l) {
                found.insert(0, l.clone());
            }
        }
        let title = entry
            .title
            .as_ref()
            .map(|t| super::text::html_to_text(&t.content))
            .filter(|t| !t.is_empty());
        let date = entry.published.or(entry.updated);
        let author = entry_author(&entry.authors);
        let site = base
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        out.push(Post {
            rating: None,
            owned_by: None,
            id: format!("{kind}:{}", native_id(&key)),
            url,
            author,
            title,
            text,
            created_at: date.unwrap_or(now),
            created_at_is_first_seen: date.is_none(),
            source: kind.to_string(),
            source_name: source_name.to_string(),
            site,
            parent_id: None,
            thread_id: None,
            engagement: entry
                .media
                .iter()
                .find_map(|m| m.community.as_ref())
                .and_then(|c| c.stats_views)
                .and_then(|v| i64::try_from(v).ok()),
            lang: feed.language.clone(),
            links: found,
        });
    }
    out
}

/// The entry's author as a reader would name them. feed-rs gives RSS 2.0's
/// `<author>` (and `<managingEditor>`) as a person *named* "author" whose email holds
/// the element's text, which by the spec is `address (Name)` and in practice is often
/// `Name <address>`, just an address, or just a name. A real name wins over an
/// address; the first author with either is taken.
fn entry_author(authors: &[feed_rs::model::Person]) -> Option<String> {
    authors.iter().find_map(|p| {
        let name = p.name.trim();
        let from_rss_element = name == "author" || name == "managingEditor";
        match p.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            Some(text) if from_rss_element || name.is_empty() => contact_name(text),
            _ if name.is_empty() || from_rss_element => None,
            _ => Some(name.to_string()),
        }
    })
}

/// `jo@example.com (Jo Bloggs)` and `Jo Bloggs <jo@example.com>` → `Jo Bloggs`;
/// `jo@example.com` and `Jo Bloggs` stay as they are.
fn contact_name(text: &str) -> Option<String> {
    let text = text.trim();
    let (name, address) = match (text.find('('), text.find('<')) {
        (Some(open), _) if text.ends_with(')') => {
            (text.get(open + 1..text.len() - 1), text.get(..open))
        }
        (_, Some(open)) if text.ends_with('>') => {
            (text.get(..open), text.get(open + 1..text.len() - 1))
        }
        _ => (None, Some(text)),
    };
    let name = name.unwrap_or_default().trim().trim_matches('"').trim();
    let chosen = if name.is_empty() {
        address.unwrap_or_default().trim()
    } else {
        name
    };
    Some(chosen.to_string()).filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(name: &str, email: Option<&str>) -> feed_rs::model::Person {
        feed_rs::model::Person {
            name: name.to_string(),
            uri: None,
            email: email.map(str::to_string),
        }
    }

    #[test]
    fn rss_author_elements_become_the_name_or_the_address() {
        for (text, want) in [
            ("jo@example.com (Jo Bloggs)", "Jo Bloggs"),
            ("Jo Bloggs <jo@example.com>", "Jo Bloggs"),
            ("\"Jo Bloggs\" <jo@example.com>", "Jo Bloggs"),
            ("jo@example.com", "jo@example.com"),
            ("<jo@example.com>", "jo@example.com"),
            ("jo@example.com ()", "jo@example.com"),
            ("Jo Bloggs", "Jo Bloggs"),
            ("  jo@example.com (Jo Bloggs)  ", "Jo Bloggs"),
        ] {
            assert_eq!(
                entry_author(&[person("author", Some(text))]).as_deref(),
                Some(want),
                "{text}"
            );
        }
        assert_eq!(entry_author(&[person("author", Some("  "))]), None);
    }

    #[test]
    fn named_authors_are_kept_and_the_first_useful_one_wins() {
        assert_eq!(
            entry_author(&[person("Ann", Some("ann@example.com"))]).as_deref(),
            Some("Ann")
        );
        assert_eq!(
            entry_author(&[person(" ", None), person("Bo", None)]).as_deref(),
            Some("Bo")
        );
        assert_eq!(
            entry_author(&[person("", Some("cy@example.com"))]).as_deref(),
            Some("cy@example.com")
        );
        assert_eq!(entry_author(&[]), None);
    }

    #[test]
    fn truncated_documents_are_detected() {
        assert!(xml_is_complete(
            "<?xml version='1.0'?>\n<!-- c --><rss version=\"2.0\"><channel/></rss>\n"
        ));
        assert!(xml_is_complete("<feed xmlns='x'></feed><!-- generated -->"));
        assert!(xml_is_complete("<rdf:RDF></rdf:RDF >"));
        assert!(!xml_is_complete("<rss><channel><item></item>"));
        assert!(!xml_is_complete(
            "<rss><channel></channel><!-- Exception rendering module on server -->"
        ));
        assert!(!xml_is_complete(""));
    }
}
