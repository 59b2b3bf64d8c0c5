//! Reddit: `comments/LINK.json` (a comment: `comments/LINK/_/COMMENT.json`, the
//! comment with its subtree), two Listings: the post, then the comment tree. Comments
//! are `t1` things whose `replies` is a Listing or `""`; `more` stubs (comments not
//! sent) are skipped. Deleted comments keep their place as `[deleted]` / `[removed]`.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::{endpoint, json, malformed, no_target, ok_status, plain_id, unix};
use super::{Reply, Target, Thread, ThreadError};
use crate::post::Post;

const KIND: &str = "reddit";
/// Reply URLs always point at www.reddit.com, whatever base the API is read from.
const SITE: &str = "https://www.reddit.com";
/// Comments asked for: the oldest first (an early answer is among them), at most 500,
/// ten levels below the post.
const QUERY: [(&str, &str); 4] = [
    ("raw_json", "1"),
    ("sort", "old"),
    ("limit", "500"),
    ("depth", "10"),
];

#[derive(Debug, Deserialize)]
struct Listing {
    data: ListingData,
}

#[derive(Debug, Deserialize)]
struct ListingData {
    #[serde(default)]
    children: Vec<Thing>,
}

#[derive(Debug, Deserialize)]
struct Thing {
    kind: String,
    #[serde(default)]
    data: Value,
}

#[derive(Debug, Deserialize)]
struct Item {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    selftext: Option<String>,
    #[serde(default)]
    permalink: Option<String>,
    #[serde(default)]
    link_id: Option<String>,
    #[serde(default)]
    created_utc: Option<f64>,
    #[serde(default)]
    removed_by_category: Option<String>,
    /// A Listing, or `""` when there are none.
    #[serde(default)]
    replies: Value,
}

impl Item {
    /// Its text is gone (deleted by the author, removed by moderators).
    fn removed(&self) -> bool {
        let gone = |t: &Option<String>| matches!(t.as_deref(), Some("[deleted]" | "[removed]"));
        gone(&self.body) || gone(&self.selftext) || self.removed_by_category.is_some()
    }

    fn deleted(&self) -> bool {
        self.removed() || matches!(self.author.as_deref(), None | Some("[deleted]"))
    }

    fn time(&self) -> Option<DateTime<Utc>> {
        self.created_utc
            .filter(|t| t.is_finite())
            .and_then(|t| unix(t as i64))
    }

    fn children(&mut self) -> Result<Vec<Thing>, ThreadError> {
        match std::mem::take(&mut self.replies) {
            Value::Object(o) => {
                let l: Listing =
                    serde_json::from_value(Value::Object(o)).map_err(|e| malformed(KIND, e))?;
                Ok(l.data.children)
            }
            _ => Ok(Vec::new()),
        }
    }
}

pub(super) fn target(post: &Post, base: &Url) -> Result<Target, ThreadError> {
    let native = post.id.strip_prefix("reddit:").unwrap_or("");
    let path = if let Some(link) = native.strip_prefix("t3_").filter(|l| plain_id(l)) {
        format!("comments/{link}.json")
    } else if let Some(comment) = native.strip_prefix("t1_").filter(|c| plain_id(c)) {
        let link = link_of(post).ok_or_else(|| {
            no_target(
                post,
                "a comment needs its post: a thread_id reddit:t3_ID or a /comments/ID/ URL",
            )
        })?;
        format!("comments/{link}/_/{comment}.json")
    } else {
        return Err(no_target(
            post,
            "a Reddit id is reddit:t3_ID (a post) or reddit:t1_ID (a comment)",
        ));
    };
    Ok(Target::Fetch(endpoint(base, &path, &QUERY)))
}

/// The post a comment is under: its `thread_id`, else the id after `/comments/` in its URL.
fn link_of(post: &Post) -> Option<String> {
    if let Some(link) = post
        .thread_id
        .as_deref()
        .and_then(|t| t.strip_prefix("reddit:t3_"))
        .filter(|l| plain_id(l))
    {
        return Some(link.to_string());
    }
    let url = Url::parse(&post.url).ok()?;
    let mut segments = url.path_segments()?;
    segments.by_ref().find(|s| *s == "comments")?;
    segments.next().filter(|s| plain_id(s)).map(str::to_string)
}

pub(super) fn parse(post: &Post, status: u16, body: &[u8]) -> Result<Thread, ThreadError> {
    ok_status(KIND, status, body)?;
    let listings: Vec<Listing> = json(KIND, body)?;
    let mut listings = listings.into_iter();
    let (Some(head), Some(comments)) = (listings.next(), listings.next()) else {
        return Err(malformed(
            KIND,
            "expected two Listings (the post, its comments)",
        ));
    };
    let native = post.id.strip_prefix("reddit:").unwrap_or("");
    // for reply URLs where a comment has no permalink
    let fallback_link = match native.strip_prefix("t3_") {
        Some(link) => link.to_string(),
        None => link_of(post).unwrap_or_default(),
    };
    let top = match native.strip_prefix("t1_") {
        None => {
            let item = head
                .data
                .children
                .into_iter()
                .find(|t| t.kind == "t3")
                .ok_or_else(|| malformed(KIND, "no post (t3) in the first Listing"))
                .and_then(item)?;
            if item.removed() {
                return Ok(Thread::Gone);
            }
            let at = item.time().unwrap_or(post.created_at);
            (comments.data.children, at)
        }
        Some(_) => {
            let Some(mut focal) = find(comments.data.children, native)? else {
                return Ok(Thread::Gone);
            };
            if focal.removed() {
                return Ok(Thread::Gone);
            }
            let at = focal.time().unwrap_or(post.created_at);
            (focal.children()?, at)
        }
    };
    let mut out = Vec::new();
    let mut stack: Vec<(Thing, u32, DateTime<Utc>)> =
        top.0.into_iter().rev().map(|t| (t, 1, top.1)).collect();
    while let Some((thing, depth, parent_at)) = stack.pop() {
        if thing.kind != "t1" {
            continue; // "more": comments not sent
        }
        let mut it = item(thing)?;
        let at = it.time().unwrap_or(parent_at);
        let name = it.name.clone().unwrap_or_default();
        let next = depth.saturating_add(1);
        stack.extend(it.children()?.into_iter().rev().map(|t| (t, next, at)));
        out.push(Reply {
            url: match (&it.permalink, &it.link_id) {
                (Some(p), _) => format!("{SITE}{p}"),
                (None, link) => format!(
                    "{SITE}/comments/{}/_/{}/",
                    link.as_deref()
                        .unwrap_or(&fallback_link)
                        .trim_start_matches("t3_"),
                    name.trim_start_matches("t1_")
                ),
            },
            id: format!("reddit:{name}"),
            deleted: it.deleted(),
            author: it.author.unwrap_or_default(),
            at,
            depth,
        });
    }
    Ok(Thread::Replies(out))
}

fn item(thing: Thing) -> Result<Item, ThreadError> {
    serde_json::from_value(thing.data).map_err(|e| malformed(KIND, e))
}

/// The comment named `name` in `things` (depth first).
fn find(things: Vec<Thing>, name: &str) -> Result<Option<Item>, ThreadError> {
    let mut stack = things;
    while let Some(thing) = stack.pop() {
        if thing.kind != "t1" {
            continue;
        }
        let mut it = item(thing)?;
        if it.name.as_deref() == Some(name) {
            return Ok(Some(it));
        }
        stack.extend(it.children()?);
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
