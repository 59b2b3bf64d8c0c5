//! What a thread request carries: the settings of the `[[source]]` entry whose post
//! it is, as that source sends them. Stack Exchange's `key` (in the query, so that
//! checks spend the key's quota, not the keyless 300 a day), Mastodon's access token
//! (a bearer: logged-out contexts are capped, some instances want a login), Reddit's
//! `user_agent` and its OAuth (the thread read from the OAuth host with the entry's
//! token), and `allow_private` (redirects into private addresses).
//!
//! Credentials go only to the host the entry itself polls: the entry is the post's
//! own (`source_name`) when the thread is on that entry's host, else another entry of
//! the same kind on that host, else none (the public request, as before). A secret
//! that cannot be read is a warning, naming the setting: the thread is then read
//! without it (a cluster hub may lack the workers' secrets).
//!
//! Responses are read by the sources' own client: one request at a time per host,
//! the same timeouts and size cap, `Retry-After` and rate-limit headers.

use std::time::Duration;

use url::Url;

use super::run::host_port;
use crate::post::Post;
use crate::sources::fetch::{Expect, GetOpts};
use crate::sources::{secret, Http, RedditOAuth, SourceConfig, SourceError};

/// Each entry's settings for thread requests.
#[derive(Clone, Default)]
pub struct Access {
    entries: Vec<Entry>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.entries.iter().map(|e| e.name.as_str()).collect();
        f.debug_struct("Access").field("entries", &names).finish()
    }
}

#[derive(Clone)]
struct Entry {
    name: String,
    kind: &'static str,
    /// Where the entry's threads are (its base): `host:port` and the URL.
    host: String,
    base: Url,
    allow_private: bool,
    user_agent: Option<String>,
    credential: Credential,
}

#[derive(Clone)]
enum Credential {
    None,
    /// Stack Exchange: `key=` in the query.
    Key(String),
    /// Mastodon: `Authorization: Bearer`.
    Bearer(String),
    /// Reddit: the thread from the OAuth host, with the entry's token.
    Reddit(Box<RedditOAuth>),
    /// Discourse: `Api-Key` and `Api-Username` headers (a private forum).
    Discourse {
        key: String,
        username: String,
    },
}

/// One thread request, ready to send.
pub struct Request {
    /// What is fetched (its host counts against the per-host bound).
    pub url: Url,
    allow_private: bool,
    user_agent: Option<String>,
    credential: Credential,
}

/// A thread response: its status and body, whatever the status, and the wait a
/// rate-limit header asked for.
pub struct Fetched {
    pub status: u16,
    pub body: Vec<u8>,
    pub wait: Option<Duration>,
}

impl Access {
    /// The settings of these entries, each with the base its threads are read from
    /// (its own, else its kind's).
    pub fn from_sources<'a>(entries: impl IntoIterator<Item = (&'a SourceConfig, Url)>) -> Access {
        let entries = entries
            .into_iter()
            .map(|(s, base)| {
                let credential = credential(s).unwrap_or_else(|e| {
                    tracing::warn!(source = %s.name(), error = %e, "thread checks go without the source's credentials");
                    Credential::None
                });
                let user_agent = match s {
                    SourceConfig::Reddit(c) => c.user_agent.clone(),
                    _ => None,
                };
                Entry {
                    name: s.name(),
                    kind: s.kind(),
                    host: host_port(&base),
                    base,
                    allow_private: s.allow_private(),
                    user_agent,
                    credential,
                }
            })
            .collect();
        Access { entries }
    }

    /// The hosts thread requests go to besides the entries' bases (Reddit's OAuth host).
    pub fn other_hosts(&self) -> impl Iterator<Item = String> + '_ {
        self.entries.iter().filter_map(|e| match &e.credential {
            Credential::Reddit(o) => Some(host_port(&o.base)),
            _ => None,
        })
    }

    /// The entry whose settings a request for `post`'s thread at `url` carries.
    fn entry(&self, post: &Post, url: &Url) -> Option<&Entry> {
        let host = host_port(url);
        let fits = |e: &&Entry| e.kind == post.source && e.host == host;
        let mut fitting = self.entries.iter().filter(fits);
        let first = fitting.clone().next();
        fitting.find(|e| e.name == post.source_name).or(first)
    }

    /// The request for `post`'s thread at `url` (what [`super::threads::target`] said).
    pub fn request(&self, post: &Post, url: Url) -> Request {
        let Some(e) = self.entry(post, &url) else {
            return Request {
                url,
                allow_private: false,
                user_agent: None,
                credential: Credential::None,
            };
        };
        let mut url = url;
        match &e.credential {
            Credential::Key(k) => {
                url.query_pairs_mut().append_pair("key", k);
            }
            Credential::Reddit(o) => url = moved(&url, &e.base, &o.base),
            Credential::None | Credential::Bearer(_) | Credential::Discourse { .. } => {}
        }
        Request {
            url,
            allow_private: e.allow_private,
            user_agent: e.user_agent.clone(),
            credential: e.credential.clone(),
        }
    }
}

