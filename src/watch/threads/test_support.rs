//! What the thread tests share: a mention of each kind, the brand's accounts, and
//! the fixtures under `tests/fixtures/threads/`.

use chrono::{DateTime, Utc};

use super::{parse, parse_accounts, Account, Reply, Thread};
use crate::post::Post;

/// `tests/fixtures/threads/KIND/NAME` (compiled in: no file is read at test time).
macro_rules! fixture {
    ($kind:literal, $name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/threads/",
            $kind,
            "/",
            $name
        ))
        .as_slice()
    };
}
pub(crate) use fixture;

/// A mention: source `kind`, id `id`, written at `at`, by `author`.
pub fn post(kind: &str, id: &str, url: &str, author: &str, at: &str) -> Post {
    Post {
        rating: None,
        owned_by: None,
        id: id.to_string(),
        url: url.to_string(),
        author: Some(author.to_string()),
        title: None,
        text: "Acme support never answers".into(),
        created_at: time(at),
        created_at_is_first_seen: false,
        source: kind.to_string(),
        source_name: kind.to_string(),
        site: String::new(),
        parent_id: None,
        thread_id: None,
        engagement: None,
        lang: None,
        links: Vec::new(),
    }
}

pub fn time(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

/// The brand Acme's accounts on every kind.
pub fn acme() -> Vec<Account> {
    let list: Vec<String> = [
        "hackernews:acme_support",
        "reddit:u/AcmeHelp",
        "mastodon:support@acme.social",
        "bluesky:acme.com",
        "lobsters:acme",
        "stackexchange:stackoverflow/12345",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    parse_accounts(&list).unwrap()
}

/// `body` parsed for `post` as a 200, which must be replies.
pub fn replies(post: &Post, body: &[u8]) -> Vec<Reply> {
    match parse(post, 200, body) {
        Ok(Thread::Replies(r)) => r,
        other => panic!("expected replies, got {other:?}"),
    }
}

/// The brand's answer in `body` for `post`: (reply id, time, url, depth).
pub fn answer(post: &Post, body: &[u8]) -> Option<(String, DateTime<Utc>, String, u32)> {
    let replies = replies(post, body);
    super::first_answer(post, &replies, &acme())
        .map(|r| (r.id.clone(), r.at, r.url.clone(), r.depth))
}

/// A mention `id` of `kind` in the thread `thread` (where a source gives one), by
/// someone else than the brand: what the recorded-thread tests need.
pub fn mention_in(kind: &str, id: &str, thread: Option<&str>) -> Post {
    let mut p = post(
        kind,
        id,
        "https://x.test/",
        "someone",
        "2000-01-01T00:00:00Z",
    );
    p.thread_id = thread.map(str::to_string);
    p
}

/// `answered` (a `real/*.answered.json`) answers `m` as `want` (reply id, RFC 3339
/// time, URL, depth); the recording it was made from, with `edit` (the brand's
/// account, the recorded one) reverted, does not.
pub fn answered_only_as_edited(
    m: &Post,
    answered: &[u8],
    want: (&str, &str, &str, u32),
    edit: (&str, &str),
) {
    let (id, at, url, depth) = want;
    let want = (id.to_string(), time(at), url.to_string(), depth);
    assert_eq!(answer(m, answered), Some(want), "{}", m.id);
    let original = recorded(answered, edit.0, edit.1);
    assert_eq!(answer(m, &original), None, "{}: the recording", m.id);
}

/// The recording a `real/*.answered.json` copy was made from: its one edited leaf
/// (`brand`, which must occur once) back to `original`.
pub fn recorded(answered: &[u8], brand: &str, original: &str) -> Vec<u8> {
    let text = String::from_utf8(answered.to_vec()).unwrap();
    assert_eq!(text.matches(brand).count(), 1, "{brand} occurs once");
    text.replace(brand, original).into_bytes()
}
