//! Stack Exchange: `search/advanced` on one site for each search term, newest first,
//! resuming from the newest `creation_date` (as `fromdate`), obeying `backoff`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use super::fetch::{Expect, GetOpts, Http};
use super::text::{decode_entities, html_to_text_and_links};
use super::{
    base_url, endpoint, env_secret, from_unix, keep_new, Fetched, Kind, Seen, SourceContext,
    SourceError, StackExchangeConfig,
};
use crate::post::Post;

const DEFAULT_BASE: &str = "https://api.stackexchange.com/2.3";
const MAX_PAGES: u32 = 3;

pub(crate) struct StackExchange {
    http: Http,
    base: Url,
    site: String,
    queries: Vec<String>,
    key: Option<String>,
    name: String,
    /// Start here (seconds) when a query has no cursor yet (`overhear backfill`).
    backfill_since: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct State {
    /// Newest `creation_date` seen, per query.
    #[serde(default)]
    newest: BTreeMap<String, i64>,
    #[serde(default)]
    seen: Seen,
}

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
        let queries = super::queries_or_search_terms(&cfg.queries, ctx, name)?;
        Ok(StackExchange {
            http: ctx.http.clone(),
            base: base_url(cfg.base_url.as_deref(), DEFAULT_BASE)?,
            site: cfg.site.clone(),
            queries,
            key: env_secret(cfg.key_env.as_ref())?,
            name: name.to_string(),
            backfill_since: ctx.backfill_since.map(|t| t.timestamp()),
        })
    }

    fn post(&self, q: Question) -> Post {
        let url = q
            .link
            .clone()
            .unwrap_or_else(|| format!("https://{}.com/q/{}", self.site, q.question_id));
        let base = Url::parse(&url).ok();
        let (text, links) = html_to_text_and_links(q.body.as_deref().unwrap_or(""), base.as_ref());
        Post {
            id: format!("stackexchange:{}:{}", self.site, q.question_id),
            site: base
                .as_ref()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| self.site.clone()),
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
            source_name: self.name.clone(),
            parent_id: None,
            thread_id: None,
            engagement: q.score,
            lang: None,
            links,
        }
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
            .find_map(|t| t.parse::<u64>().ok());
        return SourceError::RateLimited {
            retry_after: secs
                .map(Duration::from_secs)
                .or(w.backoff.map(Duration::from_secs)),
        };
    }
    SourceError::Api(msg)
}

impl Kind for StackExchange {
    type State = State;
    const KIND: &'static str = "stackexchange";

    async fn fetch(&mut self, state: &State) -> Result<Fetched<State>, SourceError> {
        let mut next = state.clone();
        let mut posts = Vec::new();
        let mut wait: Option<Duration> = None;
        'queries: for q in &self.queries {
            let from = state
                .newest
                .get(q)
                .copied()
                .or(self.backfill_since)
                .map(|t| t.to_string());
            let mut params = vec![
                ("site", self.site.as_str()),
                ("q", q.as_str()),
                ("sort", "creation"),
                ("order", "desc"),
                ("pagesize", "100"),
                ("filter", "withbody"),
            ];
            if let Some(f) = &from {
                params.push(("fromdate", f.as_str()));
            }
            if let Some(k) = &self.key {
                params.push(("key", k.as_str()));
            }
            for page in 1..=MAX_PAGES {
                let page_s = page.to_string();
                let mut params = params.clone();
                params.push(("page", page_s.as_str()));
                let url = endpoint(&self.base, "search/advanced", &params);
                let resp = match self.http.get(&url, Expect::Json, GetOpts::default()).await {
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
                let body: Wrapper = resp.json()?;
                if body.error_id.is_some() {
                    return Err(api_error(&body));
                }
                wait = wait.max(resp.wait_hint);
                for item in body.items {
                    if let Some(t) = item.creation_date {
                        let e = next.newest.entry(q.clone()).or_insert(t);
                        *e = (*e).max(t);
                    }
                    posts.push(self.post(item));
                }
                if let Some(b) = body.backoff {
                    // "wait this many seconds before calling this method again": no more
                    // requests this poll; queries not asked keep their cursor
                    wait = wait.max(Some(Duration::from_secs(b)));
                    break 'queries;
                }
                // the first poll takes one page; later ones page back to `fromdate`
                if !body.has_more || from.is_none() {
                    break;
                }
            }
        }
        posts.sort_by_key(|p| p.created_at);
        let posts = keep_new(&mut next.seen, posts);
        Ok(Fetched {
            posts,
            state: next,
            wait_at_least: wait,
            note: None,
        })
    }
}
