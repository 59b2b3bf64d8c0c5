//! The inbox's people and their sessions: `overhear user add|list|remove|passwd`
//! and logging in to the web inbox.
//!
//! Trees: `users` (lowercased name -> [`User`], password as an Argon2id PHC string),
//! `user_emails` (lowercased email -> name), `sessions` (SHA-256 of the cookie's
//! token -> [`Session`]). A session's token is only ever in the browser's cookie: the
//! database holds its hash, so a copy of the database logs nobody in.
//!
//! A session ends [`SESSION_IDLE`] after its last use or [`SESSION_MAX`] after it
//! started, whichever comes first, at logout, and when its user's password changes
//! or the user is removed; [`Store::prune_sessions`] deletes the ended ones (the
//! login handler and the daemon's scheduler call it), and logging in ends the
//! session the browser held ([`Store::replace_session`]).
//!
//! Never stores or logs a password or a token; never decides who may see what (the
//! web layer does).

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Store, StoreError};

const USERS: &str = "users";
const EMAILS: &str = "user_emails";
const SESSIONS: &str = "sessions";

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 10;
/// How long a session lasts without use.
pub const SESSION_IDLE: Duration = Duration::days(14);
/// How long a session lasts at most, however often it is used.
pub const SESSION_MAX: Duration = Duration::days(30);

/// Someone who may log in to the inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Argon2id, PHC string format.
    password: String,
    pub created_at: DateTime<Utc>,
}

/// A logged-in browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub user: String,
    /// Every form of this session carries it; a POST without it is refused.
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// Why a user could not be added, changed or logged in.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("a user named {0:?} already exists")]
    Exists(String),
    #[error("the email {0:?} belongs to another user")]
    EmailTaken(String),
    #[error("no user is named {0:?}")]
    NotFound(String),
    #[error("{0:?} is not a user name: use 1 to 64 letters, digits, '.', '-' or '_'")]
    BadName(String),
    #[error("{0:?} is not an email address")]
    BadEmail(String),
    #[error("the password is too short: use at least {MIN_PASSWORD} characters")]
    WeakPassword,
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sled::Error> for UserError {
    fn from(e: sled::Error) -> Self {
        UserError::Store(StoreError::Sled(e))
    }
}

impl From<serde_json::Error> for UserError {
    fn from(e: serde_json::Error) -> Self {
        UserError::Store(StoreError::Codec(e))
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

fn hash_password(password: &str) -> Result<String, UserError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(UserError::WeakPassword);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UserError::Hash(e.to_string()))
}

/// A hash to check passwords against when the login names nobody, so that a wrong
/// name takes as long as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"not a password of anyone", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

