//! Hacker News: Algolia's `items/ID`, the mention's own item with every reply nested
//! below it in `children`. A deleted comment keeps its place with `author` and `text`
//! null.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use url::Url;

use super::ThreadError;
use super::{endpoint, json, no_target, ok_status, rfc3339, unix, Reply, Target, Thread};
use crate::post::Post;

const KIND: &str = "hackernews";
const ITEM_URL: &str = "https://news.ycombinator.com/item?id=";

#[derive(Debug, Deserialize)]
struct Item {
    id: i64,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    created_at_i: Option<i64>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    children: Vec<Item>,
}

impl Item {
    fn deleted(&self) -> bool {
        self.author.is_none() || (self.text.is_none() && self.title.is_none())
    }

    fn time(&self) -> Option<DateTime<Utc>> {
        self.created_at_i
            .and_then(unix)
            .or_else(|| self.created_at.as_deref().and_then(rfc3339))
    }
}

pub(super) fn target(post: &Post, base: &Url) -> Result<Target, ThreadError> {
    let id = post
        .id
        .strip_prefix("hackernews:")
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| no_target(post, "a Hacker News id is hackernews:NUMBER"))?;
    Ok(Target::Fetch(endpoint(base, &format!("items/{id}"), &[])))
}

pub(super) fn parse(post: &Post, status: u16, body: &[u8]) -> Result<Thread, ThreadError> {
    ok_status(KIND, status, body)?;
    let root: Item = json(KIND, body)?;
    if root.deleted() {
        return Ok(Thread::Gone);
    }
    let mut out = Vec::new();
    let root_at = root.time().unwrap_or(post.created_at);
    // (item, depth, its parent's time), depth first in the API's order
    let mut stack: Vec<(Item, u32, DateTime<Utc>)> = root
        .children
        .into_iter()
        .rev()
        .map(|c| (c, 1, root_at))
        .collect();
    while let Some((item, depth, parent_at)) = stack.pop() {
        let at = item.time().unwrap_or(parent_at);
        out.push(Reply {
            id: format!("hackernews:{}", item.id),
            author: item.author.clone().unwrap_or_default(),
            at,
            url: format!("{ITEM_URL}{}", item.id),
            depth,
            deleted: item.deleted(),
        });
        let next = depth.saturating_add(1);
        stack.extend(item.children.into_iter().rev().map(|c| (c, next, at)));
    }
    Ok(Thread::Replies(out))
}

#[cfg(test)]
mod tests;
