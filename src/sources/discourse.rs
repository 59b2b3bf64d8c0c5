//! Discourse: a forum's latest posts (`/posts.json`, newest first, 50 a page), every
//! one a post, matched downstream (an owned channel's are all the brand's). A poll
//! pages back with `?before=POST_ID` until it reaches the newest post id seen, at most
//! [`MAX_PAGES`] pages; what it cannot reach is a gap the next polls page back
//! through. The first poll takes one page. `categories` (slugs or ids) keeps the
//! posts of those categories and their subcategories: slugs are looked up once in
//! `/categories.json` and cached while the source lives. An API key (`Api-Key`,
//! `Api-Username`, default `system`) is sent when one is configured; `Retry-After`
//! on a 429 is honoured (`fetch.rs`).
//!
//! Posts: id `discourse:HOST:POST_ID` (Discourse's global post id), `thread_id`
//! `discourse:HOST:TOPIC_ID`, URL `{base}/t/{slug}/{topic_id}/{post_number}`, text
//! from the `cooked` HTML, author the bare username; the topic's title on its first
//! post only (so that a title naming the brand is one mention, not one per reply).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use url::Url;

use super::fetch::{Expect, GetOpts};
use super::text::{decode_entities, html_to_text_and_links};
use super::{
    off_runtime, secret, Api, DiscourseConfig, Fetched, Gap, Gather, Kind, NewestState,
    SourceContext, SourceError,
};
use crate::post::Post;

/// Pages of `/posts.json` one poll reads at most (new posts and gaps together).
pub(crate) const MAX_PAGES: u32 = 5;

pub(crate) struct Discourse {
    api: Api,
    /// The forum's host: ids, `site` and accounts name the forum by it.
    host: String,
    /// The configured `categories`, as written.
    categories: Vec<String>,
    /// Their ids (subcategories included), once resolved.
    category_ids: Option<BTreeSet<i64>>,
    /// `Api-Key` and `Api-Username`.
    key: Option<(String, String)>,
}

/// The newest post id read (`newest["posts"]`, only ever growing: the cluster's hub
/// can compare it), the ranges of post ids not read yet (`gaps["posts"]`), the ids
/// emitted last.
pub(crate) type State = NewestState;

/// The one key of [`State`]'s maps.
const KEY: &str = "posts";

#[derive(Debug, Deserialize)]
struct Latest {
    #[serde(default)]
    latest_posts: Vec<ForumPost>,
}

/// One item of `latest_posts` (every field a forum may leave out is optional).
#[derive(Debug, Deserialize)]
struct ForumPost {
    id: i64,
    #[serde(default)]
    username: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    cooked: Option<String>,
    #[serde(default)]
    post_number: Option<i64>,
    #[serde(default)]
    post_type: Option<i64>,
    #[serde(default)]
    topic_id: Option<i64>,
    #[serde(default)]
    topic_slug: Option<String>,
    #[serde(default)]
    topic_title: Option<String>,
    #[serde(default)]
    category_id: Option<i64>,
    #[serde(default)]
    deleted_at: Option<String>,
    #[serde(default)]
    hidden: Option<bool>,
    #[serde(default)]
    score: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Categories {
    category_list: CategoryList,
}

#[derive(Debug, Deserialize)]
struct CategoryList {
    #[serde(default)]
    categories: Vec<Category>,
}

#[derive(Debug, Deserialize)]
struct Category {
    id: i64,
    #[serde(default)]
    slug: Option<String>,
    #[serde(default)]
    subcategory_ids: Vec<i64>,
    #[serde(default)]
    subcategory_list: Vec<Category>,
}

/// An RFC 3339 time, or `None` for anything else (absent, null, not a time): one odd
/// date makes a post first-seen, not the page unreadable.
pub(super) fn lenient_time<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(v.as_ref()
        .and_then(|v| v.as_str())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc)))
}

/// Discourse's "small action" posts ("closed this topic") say nothing.
const SMALL_ACTION: i64 = 3;

