//! Signed action links: the "I'll take it", "Resolved" and "Not negative" links of
//! every alert, and the key that signs them.
//!
//! A link is `{public_url}/a/{base64url(payload)}.{base64url(mac)}`: the payload is
//! a small JSON object naming the mention, the action, the recipient (an email
//! address, or `webhook:NAME` for chat) and the expiry (Unix seconds, 14 days after
//! the alert was rendered); the MAC is HMAC-SHA256 over a fixed prefix and the
//! payload's bytes, checked in constant time ([`Mac::verify_slice`]). Changing any
//! field, or the MAC, makes the link invalid; an expired one says when it expired.
//! A link sent to the email of an inbox user also names that user and when they
//! were created ([`Claims::user`]): removing the user (or re-adding one of the
//! same name) kills the link. `act.rs` also refuses a link whose recipient is no
//! longer an alert destination, and one already used (by [`link_id`]).
//!
//! The key is 32 random bytes in `<data_dir>/action-links.key` (0600), created
//! atomically on the daemon's first start. Deleting it and restarting makes a new
//! one: every link sent before stops working.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::alerts::render::{ActionLinks, AlertAction};
use crate::store::Store;

/// The key file's name, in the data directory.
pub const KEY_FILE: &str = "action-links.key";
/// How long a link works after the alert was rendered.
pub const VALID_FOR: chrono::Duration = chrono::Duration::days(14);
const KEY_LEN: usize = 32;
/// The longest token looked at (a real one is a few hundred bytes).
const MAX_TOKEN: usize = 2048;
/// What the MAC covers besides the payload: a link signs nothing else.
const CONTEXT: &[u8] = b"overhear action link v1\n";

/// Why a key or a link is refused.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("cannot use the action-link key {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the action-link key {path} has mode {mode:04o}: it must be readable by overhear's \
         user only (chmod 600 {path})"
    )]
    Mode { path: PathBuf, mode: u32 },
    #[error(
        "the action-link key {path} is {len} bytes, not {KEY_LEN}: delete it and restart to \
         make a new one (links already sent stop working)"
    )]
    BadKey { path: PathBuf, len: usize },
    /// Changed, cut short, or signed with another key.
    #[error("this link is not valid")]
    Invalid,
    #[error("this link expired on {}", .0.format("%Y-%m-%d %H:%M UTC"))]
    Expired(DateTime<Utc>),
}

