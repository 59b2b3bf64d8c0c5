//! Mastodon: hashtag timelines on one instance (`/api/v1/timelines/tag/:tag`), newest
//! since the `min_id` cursor (from the `Link` header's `prev`, else the newest id),
//! with an optional access token. A 401 (the instance wants a login for timelines) and
//! an empty timeline are reported as such.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::fetch::{Expect, GetOpts};
use super::text::{decode_entities, html_to_text_and_links};
use super::{
    has_seen, secret, Api, Fetched, Gather, Kind, MastodonConfig, Seen, SourceContext, SourceError,
};
use crate::post::Post;

const PAGE: usize = 40;
const MAX_PAGES: usize = 5;

pub(crate) struct Mastodon {
    /// The instance is the API's base URL.
    api: Api,
    host: String,
    tags: Vec<String>,
    token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct State {
    /// `min_id` per tag.
    #[serde(default)]
    min_id: BTreeMap<String, String>,
    #[serde(default)]
    seen: Seen,
}

has_seen!(State);

#[derive(Debug, Deserialize)]
struct Status {
    id: String,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    in_reply_to_id: Option<String>,
    #[serde(default)]
    spoiler_text: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    favourites_count: Option<i64>,
    #[serde(default)]
    reblogs_count: Option<i64>,
    #[serde(default)]
    reblog: Option<serde_json::Value>,
    #[serde(default)]
    account: Option<Account>,
    #[serde(default)]
    card: Option<Card>,
}

#[derive(Debug, Deserialize)]
struct Account {
    #[serde(default)]
    acct: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Card {
    #[serde(default)]
    url: Option<String>,
}

/// Mastodon ids are numeric strings (snowflakes): compare by length, then text.
fn id_newer(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

/// `min_id` of the `rel="prev"` link of a `Link` header.
fn link_prev_min_id(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params.contains("rel=\"prev\"") && !params.contains("rel=prev") {
            return None;
        }
        let u = Url::parse(target.trim().trim_start_matches('<').trim_end_matches('>')).ok()?;
        u.query_pairs()
            .find(|(k, _)| k == "min_id" || k == "since_id")
            .map(|(_, v)| v.into_owned())
    })
}

impl Mastodon {
    pub fn new(cfg: &MastodonConfig, ctx: &SourceContext, name: &str) -> Result<Self, SourceError> {
        let api = Api::new(ctx, Some(&cfg.instance), "", name)?;
        let host = api.base.host_str().unwrap_or("mastodon").to_string();
        let tags: Vec<String> = if cfg.tags.is_empty() {
            // hashtags can't hold spaces: "acme corp" -> "acmecorp"
            ctx.search_terms
                .iter()
                .map(|t| {
                    t.chars()
                        .filter(|c| c.is_alphanumeric() || *c == '_')
                        .collect()
                })
                .filter(|t: &String| !t.is_empty())
                .collect()
        } else {
            cfg.tags
                .iter()
                .map(|t| t.trim_start_matches('#').to_string())
                .collect()
        };
        if tags.is_empty() {
            return Err(SourceError::Config(format!("source {name:?}: no tags")));
        }
        Ok(Mastodon {
            api,
            host,
            tags,
            token: secret(
                cfg.access_token_env.as_ref(),
                cfg.access_token_file.as_ref(),
            )?,
        })
    }

