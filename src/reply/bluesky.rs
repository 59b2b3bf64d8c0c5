//! Bluesky: one `com.atproto.server.createSession` with the app password, kept in
//! the client and renewed with `refreshSession` when a call answers `ExpiredToken`
//! (the daily login limit is low: never a session per reply). A reply is a
//! `com.atproto.repo.createRecord` of an `app.bsky.feed.post` whose `reply.parent`
//! is the mention (its `cid` from `getRecord`) and `reply.root` the thread's first
//! post (the parent's own `reply.root`, else the parent). Its record key is a TID
//! made only from the reply's queue time and key, so that every attempt creates the
//! same record: a second create fails instead of posting twice, and an attempt after
//! the first looks for that record before creating it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;
use url::Url;

use super::config::BlueskyAccount;
use super::request::{send, Answer};
use super::{Limit, NetFuture, Network, Outgoing, PostError, Posted};
use crate::post::Post;
use crate::sources::{endpoint, Http};

const KIND: &str = "bluesky";
const POST: &str = "app.bsky.feed.post";
/// A post's limit, in graphemes.
pub const MAX_GRAPHEMES: usize = 300;

/// The length of `text` as Bluesky counts it: extended grapheme clusters, so that
/// "👍🏽" and "é" written as e + a combining accent are one each.
pub fn graphemes(text: &str) -> usize {
    unicode_segmentation::UnicodeSegmentation::graphemes(text, true).count()
}

/// One Bluesky account's client.
pub struct Bluesky {
    handle: String,
    password: String,
    pds: Url,
    client: reqwest::Client,
    /// The session, once logged in; held while logging in or refreshing, so that
    /// replies sent together log in once.
    session: Mutex<Option<Session>>,
}

/// A logged-in session. Not `Debug`: it holds tokens.
#[derive(Clone)]
struct Session {
    did: String,
    handle: String,
    access: String,
    refresh: String,
}

#[derive(Deserialize)]
struct SessionBody {
    did: String,
    handle: String,
    #[serde(rename = "accessJwt")]
    access: String,
    #[serde(rename = "refreshJwt")]
    refresh: String,
}

/// A `getRecord` answer: the record's uri, cid and value.
#[derive(Debug, Deserialize)]
struct Record {
    uri: String,
    cid: String,
    #[serde(default)]
    value: serde_json::Value,
}

/// A strong reference, `{uri, cid}`.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
struct StrongRef {
    uri: String,
    cid: String,
}

impl Bluesky {
    pub fn new(account: &BlueskyAccount, password: String, http: &Http) -> Result<Self, PostError> {
        let pds = crate::sources::base_url(account.pds_url.as_deref(), "https://bsky.social")
            .map_err(|e| PostError::Refused {
                status: None,
                why: format!("reply account {:?}: {e}", account.name),
            })?;
        Ok(Bluesky {
            handle: account.handle.trim().trim_start_matches('@').to_string(),
            password,
            pds,
            client: http.client().clone(),
            session: Mutex::new(None),
        })
    }

    /// The password and the session's tokens: never in a message.
    fn secrets(&self, s: Option<&Session>) -> Vec<String> {
        let mut out = vec![self.password.clone()];
        if let Some(s) = s {
            out.push(s.access.clone());
            out.push(s.refresh.clone());
        }
        out
    }

    async fn xrpc(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
        s: Option<&Session>,
    ) -> Result<Answer, PostError> {
        let secrets = self.secrets(s);
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        send(req, what, &secrets).await
    }

    fn fail(&self, answer: Answer, what: &str, s: Option<&Session>) -> PostError {
        let secrets = self.secrets(s);
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        match answer.into_ok(what, &secrets) {
            Err(e) => e,
            Ok(a) => PostError::Retry {
                why: format!("{what}: HTTP {} where an error was expected", a.status),
                after: None,
            },
        }
    }

    async fn create_session(&self) -> Result<Session, PostError> {
        let what = "Bluesky com.atproto.server.createSession";
        let req = self
            .client
            .post(endpoint(
                &self.pds,
                "xrpc/com.atproto.server.createSession",
                &[],
            ))
            .json(&json!({"identifier": self.handle, "password": self.password}));
        let answer = self.xrpc(req, what, None).await?;
        if !answer.is_ok() {
            return Err(self.fail(answer, what, None));
        }
        Ok(session(answer.json::<SessionBody>(what)?))
    }

    /// The cached session, logging in when there is none.
    async fn session(&self) -> Result<Session, PostError> {
        let mut guard = self.session.lock().await;
        if let Some(s) = guard.as_ref() {
            return Ok(s.clone());
        }
        let s = self.create_session().await?;
        *guard = Some(s.clone());
        Ok(s)
    }