/// The entry's credential (its secret read from `*_env` / `*_file`).
fn credential(s: &SourceConfig) -> Result<Credential, SourceError> {
    let read = |env: &Option<String>, file| secret(env.as_ref(), file);
    Ok(match s {
        SourceConfig::Stackexchange(c) => {
            read(&c.key_env, c.key_file.as_ref())?.map_or(Credential::None, Credential::Key)
        }
        SourceConfig::Mastodon(c) => read(&c.access_token_env, c.access_token_file.as_ref())?
            .map_or(Credential::None, Credential::Bearer),
        // Reddit's Atom feeds take no OAuth, but its JSON threads do
        SourceConfig::Reddit(c) => RedditOAuth::from_config(c)?
            .map_or(Credential::None, |o| Credential::Reddit(Box::new(o))),
        SourceConfig::Github(c) => {
            read(&c.token_env, c.token_file.as_ref())?.map_or(Credential::None, Credential::Bearer)
        }
        SourceConfig::Discourse(c) => {
            read(&c.api_key_env, c.api_key_file.as_ref())?.map_or(Credential::None, |key| {
                Credential::Discourse {
                    key,
                    username: c.api_username.clone().unwrap_or_else(|| "system".into()),
                }
            })
        }
        _ => Credential::None,
    })
}

/// `url` (under `from`) at the same path and query under `to`.
fn moved(url: &Url, from: &Url, to: &Url) -> Url {
    let path = url
        .path()
        .strip_prefix(from.path().trim_end_matches('/'))
        .unwrap_or(url.path());
    let mut out = crate::sources::endpoint(to, path, &[]);
    out.set_query(url.query());
    out
}

