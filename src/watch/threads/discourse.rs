//! Discourse: one call, `{base}/t/{topic_id}/{post_number}.json`, the topic as seen
//! from the mention. Discourse returns at most 20 posts of a topic per call (its
//! `chunk_size`; `/t/{topic_id}.json` gives the first 20 only): with a post number it
//! returns the posts around it (up to 5 before, the rest after; more before near the
//! end of the topic). So the replies read are those among the ~15 posts after the
//! mention; a reply further down a long, busy topic is not seen.
//!
//! Replies follow `reply_to_post_number`: a post replying to the mention is depth 1,
//! to one of those depth 2, and so on. For the topic's first post every later post is
//! a reply, depth 1 unless it replies to a deeper one (depth 2 when that one is not in
//! the response). Small actions ("closed this topic") and whispers are not replies;
//! posts deleted by staff or their author, or hidden by flags, are deleted replies.
//! Authors are `FORUM_HOST/username` (lowercase, the host of the mention's URL), ids
//! `discourse:HOST:POST_ID`, URLs `…/t/{slug}/{topic_id}/{post_number}`. A deleted
//! topic, a deleted mention, or a topic whose post stream no longer holds the
//! mention is `Gone`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use url::Url;

use super::{endpoint, json, no_target, ok_status};
use super::{Reply, Target, Thread, ThreadError};
use crate::post::Post;

const KIND: &str = "discourse";
const SMALL_ACTION: i64 = 3;
const WHISPER: i64 = 4;

#[derive(Debug, Deserialize)]
struct Topic {
    #[serde(default)]
    post_stream: Option<PostStream>,
    #[serde(default)]
    slug: Option<String>,
    #[serde(default)]
    deleted_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PostStream {
    #[serde(default)]
    posts: Vec<TopicPost>,
    /// Every visible post id of the topic, in order.
    #[serde(default)]
    stream: Option<Vec<i64>>,
}

#[derive(Debug, Deserialize)]
struct TopicPost {
    id: i64,
    post_number: i64,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    reply_to_post_number: Option<i64>,
    #[serde(default)]
    post_type: Option<i64>,
    #[serde(default)]
    deleted_at: Option<String>,
    #[serde(default)]
    user_deleted: Option<bool>,
    #[serde(default)]
    hidden: Option<bool>,
    #[serde(default)]
    topic_slug: Option<String>,
}

/// What the mention's id and URL say: the forum host, the post id, the topic, the
/// post number (absent in a URL to the topic itself), and the URL up to `/t/`.
struct Parts {
    host: String,
    post_id: i64,
    topic: i64,
    number: Option<i64>,
    /// The forum's URL (origin and any subfolder) before `/t/`.
    forum: String,
}

fn parts(post: &Post) -> Option<Parts> {
    let (host, id) = post.id.strip_prefix("discourse:")?.rsplit_once(':')?;
    let post_id = id.parse::<i64>().ok().filter(|i| *i > 0)?;
    let url = Url::parse(&post.url).ok()?;
    let path = url.path();
    let (prefix, rest) = path.rsplit_once("/t/")?;
    let nums: Vec<i64> = rest
        .split('/')
        .filter_map(|s| s.parse::<i64>().ok())
        .collect();
    // /t/slug/TOPIC/NUMBER, /t/TOPIC/NUMBER, /t/slug/TOPIC, /t/TOPIC
    let (topic, number) = match nums.as_slice() {
        [t] => (*t, None),
        [.., t, n] => (*t, Some(*n)),
        [] => return None,
    };
    let topic_from_thread = post
        .thread_id
        .as_deref()
        .and_then(|t| t.rsplit(':').next()?.parse::<i64>().ok());
    let topic = topic_from_thread.unwrap_or(topic);
    let origin = url.origin().ascii_serialization();
    Some(Parts {
        host: host.to_ascii_lowercase(),
        post_id,
        topic,
        number,
        forum: format!("{origin}{prefix}"),
    })
    .filter(|p| p.topic > 0 && p.number.map_or(true, |n| n > 0))
}

const WHAT: &str =
    "a Discourse post is discourse:HOST:POST_ID with a URL …/t/SLUG/TOPIC_ID/POST_NUMBER";

pub(super) fn target(post: &Post, base: &Url) -> Result<Target, ThreadError> {
    let p = parts(post).ok_or_else(|| no_target(post, WHAT))?;
    let path = match p.number {
        Some(n) => format!("t/{}/{n}.json", p.topic),
        None => format!("t/{}.json", p.topic),
    };
    Ok(Target::Fetch(endpoint(base, &path, &[])))
}

pub(super) fn parse(post: &Post, status: u16, body: &[u8]) -> Result<Thread, ThreadError> {
    ok_status(KIND, status, body)?;
    let p = parts(post).ok_or_else(|| no_target(post, WHAT))?;
    let topic: Topic = json(KIND, body)?;
    if topic.deleted_at.is_some() {
        return Ok(Thread::Gone);
    }
    let stream = topic
        .post_stream
        .ok_or_else(|| super::malformed(KIND, "no post_stream"))?;
    let mut posts = stream.posts;
    posts.sort_by_key(|x| x.post_number);
    let mention = posts.iter().find(|x| x.id == p.post_id);
    let number = match (mention, p.number) {
        (Some(m), _) => m.post_number,
        (None, Some(n)) => n,
        (None, None) => 1,
    };
    if mention.is_some_and(|m| m.deleted_at.is_some() || m.user_deleted == Some(true)) {
        return Ok(Thread::Gone);
    }
    let listed = stream.stream.as_ref().filter(|s| !s.is_empty());
    if mention.is_none() && listed.is_some_and(|s| !s.contains(&p.post_id)) {
        return Ok(Thread::Gone);
    }
    let slug = topic
        .slug
        .filter(|s| !s.is_empty() && !s.contains(['/', '?', '#']));
    let mut depth: HashMap<i64, u32> = HashMap::from([(number, 0)]);
    let mut out = Vec::new();
    for x in posts.iter().filter(|x| x.post_number > number) {
        if matches!(x.post_type, Some(SMALL_ACTION | WHISPER)) {
            continue;
        }
        let d = match x.reply_to_post_number {
            Some(to) => match depth.get(&to) {
                Some(d) => d + 1,
                None if number == 1 => 2,
                None => continue,
            },
            None if number == 1 => 1,
            None => continue,
        };
        depth.insert(x.post_number, d);
        let username = x.username.as_deref().map(str::trim).unwrap_or("");
        let slug = slug.as_deref().or(x.topic_slug.as_deref());
        let url = match slug {
            Some(s) => format!("{}/t/{s}/{}/{}", p.forum, p.topic, x.post_number),
            None => format!("{}/t/{}/{}", p.forum, p.topic, x.post_number),
        };
        out.push(Reply {
            id: format!("discourse:{}:{}", p.host, x.id),
            author: if username.is_empty() {
                String::new()
            } else {
                format!("{}/{}", reply_host(post, &p), username.to_lowercase())
            },
            at: x.created_at.unwrap_or(post.created_at),
            url,
            depth: d,
            deleted: x.deleted_at.is_some()
                || x.user_deleted == Some(true)
                || x.hidden == Some(true)
                || username.is_empty(),
        });
    }
    Ok(Thread::Replies(out))
}

/// The forum host as accounts name it: the host of the mention's URL.
fn reply_host(post: &Post, p: &Parts) -> String {
    Url::parse(&post.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_else(|| p.host.clone())
}

#[cfg(test)]
mod tests;
