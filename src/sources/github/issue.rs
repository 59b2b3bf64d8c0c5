//! One issue or pull request of a search response, as a post: named by its repository
//! and number, its markdown body less HTML comments, the links written in it.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use url::Url;

use crate::post::Post;

#[derive(Debug, Deserialize)]
pub(super) struct Issue {
    #[serde(default)]
    number: Option<i64>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    repository_url: Option<String>,
    #[serde(default)]
    user: Option<User>,
    #[serde(default, deserialize_with = "crate::sources::discourse::lenient_time")]
    pub(super) created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    comments: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct User {
    #[serde(default)]
    login: Option<String>,
}

/// `(OWNER/REPO, NUMBER)` of an issue: from `repository_url`, else its API `url`,
/// else its `html_url` (the 2014 schema has no `repository_url`).
fn repo_and_number(i: &Issue) -> Option<(String, i64)> {
    let from_api = |u: &str| -> Option<String> {
        let u = Url::parse(u).ok()?;
        let mut seg = u.path_segments()?.skip_while(|s| *s != "repos").skip(1);
        Some(format!("{}/{}", seg.next()?, seg.next()?))
    };
    let from_html = |u: &str| -> Option<(String, i64)> {
        let u = Url::parse(u).ok()?;
        let seg: Vec<&str> = u.path_segments()?.collect();
        match seg.as_slice() {
            [o, r, "issues" | "pull", n, ..] => Some((format!("{o}/{r}"), n.parse().ok()?)),
            _ => None,
        }
    };
    let repo = i
        .repository_url
        .as_deref()
        .and_then(from_api)
        .or_else(|| i.url.as_deref().and_then(from_api));
    let html = i.html_url.as_deref().and_then(from_html);
    let number = i.number.or(html.as_ref().map(|h| h.1))?;
    let repo = repo.or(html.map(|h| h.0))?;
    let plain = repo
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
    plain.then_some((repo, number))
}

/// An issue or pull request as a post of source `name`; `None` without a repository
/// and number (nothing to name it by).
pub(super) fn post(name: &str, i: Issue) -> Option<Post> {
    let (repo, number) = repo_and_number(&i)?;
    let url = i
        .html_url
        .clone()
        .filter(|u| Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "https" | "http")))
        .unwrap_or_else(|| format!("https://github.com/{repo}/issues/{number}"));
    let body = i.body.as_deref().unwrap_or("");
    Some(Post {
        rating: None,
        owned_by: None,
        id: format!("github:{repo}#{number}"),
        url,
        author: i.user.and_then(|u| u.login).filter(|l| !l.is_empty()),
        title: i.title.map(|t| t.trim().to_string()),
        text: strip_comments(body).trim().to_string(),
        links: links_in(body),
        created_at: i.created_at.unwrap_or_else(Utc::now),
        created_at_is_first_seen: i.created_at.is_none(),
        source: "github".into(),
        source_name: name.to_string(),
        site: format!("github.com/{repo}"),
        parent_id: None,
        thread_id: None,
        engagement: i.comments,
        lang: None,
    })
}

/// Markdown less its HTML comments (`<!-- … -->`, what issue templates leave).
fn strip_comments(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    let mut rest = md;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        match rest[start..].find("-->") {
            Some(end) => rest = &rest[start + end + 3..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// The absolute http(s) URLs written in a markdown body, at most 50.
fn links_in(md: &str) -> Vec<String> {
    let mut links: Vec<String> = Vec::new();
    for word in md.split(|c: char| c.is_whitespace() || "()<>[]\"'`".contains(c)) {
        if links.len() >= 50 {
            break;
        }
        let word = word.trim_end_matches(['.', ',', ';', ':', '!', '?']);
        if !(word.starts_with("https://") || word.starts_with("http://")) {
            continue;
        }
        if let Ok(u) = Url::parse(word) {
            let u = u.to_string();
            if !links.contains(&u) {
                links.push(u);
            }
        }
    }
    links
}
