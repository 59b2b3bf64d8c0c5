//! Stack Exchange: `search/advanced` on one site for each search term, newest first,
//! resuming from the newest `creation_date` (as `fromdate`), obeying `backoff`. What one
//! poll cannot page through (3 pages a query: the daily quota is small) is a gap
//! the next polls page back through (`todate`).

use serde::Deserialize;
use url::Url;

use super::fetch::{server_wait_secs, Expect, GetOpts, MAX_SERVER_WAIT};
use super::text::{decode_entities, html_to_text_and_links};
use super::{
    from_unix, off_runtime, secret, Api, Fetched, Gap, Gather, Kind, NewestState, Queries,
    SourceContext, SourceError, StackExchangeConfig,
};
use crate::post::Post;

pub(crate) const DEFAULT_BASE: &str = "https://api.stackexchange.com/2.3";
const MAX_PAGES: u32 = 3;

pub(crate) struct StackExchange {
    api: Api,
    site: String,
    queries: Queries,
    key: Option<String>,
}

/// Newest `creation_date` seen, per query.
pub(crate) type State = NewestState;

#[derive(Debug, Deserialize)]
struct Wrapper {
    #[serde(default)]
    items: Vec<Question>,
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
struct Question {
    question_id: i64,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    owner: Option<Owner>,
    #[serde(default)]
    creation_date: Option<i64>,
    #[serde(default)]
    score: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Owner {
    #[serde(default)]
    display_name: Option<String>,
}

impl StackExchange {
    pub fn new(
        cfg: &StackExchangeConfig,
        ctx: &SourceContext,
        name: &str,
    ) -> Result<Self, SourceError> {
        let queries = Queries::new(&cfg.queries, ctx, name)?;
        Ok(StackExchange {
            api: Api::new(ctx, cfg.base_url.as_deref(), DEFAULT_BASE, name)?,
            site: cfg.site.clone(),
            queries,
            key: secret(cfg.key_env.as_ref(), cfg.key_file.as_ref())?,
        })
    }
}

/// A question on `site` as a post of source `name`.
fn post(site: &str, name: &str, q: Question) -> Post {
    let url = q
        .link
        .clone()
        .unwrap_or_else(|| format!("https://{}.com/q/{}", site, q.question_id));
    let base = Url::parse(&url).ok();
    let (text, links) = html_to_text_and_links(q.body.as_deref().unwrap_or(""), base.as_ref());
    Post {
        rating: None,
        owned_by: None,
        id: format!("stackexchange:{}:{}", site, q.question_id),
        site: base
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| site.to_string()),
        url,
        author: q
            .owner
            .and_then(|o| o.display_name)
            .map(|n| decode_entities(&n)),
        title: q.title.as_deref().map(decode_entities),
        text,
        created_at: q
            .creation_date
            .map(from_unix)
            .unwrap_or_else(chrono::Utc::now),
        created_at_is_first_seen: q.creation_date.is_none(),
        source: "stackexchange".into(),
        source_name: name.to_string(),
        parent_id: None,
        thread_id: None,
        engagement: q.score,
        lang: None,
        links,
    }
}

/// An API error object: throttling becomes `RateLimited`, the rest `Api`.
fn api_error(w: &Wrapper) -> SourceError {
    let msg = format!(
        "{} ({}): {}",
        w.error_name.as_deref().unwrap_or("error"),
        w.error_id.unwrap_or(0),
        w.error_message.as_deref().unwrap_or("")
    );
    if w.error_id == Some(502) || w.error_name.as_deref() == Some("throttle_violation") {
        // "too many requests from this IP, more requests available in 80000 seconds"
        let secs = w
            .error_message
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .rev()
            .find(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .map(|t| t.parse::<u64>().map_or(MAX_SERVER_WAIT, server_wait_secs));
        return SourceError::RateLimited {
            retry_after: secs.or(w.backoff.map(server_wait_secs)),
        };
    }
    SourceError::Api(msg)
}

/// What paging through one time range of one query found.
struct Paged {
    complete: bool,
    /// The oldest `creation_date` fetched.
    oldest: Option<i64>,
    pages: u32,
    /// The API said `backoff`: no more requests this poll.
    stop: bool,
}

impl StackExchange {
    /// Pages through `q`'s questions in `from..=to`, newest first, at most `max_pages`.
    async fn range(
        &self,
        got: &mut Gather<State>,
        q: &str,
        (from, to): (Option<i64>, Option<i64>),
        max_pages: u32,
    ) -> Result<Paged, SourceError> {
        let from = from.map(|t| t.to_string());
        let to = to.map(|t| t.to_string());
        let mut params = vec![
            ("site", self.site.as_str()),
            ("q", q),
            ("sort", "creation"),
            ("order", "desc"),
            ("pagesize", "100"),
            ("filter", "withbody"),
        ];
        if let Some(f) = &from {
            params.push(("fromdate", f.as_str()));
        }
        if let Some(t) = &to {
            params.push(("todate", t.as_str()));
        }
        if let Some(k) = &self.key {
            params.push(("key", k.as_str()));
        }
        let mut paged = Paged {
            complete: true,
            oldest: None,
            pages: 0,
            stop: false,
        };
        while paged.pages < max_pages {
            let page_s = (paged.pages + 1).to_string();
            let mut params = params.clone();
            params.push(("page", page_s.as_str()));
            let url = self.api.url("search/advanced", &params);
            let resp = match self
                .api
                .http
                .get(&url, Expect::Json, GetOpts::default())
                .await
            {
                Ok(r) => r,
                Err(SourceError::Status {
                    detail,
                    status,
                    url,
                }) => {
                    return Err(match serde_json::from_str::<Wrapper>(&detail) {
                        Ok(w) if w.error_id.is_some() => api_error(&w),
                        _ => SourceError::Status {
                            status,
                            url,
                            detail,
                        },
                    })
                }
                Err(e) => return Err(e),
            };
            let Some(resp) = resp else { break };
            paged.pages += 1;
            got.wait_at_least(resp.wait_hint);
            let (site, name) = (self.site.clone(), self.api.name.clone());
            let (body, items) = off_runtime(move || {
                let mut body: Wrapper = resp.json()?;
                let items: Vec<(Option<i64>, Post)> = std::mem::take(&mut body.items)
                    .into_iter()
                    .map(|i| (i.creation_date, post(&site, &name, i)))
                    .collect();
                Ok((body, items))
            })
            .await?;
            if body.error_id.is_some() {
                return Err(api_error(&body));
            }
            for (t, p) in items {
                if let Some(t) = t {
                    got.next.saw(q, t);
                    paged.oldest = Some(paged.oldest.map_or(t, |o| o.min(t)));
                }
                got.posts.push(p);
            }
            paged.complete = !body.has_more;
            if let Some(b) = body.backoff {
                // "wait this many seconds before calling this method again"
                got.wait_at_least(Some(server_wait_secs(b)));
                paged.stop = true;
            }
            if paged.complete || paged.stop {
                break;
            }
        }
        Ok(paged)
    }
}

impl Kind for StackExchange {
    type State = State;
    const KIND: &'static str = "stackexchange";

    async fn fetch(&mut self, state: &State) -> Result<Fetched<State>, SourceError> {
        let mut got = Gather::new(state);
        for q in &self.queries.queries {
            // one budget of pages per query, new ones and gaps together: the daily
            // quota is small
            let mut budget = MAX_PAGES;
            let Some(since) = self.queries.since(state, q) else {
                // the first poll takes the newest page only
                let r = self.range(&mut got, q, (None, None), 1).await?;
                if r.stop {
                    break;
                }
                continue;
            };
            let r = self.range(&mut got, q, (Some(since), None), budget).await?;
            budget = budget.saturating_sub(r.pages);
            if let (false, Some(oldest)) = (r.complete, r.oldest) {
                // the rest is a gap the next polls page back through
                let gap = Gap {
                    from: since,
                    to: oldest,
                    left: 0,
                };
                got.skipped = got.skipped.saturating_add(got.next.open_gap(q, gap));
            }
            if r.stop {
                // queries not asked keep their cursor
                return Ok(got.finish(None));
            }
            for gap in state.gaps_of(q) {
                if budget == 0 {
                    break;
                }
                let r = self
                    .range(&mut got, q, (Some(gap.from), Some(gap.to)), budget)
                    .await?;
                budget = budget.saturating_sub(r.pages);
                let rest = gap.rest(r.complete, r.oldest, 0);
                got.next.update_gap(q, gap, rest);
                if r.stop {
                    return Ok(got.finish(None));
                }
            }
        }
        Ok(got.finish(None))
    }
}
