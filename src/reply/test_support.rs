//! What the network clients' tests share: the HTTP client, a mention, a reply to
//! send, and the fixtures under `tests/fixtures/reply/`.

use chrono::{DateTime, Utc};

use super::Outgoing;
use crate::post::Post;
use crate::sources::{Http, HttpSettings};

/// `tests/fixtures/reply/KIND/NAME` as text (compiled in: no file is read at test
/// time).
macro_rules! fixture {
    ($kind:literal, $name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/reply/",
            $kind,
            "/",
            $name
        ))
    };
}
pub(crate) use fixture;

pub fn http() -> Http {
    Http::new("overhear-test", HttpSettings::default()).unwrap()
}

/// A mention of source `kind`: id `id`, at `url`, by `author`.
pub fn mention(kind: &str, id: &str, url: &str, author: &str) -> Post {
    Post {
        id: id.into(),
        url: url.into(),
        author: Some(author.into()),
        title: None,
        text: "Acme's app crashes on start again".into(),
        created_at: queued(),
        created_at_is_first_seen: false,
        source: kind.into(),
        source_name: format!("{kind}-acme"),
        site: String::new(),
        parent_id: None,
        thread_id: None,
        engagement: None,
        lang: None,
        links: Vec::new(),
        rating: None,
        owned_by: None,
    }
}

/// When the test replies are queued.
pub fn queued() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-06T21:30:00.123456Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// Attempt `attempt` at the reply `key` with `text` to `post`.
pub fn reply<'a>(post: &'a Post, key: &'a str, text: &'a str, attempt: u32) -> Outgoing<'a> {
    Outgoing {
        key,
        text,
        post,
        attempt,
        queued_at: queued(),
    }
}

/// The `application/x-www-form-urlencoded` body of a request, as pairs.
pub fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The value of `key` in a form.
pub fn field<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}
