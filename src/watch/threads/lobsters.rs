//! Lobsters: the story's `s/STORY.json`, whose `comments` are a flat list in thread
//! order, each naming its `parent_comment`. Before 2023 there was no `parent_comment`,
//! only `indent_level` (1 for a top-level comment): a comment's parent is then the
//! last comment before it one level up. A story mention's replies are all of them; a
//! comment mention's, those whose chain of parents reaches it. A comment seen in the
//! comments feed has no story id: `c/SHORT.json` says which story it is in
//! ([`Thread::Located`]). `commenting_user` is a name, or (older versions) a user
//! object with `username`; deleted and moderated comments keep their place.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::{endpoint, json, malformed, no_target, ok_status, plain_id, rfc3339};
use super::{Reply, Target, Thread, ThreadError};
use crate::post::Post;

const KIND: &str = "lobsters";
const SITE: &str = "https://lobste.rs";

#[derive(Debug, Deserialize)]
struct Comment {
    short_id: String,
    #[serde(default)]
    created_at: Option<String>,
    /// Absent before 2023 (`None`); `Some(None)` for a top-level comment.
    #[serde(default, deserialize_with = "present")]
    parent_comment: Option<Option<String>>,
    /// Before 2023 the only sign of the thread's shape: 1 for a top-level comment.
    #[serde(default)]
    indent_level: Option<u32>,
    #[serde(default)]
    commenting_user: Option<Value>,
    #[serde(default)]
    short_id_url: Option<String>,
    /// The story's URL with `#c_SHORT` (a comment's own JSON).
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    is_deleted: bool,
    #[serde(default)]
    is_moderated: bool,
}

/// A field that is there, even as `null` (`Some(None)`); absent is `None`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl Comment {
    fn user(&self) -> String {
        match &self.commenting_user {
            Some(Value::String(u)) => u.clone(),
            Some(Value::Object(o)) => o
                .get("username")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            _ => String::new(),
        }
    }

    fn gone(&self) -> bool {
        self.is_deleted || self.is_moderated
    }
}

/// What a Lobsters post id names.
enum Named<'a> {
    Story(&'a str),
    Comment(&'a str),
}

fn named(post: &Post) -> Option<Named<'_>> {
    let native = post.id.strip_prefix("lobsters:")?;
    match native.strip_prefix("c/") {
        Some(c) => plain_id(c).then_some(Named::Comment(c)),
        None => plain_id(native).then_some(Named::Story(native)),
    }
}

/// The story of a comment mention, where its `thread_id` says.
fn story_of(post: &Post) -> Option<&str> {
    post.thread_id
        .as_deref()?
        .strip_prefix("lobsters:")
        .filter(|s| plain_id(s))
}

pub(super) fn target(post: &Post, base: &Url) -> Result<Target, ThreadError> {
    let path =
        match named(post) {
            Some(Named::Story(s)) => format!("s/{s}.json"),
            Some(Named::Comment(c)) => match story_of(post) {
                Some(s) => format!("s/{s}.json"),
                None => format!("c/{c}.json"),
            },
            None => return Err(no_target(
                post,
                "a Lobsters id is lobsters:SHORT_ID (a story) or lobsters:c/SHORT_ID (a comment)",
            )),
        };
    Ok(Target::Fetch(endpoint(base, &path, &[])))
}

