//! Stack Exchange: a comment on the question (`POST /posts/QID/comments/add`, the
//! app's `key` and the user's `access_token` with `write_access`). The API has no
//! idempotency key, so an attempt after the first looks at the question's newest
//! comments first: one by this user (`/me`, fetched once) with the same text is the
//! earlier attempt, which went through, and is answered as posted. Errors come in the
//! API's wrapper (`error_id`, `error_name`, `error_message`): a throttle violation is
//! worth another attempt, anything else is final.

use std::sync::OnceLock;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::config::StackExchangeAccount;
use super::request::{send, Answer};
use super::{Limit, NetFuture, Network, Outgoing, PostError, Posted};
use crate::post::Post;
use crate::sources::fetch::{server_wait_secs, MAX_SERVER_WAIT};
use crate::sources::{endpoint, from_unix, Http};

const KIND: &str = "stackexchange";
/// A comment's length, in characters.
pub const MIN_CHARS: usize = 15;
pub const MAX_CHARS: usize = 600;
/// The comment fields with the body (the default filter leaves it out).
const FILTER: &str = "withbody";

/// One Stack Exchange user's client on one site.
pub struct StackExchange {
    /// The site as configured (`stackoverflow`, `unix.stackexchange.com`).
    site: String,
    base: Url,
    key: String,
    token: String,
    client: reqwest::Client,
    /// The user's id on the site, once `/me` answered.
    me: OnceLock<i64>,
}

#[derive(Debug, Deserialize)]
struct Wrapper<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
    #[serde(default)]
    backoff: Option<u64>,
    #[serde(default)]
    error_id: Option<i64>,
    #[serde(default)]
    error_name: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Comment {
    comment_id: i64,
    #[serde(default)]
    creation_date: Option<i64>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    owner: Option<User>,
}

#[derive(Debug, Deserialize)]
struct User {
    #[serde(default)]
    user_id: Option<i64>,
}

impl StackExchange {
    pub fn new(
        account: &StackExchangeAccount,
        key: String,
        token: String,
        http: &Http,
    ) -> Result<Self, PostError> {
        let base = crate::sources::base_url(
            account.base_url.as_deref(),
            "https://api.stackexchange.com/2.3",
        )
        .map_err(|e| PostError::Refused {
            status: None,
            why: format!("reply account {:?}: {e}", account.name),
        })?;
        Ok(StackExchange {
            site: account.site.trim().to_string(),
            base,
            key,
            token,
            client: http.client().clone(),
            me: OnceLock::new(),
        })
    }

    fn secrets(&self) -> [&str; 2] {
        [self.key.as_str(), self.token.as_str()]
    }

    /// Sends `req` and reads the wrapper, mapping its errors.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Vec<T>, PostError> {
        let answer = send(req, what, &self.secrets()).await?;
        let wrapper = serde_json::from_slice::<Wrapper<T>>(&answer.body);
        match wrapper {
            Ok(w) if w.error_id.is_some() || w.error_name.is_some() => {
                Err(api_error(&w, answer.status, what, &self.secrets()))
            }
            Ok(w) if answer.is_ok() => Ok(w.items),
            _ => match answer.into_ok(what, &self.secrets()) {
                Err(e) => Err(e),
                Ok(a) => Err(not_read(&a, what)),
            },
        }
    }

    fn get(&self, path: &str, query: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let mut q = vec![
            ("site", self.site.as_str()),
            ("key", self.key.as_str()),
            ("access_token", self.token.as_str()),
        ];
        q.extend_from_slice(query);
        self.client.get(endpoint(&self.base, path, &q))
    }

    /// The user's id on the site (`/me`), fetched once.
    async fn me(&self) -> Result<i64, PostError> {
        if let Some(id) = self.me.get() {
            return Ok(*id);
        }
        let users: Vec<User> = self
            .call(self.get("me", &[]), "Stack Exchange GET /me")
            .await?;
        let id = users
            .into_iter()
            .find_map(|u| u.user_id)
            .ok_or_else(|| refused(format!("the account has no user on {}", self.site)))?;
        let _ = self.me.set(id);
        Ok(id)
    }

    /// An earlier attempt's comment: the newest comments on the question, one by
    /// this user with this text.
    async fn earlier(&self, qid: &str, text: &str, me: i64) -> Result<Option<Comment>, PostError> {
        let path = format!("posts/{qid}/comments");
        let query = [
            ("sort", "creation"),
            ("order", "desc"),
            ("filter", FILTER),
            ("pagesize", "100"),
        ];
        let what = "Stack Exchange GET /posts/{id}/comments";
        let comments: Vec<Comment> = self.call(self.get(&path, &query), what).await?;
        let want = plain(text);
        Ok(comments.into_iter().find(|c| {
            c.owner.as_ref().and_then(|o| o.user_id) == Some(me)
                && c.body.as_deref().map(html_plain) == Some(want.clone())
        }))
    }

    fn posted(&self, c: &Comment, qid: &str, me: i64) -> Posted {
        let url = c.link.clone().unwrap_or_else(|| {
            format!(
                "https://{}/q/{qid}#comment{}_{qid}",
                site_host(&self.site),
                c.comment_id
            )
        });
        Posted {
            url,
            remote_id: c.comment_id.to_string(),
            at: c.creation_date.map_or_else(chrono::Utc::now, from_unix),
            by: format!("{KIND}:{}/{me}", site_key(&self.site)),
        }
    }

    async fn send_reply(&self, out: Outgoing<'_>) -> Result<Posted, PostError> {
        self.fits(out.post).map_err(refused)?;
        let (_, qid) = id_parts(&out.post.id)
            .ok_or_else(|| refused(format!("{:?} is not a Stack Exchange id", out.post.id)))?;
        let me = self.me().await?;
        if out.attempt > 1 {
            if let Some(c) = self.earlier(qid, out.text, me).await? {
                return Ok(self.posted(&c, qid, me));
            }
        }
        let what = "Stack Exchange POST /posts/{id}/comments/add";
        let form = [
            ("body", out.text),
            ("site", self.site.as_str()),
            ("key", self.key.as_str()),
            ("access_token", self.token.as_str()),
            ("preview", "false"),
            ("filter", FILTER),
        ];
        let url = endpoint(&self.base, &format!("posts/{qid}/comments/add"), &[]);
        let made: Vec<Comment> = self.call(self.client.post(url).form(&form), what).await?;
        let c = made.into_iter().next().ok_or_else(|| PostError::Retry {
            why: format!("{what}: the answer has no comment"),
            after: None,
        })?;
        Ok(self.posted(&c, qid, me))
    }

    async fn check(&self) -> Result<String, PostError> {
        let me = self.me().await?;
        Ok(format!("{KIND}:{}/{me}", site_key(&self.site)))
    }
}