    /// A new session after `stale` expired: `refreshSession`, else a new login.
    /// Another reply may have renewed it meanwhile: then that one is used.
    async fn renew(&self, stale: &Session) -> Result<Session, PostError> {
        let mut guard = self.session.lock().await;
        if let Some(s) = guard.as_ref().filter(|s| s.access != stale.access) {
            return Ok(s.clone());
        }
        let what = "Bluesky com.atproto.server.refreshSession";
        let req = self
            .client
            .post(endpoint(
                &self.pds,
                "xrpc/com.atproto.server.refreshSession",
                &[],
            ))
            .bearer_auth(&stale.refresh);
        let answer = self.xrpc(req, what, Some(stale)).await?;
        let fresh = if answer.is_ok() {
            session(answer.json::<SessionBody>(what)?)
        } else if matches!(answer.status, 400 | 401) {
            // the refresh token expired or was revoked too: log in again
            *guard = None;
            self.create_session().await?
        } else {
            return Err(self.fail(answer, what, Some(stale)));
        };
        *guard = Some(fresh.clone());
        Ok(fresh)
    }

    /// Sends the request `build` makes with the session; once more with a renewed
    /// session when the first answers `ExpiredToken`.
    async fn call(
        &self,
        what: &str,
        build: impl Fn(&Session) -> reqwest::RequestBuilder,
    ) -> Result<(Answer, Session), PostError> {
        let s = self.session().await?;
        let answer = self.xrpc(build(&s), what, Some(&s)).await?;
        if !expired(&answer) {
            return Ok((answer, s));
        }
        let s = self.renew(&s).await?;
        let answer = self.xrpc(build(&s), what, Some(&s)).await?;
        Ok((answer, s))
    }

    /// `getRecord` of one post: `None` when there is no such record.
    async fn get_record(&self, repo: &str, rkey: &str) -> Result<Option<Record>, PostError> {
        let what = "Bluesky com.atproto.repo.getRecord";
        let query = [("repo", repo), ("collection", POST), ("rkey", rkey)];
        let url = endpoint(&self.pds, "xrpc/com.atproto.repo.getRecord", &query);
        let (answer, s) = self
            .call(what, |s| {
                self.client.get(url.clone()).bearer_auth(&s.access)
            })
            .await?;
        if answer.is_ok() {
            return answer.json(what).map(Some);
        }
        if answer.status == 400 && xrpc_error(&answer).as_deref() == Some("RecordNotFound") {
            return Ok(None);
        }
        Err(self.fail(answer, what, Some(&s)))
    }

    async fn send_reply(&self, out: Outgoing<'_>) -> Result<Posted, PostError> {
        self.fits(out.post).map_err(refused)?;
        let parent_uri = out.post.id.trim_start_matches("bluesky:");
        let (did, parent_rkey) = uri_parts(parent_uri)
            .ok_or_else(|| refused(format!("{:?} is not a Bluesky post id", out.post.id)))?;
        let rkey = tid(out.queued_at, out.key);
        let s = self.session().await?;
        if out.attempt > 1 {
            // an earlier attempt may have gone through with its answer lost
            if let Some(r) = self.get_record(&s.did, &rkey).await? {
                return Ok(posted(&r.uri, &rkey, &s, record_time(&r)));
            }
        }
        let parent = self
            .get_record(did, parent_rkey)
            .await?
            .ok_or_else(|| refused(format!("the post {parent_uri} is gone (deleted)")))?;
        let parent_ref = StrongRef {
            uri: parent.uri.clone(),
            cid: parent.cid.clone(),
        };
        let root = parent
            .value
            .get("reply")
            .and_then(|r| r.get("root"))
            .and_then(|r| serde_json::from_value::<StrongRef>(r.clone()).ok())
            .unwrap_or_else(|| parent_ref.clone());
        let created_at = out.queued_at.to_rfc3339_opts(SecondsFormat::Millis, true);
        let what = "Bluesky com.atproto.repo.createRecord";
        let url = endpoint(&self.pds, "xrpc/com.atproto.repo.createRecord", &[]);
        let (answer, s) = self
            .call(what, |s| {
                let body = json!({
                    "repo": s.did,
                    "collection": POST,
                    "rkey": rkey,
                    "record": {
                        "$type": POST,
                        "text": out.text,
                        "createdAt": created_at,
                        "reply": {"root": root, "parent": parent_ref},
                    },
                });
                self.client
                    .post(url.clone())
                    .bearer_auth(&s.access)
                    .json(&body)
            })
            .await?;
        if answer.is_ok() {
            let made: StrongRef = answer.json(what)?;
            return Ok(posted(&made.uri, &rkey, &s, Utc::now()));
        }
        if already_exists(&answer) {
            if let Some(r) = self.get_record(&s.did, &rkey).await? {
                return Ok(posted(&r.uri, &rkey, &s, record_time(&r)));
            }
        }
        Err(self.fail(answer, what, Some(&s)))
    }

