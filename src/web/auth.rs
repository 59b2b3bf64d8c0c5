//! Logging in and out, sessions and CSRF.
//!
//! - A session is a random token in the `overhear_session` cookie (HttpOnly,
//!   SameSite=Lax, `Secure` when `public_url` is https, Path=/); the store keeps
//!   its hash. Every page asks for one ([`Authed`]), else it redirects to `/login`.
//! - Every form carries the session's CSRF token; a POST without the right one is
//!   refused with 403 ([`Authed::refuse_bad_csrf`]). The login form, before any session,
//!   carries a token that must equal its `overhear_login` cookie.
//!   An empty cookie or token is refused (403) like a wrong one.
//! - Failed logins are limited per account and per client address
//!   ([`LoginLimiter`](super::limits::LoginLimiter), see `limits.rs`): an address
//!   that failed too often waits (429 with `Retry-After`, a correct password
//!   included); nobody is locked out from an address that has not failed.
//! - Logging in ends the session the browser held, if any, and starts a new one (a
//!   new token: a session fixed before login is useless); a session ends 30 days
//!   after it started, or 14 days unused ([`SESSION_MAX`], store's `users.rs`), and
//!   expired ones are pruned at every login and hourly by the daemon.
//!
//! Never logs a password or a token; says "wrong name or password" whichever was wrong.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::page::safe_back;
use super::WebState;
use crate::store::users::{Session, SESSION_MAX};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "overhear_session";
const LOGIN_COOKIE: &str = "overhear_login";

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(state: &WebState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let v = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("overhear_invalid=1"))
}

/// Constant-time equality of two tokens.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A logged-in request: its user and session.
pub struct Authed {
    pub session: Session,
}

impl Authed {
    pub fn user(&self) -> &str {
        &self.session.user
    }

    /// A 403 page unless the form's CSRF token is this session's.
    pub fn refuse_bad_csrf(&self, state: &WebState, token: &str) -> Option<Response> {
        if same(token, &self.session.csrf) {
            None
        } else {
            Some(state.pages.error(
                StatusCode::FORBIDDEN,
                "This form is out of date or did not come from this inbox (its CSRF token does not match). Reload the page and try again.",
            ))
        }
    }
}

#[axum::async_trait]
impl FromRequestParts<WebState> for Authed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Response> {
        let to_login = || {
            let next = parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string();
            let q = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("next", safe_back(Some(&next)))
                .finish();
            Redirect::to(&format!("/login?{q}")).into_response()
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).map(str::to_string) else {
            return Err(to_login());
        };
        let store = state.store.clone();
        let found = tokio::task::spawn_blocking(move || store.session(&token, chrono::Utc::now()))
            .await
            .map_err(|e| {
                state
                    .pages
                    .error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
            })?;
        match found {
            Ok(Some(session)) => Ok(Authed { session }),
            Ok(None) => Err(to_login()),
            Err(e) => Err(state
                .pages
                .error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

fn login_form(state: &WebState, next: &str, error: Option<&str>, status: StatusCode) -> Response {
    let token = crate::store::users::random_token();
    let no_users = state.store.users().map(|u| u.is_empty()).unwrap_or(false);
    let mut r = state.pages.render(
        "login.html",
        minijinja::context! { csrf => &token, next => next, error => error, no_users => no_users },
    );
    *r.status_mut() = status;
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, LOGIN_COOKIE, &token, 3600),
    );
    r
}

/// `GET /login`
pub async fn login_page(State(state): State<WebState>, Query(q): Query<LoginQuery>) -> Response {
    login_form(&state, safe_back(q.next.as_deref()), None, StatusCode::OK)
}

/// `POST /login`
pub async fn login(
    State(state): State<WebState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let client = super::client::client_ip(
        peer.map(|Extension(ConnectInfo(p))| p),
        &headers,
        &state.trusted_proxies,
    );
    let next = safe_back(f.next.as_deref()).to_string();
    let csrf_ok = cookie(&headers, LOGIN_COOKIE)
        .is_some_and(|c| !c.is_empty() && !f.csrf.is_empty() && same(c, &f.csrf));
    if !csrf_ok {
        return login_form(
            &state,
            &next,
            Some("This login form expired (or cookies are off). Try again."),
            StatusCode::FORBIDDEN,
        );
    }
    let now = Instant::now();
    // name and email of one user count as one account
    let account = match state.store.user(&f.login) {
        Ok(Some(u)) => u.name.to_lowercase(),
        _ => super::limits::normalise(&f.login),
    };
    if let Err(wait) = state.limiter.check(&account, client, now) {
        let secs = wait.as_secs().max(1);
        let when = if secs < 90 {
            format!("{secs} seconds")
        } else {
            format!("{} minutes", secs.div_ceil(60))
        };
        let mut r = login_form(
            &state,
            &next,
            Some(&format!("Too many failed logins. Try again in {when}.")),
            StatusCode::TOO_MANY_REQUESTS,
        );
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let store = state.store.clone();
    let (login, password) = (f.login.clone(), f.password);
    // the session this browser held before: ended, never carried over
    let old = cookie(&headers, SESSION_COOKIE).map(str::to_string);
    let checked = tokio::task::spawn_blocking(move || {
        let user = store.check_login(&login, &password)?;
        match user {
            Some(u) => {
                let now = chrono::Utc::now();
                if let Err(e) = store.prune_sessions(now) {
                    tracing::warn!("cannot prune expired sessions: {e}");
                }
                store
                    .replace_session(old.as_deref(), &u.name, now)
                    .map(Some)
            }
            None => Ok(None),
        }
    })
    .await;
    match checked {
        Ok(Ok(Some((token, session)))) => {
            state.limiter.succeeded(&account, client);
            tracing::info!(user = %session.user, "logged in to the inbox");
            let mut r = Redirect::to(&next).into_response();
            let h = r.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(&state, SESSION_COOKIE, &token, SESSION_MAX.num_seconds()),
            );
            h.append(header::SET_COOKIE, set_cookie(&state, LOGIN_COOKIE, "", 0));
            r
        }
        Ok(Ok(None)) => {
            state.limiter.failed(&account, client, now);
            tracing::warn!("a failed login to the inbox");
            login_form(
                &state,
                &next,
                Some("Wrong name or password."),
                StatusCode::UNAUTHORIZED,
            )
        }
        Ok(Err(e)) => state
            .pages
            .error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => state
            .pages
            .error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

/// `POST /logout`
pub async fn logout(
    State(state): State<WebState>,
    headers: HeaderMap,
    authed: Authed,
    Form(f): Form<LogoutForm>,
) -> Response {
    if let Some(r) = authed.refuse_bad_csrf(&state, &f.csrf) {
        return r;
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        let _ = state.store.end_session(token);
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, SESSION_COOKIE, "", 0),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "x_overhear_session=evil; overhear_session=abc; y=1"
                .parse()
                .unwrap(),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
