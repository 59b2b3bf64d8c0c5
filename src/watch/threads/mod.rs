//! Threads: for each source kind, which URL shows a mention's public thread, how that
//! response reads as [`Reply`]s, and [`first_answer`]: the brand's earliest reply.
//!
//! Pure functions over [`Post`]s and response bodies: nothing here fetches, stores,
//! logs or sleeps. The watcher drives them like this:
//!
//! ```text
//! let mut post = mention.post.clone();          // thread_id may be filled in below
//! loop {
//!     let url = match target(&post, &bases)? {
//!         Target::NoThreads(why) => break,       // rss: nothing to watch
//!         Target::Fetch(url) => url,
//!     };
//!     let (status, body) = GET url;              // redirects followed, any status
//!     match parse(&post, status, &body)? {
//!         Thread::Replies(replies) => { first_answer(&post, &replies, &accounts); break }
//!         Thread::Gone => break,                 // the post was deleted: stop watching
//!         Thread::Located { thread_id } => post.thread_id = Some(thread_id), // once
//!     }
//! }
//! ```
//!
//! # The interface
//!
//! - [`target`]`(post, bases) -> Result<Target>`: the one URL to GET, or
//!   [`Target::NoThreads`] for kinds without threads (rss, anything unknown). It
//!   carries no credentials: the watcher adds the post's `[[source]]` entry's key,
//!   token and user agent ([`crate::watch::access`]).
//! - [`parse`]`(post, status, body) -> Result<Thread>`: 404 and 410 are
//!   [`Thread::Gone`] for every kind; other non-2xx statuses are
//!   [`ThreadError::Status`] (the watcher backs off; 429's `Retry-After` is in the
//!   headers it holds). A deleted mention (its own item deleted or removed) is `Gone`
//!   too. Malformed bodies are [`ThreadError::Malformed`], never a panic.
//! - [`parse_accounts`] reads the brand's accounts (`KIND:NAME`), [`first_answer`]
//!   picks the earliest non-deleted reply by one of them, [`server_wait`] is Stack
//!   Exchange's `backoff`, which the watcher must honour.
//!
//! # Per kind
//!
//! | kind | mention id | GET | replies |
//! |---|---|---|---|
//! | hackernews | `hackernews:ID` | `{base}/items/ID` (Algolia) | the item's `children` tree |
//! | reddit | `reddit:t3_ID`, `reddit:t1_ID` | `{base}/comments/ID.json`, a comment `{base}/comments/LINK/_/ID.json` | the comment tree below the post; `more` stubs skipped |
//! | mastodon | `mastodon:HOST:ID` | `{instance}/api/v1/statuses/ID/context` | `descendants` |
//! | bluesky | `bluesky:AT_URI` | `{appview}/xrpc/app.bsky.feed.getPostThread?uri=AT_URI` | the `replies` tree |
//! | lobsters | `lobsters:SHORT`, `lobsters:c/SHORT` | `{base}/s/STORY.json` | the story's `comments` (for a comment, those below it); parents from `parent_comment`, before 2023 from `indent_level` |
//! | stackexchange | `stackexchange:SITE:QID` | `{base}/questions/QID/timeline?site=SITE` | answers, comments on the question and on its answers |
//! | discourse | `discourse:HOST:POST_ID` | `{base}/t/TOPIC/POST_NUMBER.json` (the 20 posts around the mention) | `post_stream.posts` below it by `reply_to_post_number`; for a topic's first post every later post |
//! | github | `github:OWNER/REPO#NUMBER` | `{base}/repos/OWNER/REPO/issues/NUMBER/comments?per_page=100` | every comment, depth 1 |
//! | devto | `devto:ARTICLE_ID`, `devto:c/ID_CODE` | `{base}/api/comments?a_id=ARTICLE_ID` (a comment without `thread_id`: `{base}/api/comments/ID_CODE`) | the `children` tree below the mention |
//! | lemmy | `lemmy:HOST:post/ID`, `lemmy:HOST:comment/ID` | `{instance}/api/v3/comment/list?post_id=ID` (a comment: `parent_id=ID`), `max_depth=8` | comments whose `path` goes through the mention, depth from it |
//! | appstore | — | no thread ("answer in App Store Connect") | — |
//!
//! - Reddit: a comment's LINK is its `thread_id` (`reddit:t3_LINK`), else read from its
//!   URL (`/comments/LINK/…`). Reply URLs are `https://www.reddit.com{permalink}`.
//!   At most 500 comments, oldest first, ten levels below the mention. Reddit wants
//!   a descriptive User-Agent: the watcher sends the entry's `user_agent`, and for an
//!   entry with OAuth GETs the same path and query from its OAuth host
//!   (`oauth.reddit.com`) with its bearer token ([`crate::watch::access`]).
//! - Mastodon: HOST is the instance the source polled (ID is that instance's id, even
//!   for a remote status), so the context comes from there: [`Bases::mastodon`] or
//!   the post's own `[[source]]` entry, else `https://HOST`. It lists only the replies
//!   that instance knows of, and to a logged-out request at most 60 of them, 20
//!   levels deep (Mastodon's limits): the watcher sends the entry's access token.
//!   An `acct` without `@` is local: `@HOST` is appended, so reply authors are always
//!   `user@domain`. Deleted statuses are absent from a context; a reply to one is
//!   kept (its depth counts the missing one).
//! - Bluesky: the AT-URI is the post id after `bluesky:`; the AppView is the entry's
//!   `appview_url` (default the public one); reply authors are handles,
//!   reply URLs `https://bsky.app/profile/HANDLE/post/RKEY`. `#notFoundPost` and
//!   `#blockedPost` replies are deleted replies (author: the DID in their URI; time:
//!   their parent's); a 400 `NotFound` is `Gone`. An account may be a DID
//!   (`bluesky:did:plc:…`): it matches replies whose URI is under it, and knows the
//!   brand's own posts from the firehose, whose author is a DID.
//! - Lobsters: a comment from the comments feed has no story id: its target is
//!   `{base}/c/SHORT.json`, which parses as [`Thread::Located`] with the story's id;
//!   set it as the post's `thread_id` (and keep it: later checks skip that request).
//! - Stack Exchange: one call, the question's timeline (default filter, 100 events,
//!   newest first): answers are depth 1, comments on the question 1, comments on an
//!   answer 2. Reply authors are `SITE/USER_ID`, never display names. An empty
//!   timeline is `Gone` (deleted questions have none). The entry's `key` is not in
//!   [`target`]'s URL: the watcher appends `&key=…` ([`crate::watch::access`]), and
//!   logs and errors show it as `REDACTED`.
//! - Every reply's `at` is its own time; where the source gives none, its parent's.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::post::Post;
use crate::sources::SourceConfig;

