//! Lobsters: `newest.json` (stories) and `comments.rss` (comments). Lobsters has no
//! search: everything new is returned and matched locally.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::fetch::{Expect, GetOpts, Response, Validators};
use super::off_runtime;
use super::rss::{feed_posts, parse_feed};
use super::text::{decode_entities, html_to_text_and_links};
use super::{
    has_seen, Api, Fetched, Gather, Kind, LobstersConfig, Seen, SourceContext, SourceError,
};
use crate::post::Post;

pub(crate) const DEFAULT_BASE: &str = "https://lobste.rs";

pub(crate) struct Lobsters {
    api: Api,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct State {
    /// ETag / Last-Modified per URL.
    #[serde(default)]
    validators: BTreeMap<String, Validators>,
    #[serde(default)]
    seen: Seen,
}

has_seen!(State);

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
            api: Api::new(ctx, cfg.base_url.as_deref(), DEFAULT_BASE, name)?,
        })
    }

    /// A conditional GET of `url` with the validators saved for it; a 200 saves the
    /// new ones and the server's wait hint in `got`. `None` after a 304.
    async fn get_changed(
        &self,
        url: &Url,
        expect: Expect,
        state: &State,
        got: &mut Gather<State>,
    ) -> Result<Option<Response>, SourceError> {
        let key = url.to_string();
        let opts = GetOpts {
            validators: state.validators.get(&key),
            ..GetOpts::default()
        };
        let resp = self.api.http.get(url, expect, opts).await?;
        if let Some(resp) = &resp {
            got.wait_at_least(resp.wait_hint);
            got.next.validators.insert(key, resp.validators.clone());
        }
        Ok(resp)
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
            rating: None,
            owned_by: None,
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
            source_name: self.api.name.clone(),
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
        let mut got = Gather::new(state);
        let stories_url = self.api.url("newest.json", &[]);
        let comments_url = self.api.url("comments.rss", &[]);

        let stories = self
            .get_changed(&stories_url, Expect::Json, state, &mut got)
            .await?;
        if let Some(resp) = stories {
            let stories: Vec<Story> = resp.json()?;
            got.posts
                .extend(stories.into_iter().map(|s| self.story_post(s)));
        }

        let comments = self
            .get_changed(&comments_url, Expect::Feed, state, &mut got)
            .await?;
        if let Some(resp) = comments {
            let name = self.api.name.clone();
            let url = comments_url.clone();
            let comments = off_runtime(move || {
                let feed = parse_feed(&resp)?;
                let mut comments = feed_posts(&feed, &url, "lobsters", &name, &|key| {
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
                Ok(comments)
            })
            .await?;
            got.posts.extend(comments);
        }
        Ok(got.finish(None))
    }
}