    async fn check(&self) -> Result<String, PostError> {
        let what = "Bluesky com.atproto.server.getSession";
        let url = endpoint(&self.pds, "xrpc/com.atproto.server.getSession", &[]);
        let (answer, s) = self
            .call(what, |s| {
                self.client.get(url.clone()).bearer_auth(&s.access)
            })
            .await?;
        if !answer.is_ok() {
            return Err(self.fail(answer, what, Some(&s)));
        }
        #[derive(Deserialize)]
        struct Who {
            handle: String,
        }
        let who: Who = answer.json(what)?;
        Ok(format!("{KIND}:{}", who.handle))
    }
}

impl Network for Bluesky {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn fits(&self, post: &Post) -> Result<(), String> {
        let ok = post.source == KIND
            && post
                .id
                .strip_prefix("bluesky:")
                .and_then(uri_parts)
                .is_some();
        if !ok {
            return Err(format!(
                "a Bluesky account answers Bluesky posts only, not {} ({})",
                post.source, post.id
            ));
        }
        Ok(())
    }

    fn limit(&self) -> Limit {
        Limit {
            unit: "graphemes",
            max: MAX_GRAPHEMES,
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

fn session(b: SessionBody) -> Session {
    Session {
        did: b.did,
        handle: b.handle,
        access: b.access,
        refresh: b.refresh,
    }
}

/// The XRPC `error` name of an answer.
fn xrpc_error(answer: &Answer) -> Option<String> {
    #[derive(Deserialize)]
    struct E {
        #[serde(default)]
        error: Option<String>,
    }
    serde_json::from_slice::<E>(&answer.body).ok()?.error
}

/// An answer saying the access token expired.
fn expired(answer: &Answer) -> bool {
    matches!(answer.status, 400 | 401) && xrpc_error(answer).as_deref() == Some("ExpiredToken")
}

/// An answer saying the record key is taken (an earlier attempt went through).
/// The reference PDS has answered this with a 500 (then the next attempt finds
/// the record first); newer ones with an explicit error or 409.
fn already_exists(answer: &Answer) -> bool {
    let words = answer.message().unwrap_or_default().to_lowercase();
    answer.status == 409
        || (answer.status == 400
            && (words.contains("already exists") || words.contains("alreadyexists")))
}

/// The post's `createdAt`, else now.
fn record_time(r: &Record) -> DateTime<Utc> {
    r.value
        .get("createdAt")
        .and_then(|t| t.as_str())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or_else(Utc::now, |t| t.with_timezone(&Utc))
}

fn posted(uri: &str, rkey: &str, s: &Session, at: DateTime<Utc>) -> Posted {
    let rkey = uri
        .rsplit('/')
        .next()
        .filter(|k| !k.is_empty())
        .unwrap_or(rkey);
    Posted {
        url: format!("https://bsky.app/profile/{}/post/{rkey}", s.handle),
        remote_id: uri.to_string(),
        at,
        by: format!("{KIND}:{}", s.handle),
    }
}

/// (DID, record key) of a post's `at://DID/app.bsky.feed.post/RKEY`.
fn uri_parts(uri: &str) -> Option<(&str, &str)> {
    let mut parts = uri.strip_prefix("at://")?.split('/');
    let (did, collection, rkey) = (parts.next()?, parts.next()?, parts.next()?);
    let ok = parts.next().is_none()
        && did.starts_with("did:")
        && collection == POST
        && !rkey.is_empty()
        && rkey
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:~-".contains(&b));
    ok.then_some((did, rkey))
}

/// A record key (a TID: 53 bits of microseconds, 10 bits of clock id, in
/// base32-sortable) made only from when the reply was queued and its key, so that
/// every attempt at one reply uses the same one.
fn tid(queued_at: DateTime<Utc>, key: &str) -> String {
    const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    let micros = u64::try_from(queued_at.timestamp_micros()).unwrap_or(0) & ((1 << 53) - 1);
    // FNV-1a: stable across builds, unlike the standard library's hasher
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let value = (micros << 10) | (hash & 0x3ff);
    (0..13)
        .map(|i| char::from(ALPHABET[((value >> (60 - 5 * i)) & 31) as usize]))
        .collect()
}

#[cfg(test)]
mod tests;
