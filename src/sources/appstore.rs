//! App Store: Apple's public customer-reviews feed in JSON,
//! `{base}/{COUNTRY}/rss/customerreviews/page=N/id=APP/sortby=mostrecent/json`, one per
//! app and country, newest first, 50 reviews a page, 10 pages at most (page 11 is a
//! plain-text error, which ends the paging rather than the poll).
//!
//! Resumes from the newest review id per `APP:COUNTRY` (ids grow with time): each poll
//! pages on until a review at or below that id, at most 10 pages; more than 500 new
//! reviews between two polls leaves the older ones unread (said in the note). A first
//! poll reads page 1 only; `overhear backfill` reads on, down to its start where the
//! reviews are dated (feeds before 2022 date none: then all 10 pages).
//!
//! Each review is a post `appstore:APP:COUNTRY:REVIEW_ID` with its star rating
//! (`im:rating`, 1 to 5) in `rating`. Reviews have no URL of their own: the post's is
//! the app's reviews page in that storefront. Older feeds list the app itself first
//! (no `im:rating`): skipped. A page with no reviews has no `entry`; one review may be
//! an object rather than an array.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::fetch::{Expect, GetOpts};
use super::text::{html_to_text, html_to_text_and_links};
use super::{
    has_seen, off_runtime, Api, AppStoreConfig, Fetched, Gather, Kind, Seen, SourceContext,
    SourceError,
};
use crate::post::Post;

pub(crate) const DEFAULT_BASE: &str = "https://itunes.apple.com";
/// Apple serves no page past the tenth.
const MAX_PAGES: u32 = 10;

pub(crate) struct AppStore {
    api: Api,
    apps: Vec<String>,
    countries: Vec<String>,
    backfill_since: Option<DateTime<Utc>>,
}

/// The newest review id read per `APP:COUNTRY`, and the ids emitted last.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct State {
    #[serde(default)]
    newest: BTreeMap<String, u64>,
    #[serde(default)]
    seen: Seen,
}

has_seen!(State);

/// `{"label": "…"}`, Apple's wrapper of every value.
#[derive(Debug, Default, Deserialize)]
struct Label {
    #[serde(default)]
    label: String,
}

#[derive(Debug, Deserialize)]
struct Body {
    #[serde(default)]
    feed: Option<Feed>,
}

#[derive(Debug, Deserialize)]
struct Feed {
    #[serde(default)]
    entry: Option<OneOrMany>,
}

/// A page of one review is an object, of more an array.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<Entry>),
    One(Box<Entry>),
}

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default)]
    id: Option<Label>,
    #[serde(default)]
    author: Option<Author>,
    #[serde(default, rename = "im:rating")]
    rating: Option<Label>,
    #[serde(default, rename = "im:voteSum")]
    vote_sum: Option<Label>,
    #[serde(default)]
    title: Option<Label>,
    #[serde(default)]
    content: Option<Label>,
    #[serde(default)]
    updated: Option<Label>,
}

#[derive(Debug, Deserialize)]
struct Author {
    #[serde(default)]
    name: Option<Label>,
}

/// One review read from a page.
#[derive(Debug)]
pub(crate) struct Review {
    /// The review id as a number (ids grow with time).
    pub id: u64,
    /// Its date, where the feed gives one.
    pub at: Option<DateTime<Utc>>,
    pub post: Post,
}

/// What one page said.
#[derive(Debug)]
pub(crate) enum Page {
    /// The page's reviews, newest first (none on a page past the last).
    Reviews(Vec<Review>),
    /// Apple's plain-text "page depth is limited to 10": no more pages.
    End,
}

/// Whether `body` is Apple's answer to a page past the tenth.
fn depth_error(body: &str) -> bool {
    let t = body.trim_start();
    !t.starts_with('{') && t.contains("page depth is limited")
}

/// An app id as written in config (`284882215` or `id284882215`), as digits.
fn app_id(raw: &str) -> Option<String> {
    let t = raw.trim();
    let digits = t.strip_prefix("id").unwrap_or(t);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.into())
}

/// A storefront code (`us`, `GB`) in lower case, when it is two ASCII letters.
fn country(raw: &str) -> Option<String> {
    let t = raw.trim().to_ascii_lowercase();
    (t.len() == 2 && t.bytes().all(|b| b.is_ascii_lowercase())).then_some(t)
}

/// Reads one page of `app`'s reviews in `country` for source `name`.
pub(crate) fn parse_page(
    body: &[u8],
    app: &str,
    country: &str,
    name: &str,
) -> Result<Page, SourceError> {
    let text = String::from_utf8_lossy(body);
    if depth_error(&text) {
        return Ok(Page::End);
    }
    let parsed: Body = serde_json::from_str(&text).map_err(|e| {
        SourceError::Malformed(format!(
            "App Store reviews of {app} in {country}: invalid JSON: {e}"
        ))
    })?;
    let entries = match parsed.feed.and_then(|f| f.entry) {
        None => Vec::new(),
        Some(OneOrMany::Many(v)) => v,
        Some(OneOrMany::One(e)) => vec![*e],
    };
    let reviews = entries
        .into_iter()
        .filter_map(|e| review(e, app, country, name))
        .collect();
    Ok(Page::Reviews(reviews))
}

