//! Reddit: search (`search.json`, or the Atom `search.rss`) for each search term, and
//! each configured subreddit's new posts and comments. Optional OAuth with a "script" /
//! application-only client id and secret from the environment (higher rate limit);
//! the User-Agent is configurable (Reddit blocks generic ones).

use serde::Deserialize;
use url::Url;

use super::fetch::{Expect, GetOpts};
use super::off_runtime;
use super::rss::{feed_posts, parse_feed};
use super::text::{decode_entities, html_to_text_and_links};
use super::{
    endpoint, from_unix, Api, Fetched, Gather, Kind, NewestState, RedditConfig, RedditFormat,
    RedditOAuth, SourceContext, SourceError,
};
use crate::post::Post;

pub(crate) const DEFAULT_BASE: &str = "https://www.reddit.com";
/// Canonical URLs always point at www.reddit.com, whatever base the API is read from.
const SITE: &str = "https://www.reddit.com";

pub(crate) struct Reddit {
    api: Api,
    format: RedditFormat,
    queries: Vec<String>,
    subreddits: Vec<String>,
    oauth: Option<RedditOAuth>,
    user_agent: Option<String>,
}

/// Newest `created` seen, per endpoint (for the record: the seen window decides).
pub(crate) type State = NewestState;

#[derive(Debug, Deserialize)]
struct Listing {
    data: ListingData,
}

#[derive(Debug, Deserialize)]
struct ListingData {
    #[serde(default)]
    children: Vec<Thing>,
}

#[derive(Debug, Deserialize)]
struct Thing {
    kind: String,
    data: Item,
}

#[derive(Debug, Deserialize)]
struct Item {
    name: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    selftext: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    subreddit: Option<String>,
    #[serde(default)]
    permalink: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    is_self: Option<bool>,
    #[serde(default)]
    created_utc: Option<f64>,
    #[serde(default)]
    score: Option<i64>,
    #[serde(default)]
    link_title: Option<String>,
    #[serde(default)]
    link_id: Option<String>,
    #[serde(default)]
    parent_id: Option<String>,
}

