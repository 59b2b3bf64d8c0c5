//! Hacker News through the Algolia `search_by_date` API: stories and comments for each
//! search term, resuming from the newest `created_at_i` seen per term.

use serde::Deserialize;
use url::Url;

use super::fetch::{Expect, GetOpts};
use super::text::html_to_text_and_links;
use super::{
    from_unix, off_runtime, Api, Fetched, Gap, Gather, HackerNewsConfig, Kind, NewestState,
    Queries, SourceContext, SourceError,
};
use crate::post::Post;

pub(crate) const DEFAULT_BASE: &str = "https://hn.algolia.com/api/v1";
const ITEM_URL: &str = "https://news.ycombinator.com/item?id=";
const HITS_PER_PAGE: usize = 100;
const MAX_PAGES: u32 = 5;

pub(crate) struct HackerNews {
    api: Api,
    queries: Queries,
}

/// Newest `created_at_i` seen, per query.
pub(crate) type State = NewestState;

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    hits: Vec<Hit>,
    #[serde(default, rename = "nbPages")]
    nb_pages: Option<u32>,
    #[serde(default, rename = "nbHits")]
    nb_hits: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Hit {
    #[serde(rename = "objectID")]
    object_id: String,
    #[serde(default)]
    created_at_i: Option<i64>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    points: Option<i64>,
    #[serde(default)]
    story_text: Option<String>,
    #[serde(default)]
    comment_text: Option<String>,
    #[serde(default)]
    story_id: Option<i64>,
    #[serde(default)]
    story_title: Option<String>,
    #[serde(default)]
    parent_id: Option<i64>,
    #[serde(default, rename = "_tags")]
    tags: Vec<String>,
}

impl HackerNews {
    pub fn new(
        cfg: &HackerNewsConfig,
        ctx: &SourceContext,
        name: &str,
    ) -> Result<Self, SourceError> {
        let queries = Queries::new(&cfg.queries, ctx, name)?;
        Ok(HackerNews {
            api: Api::new(ctx, cfg.base_url.as_deref(), DEFAULT_BASE, name)?,
            queries,
        })
    }
}

/// A hit as a post of source `name`.
fn post(name: &str, hit: Hit) -> Post {
    let is_comment = hit.tags.iter().any(|t| t == "comment") || hit.comment_text.is_some();
    let html = if is_comment {
        hit.comment_text.as_deref()
    } else {
        hit.story_text.as_deref()
    }
    .unwrap_or("");
    let item_url = format!("{ITEM_URL}{}", hit.object_id);
    let base = Url::parse(&item_url).ok();
    let (text, mut links) = html_to_text_and_links(html, base.as_ref());
    if let Some(u) = hit.url.as_deref().filter(|u| !u.is_empty()) {
        if let Ok(u) = Url::parse(u) {
            links.insert(0, u.to_string());
        }
    }
    let title = if is_comment {
        hit.story_title
            .map(|t| format!("Re: {}", super::text::decode_entities(&t)))
    } else {
        hit.title.map(|t| super::text::decode_entities(&t))
    };
    Post {
        rating: None,
        owned_by: None,
        id: format!("hackernews:{}", hit.object_id),
        url: item_url,
        author: hit.author,
        title,
        text,
        created_at: hit
            .created_at_i
            .map(from_unix)
            .unwrap_or_else(chrono::Utc::now),
        created_at_is_first_seen: hit.created_at_i.is_none(),
        source: "hackernews".into(),
        source_name: name.to_string(),
        site: "news.ycombinator.com".into(),
        parent_id: hit.parent_id.map(|p| format!("hackernews:{p}")),
        thread_id: hit.story_id.map(|s| format!("hackernews:{s}")),
        engagement: hit.points,
        lang: None,
        links,
    }
}

/// What paging through one time range of one query found.
struct Paged {
    /// Every hit of the range was fetched.
    complete: bool,
    /// The oldest `created_at_i` fetched.
    oldest: Option<i64>,
    /// Hits the server said were left, when not complete.
    left: u64,
    pages: u32,
}