    fn post(&self, s: Status) -> Post {
        let url = s
            .url
            .clone()
            .or(s.uri.clone())
            .unwrap_or_else(|| format!("{}/statuses/{}", self.api.base, s.id));
        let base = Url::parse(&url).ok();
        let (text, mut links) =
            html_to_text_and_links(s.content.as_deref().unwrap_or(""), base.as_ref());
        if let Some(card) = s.card.as_ref().and_then(|c| c.url.clone()) {
            if !links.contains(&card) {
                links.push(card);
            }
        }
        let acct = s.account.and_then(|a| a.acct);
        let site = match acct.as_deref().and_then(|a| a.split_once('@')) {
            Some((_, host)) => host.to_string(),
            None => self.host.clone(),
        };
        let engagement = match (s.favourites_count, s.reblogs_count) {
            (None, None) => None,
            (f, r) => Some(f.unwrap_or(0) + r.unwrap_or(0)),
        };
        Post {
            rating: None,
            owned_by: None,
            id: format!("mastodon:{}:{}", self.host, s.id),
            url,
            author: acct,
            title: s
                .spoiler_text
                .as_deref()
                .map(decode_entities)
                .filter(|t| !t.is_empty()),
            text,
            created_at: s.created_at.unwrap_or_else(Utc::now),
            created_at_is_first_seen: s.created_at.is_none(),
            source: "mastodon".into(),
            source_name: self.api.name.clone(),
            site,
            parent_id: s
                .in_reply_to_id
                .map(|p| format!("mastodon:{}:{p}", self.host)),
            thread_id: None,
            engagement,
            lang: s.language,
            links,
        }
    }
}

impl Kind for Mastodon {
    type State = State;
    const KIND: &'static str = "mastodon";

    async fn fetch(&mut self, state: &State) -> Result<Fetched<State>, SourceError> {
        let mut got = Gather::new(state);
        let mut empty = Vec::new();
        for tag in &self.tags {
            let mut min_id = state.min_id.get(tag).cloned();
            for _ in 0..MAX_PAGES {
                let limit = PAGE.to_string();
                let mut params = vec![("limit", limit.as_str())];
                if let Some(m) = &min_id {
                    params.push(("min_id", m.as_str()));
                }
                let path = format!("api/v1/timelines/tag/{}", urlencode(tag));
                let url = self.api.url(&path, &params);
                let opts = GetOpts {
                    bearer: self.token.as_deref(),
                    ..GetOpts::default()
                };
                let resp = match self.api.http.get(&url, Expect::Json, opts).await {
                    Err(SourceError::Unauthorized(u)) => {
                        return Err(SourceError::Unauthorized(format!(
                            "{u} (this instance shows hashtag timelines only to logged-in users: set access_token_env)"
                        )))
                    }
                    other => other?,
                };
                let Some(resp) = resp else { break };
                got.wait_at_least(resp.wait_hint);
                let statuses: Vec<Status> = resp.json()?;
                let n = statuses.len();
                let prev = resp
                    .headers
                    .get("link")
                    .and_then(|v| v.to_str().ok())
                    .and_then(link_prev_min_id);
                let newest = statuses.iter().map(|s| s.id.clone()).reduce(|a, b| {
                    if id_newer(&b, &a) {
                        b
                    } else {
                        a
                    }
                });
                let advanced = match (prev.or(newest), &min_id) {
                    (Some(p), Some(m)) if id_newer(&p, m) => Some(p),
                    (Some(p), None) => Some(p),
                    _ => None,
                };
                for s in statuses.into_iter().filter(|s| s.reblog.is_none()) {
                    got.posts.push(self.post(s));
                }
                if n == 0 && min_id.is_none() {
                    empty.push(format!("#{tag}"));
                }
                match advanced {
                    Some(a) => {
                        got.next.min_id.insert(tag.clone(), a.clone());
                        min_id = Some(a);
                    }
                    None => break,
                }
                // the first poll takes the newest page only
                if n < PAGE || !state.min_id.contains_key(tag) {
                    break;
                }
            }
        }
        let note = (!empty.is_empty()).then(|| {
            format!(
                "{} answered with an empty timeline for {} (no posts yet, or the instance hides them)",
                self.host,
                empty.join(", ")
            )
        });
        if let Some(n) = &note {
            tracing::info!(source = %self.api.name, "{n}");
        }
        Ok(got.finish(note))
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_prev() {
        let h = "<http://localhost:3000/api/v1/timelines/tag/hoot?max_id=117020593741189701>; rel=\"next\", <http://localhost:3000/api/v1/timelines/tag/hoot?min_id=117020593741189702>; rel=\"prev\"";
        assert_eq!(link_prev_min_id(h).as_deref(), Some("117020593741189702"));
        assert!(id_newer("117020593741189702", "99999"));
        assert!(!id_newer("1", "2"));
    }
}