impl Request {
    /// GETs the thread through `http` (the sources' client) with the entry's
    /// settings. Statuses the thread parsers read (404, 4xx with a body) are a
    /// response; rate limits, 401, 403, 5xx and network failures are errors.
    pub async fn fetch(&self, http: &Http) -> Result<Fetched, SourceError> {
        let private;
        let http = if self.allow_private {
            private = http.allowing_private();
            &private
        } else {
            http
        };
        let ua = self.user_agent.as_deref();
        let bearer = match &self.credential {
            Credential::Bearer(t) => Some(t.clone()),
            Credential::Reddit(o) => Some(o.bearer(http, ua).await?),
            Credential::None | Credential::Key(_) | Credential::Discourse { .. } => None,
        };
        let mut headers: Vec<(&'static str, String)> = ua
            .map(|a| ("user-agent", a.to_string()))
            .into_iter()
            .collect();
        if let Credential::Discourse { key, username } = &self.credential {
            headers.push(("api-key", key.clone()));
            headers.push(("api-username", username.clone()));
        }
        let opts = GetOpts {
            bearer: bearer.as_deref(),
            headers,
            ..GetOpts::default()
        };
        let got = |status, body| Fetched {
            status,
            body,
            wait: None,
        };
        match http.get(&self.url, Expect::Json, opts).await {
            Ok(Some(r)) => Ok(Fetched {
                status: r.status,
                body: r.body,
                wait: r.wait_hint,
            }),
            Ok(None) => Ok(got(304, Vec::new())),
            Err(SourceError::NotFound(_)) => Ok(got(404, Vec::new())),
            Err(SourceError::Status { status, detail, .. }) => Ok(got(status, detail.into_bytes())),
            Err(e) => {
                if let (SourceError::Unauthorized(_), Credential::Reddit(o)) =
                    (&e, &self.credential)
                {
                    // an expired or revoked token: a new one next time
                    o.forget();
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(kind: &str, id: &str, source_name: &str) -> Post {
        let mut p: Post = serde_json::from_value(serde_json::json!({
            "id": id, "url": "https://x.test/1", "text": "t",
            "created_at": "2026-11-30T10:00:00Z", "source": kind,
        }))
        .unwrap();
        p.source_name = source_name.into();
        p
    }

    /// Credentials go to the host their entry polls, whichever entry the post came
    /// from; never to another host; and no secret shows in `Debug`.
    #[test]
    fn credentials_go_only_to_their_entrys_host() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, secret: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, secret).unwrap();
            path.display().to_string()
        };
        let text = format!(
            "[[source]]\nname = \"a\"\nkind = \"mastodon\"\ninstance = \"https://a.test\"\naccess_token_file = \"{}\"\n\n\
             [[source]]\nname = \"b\"\nkind = \"mastodon\"\ninstance = \"https://b.test\"\n\n\
             [[source]]\nkind = \"stackexchange\"\nkey_file = \"{}\"\n",
            file("masto", "tok-a"),
            file("se", "k3y"),
        );
        #[derive(serde::Deserialize)]
        struct F {
            source: Vec<SourceConfig>,
        }
        let sources = toml::from_str::<F>(&text).unwrap().source;
        let plan = super::super::Plan::from_config(&[], &sources).unwrap();
        let bearer = |p: &Post| {
            let super::super::threads::Target::Fetch(u) =
                super::super::threads::target(p, &plan.bases).unwrap()
            else {
                panic!("{p:?}")
            };
            match plan.access.request(p, u).credential {
                Credential::Bearer(t) => Some(t),
                _ => None,
            }
        };
        // a's token for a's host, even for a post another entry stored
        assert_eq!(
            bearer(&post("mastodon", "mastodon:a.test:1", "a")).as_deref(),
            Some("tok-a")
        );
        assert_eq!(
            bearer(&post("mastodon", "mastodon:a.test:1", "b")).as_deref(),
            Some("tok-a")
        );
        assert_eq!(bearer(&post("mastodon", "mastodon:b.test:1", "a")), None);
        assert_eq!(bearer(&post("mastodon", "mastodon:evil.test:1", "a")), None);
        // the key, for a post of a renamed entry too
        let q = post("stackexchange", "stackexchange:stackoverflow:5", "old-name");
        let super::super::threads::Target::Fetch(u) =
            super::super::threads::target(&q, &plan.bases).unwrap()
        else {
            panic!()
        };
        let r = plan.access.request(&q, u);
        assert!(r.url.as_str().ends_with("&key=k3y"), "{}", r.url);
        let debug = format!("{:?}", plan);
        assert!(
            !debug.contains("tok-a") && !debug.contains("k3y"),
            "{debug}"
        );
    }

    #[test]
    fn a_thread_moves_to_the_oauth_host_with_its_path_and_query() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            moved(
                &u("http://127.0.0.1:9/reddit/comments/x.json?raw_json=1&sort=old"),
                &u("http://127.0.0.1:9/reddit"),
                &u("https://oauth.reddit.com"),
            )
            .as_str(),
            "https://oauth.reddit.com/comments/x.json?raw_json=1&sort=old"
        );
    }
}
