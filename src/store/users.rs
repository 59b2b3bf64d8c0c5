//! The inbox's people and their sessions: `overhear user add|list|remove|passwd`
//! and logging in to the web inbox.
//!
//! Trees: `users` (lowercased name -> [`User`], password as an Argon2id PHC string),
//! `user_emails` (lowercased email -> name), `sessions` (SHA-256 of the cookie's
//! token -> [`Session`]). A session's token is only ever in the browser's cookie: the
//! database holds its hash, so a copy of the database logs nobody in.
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

    /// The live session of a cookie's token (its user still exists, used within
    /// [`SESSION_IDLE`]); refreshes `last_seen` at most once a minute.
    pub fn session(&self, token: &str, now: DateTime<Utc>) -> Result<Option<Session>, UserError> {
        let tree = self.tree(SESSIONS)?;
        let key = token_key(token);
        let Some(v) = tree.get(&key)? else {
            return Ok(None);
        };
        let mut s: Session = serde_json::from_slice(&v)?;
        if now - s.last_seen > SESSION_IDLE || self.user(&s.user)?.is_none() {
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
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        (d, s)
    }

    #[test]
    fn users_log_in_by_name_or_email_and_passwords_are_argon2id() {
        let (_d, s) = store();
        let now = Utc::now();
        s.add_user(
            "dana",
            Some("Dana@Acme.example"),
            "correct horse battery",
            now,
        )
        .unwrap();
        assert!(s
            .check_login("dana", "correct horse battery")
            .unwrap()
            .is_some());
        assert!(s
            .check_login("dana@acme.example", "correct horse battery")
            .unwrap()
            .is_some());
        assert!(s.check_login("DANA", "wrong password!").unwrap().is_none());
        assert!(s
            .check_login("nobody", "correct horse battery")
            .unwrap()
            .is_none());
        let stored = s.users().unwrap();
        assert!(
            stored[0].password.starts_with("$argon2id$"),
            "{}",
            stored[0].password
        );
        assert!(matches!(
            s.add_user("Dana", None, "another long one", now),
            Err(UserError::Exists(_))
        ));
        assert!(matches!(
            s.add_user("eve", Some("dana@acme.example"), "another long one", now),
            Err(UserError::EmailTaken(_))
        ));
        assert!(matches!(
            s.add_user("eve", None, "short", now),
            Err(UserError::WeakPassword)
        ));
        assert!(matches!(
            s.add_user("e ve", None, "long enough pw", now),
            Err(UserError::BadName(_))
        ));
    }

    #[test]
    fn sessions_end_with_a_new_password_removal_or_idleness() {
        let (_d, s) = store();
        let now = Utc::now();
        s.add_user("dana", None, "correct horse battery", now)
            .unwrap();
        let (token, session) = s.start_session("dana", now).unwrap();
        assert_eq!(s.session(&token, now).unwrap().unwrap().csrf, session.csrf);
        assert!(s.session("not-a-token", now).unwrap().is_none());
        assert!(s
            .session(&token, now + SESSION_IDLE + Duration::minutes(1))
            .unwrap()
            .is_none());
        let (token, _) = s.start_session("dana", now).unwrap();
        s.set_password("dana", "a new long password").unwrap();
        assert!(s.session(&token, now).unwrap().is_none());
        let (token, _) = s.start_session("dana", now).unwrap();
        s.remove_user("dana").unwrap();
        assert!(s.session(&token, now).unwrap().is_none());
        assert!(s.users().unwrap().is_empty());
    }
}