fn verify(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A random token: 32 bytes, hex.
pub fn random_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

fn token_key(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

impl Store {
    fn user_tree(&self) -> Result<sled::Tree, StoreError> {
        self.tree(USERS)
    }

    /// Adds a user; the password is hashed with Argon2id.
    pub fn add_user(
        &self,
        name: &str,
        email: Option<&str>,
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<User, UserError> {
        let name = name.trim();
        if !valid_name(name) {
            return Err(UserError::BadName(name.to_string()));
        }
        let email = email.map(str::trim).filter(|e| !e.is_empty());
        if let Some(e) = email {
            if e.parse::<lettre::Address>().is_err() {
                return Err(UserError::BadEmail(e.to_string()));
            }
        }
        let user = User {
            name: name.to_string(),
            email: email.map(str::to_string),
            password: hash_password(password)?,
            created_at: now,
        };
        let (users, emails) = (self.user_tree()?, self.tree(EMAILS)?);
        let key = name.to_lowercase();
        let value = serde_json::to_vec(&user)?;
        let r = (&users, &emails).transaction(|(u, e)| {
            if u.get(key.as_bytes())?.is_some() {
                return sled::transaction::abort(UserError::Exists(user.name.clone()));
            }
            if let Some(mail) = &user.email {
                let m = mail.to_lowercase();
                if e.get(m.as_bytes())?.is_some() {
                    return sled::transaction::abort(UserError::EmailTaken(mail.clone()));
                }
                e.insert(m.as_bytes(), key.as_bytes())?;
            }
            u.insert(key.as_bytes(), value.as_slice())?;
            Ok(())
        });
        flatten(r)?;
        self.flush()?;
        Ok(user)
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>, UserError> {
        let mut out = Vec::new();
        for kv in self.user_tree()?.iter() {
            let (_, v) = kv?;
            out.push(serde_json::from_slice(&v)?);
        }
        Ok(out)
    }

    /// The user with this name or email (case-insensitive).
    pub fn user(&self, login: &str) -> Result<Option<User>, UserError> {
        let login = login.trim().to_lowercase();
        let name = match self.tree(EMAILS)?.get(login.as_bytes())? {
            Some(n) => String::from_utf8_lossy(&n).into_owned(),
            None => login,
        };
        Ok(match self.user_tree()?.get(name.as_bytes())? {
            Some(v) => Some(serde_json::from_slice(&v)?),
            None => None,
        })
    }

    /// Removes a user and logs out all their sessions.
    pub fn remove_user(&self, name: &str) -> Result<(), UserError> {
        let user = self
            .user(name)?
            .ok_or_else(|| UserError::NotFound(name.to_string()))?;
        if let Some(e) = &user.email {
            self.tree(EMAILS)?.remove(e.to_lowercase().as_bytes())?;
        }
        self.user_tree()?
            .remove(user.name.to_lowercase().as_bytes())?;
        self.end_sessions_of(&user.name)?;
        self.flush()?;
        Ok(())
    }

    /// Sets a new password and logs out all the user's sessions.
    pub fn set_password(&self, name: &str, password: &str) -> Result<(), UserError> {
        let mut user = self
            .user(name)?
            .ok_or_else(|| UserError::NotFound(name.to_string()))?;
        user.password = hash_password(password)?;
        self.user_tree()?.insert(
            user.name.to_lowercase().as_bytes(),
            serde_json::to_vec(&user)?,
        )?;
        self.end_sessions_of(&user.name)?;
        self.flush()?;
        Ok(())
    }

    /// The user when `login` (name or email) and `password` match; `None` otherwise,
    /// taking as long whether or not the user exists.
    pub fn check_login(&self, login: &str, password: &str) -> Result<Option<User>, UserError> {
        match self.user(login)? {
            Some(u) if verify(&u.password, password) => Ok(Some(u)),
            Some(_) => Ok(None),
            None => {
                let _ = verify(dummy_hash(), password);
                Ok(None)
            }
        }
    }

    /// Starts a session for `user`; returns the token for the cookie.
    pub fn start_session(
        &self,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, Session), UserError> {
        let token = random_token();
        let s = Session {
            user: user.to_string(),
            csrf: random_token(),
            created_at: now,
            last_seen: now,
        };
        self.tree(SESSIONS)?
            .insert(token_key(&token), serde_json::to_vec(&s)?)?;
        self.flush()?;
        Ok((token, s))
    }

    /// Logs in `user`: ends the session of `old` (the token the browser held, if
    /// any, whoever's it was) and starts a new one; returns the new token.
    pub fn replace_session(
        &self,
        old: Option<&str>,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, Session), UserError> {
        if let Some(old) = old {
            self.tree(SESSIONS)?.remove(token_key(old))?;
        }
        self.start_session(user, now)
    }

    /// Deletes every session that ended by `now` (idle, too old, or its user gone);
    /// how many.
    pub fn prune_sessions(&self, now: DateTime<Utc>) -> Result<usize, UserError> {
        let tree = self.tree(SESSIONS)?;
        let mut gone = 0usize;
        for kv in tree.iter() {
            let (k, v) = kv?;
            let ended = match serde_json::from_slice::<Session>(&v) {
                Ok(s) => !self.live(&s, now)?,
                // unreadable: nobody can use it
                Err(_) => true,
            };
            if ended {
                tree.remove(k)?;
                gone = gone.saturating_add(1);
            }
        }
        if gone > 0 {
            self.flush()?;
        }
        Ok(gone)
    }

    /// Whether `s` is still live at `now`: used within [`SESSION_IDLE`], started
    /// within [`SESSION_MAX`], its user still there.
    fn live(&self, s: &Session, now: DateTime<Utc>) -> Result<bool, UserError> {
        Ok(now - s.last_seen <= SESSION_IDLE
            && now - s.created_at <= SESSION_MAX
            && self.user(&s.user)?.is_some())
    }

    /// The live session of a cookie's token (its user still exists, used within
    /// [`SESSION_IDLE`], started within [`SESSION_MAX`]); refreshes `last_seen` at
    /// most once a minute.
    pub fn session(&self, token: &str, now: DateTime<Utc>) -> Result<Option<Session>, UserError> {
        let tree = self.tree(SESSIONS)?;
        let key = token_key(token);
        let Some(v) = tree.get(&key)? else {
            return Ok(None);
        };
        let mut s: Session = serde_json::from_slice(&v)?;
        if !self.live(&s, now)? {
            tree.remove(&key)?;
            return Ok(None);
        }
        if now - s.last_seen > Duration::minutes(1) {
            s.last_seen = now;
            tree.insert(&key, serde_json::to_vec(&s)?)?;
        }
        Ok(Some(s))
    }

    /// Logs a session out.
    pub fn end_session(&self, token: &str) -> Result<(), UserError> {
        self.tree(SESSIONS)?.remove(token_key(token))?;
        self.flush()?;
        Ok(())
    }

    fn end_sessions_of(&self, user: &str) -> Result<(), UserError> {
        let tree = self.tree(SESSIONS)?;
        for kv in tree.iter() {
            let (k, v) = kv?;
            let s: Session = serde_json::from_slice(&v)?;
            if s.user.eq_ignore_ascii_case(user) {
                tree.remove(k)?;
            }
        }
        Ok(())
    }
}

fn flatten(r: Result<(), sled::transaction::TransactionError<UserError>>) -> Result<(), UserError> {
    match r {
        Ok(()) => Ok(()),
        Err(sled::transaction::TransactionError::Abort(e)) => Err(e),
        Err(sled::transaction::TransactionError::Storage(e)) => Err(e.into()),
    }
}

use sled::Transactional;

#[cfg(test)]
#[path = "users_tests.rs"]
mod tests;
