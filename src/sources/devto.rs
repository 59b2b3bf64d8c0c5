//! dev.to (and any Forem site): the newest articles, `/api/articles/latest`, or with
//! `tags` each tag's, `/api/articles?tag=T` (Forem orders those by its hotness, not by
//! date: a new article is read once it reaches the tag's first page). Forem has no
//! search: every article is a post, matched locally.
//!
//! Resumes per endpoint from the newest `published_at` read: the latest articles are
//! paged (100 a page, 3 pages at most) down to it; an article is emitted once (the
//! [`Seen`] window), and never when published more than a day before that cursor.
//!
//! Comments, `/api/comments?a_id=ID` (a tree: `children`), are posts too
//! (`devto:c/ID_CODE`, `thread_id` `devto:ARTICLE_ID`). There is no feed of new
//! comments, so the requests are bounded: only articles published in the last
//! [`COMMENT_DAYS`] days that the listings showed with more comments than were read,
//! at most [`COMMENT_ARTICLES`] a poll, the least recently read first (the others wait
//! for the next polls). An article's comment count is only refreshed while it is in a
//! listing: comments on articles that left the listings are not read.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::fetch::{Expect, GetOpts};
use super::text::{decode_entities, html_to_text_and_links};
use super::{
    has_seen, off_runtime, Api, DevToConfig, Fetched, Gather, Kind, Seen, SourceContext,
    SourceError,
};
use crate::post::Post;

pub(crate) const DEFAULT_BASE: &str = "https://dev.to";
const PER_PAGE: u32 = 100;
/// Pages of the latest articles a poll reads at most.
const MAX_PAGES: u32 = 3;
/// Comments are read on articles published this many days ago at most.
pub(crate) const COMMENT_DAYS: i64 = 3;
/// Articles whose comments one poll reads at most.
pub(crate) const COMMENT_ARTICLES: usize = 10;
/// Articles whose comments are watched at most (the oldest go first).
const MAX_WATCHED: usize = 500;
/// An article published this long before its endpoint's cursor is not emitted.
const LOOKBACK_SECS: i64 = 24 * 3600;

pub(crate) struct DevTo {
    api: Api,
    tags: Vec<String>,
    backfill_since: Option<i64>,
}

/// The cursor: the newest `published_at` per endpoint (`latest`, `tag:T`), the
/// articles whose comments are watched, and the ids emitted last.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct State {
    #[serde(default)]
    newest: BTreeMap<String, i64>,
    /// By article id.
    #[serde(default)]
    watch: BTreeMap<String, Watch>,
    #[serde(default)]
    seen: Seen,
}

has_seen!(State);

/// An article whose comments may be read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Watch {
    /// Published (seconds).
    published: i64,
    /// `comments_count` when last listed.
    listed: i64,
    /// Comments read the last time (0: never read).
    read: i64,
    /// When they were last read (seconds; 0: never).
    checked: i64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Article {
    id: i64,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    published_at: Option<String>,
    #[serde(default)]
    comments_count: Option<i64>,
    #[serde(default)]
    public_reactions_count: Option<i64>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    canonical_url: Option<String>,
    #[serde(default)]
    user: Option<User>,
}

#[derive(Debug, Deserialize)]
struct User {
    #[serde(default)]
    username: Option<String>,
}

/// One comment of `/api/comments`, with the replies below it.
#[derive(Debug, Deserialize)]
pub(crate) struct Comment {
    id_code: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    body_html: Option<String>,
    #[serde(default)]
    user: Option<User>,
    #[serde(default)]
    children: Vec<Comment>,
}

