//! The brand's own accounts (`KIND:NAME`) and the answer decision: which reply, if
//! any, is the brand's earliest.
//!
//! Matching is exact per kind: the whole name, case-insensitive for Hacker News,
//! Reddit, Lobsters, Bluesky handles and Mastodon `user@domain`; Bluesky DIDs and
//! Stack Exchange `SITE/USER_ID` compare as written (after normalising the site). A
//! name that merely contains the brand's (`acme_support_fan`, `notacme.com`) is
//! someone else.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{mastodon, stackexchange, Reply, ThreadError};
use crate::post::Post;

/// The kinds that have threads, and so brand accounts.
pub const KINDS: [&str; 10] = crate::post::THREADED_KINDS;

/// One of the brand's accounts on one kind of source.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Account {
    /// One of [`KINDS`].
    pub kind: String,
    /// Normalised: Reddit without `u/`, Lobsters without `~`, Mastodon `user@domain`
    /// and Bluesky handles lowercase without `@`, Stack Exchange `SITE/USER_ID`
    /// (`stackoverflow/12345`; `stackoverflow.com` and `unix.stackexchange.com`
    /// become `stackoverflow`, `unix`). Bluesky takes a DID (`did:plc:…`) too.
    /// Lemmy `user@instance` and Discourse `FORUM_HOST/USERNAME` lowercase; GitHub
    /// and dev.to logins lowercase.
    pub handle: String,
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.handle)
    }
}

impl Account {
    /// Reads `KIND:NAME`, e.g. `hackernews:acme_support`, `reddit:u/AcmeHelp`,
    /// `mastodon:support@acme.social`, `bluesky:acme.com`, `lobsters:acme`,
    /// `stackexchange:stackoverflow/12345`, `discourse:forum.acme.com/acme_team`,
    /// `github:acme-bot`, `devto:acme`, `lemmy:acme@lemmy.world`.
    pub fn parse(entry: &str) -> Result<Account, ThreadError> {
        let bad = |why: &str| ThreadError::Account {
            entry: entry.to_string(),
            why: why.to_string(),
        };
        let (kind, name) = entry
            .trim()
            .split_once(':')
            .ok_or_else(|| bad("no KIND: before the name"))?;
        let kind = kind.trim().to_ascii_lowercase();
        if !KINDS.contains(&kind.as_str()) {
            return Err(bad(&format!("{kind:?} is not a kind with threads")));
        }
        let handle = normalise(&kind, name.trim()).map_err(|why| bad(&why))?;
        Ok(Account { kind, handle })
    }
}

/// Reads every entry; the first bad one is the error (naming it).
pub fn parse_accounts(list: &[String]) -> Result<Vec<Account>, ThreadError> {
    list.iter().map(|e| Account::parse(e)).collect()
}

