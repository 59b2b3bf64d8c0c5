//! `[[source]]`: one entry per feed, each with its own interval.

use std::time::Duration;

use serde::Deserialize;

use crate::config::Problem;

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

    fn common(&self) -> (&Option<String>, &Option<Duration>) {
        match self {
            SourceConfig::Hackernews(c) => (&c.name, &c.every),
            SourceConfig::Reddit(c) => (&c.name, &c.every),
            SourceConfig::Mastodon(c) => (&c.name, &c.every),
            SourceConfig::Bluesky(c) => (&c.name, &c.every),
            SourceConfig::Lobsters(c) => (&c.name, &c.every),
            SourceConfig::Stackexchange(c) => (&c.name, &c.every),
            SourceConfig::Rss(c) => (&c.name, &c.every),
        }
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
            SourceConfig::Bluesky(c) => c.jetstream_url.as_deref().into_iter().collect(),
            SourceConfig::Lobsters(c) => c.base_url.as_deref().into_iter().collect(),
            SourceConfig::Stackexchange(c) => c.base_url.as_deref().into_iter().collect(),
        };
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
    }
);

source_struct!(
    /// Mastodon hashtag timelines on one instance.
    MastodonConfig {
        instance: String,
        #[serde(default)] tags: Vec<String>,
        #[serde(default)] access_token_env: Option<String>,
    }
);

source_struct!(
    /// Bluesky: the Jetstream firehose, and searchPosts with an app password.
    BlueskyConfig {
        #[serde(default)] jetstream_url: Option<String>,
        #[serde(default)] handle: Option<String>,
        #[serde(default)] app_password_env: Option<String>,
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
    }
);

source_struct!(
    /// Any RSS 0.9x/1.0/2.0, Atom or JSON Feed.
    RssConfig {
        url: String,
    }
);

fn default_se_site() -> String {
    "stackoverflow".into()
}
