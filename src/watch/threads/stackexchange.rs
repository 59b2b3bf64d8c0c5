//! Stack Exchange: one call, the question's timeline
//! (`questions/QID/timeline?site=SITE`, the default filter, 100 events, newest
//! first), in the API's `{items, has_more, backoff}` wrapper. Its `answer` events are
//! replies of depth 1, its `comment` events on the question depth 1 and on an answer
//! depth 2; votes, revisions and the like are skipped. The timeline has no links:
//! an answer's URL is `https://HOST/a/ID`, a comment's the question's URL with
//! `#commentID_POSTID`. Deleted posts are not in it; a deleted question has no
//! timeline at all (`Gone`). Authors are `SITE/USER_ID` (no user id: a deleted account).

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::{body_start, endpoint, json, no_target, unix};
use super::{Reply, Target, Thread, ThreadError};
use crate::post::Post;
use crate::sources::fetch::{server_wait_secs, MAX_SERVER_WAIT};

const KIND: &str = "stackexchange";

#[derive(Debug, Deserialize)]
struct Wrapper {
    #[serde(default)]
    items: Vec<Event>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    backoff: Option<u64>,
    #[serde(default)]
    error_id: Option<i64>,
    #[serde(default)]
    error_name: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Event {
    timeline_type: String,
    #[serde(default)]
    question_id: Option<i64>,
    #[serde(default)]
    post_id: Option<i64>,
    #[serde(default)]
    comment_id: Option<i64>,
    #[serde(default)]
    creation_date: Option<i64>,
    /// The post's owner (answers).
    #[serde(default)]
    owner: Option<User>,
    /// Who acted (comments).
    #[serde(default)]
    user: Option<User>,
}

#[derive(Debug, Deserialize)]
struct User {
    #[serde(default)]
    user_id: Option<i64>,
    #[serde(default)]
    user_type: Option<String>,
}

/// A site as accounts and authors name it: `stackoverflow.com` and `stackoverflow`
/// are `stackoverflow`, `unix.stackexchange.com` is `unix`.
pub(super) fn site_key(site: &str) -> String {
    let site = site.trim().to_lowercase();
    let site = site.strip_suffix(".com").unwrap_or(&site);
    site.strip_suffix(".stackexchange")
        .unwrap_or(site)
        .to_string()
}

/// (SITE, QID) of `stackexchange:SITE:QID`.
fn id_parts(id: &str) -> Option<(&str, i64)> {
    let (site, qid) = id.strip_prefix("stackexchange:")?.rsplit_once(':')?;
    let ok = !site.is_empty() && !site.contains(['/', '?', '#', '&']);
    let qid = qid.parse::<i64>().ok().filter(|q| *q > 0)?;
    ok.then_some((site, qid))
}

pub(super) fn target(post: &Post, base: &Url) -> Result<Target, ThreadError> {
    let (site, qid) = id_parts(&post.id).ok_or_else(|| {
        no_target(
            post,
            "a Stack Exchange id is stackexchange:SITE:QUESTION_ID",
        )
    })?;
    let path = format!("questions/{qid}/timeline");
    let query = [("site", site), ("pagesize", "100")];
    Ok(Target::Fetch(endpoint(base, &path, &query)))
}

pub(super) fn parse(post: &Post, status: u16, body: &[u8]) -> Result<Thread, ThreadError> {
    if !(200..300).contains(&status) {
        // errors come in the wrapper too (400 throttle_violation, 502, …)
        return Err(match serde_json::from_slice::<Wrapper>(body) {
            Ok(w) if w.error_id.is_some() => api_error(&w),
            _ => ThreadError::Status {
                kind: KIND.into(),
                status,
                detail: body_start(body),
            },
        });
    }
    let (site, qid) = id_parts(&post.id).ok_or_else(|| {
        no_target(
            post,
            "a Stack Exchange id is stackexchange:SITE:QUESTION_ID",
        )
    })?;
    let w: Wrapper = json(KIND, body)?;
    if w.error_id.is_some() {
        return Err(api_error(&w));
    }
    if w.items.is_empty() && !w.has_more {
        return Ok(Thread::Gone);
    }
    let question = post.url.split('#').next().unwrap_or(&post.url);
    let host = Url::parse(question)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| format!("{site}.com"));
    let site = site_key(site);
    // the time of each answer: a comment on one with no date of its own takes it
    let answered: HashMap<i64, i64> = w
        .items
        .iter()
        .filter(|e| e.timeline_type == "answer")
        .filter_map(|e| Some((e.post_id?, e.creation_date?)))
        .collect();
    let mut out = Vec::new();
    for e in &w.items {
        if e.question_id.is_some_and(|q| q != qid) {
            continue;
        }
        let (id, url, depth, who) = match (e.timeline_type.as_str(), e.post_id, e.comment_id) {
            ("answer", Some(a), _) => (
                a.to_string(),
                format!("https://{host}/a/{a}"),
                1,
                e.owner.as_ref().or(e.user.as_ref()),
            ),
            ("comment", on, Some(c)) => {
                let on = on.unwrap_or(qid);
                (
                    format!("comment:{c}"),
                    format!("{question}#comment{c}_{on}"),
                    if on == qid { 1 } else { 2 },
                    e.user.as_ref().or(e.owner.as_ref()),
                )
            }
            _ => continue,
        };
        let author = who
            .and_then(|u| u.user_id)
            .map(|u| format!("{site}/{u}"))
            .unwrap_or_default();
        let gone_user = who.and_then(|u| u.user_type.as_deref()) == Some("does_not_exist");
        out.push(Reply {
            id: format!("stackexchange:{site}:{id}"),
            deleted: author.is_empty() || gone_user,
            author,
            at: e
                .creation_date
                .or_else(|| e.post_id.and_then(|p| answered.get(&p).copied()))
                .and_then(unix)
                .unwrap_or(post.created_at),
            url,
            depth,
        });
    }
    Ok(Thread::Replies(out))
}

/// The `backoff` of a response: seconds to wait before calling the method again.
pub(super) fn backoff(body: &[u8]) -> Option<Duration> {
    #[derive(Deserialize)]
    struct Backoff {
        #[serde(default)]
        backoff: Option<u64>,
    }
    let b: Backoff = serde_json::from_slice(body).ok()?;
    b.backoff.map(server_wait_secs)
}

/// An API error object; a throttle violation says how long to wait.
fn api_error(w: &Wrapper) -> ThreadError {
    let message = format!(
        "{} ({}): {}",
        w.error_name.as_deref().unwrap_or("error"),
        w.error_id.unwrap_or(0),
        w.error_message.as_deref().unwrap_or("")
    );
    let throttled =
        w.error_id == Some(502) || w.error_name.as_deref() == Some("throttle_violation");
    // "too many requests from this IP, more requests available in 80000 seconds"
    let said = w
        .error_message
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .rev()
        .find(|t| t.bytes().all(|b| b.is_ascii_digit()))
        .map(|t| t.parse::<u64>().map_or(MAX_SERVER_WAIT, server_wait_secs));
    ThreadError::Api {
        kind: KIND.into(),
        message,
        retry_after: if throttled {
            said.or(w.backoff.map(server_wait_secs))
        } else {
            w.backoff.map(server_wait_secs)
        },
    }
}

#[cfg(test)]
mod tests;
