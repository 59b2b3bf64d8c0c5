//! Lemmy: `{instance}/api/v3/comment/list?…&sort=Old&max_depth=8&limit=50&type_=All`,
//! with `post_id=ID` for a post mention (`lemmy:HOST:post/ID`) and `parent_id=ID` for
//! a comment mention (`lemmy:HOST:comment/ID`: that comment and those below it). The
//! instance is the post's `[[source]]` entry's, else `https://HOST` (the ids are
//! HOST's, even where the post's URL is on the instance it came from).
//!
//! Each comment's `path` (`0.501.502`: the ids from the post down to it) gives its
//! depth below the mention: a post's direct comments are depth 1; for a comment
//! mention only comments whose path goes through it count, its direct replies depth 1.
//! Reply ids are `lemmy:HOST:comment/ID` (HOST: the mention's), authors
//! `name@instance` from `creator.actor_id`, lower case; `deleted` or `removed` is a
//! deleted reply, and a deleted or removed comment mention is `Gone`, as is Lemmy's
//! `couldnt_find_post`/`couldnt_find_comment` answer.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use url::Url;

use super::{body_start, endpoint, json, no_target, ok_status, rfc3339};
use super::{Reply, Target, Thread, ThreadError};
use crate::post::Post;

const KIND: &str = "lemmy";
/// Levels below the mention asked for.
const MAX_DEPTH: &str = "8";

#[derive(Debug, Deserialize)]
struct List {
    #[serde(default)]
    comments: Vec<View>,
}

#[derive(Debug, Deserialize)]
struct View {
    comment: Comment,
    #[serde(default)]
    creator: Option<Creator>,
}

#[derive(Debug, Deserialize)]
struct Comment {
    id: i64,
    #[serde(default)]
    path: String,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    ap_id: Option<String>,
    #[serde(default)]
    deleted: bool,
    #[serde(default)]
    removed: bool,
}

#[derive(Debug, Deserialize)]
struct Creator {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    actor_id: Option<String>,
}

/// (HOST, `post` or `comment`, ID) of a mention id.
fn id_parts(id: &str) -> Option<(&str, &str, i64)> {
    let (host, item) = id.strip_prefix("lemmy:")?.rsplit_once(':')?;
    let (what, n) = item.split_once('/')?;
    let n = n.parse::<i64>().ok().filter(|n| *n > 0)?;
    let host_ok = !host.is_empty() && !host.contains(['/', '?', '#', '@']);
    (host_ok && matches!(what, "post" | "comment")).then_some((host, what, n))
}

pub(super) fn target(post: &Post, base: &Url) -> Result<Target, ThreadError> {
    let Some((host, what, id)) = id_parts(&post.id) else {
        return Err(no_target(
            post,
            "not a Lemmy id (lemmy:HOST:post/ID or lemmy:HOST:comment/ID)",
        ));
    };
    // ID is HOST's: a federated post's URL is on another instance, which knows it by
    // another id. `base` is the post's entry's instance, else its URL's origin: the
    // latter is replaced by HOST.
    let from_url = Url::parse(&post.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string));
    let remote = base
        .host_str()
        .is_some_and(|b| !b.eq_ignore_ascii_case(host))
        && from_url.as_deref() == base.host_str();
    let home;
    let base = match Url::parse(&format!("https://{host}")) {
        Ok(u) if remote => {
            home = u;
            &home
        }
        _ => base,
    };
    let id = id.to_string();
    let by = if what == "post" {
        "post_id"
    } else {
        "parent_id"
    };
    Ok(Target::Fetch(endpoint(
        base,
        "api/v3/comment/list",
        &[
            (by, id.as_str()),
            ("sort", "Old"),
            ("max_depth", MAX_DEPTH),
            ("limit", "50"),
            ("type_", "All"),
        ],
    )))
}

/// Lemmy's times: RFC 3339, or (before 0.19) without a zone, meaning UTC.
fn time(t: Option<&str>) -> Option<DateTime<Utc>> {
    let t = t?.trim();
    rfc3339(t).or_else(|| rfc3339(&format!("{t}Z")))
}

/// `name@instance` from `https://instance/u/name`, lower case ("" when unknown).
fn author(c: Option<&Creator>) -> String {
    let Some(c) = c else { return String::new() };
    let Some(actor) = c.actor_id.as_deref().and_then(|a| Url::parse(a).ok()) else {
        return String::new();
    };
    let name = c.name.clone().unwrap_or_default();
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    };
    match actor.host_str() {
        Some(host) if plain(&name) => format!("{name}@{host}").to_lowercase(),
        _ => String::new(),
    }
}

pub(super) fn parse(post: &Post, status: u16, body: &[u8]) -> Result<Thread, ThreadError> {
    if status == 400 {
        let detail = body_start(body);
        if detail.contains("couldnt_find_post") || detail.contains("couldnt_find_comment") {
            return Ok(Thread::Gone);
        }
    }
    ok_status(KIND, status, body)?;
    let Some((host, what, id)) = id_parts(&post.id) else {
        return Err(super::malformed(
            KIND,
            format!("{} is not a Lemmy id", post.id),
        ));
    };
    let list: List = json(KIND, body)?;
    let anchor = (what == "comment").then_some(id);
    let mut out = Vec::new();
    for v in list.comments {
        let c = &v.comment;
        let path: Vec<i64> = c
            .path
            .split('.')
            .filter_map(|s| s.parse::<i64>().ok())
            .filter(|n| *n != 0)
            .collect();
        if Some(c.id) == anchor {
            if c.deleted || c.removed {
                return Ok(Thread::Gone);
            }
            continue;
        }
        // the comment's own id ends its path; its depth is the steps below the mention
        let below = match anchor {
            None => path.len(),
            Some(a) => match path.iter().position(|n| *n == a) {
                Some(i) => path.len() - 1 - i,
                None => continue,
            },
        };
        if below == 0 || path.last() != Some(&c.id) {
            continue;
        }
        out.push(Reply {
            id: format!("lemmy:{host}:comment/{}", c.id),
            author: author(v.creator.as_ref()),
            at: time(c.published.as_deref()).unwrap_or(post.created_at),
            url: c
                .ap_id
                .clone()
                .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
                .unwrap_or_else(|| post.url.clone()),
            depth: u32::try_from(below).unwrap_or(u32::MAX),
            deleted: c.deleted || c.removed,
        });
    }
    Ok(Thread::Replies(out))
}

#[cfg(test)]
mod tests;
