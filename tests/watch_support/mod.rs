//! What the thread-watch tests share: a mention of any kind, the brand Acme with its
//! accounts on every kind, a store where a mention is watched and due, and a thread
//! fixture (`tests/fixtures/threads/`).
#![allow(dead_code)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use overhear::post::{BrandMatch, Post, Sentiment};
use overhear::store::watches::WatchState;
use overhear::store::Store;
use overhear::watch::threads::parse_accounts;
use overhear::watch::BrandWatch;

pub fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A mention of source `kind` (from the `[[source]]` entry named `kind`).
pub fn post(kind: &str, id: &str, url: &str, author: &str, at: &str) -> Post {
    serde_json::from_value(serde_json::json!({
        "id": id, "url": url, "author": author, "text": "Acme support never answers",
        "created_at": at, "source": kind, "source_name": kind,
    }))
    .unwrap()
}

/// `tests/fixtures/threads/{kind}/{name}`.
pub fn fixture(kind: &str, name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/threads/{kind}/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Acme, with its accounts on every kind, checked every minute for an hour.
pub fn acme() -> BrandWatch {
    let accounts: Vec<String> = "hackernews:acme_support reddit:u/AcmeHelp \
        mastodon:support@acme.social bluesky:acme.com lobsters:acme \
        stackexchange:stackoverflow/12345"
        .split_whitespace()
        .map(str::to_string)
        .collect();
    BrandWatch {
        brand: "Acme".into(),
        accounts: parse_accounts(&accounts).unwrap(),
        watch_for: Duration::from_secs(3600),
        schedule: vec![Duration::from_secs(60)],
        resolve_when_answered: false,
    }
}

/// A store holding `p` as a negative mention of Acme, watched and due now.
pub fn watched(
    p: &Post,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> (tempfile::TempDir, Store, String) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let id = store
        .upsert_mention(p, &[acme_match()], now)
        .unwrap()
        .id()
        .to_string();
    let s = Sentiment {
        label: "negative".into(),
        scores: vec![("negative".into(), 0.95)],
        model: "test@0".into(),
    };
    store.set_sentiment(&id, &s).unwrap();
    assert_eq!(
        store.watch_start(&[(id.clone(), due(now, until))]).unwrap(),
        1
    );
    (dir, store, id)
}

/// The match of the brand Acme.
pub fn acme_match() -> BrandMatch {
    BrandMatch {
        brand: "Acme".into(),
        query: "default".into(),
        terms: vec![],
    }
}

/// A watch due a second before `now`, kept until `until`.
pub fn due(now: DateTime<Utc>, until: DateTime<Utc>) -> WatchState {
    WatchState {
        next_at: now - chrono::Duration::seconds(1),
        attempts: 0,
        until,
        thread_id: None,
    }
}

/// One mention of each kind, as its source makes them (see `watch::threads`).
pub fn mentions() -> Vec<Post> {
    let mut masto = post(
        "mastodon",
        "mastodon:mastodon.social:111000000000000001",
        "https://mastodon.social/@jdoe/111000000000000001",
        "jdoe",
        "2023-11-14T22:13:20Z",
    );
    masto.site = "mastodon.social".into();
    vec![
        post(
            "hackernews",
            "hackernews:8863001",
            "https://news.ycombinator.com/item?id=8863001",
            "jdoe",
            "2023-11-14T22:13:20Z",
        ),
        post(
            "reddit",
            "reddit:t3_17abcde",
            "https://www.reddit.com/r/acme/comments/17abcde/acme_support_is_useless/",
            "jdoe",
            "2023-11-14T22:13:20Z",
        ),
        masto,
        post(
            "bluesky",
            "bluesky:at://did:plc:jdoe2jdoe2jdoe2jdoe2jdoe/app.bsky.feed.post/3kfa2root222",
            "https://bsky.app/profile/did:plc:jdoe2jdoe2jdoe2jdoe2jdoe/post/3kfa2root222",
            "jdoe.bsky.social",
            "2023-11-14T22:13:20Z",
        ),
        post(
            "lobsters",
            "lobsters:abc123",
            "https://lobste.rs/s/abc123/acme_ships_new_widget",
            "alice",
            "2024-01-02T16:00:00Z",
        ),
        post(
            "stackexchange",
            "stackexchange:stackoverflow:77000001",
            "https://stackoverflow.com/questions/77000001/acme-sdk-crashes-on-startup",
            "jdoe",
            "2023-11-14T22:13:20Z",
        ),
    ]
}

/// The mention of `kind` in [`mentions`].
pub fn mention(kind: &str) -> Post {
    mentions().into_iter().find(|p| p.source == kind).unwrap()
}
