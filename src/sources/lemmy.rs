//! Lemmy: one instance's search, `/api/v3/search?q=TERM&type_=All&sort=New&limit=50`,
//! for each query (the source's `queries`, else the brands' search terms): posts and
//! comments, newest first, resuming per query from the newest `published` read (pages
//! on down to it, 3 pages at most, else the note says what was not read; a first poll
//! reads page 1, `overhear backfill` pages down to its start). Deleted and removed
//! items are skipped.
//!
//! Ids are the polled instance's (`lemmy:HOST:post/ID`, `lemmy:HOST:comment/ID`, HOST
//! without a port), even for content federated from elsewhere; URLs are the items'
//! `ap_id`. A comment's `thread_id` is its post, its `parent_id` the comment it
//! answers (from its `path`, `0.PARENT.ID`) or the post. Authors are `name@instance`
//! (from `creator.actor_id`), lower case, as brand accounts spell them.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use url::Url;

use super::fetch::{Expect, GetOpts};
use super::text::html_to_text_and_links;
use super::{
    off_runtime, Api, Fetched, Gather, Kind, LemmyConfig, NewestState, Queries, SourceContext,
    SourceError,
};
use crate::post::Post;

const LIMIT: usize = 50;
const MAX_PAGES: u32 = 3;

pub(crate) struct Lemmy {
    api: Api,
    queries: Queries,
    /// The instance's host: the HOST of every id.
    host: String,
}

/// Newest `published` seen (seconds), per query.
pub(crate) type State = NewestState;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Search {
    #[serde(default)]
    posts: Vec<PostView>,
    #[serde(default)]
    comments: Vec<CommentView>,
}

#[derive(Debug, Deserialize)]
struct PostView {
    post: LemmyPost,
    #[serde(default)]
    creator: Option<Person>,
    #[serde(default)]
    community: Option<Community>,
    #[serde(default)]
    counts: Option<Counts>,
}

#[derive(Debug, Deserialize)]
struct CommentView {
    comment: LemmyComment,
    #[serde(default)]
    creator: Option<Person>,
    #[serde(default)]
    community: Option<Community>,
    #[serde(default)]
    counts: Option<Counts>,
}

#[derive(Debug, Deserialize)]
struct LemmyPost {
    id: i64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    ap_id: Option<String>,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    deleted: bool,
    #[serde(default)]
    removed: bool,
}

#[derive(Debug, Deserialize)]
struct LemmyComment {
    id: i64,
    post_id: i64,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    ap_id: Option<String>,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    deleted: bool,
    #[serde(default)]
    removed: bool,
}

