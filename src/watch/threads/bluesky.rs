//! Bluesky: the AppView's `app.bsky.feed.getPostThread` for the post's AT-URI (the
//! id after `bluesky:`), replies only (`parentHeight=0`), ten levels deep. `thread` is
//! a `#threadViewPost` whose `replies` nest; a reply may be a `#notFoundPost` (deleted)
//! or a `#blockedPost`, both kept as deleted replies. A deleted post is a 400 with
//! `error: "NotFound"` (or a `#notFoundPost` thread).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use url::Url;

use super::{body_start, endpoint, json, malformed, no_target, ok_status, rfc3339};
use super::{Reply, Target, Thread, ThreadError};
use crate::post::Post;

const KIND: &str = "bluesky";
const APP: &str = "https://bsky.app";
/// What the AppView shows for a handle that no longer resolves.
const INVALID_HANDLE: &str = "handle.invalid";

#[derive(Debug, Deserialize)]
struct Response {
    thread: Node,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "$type")]
enum Node {
    #[serde(rename = "app.bsky.feed.defs#threadViewPost")]
    View {
        post: PostView,
        #[serde(default)]
        replies: Vec<Node>,
    },
    #[serde(rename = "app.bsky.feed.defs#notFoundPost")]
    NotFound { uri: String },
    #[serde(rename = "app.bsky.feed.defs#blockedPost")]
    Blocked {
        uri: String,
        #[serde(default)]
        author: Option<Did>,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct PostView {
    uri: String,
    author: Author,
    #[serde(default)]
    record: Record,
    #[serde(default, rename = "indexedAt")]
    indexed_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Author {
    did: String,
    #[serde(default)]
    handle: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Did {
    did: String,
}

#[derive(Debug, Default, Deserialize)]
struct Record {
    #[serde(default, rename = "createdAt")]
    created_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct XrpcError {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// (DID, record key) of a post's `at://DID/app.bsky.feed.post/RKEY`.
fn uri_parts(uri: &str) -> Option<(&str, &str)> {
    let mut parts = uri.strip_prefix("at://")?.split('/');
    let (did, collection, rkey) = (parts.next()?, parts.next()?, parts.next()?);
    let ok = parts.next().is_none()
        && did.starts_with("did:")
        && collection == "app.bsky.feed.post"
        && !rkey.is_empty()
        && !rkey.contains(['?', '#']);
    ok.then_some((did, rkey))
}

pub(super) fn target(post: &Post, base: &Url) -> Result<Target, ThreadError> {
    let uri = post
        .id
        .strip_prefix("bluesky:")
        .filter(|u| uri_parts(u).is_some())
        .ok_or_else(|| {
            no_target(
                post,
                "a Bluesky id is bluesky:at://DID/app.bsky.feed.post/RKEY",
            )
        })?;
    let query = [("uri", uri), ("depth", "10"), ("parentHeight", "0")];
    Ok(Target::Fetch(endpoint(
        base,
        "xrpc/app.bsky.feed.getPostThread",
        &query,
    )))
}

pub(super) fn parse(post: &Post, status: u16, body: &[u8]) -> Result<Thread, ThreadError> {
    if status == 400 {
        let e: XrpcError = serde_json::from_slice(body).unwrap_or(XrpcError {
            error: None,
            message: None,
        });
        if e.error.as_deref() == Some("NotFound") {
            return Ok(Thread::Gone);
        }
        return Err(ThreadError::Api {
            kind: KIND.into(),
            message: match (e.error, e.message) {
                (Some(error), Some(message)) => format!("{error}: {message}"),
                (Some(error), None) => error,
                (None, _) => format!("HTTP 400: {}", body_start(body)),
            },
            retry_after: None,
        });
    }
    ok_status(KIND, status, body)?;
    let response: Response = json(KIND, body)?;
    let (root, replies) = match response.thread {
        Node::View { post, replies } => (post, replies),
        Node::NotFound { .. } | Node::Blocked { .. } => return Ok(Thread::Gone),
        Node::Other => return Err(malformed(KIND, "the thread is of an unknown $type")),
    };
    let root_at = time(&root).unwrap_or(post.created_at);
    let mut out = Vec::new();
    let mut stack: Vec<(Node, u32, DateTime<Utc>)> =
        replies.into_iter().rev().map(|n| (n, 1, root_at)).collect();
    while let Some((node, depth, parent_at)) = stack.pop() {
        let (uri, author, handle, at, deleted) = match node {
            Node::View { post, replies } => {
                let at = time(&post).unwrap_or(parent_at);
                let next = depth.saturating_add(1);
                stack.extend(replies.into_iter().rev().map(|n| (n, next, at)));
                let handle = post
                    .author
                    .handle
                    .filter(|h| !h.is_empty() && h != INVALID_HANDLE);
                let author = handle.clone().unwrap_or(post.author.did);
                (post.uri, author, handle, at, false)
            }
            Node::NotFound { uri } => (uri, String::new(), None, parent_at, true),
            Node::Blocked { uri, author } => (
                uri,
                author.map(|a| a.did).unwrap_or_default(),
                None,
                parent_at,
                true,
            ),
            Node::Other => continue,
        };
        let Some((did, rkey)) = uri_parts(&uri) else {
            continue; // not a post (nothing else is a reply)
        };
        let author = if author.is_empty() {
            did.to_string()
        } else {
            author
        };
        out.push(Reply {
            url: format!(
                "{APP}/profile/{}/post/{rkey}",
                handle.as_deref().unwrap_or(did)
            ),
            id: format!("bluesky:{uri}"),
            author,
            at,
            depth,
            deleted,
        });
    }
    Ok(Thread::Replies(out))
}

/// When a post was written (its record's `createdAt`), else when it was indexed.
fn time(post: &PostView) -> Option<DateTime<Utc>> {
    post.record
        .created_at
        .as_deref()
        .and_then(rfc3339)
        .or_else(|| post.indexed_at.as_deref().and_then(rfc3339))
}

#[cfg(test)]
mod tests;
