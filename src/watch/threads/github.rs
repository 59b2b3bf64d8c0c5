//! GitHub: one call, `{base}/repos/OWNER/REPO/issues/NUMBER/comments?per_page=100`
//! (pull requests too: their conversation comments are issue comments). Every
//! comment is a reply of depth 1 (GitHub's conversations are flat), oldest first as
//! the API lists them; only the first 100 are read. Authors are logins, lowercase
//! (`ghost` for a deleted account, as GitHub shows it); ids
//! `github:OWNER/REPO#NUMBER/comment:ID`, URLs the comments' `html_url`. A deleted
//! issue answers 404 or 410 (`Gone`); a response that is not a list of comments (an
//! error object) is malformed.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use url::Url;

use super::{endpoint, json, no_target, ok_status};
use super::{Reply, Target, Thread, ThreadError};
use crate::post::Post;

const KIND: &str = "github";

#[derive(Debug, Deserialize)]
struct Comment {
    id: i64,
    #[serde(default)]
    user: Option<User>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    html_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct User {
    #[serde(default)]
    login: Option<String>,
}

/// (OWNER, REPO, NUMBER) of `github:OWNER/REPO#NUMBER`.
fn id_parts(id: &str) -> Option<(&str, &str, i64)> {
    let (repo, number) = id.strip_prefix("github:")?.split_once('#')?;
    let (owner, name) = repo.split_once('/')?;
    let number = number.parse::<i64>().ok().filter(|n| *n > 0)?;
    let ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    (ok(owner) && ok(name)).then_some((owner, name, number))
}

const WHAT: &str = "a GitHub id is github:OWNER/REPO#NUMBER";

pub(super) fn target(post: &Post, base: &Url) -> Result<Target, ThreadError> {
    let (owner, name, number) = id_parts(&post.id).ok_or_else(|| no_target(post, WHAT))?;
    let path = format!("repos/{owner}/{name}/issues/{number}/comments");
    Ok(Target::Fetch(endpoint(base, &path, &[("per_page", "100")])))
}

pub(super) fn parse(post: &Post, status: u16, body: &[u8]) -> Result<Thread, ThreadError> {
    ok_status(KIND, status, body)?;
    let (owner, name, number) = id_parts(&post.id).ok_or_else(|| no_target(post, WHAT))?;
    let comments: Vec<Comment> = json(KIND, body)?;
    let issue_url = format!("https://github.com/{owner}/{name}/issues/{number}");
    let replies = comments
        .into_iter()
        .map(|c| {
            let author = c
                .user
                .and_then(|u| u.login)
                .map(|l| l.trim().to_lowercase())
                .unwrap_or_default();
            Reply {
                id: format!("github:{owner}/{name}#{number}/comment:{}", c.id),
                deleted: author.is_empty(),
                author,
                at: c.created_at.unwrap_or(post.created_at),
                url: c
                    .html_url
                    .filter(|u| Url::parse(u).is_ok_and(|u| u.scheme() == "https"))
                    .unwrap_or_else(|| format!("{issue_url}#issuecomment-{}", c.id)),
                depth: 1,
            }
        })
        .collect();
    Ok(Thread::Replies(replies))
}

#[cfg(test)]
mod tests;