#[derive(Debug, Deserialize)]
struct Person {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    actor_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Community {
    #[serde(default)]
    actor_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Counts {
    #[serde(default)]
    score: Option<i64>,
}

/// Lemmy's times: RFC 3339, or (before 0.19) without a zone, meaning UTC.
pub(crate) fn lemmy_time(t: Option<&str>) -> Option<DateTime<Utc>> {
    let t = t?.trim();
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f").map(|n| n.and_utc()))
        .ok()
}

/// `name@instance` of a creator, from its `actor_id` (`https://lemmy.world/u/acme`),
/// lower case; `None` without one.
fn person(p: Option<&Person>) -> Option<String> {
    let p = p?;
    let actor = Url::parse(p.actor_id.as_deref()?).ok()?;
    let host = actor.host_str()?;
    let name = match p.name.as_deref() {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => actor.path_segments()?.next_back()?.to_string(),
    };
    let ok = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    (ok && !name.is_empty()).then(|| format!("{name}@{host}").to_lowercase())
}

/// A URL from the payload when it is a web URL.
fn web_url(u: Option<&str>) -> Option<Url> {
    Url::parse(u?)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
}

/// A search response of instance `base` (its host `host`) as posts of source `name`,
/// each with its `published` time (seconds), newest first as the server sent them.
pub(crate) fn search_posts(s: Search, base: &Url, host: &str, name: &str) -> Vec<(i64, Post)> {
    let site = |c: Option<&Community>| {
        c.and_then(|c| web_url(c.actor_id.as_deref()))
            .and_then(|u| Some(format!("{}{}", u.host_str()?, u.path())))
            .unwrap_or_else(|| host.to_string())
    };
    let blank = |id: String, url: Url, at: Option<DateTime<Utc>>| Post {
        id,
        url: url.to_string(),
        author: None,
        title: None,
        text: String::new(),
        created_at: at.unwrap_or_else(Utc::now),
        created_at_is_first_seen: at.is_none(),
        source: "lemmy".into(),
        source_name: name.to_string(),
        site: String::new(),
        parent_id: None,
        thread_id: None,
        engagement: None,
        lang: None,
        links: Vec::new(),
        rating: None,
        owned_by: None,
    };
    let mut out = Vec::new();
    for v in s.posts {
        let p = &v.post;
        if p.deleted || p.removed {
            continue;
        }
        let at = lemmy_time(p.published.as_deref());
        let url = web_url(p.ap_id.as_deref())
            .unwrap_or_else(|| super::endpoint(base, &format!("post/{}", p.id), &[]));
        let (text, mut links) = html_to_text_and_links(p.body.as_deref().unwrap_or(""), None);
        if let Some(u) = web_url(p.url.as_deref()) {
            links.insert(0, u.to_string());
        }
        let title = html_to_text_and_links(p.name.as_deref().unwrap_or(""), None).0;
        let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut post = blank(format!("lemmy:{host}:post/{}", p.id), url, at);
        post.author = person(v.creator.as_ref());
        post.title = (!title.is_empty()).then_some(title);
        post.text = text;
        post.links = links;
        post.site = site(v.community.as_ref());
        post.engagement = v.counts.and_then(|c| c.score);
        out.push((at.map_or(0, |t| t.timestamp()), post));
    }
    for v in s.comments {
        let c = &v.comment;
        if c.deleted || c.removed {
            continue;
        }
        let at = lemmy_time(c.published.as_deref());
        let url = web_url(c.ap_id.as_deref())
            .unwrap_or_else(|| super::endpoint(base, &format!("comment/{}", c.id), &[]));
        let (text, links) = html_to_text_and_links(c.content.as_deref().unwrap_or(""), None);
        let thread = format!("lemmy:{host}:post/{}", c.post_id);
        // path "0.PARENT.ID": the parent is the segment before this comment's own
        let parent = c
            .path
            .as_deref()
            .and_then(|p| p.split('.').rev().nth(1))
            .and_then(|s| s.parse::<i64>().ok())
            .filter(|p| *p != 0)
            .map(|p| format!("lemmy:{host}:comment/{p}"));
        let mut post = blank(format!("lemmy:{host}:comment/{}", c.id), url, at);
        post.author = person(v.creator.as_ref());
        post.text = text;
        post.links = links;
        post.site = site(v.community.as_ref());
        post.engagement = v.counts.and_then(|c| c.score);
        post.parent_id = Some(parent.unwrap_or_else(|| thread.clone()));
        post.thread_id = Some(thread);
        out.push((at.map_or(0, |t| t.timestamp()), post));
    }
    out
}

impl Lemmy {
    pub fn new(cfg: &LemmyConfig, ctx: &SourceContext, name: &str) -> Result<Self, SourceError> {
        let raw = cfg.instance.trim();
        let instance = if raw.contains("://") {
            raw.to_string()
        } else {
            format!("https://{raw}")
        };
        let api = Api::new(ctx, Some(&instance), &instance, name)?;
        let host = api.base.host_str().map(str::to_lowercase).ok_or_else(|| {
            SourceError::Config(format!("source {name:?}: {raw:?} names no host"))
        })?;
        Ok(Lemmy {
            api,
            queries: Queries::new(&cfg.queries, ctx, name)?,
            host,
        })
    }

    /// Pages through `q`'s newest results down to `since`. Returns a note when the
    /// pages ran out before reaching it (the older new results are not read).
    async fn query(
        &self,
        q: &str,
        since: Option<i64>,
        got: &mut Gather<State>,
    ) -> Result<Option<String>, SourceError> {
        let pages = if since.is_some() { MAX_PAGES } else { 1 };
        let limit = LIMIT.to_string();
        for page in 1..=pages {
            let page_s = page.to_string();
            let url = self.api.url(
                "api/v3/search",
                &[
                    ("q", q),
                    ("type_", "All"),
                    ("sort", "New"),
                    ("limit", &limit),
                    ("page", &page_s),
                ],
            );
            let Some(resp) = self
                .api
                .http
                .get(&url, Expect::Json, GetOpts::default())
                .await?
            else {
                return Ok(None);
            };
            got.wait_at_least(resp.wait_hint);
            let (base, host, name) = (
                self.api.base.clone(),
                self.host.clone(),
                self.api.name.clone(),
            );
            let (full, items) = off_runtime(move || {
                let s: Search = resp.json()?;
                let full = s.posts.len() >= LIMIT || s.comments.len() >= LIMIT;
                Ok((full, search_posts(s, &base, &host, &name)))
            })
            .await?;
            let mut older = false;
            for (t, p) in items {
                if t > 0 {
                    got.next.saw(q, t);
                }
                if since.is_some_and(|s| t > 0 && t < s) {
                    older = true;
                    continue;
                }
                got.posts.push(p);
            }
            if older || !full {
                return Ok(None);
            }
        }
        Ok(since.map(|_| {
            format!("more than {MAX_PAGES} pages of new results for {q:?}: the older ones were not read")
        }))
    }
}

impl Kind for Lemmy {
    type State = State;
    const KIND: &'static str = "lemmy";

    async fn fetch(&mut self, state: &State) -> Result<Fetched<State>, SourceError> {
        let mut got = Gather::new(state);
        let mut notes = Vec::new();
        for q in &self.queries.queries {
            let since = self.queries.since(state, q);
            notes.extend(self.query(q, since, &mut got).await?);
        }
        Ok(got.finish((!notes.is_empty()).then(|| notes.join("; "))))
    }
}

#[cfg(test)]
#[path = "lemmy_tests.rs"]
mod tests;