impl Discourse {
    pub fn new(
        cfg: &DiscourseConfig,
        ctx: &SourceContext,
        name: &str,
    ) -> Result<Self, SourceError> {
        let api = Api::new(ctx, Some(&cfg.base_url), &cfg.base_url, name)?;
        let host = api
            .base
            .host_str()
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| {
                SourceError::Config(format!(
                    "source {name:?}: base_url {:?} names no host",
                    cfg.base_url
                ))
            })?;
        let categories: Vec<String> = cfg
            .categories
            .iter()
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        // ids alone need no lookup
        let category_ids = categories
            .iter()
            .map(|c| c.parse::<i64>().ok())
            .collect::<Option<BTreeSet<i64>>>()
            .filter(|_| !categories.is_empty());
        let username = cfg
            .api_username
            .clone()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| "system".into());
        let key = secret(cfg.api_key_env.as_ref(), cfg.api_key_file.as_ref())?;
        Ok(Discourse {
            api,
            host,
            categories,
            category_ids,
            key: key.map(|k| (k, username)),
        })
    }

    fn opts(&self) -> GetOpts<'_> {
        let mut opts = GetOpts::default();
        if let Some((key, user)) = &self.key {
            opts.headers.push(("Api-Key", key.clone()));
            opts.headers.push(("Api-Username", user.clone()));
        }
        opts
    }

    /// The ids of the configured categories (subcategories included), looked up once.
    async fn category_ids(&mut self) -> Result<Option<BTreeSet<i64>>, SourceError> {
        if self.categories.is_empty() || self.category_ids.is_some() {
            return Ok(self.category_ids.clone());
        }
        let url = self
            .api
            .url("categories.json", &[("include_subcategories", "true")]);
        let Some(resp) = self.api.http.get(&url, Expect::Json, self.opts()).await? else {
            return Ok(None);
        };
        let list: Categories = resp.json()?;
        let ids = resolve_categories(&self.categories, &list.category_list.categories)?;
        self.category_ids = Some(ids.clone());
        Ok(Some(ids))
    }

    /// One page of `/posts.json`, newest first: `(id, category, post)`, small
    /// actions and deleted posts left out (their ids still count).
    async fn page(
        &self,
        got: &mut Gather<State>,
        before: Option<i64>,
    ) -> Result<Vec<(i64, Option<Post>)>, SourceError> {
        let before_s = before.map(|b| b.to_string());
        let query: Vec<(&str, &str)> = before_s.iter().map(|b| ("before", b.as_str())).collect();
        let url = self.api.url("posts.json", &query);
        let Some(resp) = self.api.http.get(&url, Expect::Json, self.opts()).await? else {
            return Ok(Vec::new());
        };
        got.wait_at_least(resp.wait_hint);
        let (base, host, name) = (
            self.api.base.clone(),
            self.host.clone(),
            self.api.name.clone(),
        );
        let keep = self.category_ids.clone();
        off_runtime(move || {
            let latest: Latest = resp.json()?;
            let mut items: Vec<(i64, Option<Post>)> = latest
                .latest_posts
                .into_iter()
                .map(|p| {
                    let wanted = p.post_type != Some(SMALL_ACTION)
                        && p.deleted_at.is_none()
                        && p.hidden != Some(true)
                        && keep
                            .as_ref()
                            .map_or(true, |k| p.category_id.is_some_and(|c| k.contains(&c)));
                    (p.id, wanted.then(|| post(&base, &host, &name, p)))
                })
                .collect();
            items.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
            Ok(items)
        })
        .await
    }

    /// Pages back from `before` (newest first) to the ids above `floor`, at most
    /// `max_pages`: whether it got there, the oldest id read, the pages read.
    async fn range(
        &self,
        got: &mut Gather<State>,
        floor: Option<i64>,
        mut before: Option<i64>,
        max_pages: u32,
    ) -> Result<(bool, Option<i64>, u32), SourceError> {
        let mut pages = 0;
        let mut oldest = None;
        while pages < max_pages {
            let items = self.page(got, before).await?;
            pages += 1;
            let Some(min) = items.iter().map(|(id, _)| *id).min() else {
                return Ok((true, oldest, pages));
            };
            for (id, post) in items {
                if floor.is_some_and(|f| id <= f) {
                    continue;
                }
                got.next.saw(KEY, id);
                if let Some(p) = post {
                    got.posts.push(p);
                }
            }
            oldest = Some(oldest.map_or(min, |o: i64| o.min(min)));
            // the first poll, or the page reached what was read before
            if floor.map_or(true, |f| min <= f) || before.is_some_and(|b| min >= b) {
                return Ok((true, oldest, pages));
            }
            before = Some(min);
        }
        Ok((false, oldest, pages))
    }
}