fn normalise(kind: &str, name: &str) -> Result<String, String> {
    let name = match kind {
        "reddit" => name
            .strip_prefix("/u/")
            .or_else(|| name.strip_prefix("u/"))
            .unwrap_or(name),
        "lobsters" => name.strip_prefix('~').unwrap_or(name),
        "mastodon" | "bluesky" => name.strip_prefix('@').unwrap_or(name),
        _ => name,
    };
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a name has no spaces".into());
    }
    match kind {
        "mastodon" => match name.split_once('@') {
            Some((user, domain))
                if !user.is_empty() && !domain.is_empty() && !domain.contains('@') =>
            {
                Ok(name.to_lowercase())
            }
            _ => Err("a Mastodon account is user@domain (e.g. support@acme.social)".into()),
        },
        "bluesky" if name.starts_with("did:") => {
            if name.splitn(3, ':').nth(2).map_or(true, str::is_empty) {
                Err("a DID is did:METHOD:ID (e.g. did:plc:abc123)".into())
            } else {
                Ok(name.to_string())
            }
        }
        "bluesky" if !name.contains('.') || name.contains('/') => {
            Err("a Bluesky handle is a domain (e.g. acme.com or acme.bsky.social)".into())
        }
        "stackexchange" => match name.split_once('/') {
            Some((site, id))
                if !site.is_empty() && !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Ok(format!("{}/{id}", stackexchange::site_key(site)))
            }
            _ => Err(
                "a Stack Exchange account is SITE/USER_ID, the numeric id from the profile URL (e.g. stackoverflow/12345)"
                    .into(),
            ),
        },
        "lemmy" => match name.split_once('@') {
            Some((user, domain))
                if !user.is_empty() && !domain.is_empty() && !domain.contains(['@', '/']) =>
            {
                Ok(name.to_lowercase())
            }
            _ => Err("a Lemmy account is user@instance (e.g. acme@lemmy.world)".into()),
        },
        "discourse" => {
            let name = name
                .strip_prefix("https://")
                .or_else(|| name.strip_prefix("http://"))
                .unwrap_or(name);
            match name.rsplit_once('/') {
                Some((host, user))
                    if !host.is_empty()
                        && !host.contains(['/', '@'])
                        && !user.is_empty()
                        && !user.contains(['@', ':']) =>
                {
                    Ok(format!("{}/{}", host.to_lowercase(), user.to_lowercase()))
                }
                _ => Err(
                    "a Discourse account is FORUM_HOST/USERNAME (e.g. forum.acme.com/acme_team)"
                        .into(),
                ),
            }
        }
        _ if name.contains(['/', ':', '@']) => Err("a user name has no '/', ':' or '@'".into()),
        _ => Ok(name.to_lowercase()),
    }
}

/// The earliest reply in `replies` that is not deleted and is by one of `accounts` of
/// `post.source`'s kind; `None` when there is none, or when `post` itself is by one of
/// them (a reply by the brand to its own post does not count). Equal times: the first
/// listed. Stack Exchange posts carry the asker's display name only, so a question
/// asked by the brand's own account is not recognised as the brand's.
pub fn first_answer<'a>(
    post: &Post,
    replies: &'a [Reply],
    accounts: &[Account],
) -> Option<&'a Reply> {
    let own: Vec<&Account> = accounts.iter().filter(|a| a.kind == post.source).collect();
    if own.is_empty() || own.iter().any(|a| post_by(post, a)) {
        return None;
    }
    replies
        .iter()
        .filter(|r| !r.deleted && own.iter().any(|a| reply_by(r, a)))
        .min_by_key(|r| r.at)
}

/// Whether `reply` is by `account` (of the reply's kind).
fn reply_by(reply: &Reply, account: &Account) -> bool {
    if account.kind == "bluesky" && account.handle.starts_with("did:") {
        return did_of(&reply.id) == Some(account.handle.as_str());
    }
    if reply.author.is_empty() {
        return false;
    }
    match account.kind.as_str() {
        "stackexchange" => reply.author == account.handle,
        _ => reply.author.eq_ignore_ascii_case(&account.handle),
    }
}

/// Whether `post` itself is by `account` (of the post's kind).
fn post_by(post: &Post, account: &Account) -> bool {
    if account.kind == "bluesky" && account.handle.starts_with("did:") {
        return did_of(&post.id) == Some(account.handle.as_str());
    }
    let Some(author) = post.author.as_deref().map(str::trim) else {
        return false;
    };
    match account.kind.as_str() {
        // the display name only: no user id to compare
        "stackexchange" => false,
        "mastodon" => mastodon::id_parts(&post.id)
            .is_some_and(|(host, _)| mastodon::full_acct(author, host) == account.handle),
        "reddit" => author
            .trim_start_matches("/u/")
            .eq_ignore_ascii_case(&account.handle),
        "lobsters" => feed_user(author).eq_ignore_ascii_case(&account.handle),
        "discourse" => url::Url::parse(&post.url).ok().is_some_and(|u| {
            u.host_str()
                .is_some_and(|h| format!("{h}/{author}").eq_ignore_ascii_case(&account.handle))
        }),
        _ => author.eq_ignore_ascii_case(&account.handle),
    }
}

