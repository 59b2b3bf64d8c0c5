//! `[[source]]`: one entry per feed, each with its own interval. Settings only:
//! depends on nothing of overhear but `crate::util`, and never builds a source.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::util::Problem;

/// One `[[source]]` entry; `kind` picks the variant.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SourceConfig {
    Hackernews(HackerNewsConfig),
    Reddit(RedditConfig),
    Mastodon(MastodonConfig),
    Bluesky(BlueskyConfig),
    Lobsters(LobstersConfig),
    Stackexchange(StackExchangeConfig),
    Rss(RssConfig),
}

impl SourceConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            SourceConfig::Hackernews(_) => "hackernews",
            SourceConfig::Reddit(_) => "reddit",
            SourceConfig::Mastodon(_) => "mastodon",
            SourceConfig::Bluesky(_) => "bluesky",
            SourceConfig::Lobsters(_) => "lobsters",
            SourceConfig::Stackexchange(_) => "stackexchange",
            SourceConfig::Rss(_) => "rss",
        }
    }

    fn common(&self) -> (&Option<String>, &Option<Duration>, bool) {
        match self {
            SourceConfig::Hackernews(c) => (&c.name, &c.every, c.allow_private),
            SourceConfig::Reddit(c) => (&c.name, &c.every, c.allow_private),
            SourceConfig::Mastodon(c) => (&c.name, &c.every, c.allow_private),
            SourceConfig::Bluesky(c) => (&c.name, &c.every, c.allow_private),
            SourceConfig::Lobsters(c) => (&c.name, &c.every, c.allow_private),
            SourceConfig::Stackexchange(c) => (&c.name, &c.every, c.allow_private),
            SourceConfig::Rss(c) => (&c.name, &c.every, c.allow_private),
        }
    }

    /// `allow_private = true`: redirects may lead into private addresses.
    pub fn allow_private(&self) -> bool {
        self.common().2
    }

    /// The entry's `name`, defaulting to its kind.
    pub fn name(&self) -> String {
        self.common()
            .0
            .clone()
            .unwrap_or_else(|| self.kind().to_string())
    }

    /// The entry's own interval, if it sets one.
    pub fn every(&self) -> Option<Duration> {
        *self.common().1
    }

    /// Each secret the entry can take: (key stem, `_env` set, `_file` set).
    fn secrets(&self) -> Vec<(&'static str, bool, bool)> {
        match self {
            SourceConfig::Reddit(c) => vec![
                (
                    "client_id",
                    c.client_id_env.is_some(),
                    c.client_id_file.is_some(),
                ),
                (
                    "client_secret",
                    c.client_secret_env.is_some(),
                    c.client_secret_file.is_some(),
                ),
            ],
            SourceConfig::Mastodon(c) => vec![(
                "access_token",
                c.access_token_env.is_some(),
                c.access_token_file.is_some(),
            )],
            SourceConfig::Bluesky(c) => vec![(
                "app_password",
                c.app_password_env.is_some(),
                c.app_password_file.is_some(),
            )],
            SourceConfig::Stackexchange(c) => {
                vec![("key", c.key_env.is_some(), c.key_file.is_some())]
            }
            _ => Vec::new(),
        }
    }

    /// Each secret the entry names, as (key, where): `("access_token_env",
    /// "MASTODON_TOKEN")`, `("key_file", "/run/secrets/se")`. Names and paths only,
    /// never a value: a cluster worker checks them against what it may read.
    pub fn secret_refs(&self) -> Vec<(&'static str, String)> {
        let env = |k: &'static str, v: &Option<String>| v.clone().map(|v| (k, v));
        let file = |k: &'static str, v: &Option<PathBuf>| {
            v.as_ref().map(|p| (k, p.to_string_lossy().into_owned()))
        };
        let all = match self {
            SourceConfig::Reddit(c) => vec![
                env("client_id_env", &c.client_id_env),
                file("client_id_file", &c.client_id_file),
                env("client_secret_env", &c.client_secret_env),
                file("client_secret_file", &c.client_secret_file),
            ],
            SourceConfig::Mastodon(c) => vec![
                env("access_token_env", &c.access_token_env),
                file("access_token_file", &c.access_token_file),
            ],
            SourceConfig::Bluesky(c) => vec![
                env("app_password_env", &c.app_password_env),
                file("app_password_file", &c.app_password_file),
            ],
            SourceConfig::Stackexchange(c) => {
                vec![env("key_env", &c.key_env), file("key_file", &c.key_file)]
            }
            SourceConfig::Hackernews(_) | SourceConfig::Lobsters(_) | SourceConfig::Rss(_) => {
                Vec::new()
            }
        };
        all.into_iter().flatten().collect()
    }

    pub fn problems(&self, index: usize) -> Vec<Problem> {
        let mut out = Vec::new();
        let name = self.name();
        if let Some(every) = self.every() {
            if every < Duration::from_secs(10) {
                out.push(Problem::new(
                    format!("source[{index}].every"),
                    format!("source {name:?}: {every:?} is too short (at least 10s)"),
                ));
            }
        }
        let urls: Vec<&str> = match self {
            SourceConfig::Rss(c) => vec![c.url.as_str()],
            SourceConfig::Hackernews(c) => c.base_url.as_deref().into_iter().collect(),
            SourceConfig::Reddit(c) => c.base_url.as_deref().into_iter().collect(),
            SourceConfig::Mastodon(c) => vec![c.instance.as_str()],
            SourceConfig::Bluesky(c) => [&c.jetstream_url, &c.appview_url]
                .into_iter()
                .filter_map(|u| u.as_deref())
                .collect(),
            SourceConfig::Lobsters(c) => c.base_url.as_deref().into_iter().collect(),
            SourceConfig::Stackexchange(c) => c.base_url.as_deref().into_iter().collect(),
        };
        for (key, env, file) in self.secrets() {
            if env && file {
                out.push(Problem::new(
                    format!("source[{index}].{key}_file"),
                    format!("source {name:?}: set {key}_env or {key}_file, not both"),
                ));
            }
        }
        match self {
            SourceConfig::Reddit(c)
                if (c.client_id_env.is_some() || c.client_id_file.is_some())
                    != (c.client_secret_env.is_some() || c.client_secret_file.is_some()) =>
            {
                out.push(Problem::new(
                    format!("source[{index}]"),
                    format!(
                        "source {name:?}: OAuth needs both the client id and the client secret (client_id_env/_file and client_secret_env/_file)"
                    ),
                ));
            }
            SourceConfig::Bluesky(c) => {
                let password = c.app_password_env.is_some() || c.app_password_file.is_some();
                if password && c.handle.is_none() {
                    out.push(Problem::new(
                        format!("source[{index}].app_password_env"),
                        format!("source {name:?}: app_password_env needs handle (the account it belongs to)"),
                    ));
                }
                if !c.jetstream && !password {
                    out.push(Problem::new(
                        format!("source[{index}].jetstream"),
                        format!("source {name:?}: with jetstream = false, set app_password_env to use searchPosts"),
                    ));
                }
                if let Some(u) = c
                    .jetstream_url
                    .as_deref()
                    .and_then(|u| url::Url::parse(u).ok())
                {
                    if !matches!(u.scheme(), "ws" | "wss") {
                        out.push(Problem::new(
                            format!("source[{index}].jetstream_url"),
                            format!(
                                "source {name:?}: {:?} is not a ws:// or wss:// URL",
                                u.as_str()
                            ),
                        ));
                    }
                }
            }
            _ => {}
        }
        for u in urls {
            if let Err(e) = url::Url::parse(u) {
                out.push(Problem::new(
                    format!("source[{index}]"),
                    format!("source {name:?}: {u:?} is not a URL ({e})"),
                ));
            }
        }
        out
    }
}

