//! Mastodon: `POST /api/v1/statuses` with `in_reply_to_id` on the account's own
//! instance, `Idempotency-Key` = the reply's key on every attempt (Mastodon answers a
//! repeated key with the status it already made). A mention polled from another
//! instance (`mastodon:HOST:ID` where HOST is not the account's) has another id
//! there: it is first resolved by its URL (`GET /api/v2/search?resolve=true`). The
//! author is mentioned at the start unless the text already does; the limit is the
//! instance's own (`/api/v2/instance`), 500 until it is known.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use url::Url;

use super::config::MastodonAccount;
use super::request::{send, Answer};
use super::{Limit, NetFuture, Network, Outgoing, PostError, Posted};
use crate::post::Post;
use crate::sources::{endpoint, Http};

const KIND: &str = "mastodon";
/// Mastodon's own limit, until the instance says another.
const DEFAULT_MAX: usize = 500;

/// One Mastodon account's client.
pub struct Mastodon {
    instance: Url,
    /// The instance's host, lowercase.
    host: String,
    token: String,
    client: reqwest::Client,
    /// `configuration.statuses.max_characters`, once fetched.
    max: OnceLock<usize>,
}

#[derive(Debug, Deserialize)]
struct Status {
    id: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    visibility: Option<String>,
    #[serde(default)]
    account: Option<Account>,
}

#[derive(Debug, Deserialize)]
struct Account {
    acct: String,
}

#[derive(Debug, Deserialize)]
struct Search {
    #[serde(default)]
    statuses: Vec<Status>,
}

impl Mastodon {
    pub fn new(account: &MastodonAccount, token: String, http: &Http) -> Result<Self, PostError> {
        let instance = crate::sources::base_url(Some(&account.instance), "").map_err(|e| {
            PostError::Refused {
                status: None,
                why: format!("reply account {:?}: {e}", account.name),
            }
        })?;
        let host =
            instance
                .host_str()
                .map(str::to_lowercase)
                .ok_or_else(|| PostError::Refused {
                    status: None,
                    why: format!(
                        "reply account {:?}: {:?} has no host",
                        account.name, account.instance
                    ),
                })?;
        Ok(Mastodon {
            instance,
            host,
            token,
            client: http.client().clone(),
            max: OnceLock::new(),
        })
    }

    fn secrets(&self) -> [&str; 1] {
        [self.token.as_str()]
    }

    async fn get(
        &self,
        path: &str,
        query: &[(&str, &str)],
        what: &str,
    ) -> Result<Answer, PostError> {
        let url = endpoint(&self.instance, path, query);
        let req = self.client.get(url).bearer_auth(&self.token);
        send(req, what, &self.secrets())
            .await?
            .into_ok(what, &self.secrets())
    }

    /// The instance's status length limit, fetched once. An instance that answers
    /// without one (an older or another server) keeps Mastodon's 500; one that does
    /// not answer is asked again next time.
    async fn learn_limit(&self) {
        if self.max.get().is_some() {
            return;
        }
        #[derive(Deserialize)]
        struct Instance {
            configuration: Configuration,
        }
        #[derive(Deserialize)]
        struct Configuration {
            statuses: Statuses,
        }
        #[derive(Deserialize)]
        struct Statuses {
            max_characters: usize,
        }
        let what = "Mastodon GET /api/v2/instance";
        let url = endpoint(&self.instance, "api/v2/instance", &[]);
        let req = self.client.get(url).bearer_auth(&self.token);
        let Ok(answer) = send(req, what, &self.secrets()).await else {
            return;
        };
        if answer.status >= 500 || matches!(answer.status, 408 | 429) {
            return;
        }
        let max = answer
            .json::<Instance>(what)
            .ok()
            .filter(|_| answer.is_ok())
            .map(|i| i.configuration.statuses.max_characters)
            .filter(|m| (1..=1_000_000).contains(m))
            .unwrap_or(DEFAULT_MAX);
        let _ = self.max.set(max);
    }

    /// The id of `post` on this instance, and its visibility where known: its own
    /// id when it was polled here, else what a resolving search finds.
    async fn local_id(&self, post: &Post) -> Result<(String, Option<String>), PostError> {
        let (host, id) = id_parts(&post.id).ok_or_else(|| {
            refused(format!(
                "{:?} is not a Mastodon id (mastodon:HOST:STATUS_ID)",
                post.id
            ))
        })?;
        if host.eq_ignore_ascii_case(&self.host) {
            return Ok((id.to_string(), None));
        }
        let what = "Mastodon GET /api/v2/search";
        let query = [
            ("q", post.url.as_str()),
            ("type", "statuses"),
            ("resolve", "true"),
            ("limit", "1"),
        ];
        let found: Search = self.get("api/v2/search", &query, what).await?.json(what)?;
        let s = found.statuses.into_iter().next().ok_or_else(|| {
            refused(format!(
                "{} cannot find the post {} (from {host}): it may be deleted, private, or its server may refuse {}",
                self.host, post.url, self.host
            ))
        })?;
        Ok((s.id, s.visibility))
    }