/// The DID of a `bluesky:at://DID/…` id.
fn did_of(id: &str) -> Option<&str> {
    id.strip_prefix("bluesky:at://")?.split('/').next()
}

/// A user name from an RSS author: `carol@users.lobste.rs (carol)` → `carol`.
fn feed_user(author: &str) -> &str {
    if let Some((_, rest)) = author.split_once('(') {
        return rest.trim_end_matches(')').trim();
    }
    author.split('@').next().unwrap_or(author)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_read_and_normalised() {
        let list: Vec<String> = [
            "hackernews:acme_support",
            "reddit:u/AcmeHelp",
            "reddit:/u/AcmeToo",
            "mastodon:@Support@Acme.Social",
            "bluesky:@Acme.com",
            "bluesky:did:plc:acme123",
            "lobsters:~acme",
            "stackexchange:stackoverflow.com/12345",
            "stackexchange:unix.stackexchange.com/7",
            "discourse:https://Forum.Acme.com/Acme_Team",
            "github:Acme-Bot",
            "devto:Acme",
            "lemmy:Acme@Lemmy.World",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let got: Vec<String> = parse_accounts(&list)
            .unwrap()
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(
            got,
            [
                "hackernews:acme_support",
                "reddit:acmehelp",
                "reddit:acmetoo",
                "mastodon:support@acme.social",
                "bluesky:acme.com",
                "bluesky:did:plc:acme123",
                "lobsters:acme",
                "stackexchange:stackoverflow/12345",
                "stackexchange:unix/7",
                "discourse:forum.acme.com/acme_team",
                "github:acme-bot",
                "devto:acme",
                "lemmy:acme@lemmy.world",
            ]
        );
    }

    #[test]
    fn bad_accounts_name_the_entry_and_the_kinds() {
        let cases = [
            ("acme_support", "no KIND:"),
            ("twitter:acme", "\"twitter\" is not a kind with threads"),
            ("rss:acme", "\"rss\" is not a kind with threads"),
            ("hackernews:", "the name is empty"),
            ("lemmy:acme", "user@instance"),
            ("discourse:acme_team", "FORUM_HOST/USERNAME"),
            ("github:acme/sdk", "no '/'"),
            ("reddit:u/", "the name is empty"),
            ("hackernews:acme support", "no spaces"),
            ("mastodon:support", "user@domain"),
            ("mastodon:support@", "user@domain"),
            ("bluesky:acme", "a domain"),
            ("bluesky:did:plc:", "did:METHOD:ID"),
            ("stackexchange:12345", "SITE/USER_ID"),
            ("stackexchange:stackoverflow/Acme", "SITE/USER_ID"),
            ("lobsters:acme@lobste.rs", "no '/', ':' or '@'"),
        ];
        for (entry, why) in cases {
            let e = Account::parse(entry).unwrap_err().to_string();
            assert!(e.contains(&format!("{entry:?}")), "{e}");
            assert!(e.contains(why), "{entry}: {e}");
            assert!(
                e.contains("hackernews, reddit, mastodon, bluesky, lobsters, stackexchange"),
                "{e}"
            );
        }
        let list = vec!["hackernews:ok".to_string(), "nope".to_string()];
        let e = parse_accounts(&list).unwrap_err().to_string();
        assert!(e.contains("\"nope\""), "{e}");
    }

    #[test]
    fn rss_authors_give_the_user_name() {
        assert_eq!(feed_user("carol@users.lobste.rs (carol)"), "carol");
        assert_eq!(feed_user("carol@users.lobste.rs"), "carol");
        assert_eq!(feed_user("carol"), "carol");
        assert_eq!(
            did_of("bluesky:at://did:plc:x/app.bsky.feed.post/1"),
            Some("did:plc:x")
        );
        assert_eq!(did_of("hackernews:1"), None);
    }
}