pub(super) fn parse(post: &Post, status: u16, body: &[u8]) -> Result<Thread, ThreadError> {
    // c/SHORT.json answers a comment it does not know with 400 "can't find comment"
    if status == 400 && String::from_utf8_lossy(body).contains("can't find comment") {
        return Ok(Thread::Gone);
    }
    ok_status(KIND, status, body)?;
    let named = named(post).ok_or_else(|| no_target(post, "not a Lobsters story or comment id"))?;
    let mut value: Value = json(KIND, body)?;
    let comments = match value.get_mut("comments").map(Value::take) {
        Some(list @ Value::Array(_)) => list,
        _ if value.get("commenting_user").is_some() => return located(value),
        _ => return Err(malformed(KIND, "neither a story (comments) nor a comment")),
    };
    let comments: Vec<Comment> =
        serde_json::from_value(comments).map_err(|e| malformed(KIND, e))?;
    let parent = parents(&comments);
    let times: HashMap<&str, DateTime<Utc>> = comments
        .iter()
        .filter_map(|c| Some((c.short_id.as_str(), rfc3339(c.created_at.as_deref()?)?)))
        .collect();
    let focal = match named {
        Named::Story(_) => None,
        Named::Comment(c) => match comments.iter().find(|x| x.short_id == c) {
            Some(x) if x.gone() => return Ok(Thread::Gone),
            Some(x) => Some(x.short_id.as_str()),
            None => return Ok(Thread::Gone),
        },
    };
    let mut out = Vec::new();
    for c in &comments {
        let Some(depth) = depth(&parent, focal, c) else {
            continue;
        };
        let at = times.get(c.short_id.as_str()).copied().unwrap_or_else(|| {
            parent
                .get(c.short_id.as_str())
                .copied()
                .flatten()
                .and_then(|p| times.get(p).copied())
                .unwrap_or(post.created_at)
        });
        let author = c.user();
        out.push(Reply {
            id: format!("lobsters:c/{}", c.short_id),
            deleted: c.gone() || author.is_empty(),
            author,
            at,
            url: c
                .short_id_url
                .clone()
                .unwrap_or_else(|| format!("{SITE}/c/{}", c.short_id)),
            depth,
        });
    }
    Ok(Thread::Replies(out))
}

/// A comment's own JSON: the story it is in (its `url` is `…/s/STORY/slug#c_SHORT`).
fn located(value: Value) -> Result<Thread, ThreadError> {
    let c: Comment = serde_json::from_value(value).map_err(|e| malformed(KIND, e))?;
    if c.gone() {
        return Ok(Thread::Gone);
    }
    let story = c
        .url
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
        .and_then(|u| {
            let mut segments = u.path_segments()?;
            segments.by_ref().find(|s| *s == "s")?;
            segments.next().filter(|s| plain_id(s)).map(str::to_string)
        })
        .ok_or_else(|| malformed(KIND, "the comment's url names no story (/s/ID/…)"))?;
    Ok(Thread::Located {
        thread_id: format!("lobsters:{story}"),
    })
}

/// Each comment's parent: its `parent_comment`, or where that is absent (before
/// 2023), the last comment listed before it at `indent_level` one less (none at 1).
fn parents(comments: &[Comment]) -> HashMap<&str, Option<&str>> {
    // the last comment seen at each level: open[0] at level 1, …
    let mut open: Vec<&str> = Vec::new();
    let mut out = HashMap::with_capacity(comments.len());
    for c in comments {
        let id = c.short_id.as_str();
        let by_indent = c.indent_level.filter(|l| *l >= 1).map(|level| {
            open.truncate(level as usize - 1);
            let up = open.last().copied();
            open.push(id);
            up
        });
        let parent = match &c.parent_comment {
            Some(named) => named.as_deref(),
            None => by_indent.flatten(),
        };
        out.insert(id, parent);
    }
    out
}

/// How far below the mention `c` is: under a story, every comment (a top-level one is
/// 1); under the comment `focal`, only those whose parents reach it.
fn depth(parent: &HashMap<&str, Option<&str>>, focal: Option<&str>, c: &Comment) -> Option<u32> {
    if Some(c.short_id.as_str()) == focal {
        return None;
    }
    let mut depth = 1u32;
    let mut up = parent.get(c.short_id.as_str()).copied().flatten();
    // bounded: a cycle in a broken response ends after every comment was passed
    for _ in 0..=parent.len() {
        match (up, focal) {
            (Some(p), Some(f)) if p == f => return Some(depth),
            (None, None) => return Some(depth),
            (None, Some(_)) => return None,
            (Some(p), _) => {
                depth = depth.saturating_add(1);
                up = match parent.get(p) {
                    Some(next) => *next,
                    // a parent not listed: under a story it still counts
                    None => return focal.is_none().then_some(depth),
                };
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
