//! `[[source]]`: one entry per feed, each with its own interval. Settings only:
//! depends on nothing of overhear but `crate::util`, and never builds a source.
//! Each kind's settings are in `kinds.rs`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::util::Problem;

mod kinds;
pub use kinds::*;

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
    Discourse(DiscourseConfig),
    Appstore(AppStoreConfig),
    Github(GitHubConfig),
    Devto(DevToConfig),
    Lemmy(LemmyConfig),
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
            SourceConfig::Discourse(_) => "discourse",
            SourceConfig::Appstore(_) => "appstore",
            SourceConfig::Github(_) => "github",
            SourceConfig::Devto(_) => "devto",
            SourceConfig::Lemmy(_) => "lemmy",
        }
    }

    /// The kinds an entry can have, as `kind = "…"` spells them.
    pub const KINDS: [&'static str; 12] = [
        "hackernews",
        "reddit",
        "mastodon",
        "bluesky",
        "lobsters",
        "stackexchange",
        "rss",
        "discourse",
        "appstore",
        "github",
        "devto",
        "lemmy",
    ];

    fn common(&self) -> (&Option<String>, &Option<Duration>, bool) {
        match self {
            SourceConfig::Hackernews(c) => (&c.name, &c.every, c.allow_private),
            SourceConfig::Reddit(c) => (&c.name, &c.every, c.allow_private),
            SourceConfig::Mastodon(c) => (&c.name, &c.every, c.allow_private),
            SourceConfig::Bluesky(c) => (&c.name, &c.every, c.allow_private),
            SourceConfig::Lobsters(c) => (&c.name, &c.every, c.allow_private),
            SourceConfig::Stackexchange(c) => (&c.name, &c.every, c.allow_private),
            SourceConfig::Rss(c) => (&c.name, &c.every, c.allow_private),
            SourceConfig::Discourse(c) => (&c.name, &c.every, c.allow_private),
            SourceConfig::Appstore(c) => (&c.name, &c.every, c.allow_private),
            SourceConfig::Github(c) => (&c.name, &c.every, c.allow_private),
            SourceConfig::Devto(c) => (&c.name, &c.every, c.allow_private),
            SourceConfig::Lemmy(c) => (&c.name, &c.every, c.allow_private),
        }
    }

    /// `brand = NAME`: the brand whose owned channel this entry is, if it is one.
    pub fn brand(&self) -> Option<&str> {
        let b = match self {
            SourceConfig::Hackernews(c) => &c.brand,
            SourceConfig::Reddit(c) => &c.brand,
            SourceConfig::Mastodon(c) => &c.brand,
            SourceConfig::Bluesky(c) => &c.brand,
            SourceConfig::Lobsters(c) => &c.brand,
            SourceConfig::Stackexchange(c) => &c.brand,
            SourceConfig::Rss(c) => &c.brand,
            SourceConfig::Discourse(c) => &c.brand,
            SourceConfig::Appstore(c) => &c.brand,
            SourceConfig::Github(c) => &c.brand,
            SourceConfig::Devto(c) => &c.brand,
            SourceConfig::Lemmy(c) => &c.brand,
        };
        b.as_deref()
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
            SourceConfig::Discourse(c) => {
                vec![("api_key", c.api_key_env.is_some(), c.api_key_file.is_some())]
            }
            SourceConfig::Github(c) => {
                vec![("token", c.token_env.is_some(), c.token_file.is_some())]
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
            SourceConfig::Discourse(c) => vec![
                env("api_key_env", &c.api_key_env),
                file("api_key_file", &c.api_key_file),
            ],
            SourceConfig::Github(c) => vec![
                env("token_env", &c.token_env),
                file("token_file", &c.token_file),
            ],
            SourceConfig::Hackernews(_)
            | SourceConfig::Lobsters(_)
            | SourceConfig::Rss(_)
            | SourceConfig::Appstore(_)
            | SourceConfig::Devto(_)
            | SourceConfig::Lemmy(_) => Vec::new(),
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
            SourceConfig::Discourse(c) => vec![c.base_url.as_str()],
            SourceConfig::Appstore(c) => c.base_url.as_deref().into_iter().collect(),
            SourceConfig::Github(c) => c.base_url.as_deref().into_iter().collect(),
            SourceConfig::Devto(c) => c.base_url.as_deref().into_iter().collect(),
            SourceConfig::Lemmy(c) => vec![c.instance.as_str()],
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
            SourceConfig::Appstore(c) => out.extend(appstore_problems(c, index, &name)),
            SourceConfig::Github(c) => {
                for r in &c.repos {
                    let ok = r.split_once('/').is_some_and(|(o, n)| {
                        [o, n].iter().all(|p| {
                            !p.is_empty()
                                && p.bytes().all(|b| {
                                    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
                                })
                        })
                    });
                    if !ok {
                        out.push(Problem::new(
                            format!("source[{index}].repos"),
                            format!("source {name:?}: {r:?} is not an owner/name repository"),
                        ));
                    }
                }
            }
            _ => {}
        }
        if self.brand().is_some_and(|b| b.trim().is_empty()) {
            out.push(Problem::new(
                format!("source[{index}].brand"),
                format!("source {name:?}: brand is empty (name a [[brand]], or leave it out)"),
            ));
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

/// An App Store entry's apps (digits) and countries (two letters).
fn appstore_problems(c: &AppStoreConfig, index: usize, name: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    if c.apps.is_empty() {
        out.push(Problem::new(
            format!("source[{index}].apps"),
            format!("source {name:?}: list at least one App Store id in apps"),
        ));
    }
    for a in &c.apps {
        let digits = a.strip_prefix("id").unwrap_or(a);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            out.push(Problem::new(
                format!("source[{index}].apps"),
                format!(
                    "source {name:?}: {a:?} is not an App Store id (digits, as in id284882215)"
                ),
            ));
        }
    }
    if c.countries.is_empty() {
        out.push(Problem::new(
            format!("source[{index}].countries"),
            format!("source {name:?}: list at least one country (us, gb, de, …)"),
        ));
    }
    for cc in &c.countries {
        if cc.len() != 2 || !cc.bytes().all(|b| b.is_ascii_alphabetic()) {
            out.push(Problem::new(
                format!("source[{index}].countries"),
                format!("source {name:?}: {cc:?} is not a two-letter country code"),
            ));
        }
    }
    out
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