macro_rules! source_struct {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// Names the entry in logs, health and `overhear poll NAME`; defaults to the kind.
            #[serde(default)]
            pub name: Option<String>,
            /// Interval between polls; defaults to `[daemon] poll_interval`.
            #[serde(default, with = "crate::util::opt_duration")]
            pub every: Option<Duration>,
            /// Follow redirects into loopback, link-local and private addresses from a
            /// public URL (an intranet feed behind a public name). Default false.
            #[serde(default)]
            pub allow_private: bool,
            $($(#[$fm])* pub $field: $ty),*
        }
    };
}

source_struct!(
    /// Hacker News through the Algolia `search_by_date` API.
    HackerNewsConfig {
        #[serde(default)] base_url: Option<String>,
        /// Defaults to the brands' search terms.
        #[serde(default)] queries: Vec<String>,
    }
);

source_struct!(
    /// Reddit search and subreddit listings.
    RedditConfig {
        #[serde(default)] base_url: Option<String>,
        #[serde(default)] queries: Vec<String>,
        #[serde(default)] subreddits: Vec<String>,
        #[serde(default)] client_id_env: Option<String>,
        #[serde(default)] client_secret_env: Option<String>,
        /// The OAuth client id read from a file (a Docker/Kubernetes secret) instead.
        #[serde(default)] client_id_file: Option<PathBuf>,
        #[serde(default)] client_secret_file: Option<PathBuf>,
        /// `json` (default) or `rss` (Reddit's Atom feeds; no OAuth).
        #[serde(default)] format: RedditFormat,
        /// Overrides `[daemon] user_agent` for Reddit, which blocks generic ones.
        #[serde(default)] user_agent: Option<String>,
        /// Where OAuth requests go (default `https://oauth.reddit.com`).
        #[serde(default)] oauth_base_url: Option<String>,
        /// Token endpoint (default `https://www.reddit.com/api/v1/access_token`).
        #[serde(default)] token_url: Option<String>,
    }
);