impl HackerNews {
    /// Pages through `q`'s hits in `from..=to`, newest first, at most `max_pages`.
    async fn range(
        &self,
        got: &mut Gather<State>,
        q: &str,
        (from, to): (Option<i64>, Option<i64>),
        max_pages: u32,
    ) -> Result<Paged, SourceError> {
        let mut paged = Paged {
            complete: true,
            oldest: None,
            left: 0,
            pages: 0,
        };
        let mut fetched = 0u64;
        let filters: Vec<String> = from
            .map(|t| format!("created_at_i>={t}"))
            .into_iter()
            .chain(to.map(|t| format!("created_at_i<={t}")))
            .collect();
        let filter = filters.join(",");
        loop {
            let hits_per_page = HITS_PER_PAGE.to_string();
            let page_s = paged.pages.to_string();
            let mut params = vec![
                ("query", q),
                ("tags", "(story,comment)"),
                ("hitsPerPage", hits_per_page.as_str()),
                ("page", page_s.as_str()),
            ];
            if !filter.is_empty() {
                params.push(("numericFilters", filter.as_str()));
            }
            let url = self.api.url("search_by_date", &params);
            let Some(resp) = self
                .api
                .http
                .get(&url, Expect::Json, GetOpts::default())
                .await?
            else {
                return Ok(paged);
            };
            got.wait_at_least(resp.wait_hint);
            let name = self.api.name.clone();
            let (nb_pages, nb_hits, hits) = off_runtime(move || {
                let body: Page = resp.json()?;
                let hits: Vec<(Option<i64>, Post)> = body
                    .hits
                    .into_iter()
                    .map(|h| (h.created_at_i, post(&name, h)))
                    .collect();
                Ok((body.nb_pages, body.nb_hits, hits))
            })
            .await?;
            let n = hits.len();
            fetched = fetched.saturating_add(n as u64);
            for (t, p) in hits {
                if let Some(t) = t {
                    got.next.saw(q, t);
                    paged.oldest = Some(paged.oldest.map_or(t, |o| o.min(t)));
                }
                got.posts.push(p);
            }
            paged.pages += 1;
            let more = nb_pages.is_some_and(|p| paged.pages < p);
            if n < HITS_PER_PAGE || !more {
                return Ok(paged);
            }
            if paged.pages >= max_pages {
                paged.complete = false;
                paged.left = nb_hits.unwrap_or(0).saturating_sub(fetched);
                return Ok(paged);
            }
        }
    }
}

impl Kind for HackerNews {
    type State = State;
    const KIND: &'static str = "hackernews";

    async fn fetch(&mut self, state: &State) -> Result<Fetched<State>, SourceError> {
        let mut got = Gather::new(state);
        for q in &self.queries.queries {
            let Some(since) = self.queries.since(state, q) else {
                // the first poll takes the newest page only
                self.range(&mut got, q, (None, None), 1).await?;
                continue;
            };
            // what is new since the cursor, newest first; past the bound, the rest is
            // a gap that the next polls page back through
            let r = self
                .range(&mut got, q, (Some(since), None), MAX_PAGES)
                .await?;
            if let (false, Some(oldest)) = (r.complete, r.oldest) {
                let gap = Gap {
                    from: since,
                    to: oldest,
                    left: r.left,
                };
                got.skipped = got.skipped.saturating_add(got.next.open_gap(q, gap));
            }
            let mut budget = MAX_PAGES;
            for gap in state.gaps_of(q) {
                if budget == 0 {
                    break;
                }
                let r = self
                    .range(&mut got, q, (Some(gap.from), Some(gap.to)), budget)
                    .await?;
                budget = budget.saturating_sub(r.pages);
                let rest = gap.rest(r.complete, r.oldest, r.left);
                got.next.update_gap(q, gap, rest);
            }
        }
        // oldest first, as they happened
        Ok(got.finish(None))
    }
}