mod accounts;
mod bluesky;
mod devto;
mod discourse;
mod github;
mod hackernews;
mod lemmy;
mod lobsters;
mod mastodon;
mod reddit;
mod stackexchange;
#[cfg(test)]
mod test_support;

pub use accounts::{first_answer, parse_accounts, Account, KINDS};

/// One reply below a mention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// In the form of [`Post::id`]: `hackernews:123`, `reddit:t1_abc`, …
    pub id: String,
    /// The account as [`Account::handle`] spells it for the kind (Mastodon
    /// `user@domain`, Stack Exchange `SITE/USER_ID`); empty when the source hides it.
    pub author: String,
    pub at: DateTime<Utc>,
    /// Where a person reads it.
    pub url: String,
    /// 1 for a direct reply to the mention, 2 for a reply to that, …
    pub depth: u32,
    /// Deleted, removed, or otherwise no longer shown: never an answer.
    pub deleted: bool,
}

/// What a thread response said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Thread {
    /// Every reply found below the mention (possibly none), in the source's order.
    Replies(Vec<Reply>),
    /// The mention was deleted or removed (404, 410, `NotFound`, a deleted item).
    Gone,
    /// The response only said which thread the mention is in (a Lobsters comment
    /// from the comments feed): set `post.thread_id` to this and ask [`target`] again.
    Located { thread_id: String },
}

/// Where a mention's thread is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// GET this (follow redirects) and hand the response to [`parse`].
    Fetch(Url),
    /// This kind has no threads: why, in words.
    NoThreads(&'static str),
}

/// Why a thread could not be located or read.
#[derive(Debug, thiserror::Error)]
pub enum ThreadError {
    #[error("brand account {entry:?}: {why} (write KIND:NAME, KIND one of {kinds})", kinds = KINDS.join(", "))]
    Account { entry: String, why: String },
    #[error("no thread URL for {id}: {why}")]
    Target { id: String, why: String },
    #[error("source {name:?}: {url:?} is not a URL: {why}")]
    Base {
        name: String,
        url: String,
        why: String,
    },
    #[error("{kind} thread: malformed response: {why}")]
    Malformed { kind: String, why: String },
    #[error("{kind} thread: HTTP {status}: {detail}")]
    Status {
        kind: String,
        status: u16,
        /// The start of the body (APIs explain their errors there).
        detail: String,
    },
    #[error("{kind} thread: the API said: {message}")]
    Api {
        kind: String,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("{0} posts have no threads")]
    NoThreads(String),
}