fn time(t: Option<&str>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// An article of a listing as a post of source `name`.
pub(crate) fn article_post(a: &Article, base: &Url, name: &str) -> Post {
    let url = a
        .url
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .unwrap_or_else(|| super::endpoint(base, &a.id.to_string(), &[]));
    let (text, mut links) = html_to_text_and_links(a.description.as_deref().unwrap_or(""), None);
    if let Some(c) = a.canonical_url.as_deref().and_then(|c| Url::parse(c).ok()) {
        if c != url && matches!(c.scheme(), "http" | "https") {
            links.insert(0, c.to_string());
        }
    }
    let at = time(a.published_at.as_deref());
    Post {
        id: format!("devto:{}", a.id),
        site: url.host_str().unwrap_or("dev.to").to_string(),
        url: url.to_string(),
        author: username(a.user.as_ref()),
        title: a.title.as_deref().map(strip).filter(|t| !t.is_empty()),
        text,
        created_at: at.unwrap_or_else(Utc::now),
        created_at_is_first_seen: at.is_none(),
        source: "devto".into(),
        source_name: name.to_string(),
        parent_id: None,
        thread_id: None,
        engagement: a.public_reactions_count,
        lang: a.language.clone().filter(|l| plain(l)),
        links,
        rating: None,
        owned_by: None,
    }
}

/// Text that should be plain: markup and entities gone.
fn strip(t: &str) -> String {
    decode_entities(&super::text::html_to_text(t))
}

fn username(u: Option<&User>) -> Option<String> {
    u.and_then(|u| u.username.as_deref())
        .filter(|n| !n.is_empty() && plain(n))
        .map(str::to_string)
}

/// ASCII letters, digits, `_` and `-` only (what goes into a URL path).
fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The comments of article `article` (a tree) as posts, parents before replies.
pub(crate) fn comment_posts(
    comments: &[Comment],
    article: i64,
    base: &Url,
    name: &str,
) -> Vec<Post> {
    let mut out = Vec::new();
    let mut stack: Vec<(&Comment, String)> = comments
        .iter()
        .rev()
        .map(|c| (c, format!("devto:{article}")))
        .collect();
    while let Some((c, parent)) = stack.pop() {
        let id = format!("devto:c/{}", c.id_code);
        stack.extend(c.children.iter().rev().map(|r| (r, id.clone())));
        let author = username(c.user.as_ref());
        let (text, links) = html_to_text_and_links(c.body_html.as_deref().unwrap_or(""), None);
        if !plain(&c.id_code) || author.is_none() || text == "[deleted]" {
            continue;
        }
        let at = time(c.created_at.as_deref());
        let path = format!("{}/comment/{}", author.as_deref().unwrap_or(""), c.id_code);
        out.push(Post {
            id,
            url: super::endpoint(base, &path, &[]).to_string(),
            author,
            title: None,
            text,
            created_at: at.unwrap_or_else(Utc::now),
            created_at_is_first_seen: at.is_none(),
            source: "devto".into(),
            source_name: name.to_string(),
            site: base.host_str().unwrap_or("dev.to").to_string(),
            parent_id: Some(parent),
            thread_id: Some(format!("devto:{article}")),
            engagement: None,
            lang: None,
            links,
            rating: None,
            owned_by: None,
        });
    }
    out
}

/// `body` as JSON of type `T`, or `Malformed` naming `what`.
fn json<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, SourceError> {
    serde_json::from_slice(body)
        .map_err(|e| SourceError::Malformed(format!("dev.to {what}: invalid JSON: {e}")))
}

impl DevTo {
    pub fn new(cfg: &DevToConfig, ctx: &SourceContext, name: &str) -> Result<Self, SourceError> {
        let mut tags = Vec::new();
        for t in &cfg.tags {
            let t = t.trim().trim_start_matches('#').to_lowercase();
            if !plain(&t) {
                return Err(SourceError::Config(format!(
                    "source {name:?}: {t:?} is not a dev.to tag (letters and digits)"
                )));
            }
            tags.push(t);
        }
        Ok(DevTo {
            api: Api::new(ctx, cfg.base_url.as_deref(), DEFAULT_BASE, name)?,
            tags,
            backfill_since: ctx.backfill_since.map(|t| t.timestamp()),
        })
    }

    /// GETs `url` as JSON of type `T` (`None` after a 304).
    async fn get<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        url: &Url,
        what: &'static str,
        got: &mut Gather<State>,
    ) -> Result<Option<T>, SourceError> {
        let Some(resp) = self
            .api
            .http
            .get(url, Expect::Json, GetOpts::default())
            .await?
        else {
            return Ok(None);
        };
        got.wait_at_least(resp.wait_hint);
        off_runtime(move || json(&resp.body, what)).await.map(Some)
    }

    /// Reads one endpoint's articles (`key` `latest` or `tag:T`).
    async fn articles(
        &self,
        key: &str,
        state: &State,
        got: &mut Gather<State>,
        now: i64,
    ) -> Result<(), SourceError> {
        let since = state.newest.get(key).copied().or(self.backfill_since);
        let per_page = PER_PAGE.to_string();
        let pages = match (key, since) {
            ("latest", Some(_)) => MAX_PAGES,
            _ => 1,
        };
        for page in 1..=pages {
            let page_s = page.to_string();
            let url = match key.strip_prefix("tag:") {
                Some(tag) => self.api.url(
                    "api/articles",
                    &[("tag", tag), ("per_page", &per_page), ("page", &page_s)],
                ),
                None => self.api.url(
                    "api/articles/latest",
                    &[("per_page", &per_page), ("page", &page_s)],
                ),
            };
            let Some(list) = self.get::<Vec<Article>>(&url, "articles", got).await? else {
                return Ok(());
            };
            let full = list.len() as u32 >= PER_PAGE;
            let mut older = false;
            for a in &list {
                let published = time(a.published_at.as_deref()).map(|t| t.timestamp());
                if let Some(p) = published {
                    got.next.newest.entry(key.to_string()).or_insert(p);
                    if let Some(e) = got.next.newest.get_mut(key) {
                        *e = (*e).max(p);
                    }
                    if p >= now - COMMENT_DAYS * 86_400 {
                        let w = got.next.watch.entry(a.id.to_string()).or_default();
                        w.published = p;
                        w.listed = a.comments_count.unwrap_or(0).max(0);
                    }
                }
                match (since, published) {
                    (Some(s), Some(p)) if p < s => older = true,
                    _ => {}
                }
                if matches!((since, published), (Some(s), Some(p)) if p < s - LOOKBACK_SECS) {
                    continue;
                }
                got.posts
                    .push(article_post(a, &self.api.base, &self.api.name));
            }
            if older || !full {
                break;
            }
        }
        Ok(())
    }

    /// Reads the comments of the watched articles most due (see the module doc).
    async fn comments(&self, got: &mut Gather<State>, now: i64) -> Result<(), SourceError> {
        let cutoff = now - COMMENT_DAYS * 86_400;
        got.next.watch.retain(|_, w| w.published >= cutoff);
        while got.next.watch.len() > MAX_WATCHED {
            let oldest = got
                .next
                .watch
                .iter()
                .min_by_key(|(_, w)| w.published)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => got.next.watch.remove(&k),
                None => break,
            };
        }
        let mut due: Vec<(String, Watch)> = got
            .next
            .watch
            .iter()
            .filter(|(_, w)| w.listed > w.read)
            .map(|(k, w)| (k.clone(), *w))
            .collect();
        due.sort_by_key(|(_, w)| (w.checked, std::cmp::Reverse(w.published)));
        due.truncate(COMMENT_ARTICLES);
        for (id, w) in due {
            let Ok(article) = id.parse::<i64>() else {
                got.next.watch.remove(&id);
                continue;
            };
            let url = self.api.url("api/comments", &[("a_id", &id)]);
            let tree = match self.get::<Vec<Comment>>(&url, "comments", got).await {
                Ok(t) => t,
                Err(SourceError::NotFound(_)) => {
                    // deleted: never asked again while listings still show it
                    got.next.watch.insert(
                        id,
                        Watch {
                            read: i64::MAX,
                            checked: now,
                            ..w
                        },
                    );
                    continue;
                }
                Err(e) => return Err(e),
            };
            let Some(tree) = tree else { continue };
            let (base, name) = (self.api.base.clone(), self.api.name.clone());
            let posts =
                off_runtime(move || Ok(comment_posts(&tree, article, &base, &name))).await?;
            got.next.watch.insert(
                id,
                Watch {
                    read: w.listed.max(posts.len() as i64),
                    checked: now,
                    ..w
                },
            );
            got.posts.extend(posts);
        }
        Ok(())
    }
}

impl Kind for DevTo {
    type State = State;
    const KIND: &'static str = "devto";

    async fn fetch(&mut self, state: &State) -> Result<Fetched<State>, SourceError> {
        let mut got = Gather::new(state);
        let now = Utc::now().timestamp();
        let keys: Vec<String> = if self.tags.is_empty() {
            vec!["latest".into()]
        } else {
            self.tags.iter().map(|t| format!("tag:{t}")).collect()
        };
        for key in &keys {
            self.articles(key, state, &mut got, now).await?;
        }
        self.comments(&mut got, now).await?;
        Ok(got.finish(None))
    }
}

#[cfg(test)]
#[path = "devto_tests.rs"]
mod tests;
