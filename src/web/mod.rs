//! The team's inbox in a browser: log in, see the open mentions, take one, resolve
//! it with a note, dismiss it with a reason, see what everyone did.
//!
//! Server-rendered HTML (minijinja, auto-escaped; each page's template sits beside its
//! handler), one small script of our own for the keyboard (`static/inbox.js`), no
//! inline script or style, nothing fetched from elsewhere. Every page needs a
//! session (`auth.rs`: Argon2id passwords, an HttpOnly SameSite=Lax cookie, a CSRF
//! token in every form, login attempts rate-limited), and every response carries a
//! Content-Security-Policy that forbids inline script.
//!
//! `inbox.rs` (`/`: the list, filters, bulk actions), `mention.rs` (`/m/ID`: one
//! mention, its history and its actions), `view.rs` (what both show of a mention),
//! `auth.rs` (`/login`, `/logout`, sessions), `limits.rs` (failed logins per
//! account and per client address), `client.rs` (the client address, behind
//! trusted proxies), `act.rs` and `links.rs` (the alerts' single-use action
//! links), `page.rs` (templates, headers,
//! errors), `users.rs` (`/api/users`, for the CLI while the daemon runs). The
//! daemon merges [`router`] into its API and wraps both in its access
//! guard (Host, cross-site POSTs); the web layer never reads the config file or
//! changes a mention except through the store's triage API.

mod act;
mod auth;
mod chart;
pub mod client;
mod dashboard;
mod inbox;
pub mod limits;
pub mod links;
mod mention;
mod page;
mod reply;
pub mod users;
mod view;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

use crate::store::Store;

pub use auth::SESSION_COOKIE;
pub use limits::LoginLimiter;

/// What the pages share.
#[derive(Clone)]
pub struct WebState {
    pub store: Store,
    /// Cookies get `Secure` when the inbox is served over https (`public_url`).
    pub secure_cookies: bool,
    pub limiter: Arc<LoginLimiter>,
    /// The configured brands (the header's counts).
    pub brands: Arc<Vec<String>>,
    /// The full-text index (none when it could not be opened: search says so).
    pub search: Option<crate::search::Search>,
    /// Which mentions are overdue (still new past their brand's `escalate_after`).
    pub overdue: Overdue,
    /// Whether an action link's recipient (an address or `webhook:NAME`) is still
    /// one of the config's alert destinations; by default every one is.
    pub destination: Destination,
    /// `[daemon] trusted_proxies`: whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<Vec<crate::util::cidr::Cidr>>,
    /// Replying from the inbox (none without `[[reply_account]]`s).
    pub replies: Option<Arc<crate::reply::Desk>>,
    pages: Arc<page::Pages>,
}

/// Says whether a mention is overdue at a time: the daemon hands in its live alert
/// rules (see [`Alerter::is_overdue`](crate::alerts::Alerter::is_overdue)); by
/// default nothing is.
pub type Overdue =
    Arc<dyn Fn(&crate::store::StoredMention, chrono::DateTime<chrono::Utc>) -> bool + Send + Sync>;

/// Says whether an alert destination is still configured: the daemon hands in its
/// live alert rules (see [`Alerter::is_destination`](crate::alerts::Alerter::is_destination)).
pub type Destination = Arc<dyn Fn(&str) -> bool + Send + Sync>;

impl WebState {
    /// `public_url` is `[daemon] public_url`; `brands` the `[[brand]]` names.
    pub fn new(store: Store, public_url: Option<&str>, brands: Vec<String>) -> WebState {
        WebState {
            store,
            brands: Arc::new(brands),
            search: None,
            overdue: Arc::new(|_, _| false),
            destination: Arc::new(|_| true),
            trusted_proxies: Arc::new(Vec::new()),
            replies: None,
            secure_cookies: public_url.is_some_and(|u| u.starts_with("https://")),
            limiter: Arc::new(LoginLimiter::default()),
            pages: Arc::new(page::Pages::new()),
        }
    }
}

impl WebState {
    /// Searches with `search`, and tells it of every change made here.
    pub fn with_search(mut self, search: Option<crate::search::Search>) -> WebState {
        self.search = search;
        self
    }

    /// Action links work only for recipients `f` says are still configured.
    pub fn with_destinations(mut self, f: Destination) -> WebState {
        self.destination = f;
        self
    }

    /// Believes `X-Forwarded-For` from these proxies (`[daemon] trusted_proxies`).
    pub fn with_trusted_proxies(mut self, proxies: Vec<crate::util::cidr::Cidr>) -> WebState {
        self.trusted_proxies = Arc::new(proxies);
        self
    }

    /// Marks mentions overdue with `f`.
    pub fn with_replies(mut self, desk: Option<Arc<crate::reply::Desk>>) -> WebState {
        self.replies = desk;
        self
    }

    pub fn with_overdue(mut self, f: Overdue) -> WebState {
        self.overdue = f;
        self
    }
}

/// The inbox's routes, and `/api/users` for the `overhear user` commands.
pub fn router(state: WebState) -> Router {
    let api = users::router(state.store.clone());
    Router::new()
        .route("/", get(inbox::show))
        .route("/bulk", post(inbox::bulk))
        .route("/m/:id", get(mention::show))
        .route("/m/:id/:action", post(mention::change))
        .route("/r/new/:mention", post(reply::write))
        .route("/r/:id/:action", post(reply::act))
        .route("/a/:token", get(act::confirm).post(act::act))
        .route("/dashboard", get(dashboard::show))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/static/inbox.css", get(page::css))
        .route("/static/inbox.js", get(page::js))
        .layer(axum::middleware::from_fn(page::security_headers))
        .with_state(state)
        .merge(api)
}