source_struct!(
    /// Mastodon hashtag timelines on one instance.
    MastodonConfig {
        instance: String,
        #[serde(default)] tags: Vec<String>,
        #[serde(default)] access_token_env: Option<String>,
        #[serde(default)] access_token_file: Option<PathBuf>,
    }
);

source_struct!(
    /// Bluesky: the Jetstream firehose, and searchPosts with an app password.
    BlueskyConfig {
        /// Jetstream websocket (default `wss://jetstream2.us-east.bsky.network/subscribe`).
        #[serde(default)] jetstream_url: Option<String>,
        /// Listen to the firehose (default true); false with an app password = search only.
        #[serde(default = "default_true")] jetstream: bool,
        /// Matching posts held between polls at most; the firehose waits when it is full.
        #[serde(default = "default_bluesky_queue")] queue: usize,
        #[serde(default)] handle: Option<String>,
        /// Enables `app.bsky.feed.searchPosts` (needs `handle`).
        #[serde(default)] app_password_env: Option<String>,
        /// The app password read from a file instead.
        #[serde(default)] app_password_file: Option<PathBuf>,
        /// The PDS that logs in and serves searchPosts (default `https://bsky.social`).
        #[serde(default)] pds_url: Option<String>,
        /// The AppView the thread watch reads this entry's threads from
        /// (`app.bsky.feed.getPostThread`; default `https://public.api.bsky.app`).
        #[serde(default)] appview_url: Option<String>,
    }
);

source_struct!(
    /// Lobsters newest stories and comments, matched locally.
    LobstersConfig {
        #[serde(default)] base_url: Option<String>,
    }
);

source_struct!(
    /// Stack Exchange `search/advanced` on one site.
    StackExchangeConfig {
        #[serde(default)] base_url: Option<String>,
        #[serde(default = "default_se_site")] site: String,
        #[serde(default)] queries: Vec<String>,
        #[serde(default)] key_env: Option<String>,
        #[serde(default)] key_file: Option<PathBuf>,
    }
);

source_struct!(
    /// Any RSS 0.9x/1.0/2.0, Atom or JSON Feed.
    RssConfig {
        url: String,
    }
);

/// Which of Reddit's formats to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedditFormat {
    #[default]
    Json,
    Rss,
}

fn default_true() -> bool {
    true
}

fn default_bluesky_queue() -> usize {
    10_000
}

fn default_se_site() -> String {
    "stackoverflow".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> SourceConfig {
        #[derive(Deserialize)]
        struct Wrap {
            source: Vec<SourceConfig>,
        }
        toml::from_str::<Wrap>(text).unwrap().source.remove(0)
    }

    #[test]
    fn names_default_to_the_kind_and_problems_are_found() {
        let c = parse("[[source]]\nkind = \"lobsters\"\nevery = \"15m\"\n");
        assert_eq!((c.name(), c.kind()), ("lobsters".to_string(), "lobsters"));
        assert_eq!(c.every(), Some(Duration::from_secs(900)));
        assert!(c.problems(0).is_empty());
        let c = parse(
            "[[source]]\nkind = \"bluesky\"\njetstream = false\njetstream_url = \"https://x\"\n",
        );
        let p = c.problems(2);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].key, "source[2].jetstream");
        let c = parse("[[source]]\nkind = \"reddit\"\nclient_id_env = \"X\"\nformat = \"rss\"\n");
        assert_eq!(c.problems(0).len(), 1);
    }
}