/// The signing key.
#[derive(Clone)]
pub struct Key([u8; KEY_LEN]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

/// The key file of the data directory `data_dir`.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

/// The data directory of `store` (the store lives in `<data_dir>/db`).
pub fn data_dir_of(store: &Store) -> &Path {
    store.path().parent().unwrap_or(store.path())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LinkError + '_ {
    move |source| LinkError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Key {
    /// The key of `data_dir`, created (0600, atomically) when there is none.
    pub fn load_or_create(data_dir: &Path) -> Result<Key, LinkError> {
        let path = key_path(data_dir);
        match Key::load(data_dir) {
            Err(LinkError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
            other => return other,
        }
        let mut bytes = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let tmp = data_dir.join(format!(".{KEY_FILE}.{}.tmp", std::process::id()));
        let written = write_private(&tmp, &bytes).and_then(|()| std::fs::hard_link(&tmp, &path));
        let _ = std::fs::remove_file(&tmp);
        match written {
            Ok(()) => {
                if let Ok(d) = std::fs::File::open(data_dir) {
                    let _ = d.sync_all();
                }
                tracing::info!(key = %path.display(), "created the action-link key");
                Ok(Key(bytes))
            }
            // another process made it first: use that one
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Key::load(data_dir),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// The key of `data_dir`; refused when the file is readable by others.
    pub fn load(data_dir: &Path) -> Result<Key, LinkError> {
        use std::os::unix::fs::PermissionsExt;
        let path = key_path(data_dir);
        let meta = std::fs::metadata(&path).map_err(io(&path))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(LinkError::Mode { path, mode });
        }
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| LinkError::BadKey {
            path: path.clone(),
            len: bytes.len(),
        })?;
        Ok(Key(key))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(CONTEXT);
        mac
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// What a link says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The mention id.
    #[serde(rename = "m")]
    pub mention: String,
    #[serde(rename = "a")]
    pub action: String,
    /// The email address, or `webhook:NAME`.
    #[serde(rename = "r")]
    pub recipient: String,
    /// Unix seconds.
    #[serde(rename = "e")]
    pub expires: i64,
    /// The inbox user the recipient's email belonged to when the link was made:
    /// the link works only while that user (name and creation time) still exists.
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub user: Option<BoundUser>,
}

/// The user a link was sent to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundUser {
    #[serde(rename = "n")]
    pub name: String,
    /// The user's `created_at`, Unix milliseconds.
    #[serde(rename = "c")]
    pub created: i64,
}

impl BoundUser {
    pub fn of(u: &crate::store::users::User) -> BoundUser {
        BoundUser {
            name: u.name.clone(),
            created: u.created_at.timestamp_millis(),
        }
    }

    /// Whether `u` is this user: same name, same creation time.
    pub fn is(&self, u: &crate::store::users::User) -> bool {
        u.name.eq_ignore_ascii_case(&self.name) && u.created_at.timestamp_millis() == self.created
    }
}

impl Claims {
    pub fn new(
        mention: &str,
        action: AlertAction,
        recipient: &str,
        expires: DateTime<Utc>,
    ) -> Self {
        Claims {
            mention: mention.to_string(),
            action: action.as_str().to_string(),
            recipient: recipient.to_string(),
            expires: expires.timestamp(),
            user: None,
        }
    }

    /// The link is for `user` (whose email the recipient is).
    pub fn for_user(mut self, user: &crate::store::users::User) -> Self {
        self.user = Some(BoundUser::of(user));
        self
    }

    /// The action (a verified link always has one this build knows).
    pub fn action(&self) -> Option<AlertAction> {
        AlertAction::parse(&self.action)
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.expires, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// The token of `claims` (the part of the link after `/a/`).
pub fn sign(key: &Key, claims: &Claims) -> String {
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let mut mac = key.mac();
    mac.update(&payload);
    let tag = mac.finalize().into_bytes();
    format!("{}.{}", B64.encode(&payload), B64.encode(tag))
}

/// The id a used link is remembered by: a hash of its MAC (the MAC itself, with
/// the guessable payload, would rebuild the link). `None` when `token` has no
/// MAC part.
pub fn link_id(token: &str) -> Option<Vec<u8>> {
    use sha2::Digest;
    let (_, tag) = token.split_once('.')?;
    let tag = B64.decode(tag).ok()?;
    let mut h = Sha256::new();
    h.update(b"overhear used link v1\n");
    h.update(&tag);
    Some(h.finalize().to_vec())
}

/// What `token` says, when `key` signed it, it names a known action and it has not
/// expired at `now`.
pub fn verify(key: &Key, token: &str, now: DateTime<Utc>) -> Result<Claims, LinkError> {
    if token.len() > MAX_TOKEN {
        return Err(LinkError::Invalid);
    }
    let (payload, tag) = token.split_once('.').ok_or(LinkError::Invalid)?;
    let payload = B64.decode(payload).map_err(|_| LinkError::Invalid)?;
    let tag = B64.decode(tag).map_err(|_| LinkError::Invalid)?;
    let mut mac = key.mac();
    mac.update(&payload);
    // constant time
    mac.verify_slice(&tag).map_err(|_| LinkError::Invalid)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| LinkError::Invalid)?;
    if claims.action().is_none() {
        return Err(LinkError::Invalid);
    }
    if now.timestamp() >= claims.expires {
        return Err(LinkError::Expired(claims.expires_at()));
    }
    Ok(claims)
}

/// Makes the action links of alerts: signed with the key, under `public_url`.
pub struct Signer {
    key: Key,
    base: String,
    store: Store,
}

impl Signer {
    pub fn new(key: Key, public_url: &str, store: Store) -> Signer {
        Signer {
            key,
            base: public_url.trim_end_matches('/').to_string(),
            store,
        }
    }

    /// The signer of the daemon: the key of the store's data directory (made on
    /// first start) and `public_url`.
    pub fn for_store(store: &Store, public_url: &str) -> Result<Arc<Signer>, LinkError> {
        let key = Key::load_or_create(data_dir_of(store))?;
        Ok(Arc::new(Signer::new(key, public_url, store.clone())))
    }
}

impl ActionLinks for Signer {
    fn url(&self, post_id: &str, action: AlertAction, recipient: &str) -> Option<String> {
        let id = match self.store.resolve(post_id) {
            Ok(Some(id)) => id,
            _ => crate::store::mention_id(post_id),
        };
        let expires = Utc::now().checked_add_signed(VALID_FOR)?;
        let mut claims = Claims::new(&id, action, recipient, expires);
        // sent to an inbox user's email: the link dies with that user
        if recipient.contains('@') {
            if let Ok(Some(u)) = self.store.user(recipient) {
                if u.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(recipient.trim()))
                {
                    claims = claims.for_user(&u);
                }
            }
        }
        let token = sign(&self.key, &claims);
        Some(format!("{}/a/{token}", self.base))
    }

    fn inbox_url(&self) -> Option<String> {
        Some(format!("{}/", self.base))
    }
}

#[cfg(test)]
#[path = "links_tests.rs"]
mod tests;