impl Network for StackExchange {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn fits(&self, post: &Post) -> Result<(), String> {
        let Some((site, _)) = id_parts(&post.id).filter(|_| post.source == KIND) else {
            return Err(format!(
                "a Stack Exchange account answers Stack Exchange questions only, not {} ({})",
                post.source, post.id
            ));
        };
        if site_key(site) != site_key(&self.site) {
            return Err(format!(
                "this account answers on {}, the question is on {site}",
                self.site
            ));
        }
        Ok(())
    }

    fn limit(&self) -> Limit {
        Limit {
            unit: "characters",
            max: MAX_CHARS,
            min: MIN_CHARS,
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

fn not_read(a: &Answer, what: &str) -> PostError {
    PostError::Retry {
        why: format!("{what}: HTTP {}, an answer that does not read", a.status),
        after: None,
    }
}

/// The API's error object: a throttle violation (502) or the API's own trouble
/// (500, 503) is worth another attempt, after the wait it names; anything else
/// (`bad_parameter`, `access_token_*`, `write_failed`) is final, with the HTTP status.
fn api_error<T>(w: &Wrapper<T>, status: u16, what: &str, secrets: &[&str]) -> PostError {
    let why = super::request::scrub(
        &format!(
            "{what}: {} ({}): {}",
            w.error_name.as_deref().unwrap_or("error"),
            w.error_id.unwrap_or(0),
            w.error_message.as_deref().unwrap_or("")
        ),
        secrets,
    );
    let throttled =
        w.error_id == Some(502) || w.error_name.as_deref() == Some("throttle_violation");
    if throttled || matches!(w.error_id, Some(500 | 503)) {
        // "too many requests from this IP, more requests available in 80000 seconds"
        let said = w
            .error_message
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .rev()
            .find(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .map(|t| t.parse::<u64>().map_or(MAX_SERVER_WAIT, server_wait_secs));
        let after: Option<Duration> = said.or(w.backoff.map(server_wait_secs));
        return PostError::Retry { why, after };
    }
    PostError::Refused {
        status: Some(status),
        why,
    }
}

/// (SITE, QID) of `stackexchange:SITE:QID`.
fn id_parts(id: &str) -> Option<(&str, &str)> {
    let (site, qid) = id.strip_prefix("stackexchange:")?.rsplit_once(':')?;
    let ok = !site.is_empty()
        && !site.contains(['/', '?', '#', '&'])
        && !qid.is_empty()
        && qid.bytes().all(|b| b.is_ascii_digit())
        && qid.parse::<i64>().is_ok_and(|q| q > 0);
    ok.then_some((site, qid))
}

/// A site as accounts and authors name it: `stackoverflow.com` and `stackoverflow`
/// are `stackoverflow`, `unix.stackexchange.com` is `unix`.
fn site_key(site: &str) -> String {
    let site = site.trim().to_lowercase();
    let site = site.strip_suffix(".com").unwrap_or(&site);
    site.strip_suffix(".stackexchange")
        .unwrap_or(site)
        .to_string()
}

/// The site's web host: `stackoverflow.com`, `unix.stackexchange.com`.
fn site_host(site: &str) -> String {
    let site = site.trim().to_lowercase();
    if site.contains('.') {
        return site;
    }
    match site.as_str() {
        "stackoverflow" | "serverfault" | "superuser" | "askubuntu" | "stackapps" => {
            format!("{site}.com")
        }
        "mathoverflow" => "mathoverflow.net".into(),
        _ => format!("{site}.stackexchange.com"),
    }
}

/// A comment's text as the API returns it (HTML, entities) down to its words.
fn html_plain(body: &str) -> String {
    words(&crate::sources::text::html_to_text(body))
}

/// A comment as written (mini-Markdown: `[text](url)`, `*`, `` ` ``) down to its
/// words, to compare with [`html_plain`].
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    // [text](url) shows as text
    while let Some(open) = rest.find('[') {
        let tail = &rest[open..];
        let link = tail
            .find("](")
            .and_then(|mid| tail[mid..].find(')').map(|end| (mid, mid + end)));
        match link {
            Some((mid, end)) => {
                out.push_str(&rest[..open]);
                out.push_str(&tail[1..mid]);
                rest = &tail[end + 1..];
            }
            None => {
                out.push_str(&rest[..=open]);
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    words(&out)
}

/// Letters and digits only, lowercase: markup and spacing do not count.
fn words(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests;