impl ThreadError {
    /// The least wait the server asked for, where it said (Stack Exchange throttling).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ThreadError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Where each kind's API is. [`Default`] is the public hosts; tests and the
/// `[[source]]` entries' `base_url`s point them elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bases {
    /// Algolia's Hacker News API: `https://hn.algolia.com/api/v1`.
    pub hackernews: Url,
    /// `https://www.reddit.com`.
    pub reddit: Url,
    /// The public Bluesky AppView: `https://public.api.bsky.app`.
    pub bluesky: Url,
    /// `https://lobste.rs`.
    pub lobsters: Url,
    /// `https://api.stackexchange.com/2.3`.
    pub stackexchange: Url,
    /// `https://api.github.com`.
    pub github: Url,
    /// `https://dev.to`.
    pub devto: Url,
    /// Mastodon instances by the HOST of `mastodon:HOST:ID`; one not here is `https://HOST`.
    pub mastodon: BTreeMap<String, Url>,
    /// Per `[[source]]` name, that entry's `base_url` (Mastodon: `instance`): a post
    /// from that entry is looked up there rather than at its kind's base.
    pub sources: BTreeMap<String, Url>,
}

fn fixed(url: &'static str) -> Url {
    Url::parse(url).expect("a constant URL")
}

impl Default for Bases {
    fn default() -> Self {
        Bases {
            hackernews: fixed("https://hn.algolia.com/api/v1"),
            reddit: fixed("https://www.reddit.com"),
            bluesky: fixed("https://public.api.bsky.app"),
            lobsters: fixed("https://lobste.rs"),
            stackexchange: fixed("https://api.stackexchange.com/2.3"),
            github: fixed("https://api.github.com"),
            devto: fixed("https://dev.to"),
            mastodon: BTreeMap::new(),
            sources: BTreeMap::new(),
        }
    }
}

impl Bases {
    /// The public hosts, with each `[[source]]` entry's own `base_url` (Mastodon:
    /// `instance`, also by host; Bluesky: `appview_url`) for that entry's posts.
    pub fn from_sources(sources: &[SourceConfig]) -> Result<Bases, ThreadError> {
        let mut bases = Bases::default();
        for s in sources {
            let configured = match s {
                SourceConfig::Hackernews(c) => c.base_url.as_deref(),
                SourceConfig::Reddit(c) => c.base_url.as_deref(),
                SourceConfig::Mastodon(c) => Some(c.instance.as_str()),
                SourceConfig::Lobsters(c) => c.base_url.as_deref(),
                SourceConfig::Stackexchange(c) => c.base_url.as_deref(),
                SourceConfig::Bluesky(c) => c.appview_url.as_deref(),
                SourceConfig::Discourse(c) => Some(c.base_url.as_str()),
                SourceConfig::Github(c) => c.base_url.as_deref(),
                SourceConfig::Devto(c) => c.base_url.as_deref(),
                SourceConfig::Lemmy(c) => Some(c.instance.as_str()),
                SourceConfig::Rss(_) | SourceConfig::Appstore(_) => None,
            };
            let Some(raw) = configured else { continue };
            let url = Url::parse(raw.trim_end_matches('/')).map_err(|e| ThreadError::Base {
                name: s.name(),
                url: raw.to_string(),
                why: e.to_string(),
            })?;
            if let (SourceConfig::Mastodon(_), Some(host)) = (s, url.host_str()) {
                bases.mastodon.insert(host.to_string(), url.clone());
            }
            bases.sources.insert(s.name(), url);
        }
        Ok(bases)
    }

    /// The post's own entry's base, else `kind`'s.
    fn of<'a>(&'a self, post: &Post, kind: &'a Url) -> &'a Url {
        self.sources.get(&post.source_name).unwrap_or(kind)
    }

    /// The post's own entry's base, else the origin of its URL (`https://HOST`): the
    /// kinds that have no one public host (Discourse forums, Lemmy instances).
    fn own_or_origin(&self, post: &Post) -> Result<Url, ThreadError> {
        if let Some(u) = self.sources.get(&post.source_name) {
            return Ok(u.clone());
        }
        let u = Url::parse(&post.url).map_err(|e| no_target(post, e))?;
        match u.host_str() {
            Some(_) if matches!(u.scheme(), "http" | "https") => {
                let mut origin = u.clone();
                origin.set_path("");
                origin.set_query(None);
                origin.set_fragment(None);
                Ok(origin)
            }
            _ => Err(no_target(post, "its URL names no web host")),
        }
    }
}

