//! Logging in and out, sessions and CSRF.
//!
//! - A session is a random token in the `overhear_session` cookie (HttpOnly,
//!   SameSite=Lax, `Secure` when `public_url` is https, Path=/); the store keeps
//!   its hash. Every page asks for one ([`Authed`]), else it redirects to `/login`.
//! - Every form carries the session's CSRF token; a POST without the right one is
//!   refused with 403 ([`Authed::refuse_bad_csrf`]). The login form, before any session,
//!   carries a token that must equal its `overhear_login` cookie.
//! - Failed logins are limited ([`LoginLimiter`]): 5 per login name and 50 in all per
//!   15 minutes; beyond that, 429 with `Retry-After` (a correct password included).
//!
//! Never logs a password or a token; says "wrong name or password" whichever was wrong.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::page::safe_back;
use super::WebState;
use crate::store::users::Session;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "overhear_session";
const LOGIN_COOKIE: &str = "overhear_login";
const WINDOW: Duration = Duration::from_secs(15 * 60);
const PER_LOGIN: u32 = 5;
const IN_ALL: u32 = 50;

/// Failed logins, per login name and in all, per 15 minutes.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    inner: Mutex<Limits>,
}

#[derive(Debug, Default)]
struct Limits {
    per_login: HashMap<String, (u32, Instant)>,
    all: Option<(u32, Instant)>,
}

impl LoginLimiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, Limits> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Err(wait)` when `login` (or everyone) failed too often lately.
    pub fn check(&self, login: &str, now: Instant) -> Result<(), Duration> {
        let l = self.lock();
        let blocked = |e: Option<&(u32, Instant)>, max: u32| match e {
            Some((n, since)) if *n >= max && now.duration_since(*since) < WINDOW => {
                Some(WINDOW.saturating_sub(now.duration_since(*since)))
            }
            _ => None,
        };
        match blocked(l.per_login.get(&login.to_lowercase()), PER_LOGIN)
            .or_else(|| blocked(l.all.as_ref(), IN_ALL))
        {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    pub fn failed(&self, login: &str, now: Instant) {
        let mut l = self.lock();
        let bump = |e: &mut (u32, Instant)| {
            if now.duration_since(e.1) >= WINDOW {
                *e = (0, now);
            }
            e.0 = e.0.saturating_add(1);
        };
        bump(l.per_login.entry(login.to_lowercase()).or_insert((0, now)));
        bump(l.all.get_or_insert((0, now)));
        // forget old names, so that trying many names cannot grow the map forever
        if l.per_login.len() > 10_000 {
            l.per_login
                .retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
        }
    }

    pub fn succeeded(&self, login: &str) {
        self.lock().per_login.remove(&login.to_lowercase());
    }
}

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
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = safe_back(f.next.as_deref()).to_string();
    if !cookie(&headers, LOGIN_COOKIE).is_some_and(|c| same(c, &f.csrf)) {
        return login_form(
            &state,
            &next,
            Some("This login form expired (or cookies are off). Try again."),
            StatusCode::FORBIDDEN,
        );
    }
    let now = Instant::now();
    if let Err(wait) = state.limiter.check(&f.login, now) {
        let mut r = login_form(
            &state,
            &next,
            Some(&format!(
                "Too many failed logins. Try again in {} minutes.",
                wait.as_secs().div_ceil(60).max(1)
            )),
            StatusCode::TOO_MANY_REQUESTS,
        );
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let store = state.store.clone();
    let (login, password) = (f.login.clone(), f.password);
    let checked = tokio::task::spawn_blocking(move || {
        let user = store.check_login(&login, &password)?;
        match user {
            Some(u) => store.start_session(&u.name, chrono::Utc::now()).map(Some),
            None => Ok(None),
        }
    })
    .await;
    match checked {
        Ok(Ok(Some((token, session)))) => {
            state.limiter.succeeded(&f.login);
            tracing::info!(user = %session.user, "logged in to the inbox");
            let mut r = Redirect::to(&next).into_response();
            let h = r.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(&state, SESSION_COOKIE, &token, 14 * 86_400),
            );
            h.append(header::SET_COOKIE, set_cookie(&state, LOGIN_COOKIE, "", 0));
            r
        }
        Ok(Ok(None)) => {
            state.limiter.failed(&f.login, now);
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
    fn five_failures_per_name_then_a_wait() {
        let l = LoginLimiter::default();
        let t = Instant::now();
        for _ in 0..5 {
            assert!(l.check("Dana", t).is_ok());
            l.failed("dana", t);
        }
        let wait = l.check("DANA", t).unwrap_err();
        assert!(wait > Duration::from_secs(14 * 60), "{wait:?}");
        assert!(l.check("eve", t).is_ok(), "others may still log in");
        assert!(l.check("dana", t + WINDOW).is_ok(), "the window passes");
    }

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