    async fn send_reply(&self, out: Outgoing<'_>) -> Result<Posted, PostError> {
        self.fits(out.post).map_err(refused)?;
        self.learn_limit().await;
        let (reply_to, visibility) = self.local_id(out.post).await?;
        let text = with_mention(out.text, out.post, &self.host);
        let visibility = match visibility.as_deref() {
            // a reply to a followers-only or direct post stays as private as it
            Some(v @ ("public" | "unlisted" | "private" | "direct")) => v.to_string(),
            _ => "public".to_string(),
        };
        let what = "Mastodon POST /api/v1/statuses";
        let form = [
            ("status", text.as_str()),
            ("in_reply_to_id", reply_to.as_str()),
            ("visibility", visibility.as_str()),
        ];
        let req = self
            .client
            .post(endpoint(&self.instance, "api/v1/statuses", &[]))
            .bearer_auth(&self.token)
            .header("Idempotency-Key", out.key)
            .form(&form);
        let status: Status = send(req, what, &self.secrets())
            .await?
            .into_ok(what, &self.secrets())?
            .json(what)?;
        let at = status
            .created_at
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
        let by = match &status.account {
            Some(a) => format!("{KIND}:{}", full_acct(&a.acct, &self.host)),
            None => format!("{KIND}:@{}", self.host),
        };
        let url = status.url.or(status.uri).unwrap_or_else(|| {
            endpoint(&self.instance, &format!("statuses/{}", status.id), &[]).to_string()
        });
        Ok(Posted {
            url,
            remote_id: status.id,
            at,
            by,
        })
    }

    async fn check(&self) -> Result<String, PostError> {
        let what = "Mastodon GET /api/v1/accounts/verify_credentials";
        let a: Account = self
            .get("api/v1/accounts/verify_credentials", &[], what)
            .await?
            .json(what)?;
        self.learn_limit().await;
        Ok(format!("{KIND}:{}", full_acct(&a.acct, &self.host)))
    }
}

impl Network for Mastodon {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn fits(&self, post: &Post) -> Result<(), String> {
        if post.source != KIND || id_parts(&post.id).is_none() {
            return Err(format!(
                "a Mastodon account answers Mastodon posts only, not {} ({})",
                post.source, post.id
            ));
        }
        Ok(())
    }

    fn limit(&self) -> Limit {
        Limit {
            unit: "characters",
            max: self.max.get().copied().unwrap_or(DEFAULT_MAX),
            min: 0,
        }
    }

    fn post<'a>(&'a self, out: Outgoing<'a>) -> NetFuture<'a, Posted> {
        Box::pin(self.send_reply(out))
    }

    fn verify(&self) -> NetFuture<'_, String> {
        Box::pin(self.check())
    }
}

fn refused(why: String) -> PostError {
    PostError::Refused { status: None, why }
}

/// (HOST, ID) of `mastodon:HOST:ID`.
fn id_parts(id: &str) -> Option<(&str, &str)> {
    let (host, status) = id.strip_prefix("mastodon:")?.rsplit_once(':')?;
    let plain = !status.is_empty()
        && status
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    (!host.is_empty() && plain).then_some((host, status))
}

/// `acct` as `user@domain`, lowercase: a local one (no `@`) is on `host`.
fn full_acct(acct: &str, host: &str) -> String {
    let acct = acct.trim().trim_start_matches('@');
    if acct.contains('@') {
        acct.to_lowercase()
    } else {
        format!("{acct}@{host}").to_lowercase()
    }
}

/// `text` with the post's author mentioned at the start (`@user@domain `), unless
/// it already mentions them: in full, or as `@user` when they are local to the
/// account's instance (`account_host`).
fn with_mention(text: &str, post: &Post, account_host: &str) -> String {
    let Some(author) = post.author.as_deref().filter(|a| !a.trim().is_empty()) else {
        return text.to_string();
    };
    let host = id_parts(&post.id).map_or(account_host, |(h, _)| h);
    let full = full_acct(author, host);
    let (user, domain) = full.split_once('@').unwrap_or((full.as_str(), host));
    let lower = text.to_lowercase();
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mentions = |needle: &str, domain_follows_ok: bool| {
        lower.match_indices(needle).any(|(i, m)| {
            let before_ok = lower[..i]
                .chars()
                .next_back()
                .map_or(true, |c| !word(c) && c != '@');
            let mut after = lower[i + m.len()..].chars();
            let after_ok = match after.next() {
                None => true,
                Some('@') => domain_follows_ok,
                Some('.') | Some('-') => after.next().map_or(true, |c| !word(c)),
                Some(c) => !word(c),
            };
            before_ok && after_ok
        })
    };
    let local = domain.eq_ignore_ascii_case(account_host);
    if mentions(&format!("@{user}@{domain}"), false)
        || (local && mentions(&format!("@{user}"), false))
    {
        return text.to_string();
    }
    format!("@{user}@{domain} {text}")
}

#[cfg(test)]
mod tests;
