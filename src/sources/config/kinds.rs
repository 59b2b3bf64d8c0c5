//! The settings of each kind of `[[source]]` entry, and the keys every entry shares
//! (`name`, `every`, `allow_private`, `brand`).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

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
            /// An owned channel: every item this entry yields is a mention of this brand
            /// (the brand's forum, its app's reviews). Other brands' queries still run.
            #[serde(default)]
            pub brand: Option<String>,
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

source_struct!(
    /// A Discourse forum: the latest posts (`/posts.json`), matched locally.
    DiscourseConfig {
        /// The forum, e.g. `https://forum.acme.com`.
        base_url: String,
        /// Category slugs or ids to keep (default: every public category).
        #[serde(default)] categories: Vec<String>,
        /// An API key for a private forum (sent as `Api-Key`, with `api_username`).
        #[serde(default)] api_key_env: Option<String>,
        #[serde(default)] api_key_file: Option<PathBuf>,
        /// The user the API key acts as (`Api-Username`; default `system`).
        #[serde(default)] api_username: Option<String>,
    }
);

source_struct!(
    /// Apple App Store customer reviews, per app and country.
    AppStoreConfig {
        /// App Store ids (the digits of `id284882215` in an app's URL).
        apps: Vec<String>,
        /// Two-letter storefront codes (default `["us"]`).
        #[serde(default = "default_countries")] countries: Vec<String>,
        /// Where the feeds are (default `https://itunes.apple.com`).
        #[serde(default)] base_url: Option<String>,
    }
);

source_struct!(
    /// GitHub issues and pull requests through the search API.
    GitHubConfig {
        /// The API (default `https://api.github.com`).
        #[serde(default)] base_url: Option<String>,
        /// Defaults to the brands' search terms.
        #[serde(default)] queries: Vec<String>,
        /// `owner/name` repositories to search in (default: all of GitHub).
        #[serde(default)] repos: Vec<String>,
        /// A token: 30 searches a minute instead of 10.
        #[serde(default)] token_env: Option<String>,
        #[serde(default)] token_file: Option<PathBuf>,
    }
);

source_struct!(
    /// dev.to (Forem) articles and their comments, matched locally.
    DevToConfig {
        /// The site (default `https://dev.to`).
        #[serde(default)] base_url: Option<String>,
        /// Read these tags' articles (default: the latest articles).
        #[serde(default)] tags: Vec<String>,
    }
);

source_struct!(
    /// A Lemmy instance's search (posts and comments).
    LemmyConfig {
        /// The instance, e.g. `https://lemmy.world`.
        instance: String,
        /// Defaults to the brands' search terms.
        #[serde(default)] queries: Vec<String>,
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

fn default_countries() -> Vec<String> {
    vec!["us".into()]
}

fn default_se_site() -> String {
    "stackoverflow".into()
}