/// An entry as a review; `None` for the app's own entry (no rating) and entries
/// without a numeric id.
fn review(e: Entry, app: &str, country: &str, name: &str) -> Option<Review> {
    let rating = e.rating?;
    let id_label = e.id?.label;
    let id = id_label.trim().parse::<u64>().ok()?;
    let at = e.updated.as_ref().and_then(|u| {
        DateTime::parse_from_rfc3339(u.label.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc))
    });
    let (text, links) = html_to_text_and_links(&e.content.unwrap_or_default().label, None);
    let title = html_to_text(&e.title.unwrap_or_default().label);
    let author = e
        .author
        .and_then(|a| a.name)
        .map(|n| html_to_text(&n.label))
        .filter(|n| !n.is_empty());
    let post = Post {
        id: format!("appstore:{app}:{country}:{id}"),
        url: format!("https://apps.apple.com/{country}/app/id{app}?see-all=reviews"),
        author,
        title: (!title.is_empty()).then_some(title),
        text,
        created_at: at.unwrap_or_else(Utc::now),
        created_at_is_first_seen: at.is_none(),
        source: "appstore".into(),
        source_name: name.to_string(),
        site: format!("apps.apple.com/{country}"),
        parent_id: None,
        thread_id: None,
        engagement: e.vote_sum.and_then(|v| v.label.trim().parse().ok()),
        lang: None,
        links,
        rating: rating
            .label
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|r| (1..=5).contains(r)),
        owned_by: None,
    };
    Some(Review { id, at, post })
}

impl AppStore {
    pub fn new(cfg: &AppStoreConfig, ctx: &SourceContext, name: &str) -> Result<Self, SourceError> {
        let bad = |what: &str, v: &str| {
            SourceError::Config(format!("source {name:?}: {v:?} is not {what}"))
        };
        let apps = cfg
            .apps
            .iter()
            .map(|a| app_id(a).ok_or_else(|| bad("an App Store id (digits, or id + digits)", a)))
            .collect::<Result<Vec<_>, _>>()?;
        let countries = cfg
            .countries
            .iter()
            .map(|c| country(c).ok_or_else(|| bad("a two-letter storefront code", c)))
            .collect::<Result<Vec<_>, _>>()?;
        if apps.is_empty() || countries.is_empty() {
            return Err(SourceError::Config(format!(
                "source {name:?}: appstore needs at least one app and one country"
            )));
        }
        Ok(AppStore {
            api: Api::new(ctx, cfg.base_url.as_deref(), DEFAULT_BASE, name)?,
            apps,
            countries,
            backfill_since: ctx.backfill_since,
        })
    }

    /// GETs one page; `None` past the last page (Apple's depth error, a 304).
    async fn page(
        &self,
        app: &str,
        country: &str,
        n: u32,
        got: &mut Gather<State>,
    ) -> Result<Option<Vec<Review>>, SourceError> {
        let path =
            format!("{country}/rss/customerreviews/page={n}/id={app}/sortby=mostrecent/json");
        let url = self.api.url(&path, &[]);
        let resp = match self
            .api
            .http
            .get(&url, Expect::Json, GetOpts::default())
            .await
        {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(None),
            Err(SourceError::Status { detail, .. }) if depth_error(&detail) => return Ok(None),
            Err(e) => return Err(e),
        };
        got.wait_at_least(resp.wait_hint);
        let (app, country, name) = (app.to_string(), country.to_string(), self.api.name.clone());
        let page = off_runtime(move || parse_page(&resp.body, &app, &country, &name)).await?;
        Ok(match page {
            Page::End => None,
            Page::Reviews(r) => Some(r),
        })
    }

    /// Reads `app` in `country` down to the review last read (or the first poll's
    /// depth). Returns a note when new reviews were left unread.
    async fn app_country(
        &self,
        app: &str,
        country: &str,
        state: &State,
        got: &mut Gather<State>,
    ) -> Result<Option<String>, SourceError> {
        let key = format!("{app}:{country}");
        let newest = state.newest.get(&key).copied();
        let pages = match (newest, self.backfill_since) {
            (None, None) => 1,
            _ => MAX_PAGES,
        };
        for n in 1..=pages {
            let Some(reviews) = self.page(app, country, n, got).await? else {
                return Ok(None);
            };
            if reviews.is_empty() {
                return Ok(None);
            }
            let mut reached = false;
            for r in reviews {
                let e = got.next.newest.entry(key.clone()).or_insert(r.id);
                *e = (*e).max(r.id);
                let old = match (newest, self.backfill_since, r.at) {
                    (Some(last), _, _) => r.id <= last,
                    (None, Some(since), Some(at)) => at < since,
                    _ => false,
                };
                if old {
                    reached = true;
                } else {
                    got.posts.push(r.post);
                }
            }
            if reached {
                return Ok(None);
            }
        }
        Ok(newest.map(|_| {
            format!("more than {MAX_PAGES} pages of new reviews of {app} in {country}: the older ones were not read")
        }))
    }
}

impl Kind for AppStore {
    type State = State;
    const KIND: &'static str = "appstore";

    async fn fetch(&mut self, state: &State) -> Result<Fetched<State>, SourceError> {
        let mut got = Gather::new(state);
        let mut notes = Vec::new();
        for app in &self.apps {
            for country in &self.countries {
                if let Some(n) = self.app_country(app, country, state, &mut got).await? {
                    notes.push(n);
                }
            }
        }
        Ok(got.finish((!notes.is_empty()).then(|| notes.join("; "))))
    }
}

#[cfg(test)]
#[path = "appstore_tests.rs"]
mod tests;
