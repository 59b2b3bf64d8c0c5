//! dev.to (Forem): an article's comments, `{base}/api/comments?a_id=ARTICLE_ID`, a tree
//! (`children`), oldest first. For an article mention (`devto:ARTICLE_ID`) every
//! comment is a reply (top-level ones depth 1); for a comment mention
//! (`devto:c/ID_CODE`) only those below it, from its article's tree when its
//! `thread_id` (`devto:ARTICLE_ID`) is known, else from `{base}/api/comments/ID_CODE`
//! (the comment with its descendants). Reply ids are `devto:c/ID_CODE`, authors the
//! `username`, URLs `https://HOST/USERNAME/comment/ID_CODE` on the mention's host.
//! Forem keeps a deleted comment in the tree as `[deleted]` without its user (a
//! deleted reply; a deleted mention is `Gone`, as is a comment mention not in its
//! article's tree).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use url::Url;

use super::{endpoint, json, no_target, ok_status, plain_id, rfc3339};
use super::{Reply, Target, Thread, ThreadError};
use crate::post::Post;
use crate::sources::text::html_to_text;

const KIND: &str = "devto";

/// A comment and the replies below it.
#[derive(Debug, Deserialize)]
struct Node {
    id_code: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    body_html: Option<String>,
    #[serde(default)]
    user: Option<Author>,
    #[serde(default)]
    children: Vec<Node>,
}

#[derive(Debug, Deserialize)]
struct Author {
    #[serde(default)]
    username: Option<String>,
}

/// `/api/comments?a_id=` answers a list, `/api/comments/ID_CODE` one comment.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Body {
    Tree(Vec<Node>),
    One(Box<Node>),
}

/// What a mention id names.
enum Mention<'a> {
    Article(&'a str),
    Comment(&'a str),
}

fn mention(post: &Post) -> Option<Mention<'_>> {
    let rest = post.id.strip_prefix("devto:")?;
    match rest.strip_prefix("c/") {
        Some(code) if plain_id(code) => Some(Mention::Comment(code)),
        Some(_) => None,
        None if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) => {
            Some(Mention::Article(rest))
        }
        None => None,
    }
}

/// The article id of `devto:ARTICLE_ID` in the post's `thread_id`.
fn article_of(post: &Post) -> Option<&str> {
    let t = post.thread_id.as_deref()?.strip_prefix("devto:")?;
    (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())).then_some(t)
}

pub(super) fn target(post: &Post, base: &Url) -> Result<Target, ThreadError> {
    let url = match mention(post) {
        Some(Mention::Article(id)) => endpoint(base, "api/comments", &[("a_id", id)]),
        Some(Mention::Comment(code)) => match article_of(post) {
            Some(a) => endpoint(base, "api/comments", &[("a_id", a)]),
            None => endpoint(base, &format!("api/comments/{code}"), &[]),
        },
        None => {
            return Err(no_target(
                post,
                "not a dev.to id (devto:ARTICLE_ID or devto:c/ID_CODE)",
            ))
        }
    };
    Ok(Target::Fetch(url))
}

/// Whether a comment is no longer shown: Forem's `[deleted]` stub, or no author.
fn gone(n: &Node) -> bool {
    let text = html_to_text(n.body_html.as_deref().unwrap_or(""));
    let author = n.user.as_ref().and_then(|u| u.username.as_deref());
    author.is_none()
        || author == Some("")
        || text == "[deleted]"
        || text == "[hidden by post author]"
}

/// Finds the comment `code` in a tree (iteratively: depth is the payload's to choose).
fn find<'a>(roots: &'a [Node], code: &str) -> Option<&'a Node> {
    let mut stack: Vec<&Node> = roots.iter().collect();
    while let Some(n) = stack.pop() {
        if n.id_code == code {
            return Some(n);
        }
        stack.extend(n.children.iter());
    }
    None
}

pub(super) fn parse(post: &Post, status: u16, body: &[u8]) -> Result<Thread, ThreadError> {
    ok_status(KIND, status, body)?;
    let parsed: Body = json(KIND, body)?;
    let origin = Url::parse(&post.url)
        .ok()
        .filter(|u| u.host_str().is_some())
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|| "https://dev.to".into());
    let roots: &[Node] = match (&parsed, mention(post)) {
        (Body::Tree(all), Some(Mention::Article(_))) => all,
        (Body::Tree(all), Some(Mention::Comment(code))) => match find(all, code) {
            Some(n) if !gone(n) => &n.children,
            _ => return Ok(Thread::Gone),
        },
        (Body::One(n), Some(Mention::Comment(code))) if n.id_code == code => {
            if gone(n) {
                return Ok(Thread::Gone);
            }
            &n.children
        }
        _ => {
            return Err(super::malformed(
                KIND,
                format!("the response is not the thread of {}", post.id),
            ))
        }
    };
    Ok(Thread::Replies(replies(roots, post.created_at, &origin)))
}

/// The tree below a mention, parents before their replies.
fn replies(roots: &[Node], mention_at: DateTime<Utc>, origin: &str) -> Vec<Reply> {
    let mut out = Vec::new();
    let mut stack: Vec<(&Node, u32, DateTime<Utc>)> =
        roots.iter().rev().map(|n| (n, 1, mention_at)).collect();
    while let Some((n, depth, parent_at)) = stack.pop() {
        let at = n
            .created_at
            .as_deref()
            .and_then(rfc3339)
            .unwrap_or(parent_at);
        stack.extend(n.children.iter().rev().map(|c| (c, depth + 1, at)));
        if !plain_id(&n.id_code) {
            continue;
        }
        let author = n
            .user
            .as_ref()
            .and_then(|u| u.username.clone())
            .filter(|u| plain_id(u))
            .unwrap_or_default();
        let url = if author.is_empty() {
            origin.to_string()
        } else {
            format!("{origin}/{author}/comment/{}", n.id_code)
        };
        out.push(Reply {
            id: format!("devto:c/{}", n.id_code),
            deleted: gone(n),
            author,
            at,
            url,
            depth,
        });
    }
    out
}

#[cfg(test)]
mod tests;
