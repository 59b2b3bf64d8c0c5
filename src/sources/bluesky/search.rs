//! `app.bsky.feed.searchPosts` with an app password: logs in once (again after a
//! 401), then asks for each search term's posts since the newest `indexedAt` seen.
//! Never touches the firehose.

use chrono::Utc;
use serde::Deserialize;
use url::Url;

use super::{record_post, Record, State};
use crate::post::Post;
use crate::sources::fetch::{Expect, GetOpts, Http};
use crate::sources::{endpoint, SourceError};

pub(super) struct Search {
    pub(super) http: Http,
    pub(super) pds: Url,
    pub(super) handle: String,
    pub(super) password: String,
    pub(super) token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Session {
    #[serde(rename = "accessJwt")]
    access_jwt: String,
}

#[derive(Debug, Deserialize)]
struct SearchPage {
    #[serde(default)]
    posts: Vec<PostView>,
}

#[derive(Debug, Deserialize)]
struct PostView {
    uri: String,
    #[serde(default)]
    author: Option<Author>,
    record: Record,
    #[serde(default, rename = "indexedAt")]
    indexed_at: Option<String>,
    #[serde(default, rename = "likeCount")]
    like_count: Option<i64>,
    #[serde(default, rename = "repostCount")]
    repost_count: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Author {
    #[serde(default)]
    handle: Option<String>,
}

impl Search {
    async fn login(&mut self) -> Result<String, SourceError> {
        if let Some(t) = &self.token {
            return Ok(t.clone());
        }
        let url = endpoint(&self.pds, "xrpc/com.atproto.server.createSession", &[]);
        let body = serde_json::json!({"identifier": self.handle, "password": self.password});
        let req = self.http.client().post(url.clone()).json(&body);
        let resp = self
            .http
            .send(&url, req, Expect::Json)
            .await?
            .ok_or_else(|| SourceError::Malformed("304 from createSession".into()))?;
        let s: Session = resp.json()?;
        self.token = Some(s.access_jwt.clone());
        Ok(s.access_jwt)
    }

    pub(super) async fn fetch(
        &mut self,
        name: &str,
        terms: &[String],
        state: &State,
        next: &mut State,
    ) -> Result<Vec<Post>, SourceError> {
        let token = self.login().await?;
        let mut posts = Vec::new();
        for term in terms {
            let since = state.search_since.get(term);
            let mut params = vec![("q", term.as_str()), ("sort", "latest"), ("limit", "100")];
            if let Some(s) = since {
                params.push(("since", s.as_str()));
            }
            let url = endpoint(&self.pds, "xrpc/app.bsky.feed.searchPosts", &params);
            let opts = GetOpts {
                bearer: Some(&token),
                ..GetOpts::default()
            };
            let resp = match self.http.get(&url, Expect::Json, opts).await {
                Err(e @ SourceError::Unauthorized(_)) => {
                    self.token = None;
                    return Err(e);
                }
                other => other?,
            };
            let Some(resp) = resp else { continue };
            let page: SearchPage = resp.json()?;
            for pv in page.posts {
                // at://did/app.bsky.feed.post/rkey
                let rest = pv.uri.trim_start_matches("at://");
                let mut parts = rest.splitn(3, '/');
                let (Some(did), Some(_), Some(rkey)) = (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                if let Some(ix) = &pv.indexed_at {
                    let e = next.search_since.entry(term.clone()).or_insert(ix.clone());
                    if ix > e {
                        *e = ix.clone();
                    }
                }
                let engagement = match (pv.like_count, pv.repost_count) {
                    (None, None) => None,
                    (l, r) => Some(l.unwrap_or(0) + r.unwrap_or(0)),
                };
                let handle = pv.author.and_then(|a| a.handle);
                posts.push(record_post(
                    name,
                    did,
                    rkey,
                    handle,
                    pv.record,
                    Utc::now(),
                    engagement,
                ));
            }
        }
        Ok(posts)
    }
}