/// The ids of `wanted` (slugs or ids) in `list`, each with its subcategories; a slug
/// the forum does not have is a configuration error.
fn resolve_categories(wanted: &[String], list: &[Category]) -> Result<BTreeSet<i64>, SourceError> {
    fn walk<'a>(list: &'a [Category], out: &mut Vec<&'a Category>) {
        for c in list {
            out.push(c);
            walk(&c.subcategory_list, out);
        }
    }
    let mut all = Vec::new();
    walk(list, &mut all);
    let mut ids = BTreeSet::new();
    for w in wanted {
        let found: Vec<&&Category> = all
            .iter()
            .filter(|c| {
                w.parse::<i64>().is_ok_and(|id| id == c.id)
                    || c.slug.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(w))
            })
            .collect();
        if found.is_empty() && w.parse::<i64>().is_err() {
            return Err(SourceError::Config(format!(
                "the forum has no category {w:?} (categories are slugs or ids)"
            )));
        }
        if let Ok(id) = w.parse::<i64>() {
            ids.insert(id);
        }
        for c in found {
            ids.insert(c.id);
            ids.extend(c.subcategory_ids.iter().copied());
            let mut subs = Vec::new();
            walk(&c.subcategory_list, &mut subs);
            ids.extend(subs.iter().map(|s| s.id));
        }
    }
    Ok(ids)
}

/// A slug that can go into a URL path as one segment.
fn path_safe(slug: &str) -> bool {
    !slug.is_empty() && !slug.contains(['/', '?', '#', '\\', '%']) && slug != "." && slug != ".."
}

/// A forum post as a post of source `name`.
fn post(base: &Url, host: &str, name: &str, p: ForumPost) -> Post {
    let topic = p.topic_id.unwrap_or(0);
    let number = p.post_number.unwrap_or(1);
    let path = match p.topic_slug.as_deref().filter(|s| path_safe(s)) {
        Some(slug) => format!("t/{slug}/{topic}/{number}"),
        None => format!("t/{topic}/{number}"),
    };
    let url = super::endpoint(base, &path, &[]);
    let (text, links) = html_to_text_and_links(p.cooked.as_deref().unwrap_or(""), Some(&url));
    Post {
        rating: None,
        owned_by: None,
        id: format!("discourse:{host}:{}", p.id),
        url: url.to_string(),
        author: p.username.filter(|u| !u.trim().is_empty()),
        title: (number == 1)
            .then(|| p.topic_title.as_deref().map(decode_entities))
            .flatten(),
        text,
        created_at: p.created_at.unwrap_or_else(Utc::now),
        created_at_is_first_seen: p.created_at.is_none(),
        source: "discourse".into(),
        source_name: name.to_string(),
        site: host.to_string(),
        parent_id: None,
        thread_id: p.topic_id.map(|t| format!("discourse:{host}:{t}")),
        engagement: p.score.filter(|s| s.is_finite()).map(|s| s.round() as i64),
        lang: None,
        links,
    }
}

impl Kind for Discourse {
    type State = State;
    const KIND: &'static str = "discourse";

    async fn fetch(&mut self, state: &State) -> Result<Fetched<State>, SourceError> {
        self.category_ids().await?;
        let mut got = Gather::new(state);
        let Some(newest) = state.newest.get(KEY).copied() else {
            // the first poll takes the newest page only
            self.range(&mut got, None, None, 1).await?;
            return Ok(got.finish(None));
        };
        let (complete, oldest, pages) = self.range(&mut got, Some(newest), None, MAX_PAGES).await?;
        let mut budget = MAX_PAGES.saturating_sub(pages);
        if let (false, Some(oldest)) = (complete, oldest) {
            // the rest is a gap the next polls page back through
            let gap = Gap {
                from: newest.saturating_add(1),
                to: oldest.saturating_sub(1),
                left: 0,
            };
            got.skipped = got.skipped.saturating_add(got.next.open_gap(KEY, gap));
        }
        for gap in state.gaps_of(KEY) {
            if budget == 0 {
                break;
            }
            let (from, before) = (gap.from.saturating_sub(1), gap.to.saturating_add(1));
            let (complete, oldest, pages) = self
                .range(&mut got, Some(from), Some(before), budget)
                .await?;
            budget = budget.saturating_sub(pages);
            let rest = gap.rest(complete, oldest.map(|o| o.saturating_sub(1)), 0);
            got.next.update_gap(KEY, gap, rest);
        }
        Ok(got.finish(None))
    }
}

#[cfg(test)]
mod tests;
