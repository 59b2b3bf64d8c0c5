//! Mastodon: `api/v1/statuses/ID/context` on the instance the source polled (the
//! HOST of `mastodon:HOST:ID`; ID is that instance's id). Only `descendants` are
//! replies: a flat list in thread order, each with `in_reply_to_id`. Deleted statuses
//! are left out of it; a reply to one stays, one level below the missing status.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use url::Url;

use super::{endpoint, json, no_target, ok_status, plain_id, rfc3339};
use super::{Bases, Reply, Target, Thread, ThreadError};
use crate::post::Post;

const KIND: &str = "mastodon";

#[derive(Debug, Deserialize)]
struct Context {
    descendants: Vec<Status>,
}

#[derive(Debug, Deserialize)]
struct Status {
    id: String,
    #[serde(default)]
    in_reply_to_id: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    account: Option<Account>,
}

#[derive(Debug, Deserialize)]
struct Account {
    #[serde(default)]
    acct: Option<String>,
    #[serde(default)]
    suspended: Option<bool>,
}

/// (HOST, ID) of `mastodon:HOST:ID`.
pub(super) fn id_parts(id: &str) -> Option<(&str, &str)> {
    let (host, status) = id.strip_prefix("mastodon:")?.rsplit_once(':')?;
    (!host.is_empty() && plain_id(status)).then_some((host, status))
}

/// `acct` as `user@domain`, lowercase: a local one (no `@`) is on `host`.
pub(super) fn full_acct(acct: &str, host: &str) -> String {
    let acct = acct.trim().trim_start_matches('@');
    if acct.contains('@') {
        acct.to_lowercase()
    } else {
        format!("{acct}@{host}").to_lowercase()
    }
}

/// The instance serving HOST: the post's own `[[source]]` entry where it is that
/// host, else [`Bases::mastodon`], else `https://HOST`.
fn instance(post: &Post, bases: &Bases, host: &str) -> Result<Url, ThreadError> {
    if let Some(u) = bases
        .sources
        .get(&post.source_name)
        .filter(|u| u.host_str() == Some(host))
    {
        return Ok(u.clone());
    }
    if let Some(u) = bases.mastodon.get(host) {
        return Ok(u.clone());
    }
    Url::parse(&format!("https://{host}"))
        .map_err(|e| no_target(post, format!("{host:?} is not a host: {e}")))
}

pub(super) fn target(post: &Post, bases: &Bases) -> Result<Target, ThreadError> {
    let (host, id) = id_parts(&post.id)
        .ok_or_else(|| no_target(post, "a Mastodon id is mastodon:HOST:STATUS_ID"))?;
    let base = instance(post, bases, host)?;
    let path = format!("api/v1/statuses/{id}/context");
    Ok(Target::Fetch(endpoint(&base, &path, &[])))
}

pub(super) fn parse(post: &Post, status: u16, body: &[u8]) -> Result<Thread, ThreadError> {
    ok_status(KIND, status, body)?;
    let Some((host, root)) = id_parts(&post.id) else {
        return Err(no_target(post, "a Mastodon id is mastodon:HOST:STATUS_ID"));
    };
    let context: Context = json(KIND, body)?;
    let statuses = &context.descendants;
    let parent: HashMap<&str, Option<&str>> = statuses
        .iter()
        .map(|s| (s.id.as_str(), s.in_reply_to_id.as_deref()))
        .collect();
    let times: HashMap<&str, DateTime<Utc>> = statuses
        .iter()
        .filter_map(|s| Some((s.id.as_str(), rfc3339(s.created_at.as_deref()?)?)))
        .collect();
    let mut out = Vec::with_capacity(statuses.len());
    for s in statuses {
        if s.id == root {
            continue;
        }
        let acct = s.account.as_ref().and_then(|a| a.acct.as_deref());
        let author = acct.map(|a| full_acct(a, host)).unwrap_or_default();
        let at = times.get(s.id.as_str()).copied().unwrap_or_else(|| {
            s.in_reply_to_id
                .as_deref()
                .and_then(|p| times.get(p).copied())
                .unwrap_or(post.created_at)
        });
        let url = s
            .url
            .clone()
            .or_else(|| s.uri.clone())
            .unwrap_or_else(|| format!("https://{host}/@{}/{}", acct.unwrap_or("_"), s.id));
        out.push(Reply {
            id: format!("mastodon:{host}:{}", s.id),
            deleted: author.is_empty()
                || s.account
                    .as_ref()
                    .is_some_and(|a| a.suspended == Some(true)),
            author,
            at,
            url,
            depth: depth(&parent, root, s),
        });
    }
    Ok(Thread::Replies(out))
}

/// Replies up from `s` to `root`; a missing (deleted) status on the way counts as one.
fn depth(parent: &HashMap<&str, Option<&str>>, root: &str, s: &Status) -> u32 {
    let mut depth = 1u32;
    let mut up = s.in_reply_to_id.as_deref();
    // bounded: a cycle in a broken response ends after every status was passed
    for _ in 0..=parent.len() {
        match up {
            None => break,
            Some(p) if p == root => break,
            Some(p) => {
                depth = depth.saturating_add(1);
                match parent.get(p) {
                    Some(next) => up = *next,
                    None => break,
                }
            }
        }
    }
    depth
}

#[cfg(test)]
mod tests;
