//! Lobsters: `newest.json` (stories) and `comments.rss` (comments). Lobsters has no
//! search: everything new is returned and matched locally.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::fetch::{Expect, GetOpts, Http, Validators};
use super::rss::{feed_posts, parse_feed};
use super::text::{decode_entities, html_to_text_and_links};
use super::{
    base_url, endpoint, keep_new, Fetched, Kind, LobstersConfig, Seen, SourceContext, SourceError,
};
use crate::post::Post;

const DEFAULT_BASE: &str = "https://lobste.rs";

pub(crate) struct Lobsters {
    http: Http,
    base: Url,
    name: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct State {
    /// ETag / Last-Modified per URL.
    #[serde(default)]
    validators: BTreeMap<String, Validators>,
    #[serde(default)]
    seen: Seen,
}

#[derive(Debug, Deserialize)]
struct Story {
    short_id: String,
    #[serde(default)]
    short_id_url: Option<String>,
    #[serde(default)]
    comments_url: Option<String>,
    #[serde(default)]
    created_at: Option<DateTime<chrono::FixedOffset>>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    score: Option<i64>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    submitter_user: Option<serde_json::Value>,
}

impl Lobsters {
    pub fn new(cfg: &LobstersConfig, ctx: &SourceContext, name: &str) -> Result<Self, SourceError> {
        Ok(Lobsters {
            http: ctx.http.clone(),
            base: base_url(cfg.base_url.as_deref(), DEFAULT_BASE)?,
            name: name.to_string(),
        })
    }

    fn story_post(&self, s: Story) -> Post {
        let url = s
            .comments_url
            .clone()
            .or(s.short_id_url.clone())
            .unwrap_or_else(|| format!("{DEFAULT_BASE}/s/{}", s.short_id));
        let base = Url::parse(&url).ok();
        let (text, mut links) =
            html_to_text_and_links(s.description.as_deref().unwrap_or(""), base.as_ref());
        if let Some(u) = s.url.as_deref().and_then(|u| Url::parse(u).ok()) {
            links.insert(0, u.to_string());
        }
        let author = match &s.submitter_user {
            Some(serde_json::Value::String(u)) => Some(u.clone()),
            Some(serde_json::Value::Object(o)) => o
                .get("username")
                .and_then(|v| v.as_str())
                .map(str::to_string),
            _ => None,
        };
        Post {
            id: format!("lobsters:{}", s.short_id),
            url,
            author,
            title: s.title.as_deref().map(decode_entities),
            text,
            created_at: s
                .created_at
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_else(Utc::now),
            created_at_is_first_seen: s.created_at.is_none(),
            source: "lobsters".into(),
            source_name: self.name.clone(),
            site: "lobste.rs".into(),
            parent_id: None,
            thread_id: None,
            engagement: s.score,
            lang: None,
            links,
        }
    }
}

impl Kind for Lobsters {
    type State = State;
    const KIND: &'static str = "lobsters";

    async fn fetch(&mut self, state: &State) -> Result<Fetched<State>, SourceError> {
        let mut next = state.clone();
        let mut posts = Vec::new();
        let mut wait = None;
        let stories_url = endpoint(&self.base, "newest.json", &[]);
        let comments_url = endpoint(&self.base, "comments.rss", &[]);

        let key = stories_url.to_string();
        let opts = GetOpts {
            validators: state.validators.get(&key),
            ..GetOpts::default()
        };
        if let Some(resp) = self.http.get(&stories_url, Expect::Json, opts).await? {
            wait = wait.max(resp.wait_hint);
            let stories: Vec<Story> = resp.json()?;
            posts.extend(stories.into_iter().map(|s| self.story_post(s)));
            next.validators.insert(key, resp.validators);
        }

        let key = comments_url.to_string();
        let opts = GetOpts {
            validators: state.validators.get(&key),
            ..GetOpts::default()
        };
        if let Some(resp) = self.http.get(&comments_url, Expect::Feed, opts).await? {
            wait = wait.max(resp.wait_hint);
            let feed = parse_feed(&resp)?;
            let mut comments = feed_posts(&feed, &comments_url, "lobsters", &self.name, &|key| {
                // https://lobste.rs/c/abc123 -> c/abc123
                match key.split_once("/c/") {
                    Some((_, id)) => format!("c/{}", id.trim_end_matches('/')),
                    None => key.to_string(),
                }
            });
            for c in &mut comments {
                c.site = "lobste.rs".into();
                c.lang = None;
            }
            posts.extend(comments);
            next.validators.insert(key, resp.validators);
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