/// One listing polled: (cursor key, path, query).
type Endpoint = (String, String, Vec<(&'static str, String)>);

impl Reddit {
    pub fn new(cfg: &RedditConfig, ctx: &SourceContext, name: &str) -> Result<Self, SourceError> {
        let queries = if cfg.queries.is_empty() && cfg.subreddits.is_empty() {
            ctx.search_terms.clone()
        } else {
            cfg.queries.clone()
        };
        if queries.is_empty() && cfg.subreddits.is_empty() {
            return Err(SourceError::Config(format!(
                "source {name:?}: no queries, no subreddits and no brand search terms"
            )));
        }
        let oauth = RedditOAuth::from_config(cfg)?;
        Ok(Reddit {
            api: Api::new(ctx, cfg.base_url.as_deref(), DEFAULT_BASE, name)?,
            format: cfg.format,
            queries,
            subreddits: cfg
                .subreddits
                .iter()
                .map(|s| {
                    s.trim_start_matches("r/")
                        .trim_start_matches("/r/")
                        .to_string()
                })
                .collect(),
            oauth,
            user_agent: cfg.user_agent.clone(),
        })
    }

    /// The endpoints polled: (key, path, query).
    fn endpoints(&self) -> Vec<Endpoint> {
        let ext = match self.format {
            RedditFormat::Json => "json",
            RedditFormat::Rss => "rss",
        };
        let mut out = Vec::new();
        for q in &self.queries {
            out.push((
                format!("search:{q}"),
                format!("search.{ext}"),
                vec![
                    ("q", q.clone()),
                    ("sort", "new".into()),
                    ("limit", "100".into()),
                ],
            ));
        }
        for s in &self.subreddits {
            for what in ["new", "comments"] {
                out.push((
                    format!("r/{s}/{what}"),
                    format!("r/{s}/{what}.{ext}"),
                    vec![("limit", "100".into())],
                ));
            }
        }
        if self.format == RedditFormat::Json {
            for e in &mut out {
                e.2.push(("raw_json", "1".into()));
            }
        }
        out
    }

    async fn bearer(&self) -> Result<Option<String>, SourceError> {
        match &self.oauth {
            Some(o) => Ok(Some(
                o.bearer(&self.api.http, self.user_agent.as_deref()).await?,
            )),
            None => Ok(None),
        }
    }

    fn post(&self, kind: &str, it: Item) -> Post {
        let url = match &it.permalink {
            // "?ref=search_posts" and the like are not part of the canonical URL
            Some(p) => format!("{SITE}{}", p.split('?').next().unwrap_or(p)),
            None => format!("{SITE}/comments/{}", it.name.trim_start_matches("t3_")),
        };
        let is_comment = kind == "t1";
        let raw = if is_comment { &it.body } else { &it.selftext };
        // raw_json=1 gives markdown with no entities; without it, entities: decode them
        let text = decode_entities(raw.as_deref().unwrap_or(""));
        let (_, mut links) = html_to_text_and_links("", None);
        if !is_comment && it.is_self != Some(true) {
            if let Some(u) = it.url.as_deref().and_then(|u| Url::parse(u).ok()) {
                links.push(u.to_string());
            }
        }
        let title = if is_comment {
            it.link_title
                .as_deref()
                .map(|t| format!("Re: {}", decode_entities(t)))
        } else {
            it.title.as_deref().map(decode_entities)
        };
        Post {
            rating: None,
            owned_by: None,
            id: format!("reddit:{}", it.name),
            url,
            author: it.author,
            title,
            text,
            created_at: it
                .created_utc
                .map(|t| from_unix(t as i64))
                .unwrap_or_else(chrono::Utc::now),
            created_at_is_first_seen: it.created_utc.is_none(),
            source: "reddit".into(),
            source_name: self.api.name.clone(),
            site: match &it.subreddit {
                Some(s) => format!("reddit.com/r/{s}"),
                None => "reddit.com".into(),
            },
            parent_id: if is_comment {
                it.parent_id.map(|p| format!("reddit:{p}"))
            } else {
                None
            },
            thread_id: if is_comment {
                it.link_id.map(|p| format!("reddit:{p}"))
            } else {
                None
            },
            engagement: it.score,
            lang: None,
            links,
        }
    }
}

impl Kind for Reddit {
    type State = State;
    const KIND: &'static str = "reddit";

    async fn fetch(&mut self, state: &State) -> Result<Fetched<State>, SourceError> {
        let mut got = Gather::new(state);
        let bearer = self.bearer().await?;
        let base = match (&self.oauth, &bearer) {
            (Some(o), Some(_)) if self.format == RedditFormat::Json => o.base.clone(),
            _ => self.api.base.clone(),
        };
        for (key, path, query) in self.endpoints() {
            let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let url = endpoint(&base, &path, &pairs);
            let expect = match self.format {
                RedditFormat::Json => Expect::Json,
                RedditFormat::Rss => Expect::Feed,
            };
            let mut headers = Vec::new();
            if let Some(ua) = &self.user_agent {
                headers.push(("user-agent", ua.clone()));
            }
            let opts = GetOpts {
                bearer: bearer
                    .as_deref()
                    .filter(|_| self.format == RedditFormat::Json),
                headers,
                ..GetOpts::default()
            };
            let resp = match self.api.http.get(&url, expect, opts).await {
                Err(e @ SourceError::Unauthorized(_)) => {
                    // an expired or revoked token: fetch a new one next time
                    if let Some(o) = &self.oauth {
                        o.forget();
                    }
                    return Err(e);
                }
                other => other?,
            };
            let Some(resp) = resp else { continue };
            got.wait_at_least(resp.wait_hint);
            let found = match self.format {
                RedditFormat::Json => {
                    let listing: Listing = resp.json()?;
                    listing
                        .data
                        .children
                        .into_iter()
                        .filter(|t| t.kind == "t3" || t.kind == "t1")
                        .map(|t| self.post(&t.kind, t.data))
                        .collect::<Vec<_>>()
                }
                RedditFormat::Rss => {
                    let (url, name) = (url.clone(), self.api.name.clone());
                    off_runtime(move || atom_posts(&resp, &url, &name)).await?
                }
            };
            if let Some(newest) = found.iter().map(|p| p.created_at.timestamp()).max() {
                got.next.saw(&key, newest);
            }
            got.posts.extend(found);
        }
        Ok(got.finish(None))
    }
}

/// Reddit's Atom feed as posts: the subreddit from the category, `/u/` off authors.
fn atom_posts(
    resp: &super::fetch::Response,
    url: &Url,
    name: &str,
) -> Result<Vec<Post>, SourceError> {
    let feed = parse_feed(resp)?;
    let mut ps = feed_posts(&feed, url, "reddit", name, &|k| k.to_string());
    for (p, e) in ps.iter_mut().zip(&feed.entries) {
        if let Some(sub) = e
            .categories
            .iter()
            .find_map(|c| c.label.as_deref().and_then(|l| l.strip_prefix("r/")))
        {
            p.site = format!("reddit.com/r/{}", sub.trim());
        }
        p.author = p
            .author
            .take()
            .map(|a| a.trim_start_matches("/u/").to_string());
        p.lang = None;
    }
    Ok(ps)
}