/// Which URL shows `post`'s thread (see the module doc for each kind).
pub fn target(post: &Post, bases: &Bases) -> Result<Target, ThreadError> {
    match post.source.as_str() {
        "hackernews" => hackernews::target(post, bases.of(post, &bases.hackernews)),
        "reddit" => reddit::target(post, bases.of(post, &bases.reddit)),
        "mastodon" => mastodon::target(post, bases),
        "bluesky" => bluesky::target(post, bases.of(post, &bases.bluesky)),
        "lobsters" => lobsters::target(post, bases.of(post, &bases.lobsters)),
        "stackexchange" => stackexchange::target(post, bases.of(post, &bases.stackexchange)),
        "discourse" => discourse::target(post, &bases.own_or_origin(post)?),
        "github" => github::target(post, bases.of(post, &bases.github)),
        "devto" => devto::target(post, bases.of(post, &bases.devto)),
        "lemmy" => lemmy::target(post, &bases.own_or_origin(post)?),
        "rss" => Ok(Target::NoThreads(
            "rss, Atom and JSON feeds have no threads to watch",
        )),
        "appstore" => Ok(Target::NoThreads(
            "App Store reviews have no public thread: answer in App Store Connect",
        )),
        _ => Ok(Target::NoThreads(
            "this source kind has no threads to watch",
        )),
    }
}

/// Reads the response to [`target`]'s URL for `post` (its kind is `post.source`).
pub fn parse(post: &Post, status: u16, body: &[u8]) -> Result<Thread, ThreadError> {
    if matches!(status, 404 | 410) && KINDS.contains(&post.source.as_str()) {
        return Ok(Thread::Gone);
    }
    match post.source.as_str() {
        "hackernews" => hackernews::parse(post, status, body),
        "reddit" => reddit::parse(post, status, body),
        "mastodon" => mastodon::parse(post, status, body),
        "bluesky" => bluesky::parse(post, status, body),
        "lobsters" => lobsters::parse(post, status, body),
        "stackexchange" => stackexchange::parse(post, status, body),
        "discourse" => discourse::parse(post, status, body),
        "github" => github::parse(post, status, body),
        "devto" => devto::parse(post, status, body),
        "lemmy" => lemmy::parse(post, status, body),
        other => Err(ThreadError::NoThreads(other.to_string())),
    }
}

/// How long the server asked the watcher to wait before it calls the same API again,
/// where a successful response says so (Stack Exchange's `backoff`); `None` otherwise.
pub fn server_wait(post: &Post, body: &[u8]) -> Option<Duration> {
    match post.source.as_str() {
        "stackexchange" => stackexchange::backoff(body),
        _ => None,
    }
}

/// `Err(Status)` unless `status` is 2xx.
fn ok_status(kind: &str, status: u16, body: &[u8]) -> Result<(), ThreadError> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    Err(ThreadError::Status {
        kind: kind.to_string(),
        status,
        detail: body_start(body),
    })
}

/// The first 200 characters of a body, for error messages.
fn body_start(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.trim().chars().take(200).collect();
    if text.trim().chars().nth(200).is_some() {
        s.push('…');
    }
    s
}

/// `body` as JSON of type `T`, or a `Malformed` error saying where it went wrong.
fn json<T: serde::de::DeserializeOwned>(kind: &str, body: &[u8]) -> Result<T, ThreadError> {
    serde_json::from_slice(body).map_err(|e| malformed(kind, e))
}

fn malformed(kind: &str, why: impl ToString) -> ThreadError {
    ThreadError::Malformed {
        kind: kind.to_string(),
        why: why.to_string(),
    }
}

fn no_target(post: &Post, why: impl ToString) -> ThreadError {
    ThreadError::Target {
        id: post.id.clone(),
        why: why.to_string(),
    }
}

/// `base` + `/path` with query pairs (the base's own path kept).
fn endpoint(base: &Url, path: &str, query: &[(&str, &str)]) -> Url {
    crate::sources::endpoint(base, path, query)
}

/// Unix seconds as a time; `None` out of range.
fn unix(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

/// An RFC 3339 time; `None` when it is not one.
fn rfc3339(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Whether `s` is a non-empty run of ASCII letters, digits, `_` and `-` (ids that go
/// into URL paths).
fn plain_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod recorded_tests;
#[cfg(test)]
mod tests;
