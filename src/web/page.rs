//! What every page shares: the templates, the security headers, the two static
//! files, redirects and the error page.
//!
//! Templates are compiled into the binary and auto-escaped (minijinja escapes
//! everything in `.html` templates): text from a post can never become markup.

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::Environment;
use serde::Serialize;

/// The policy every response carries: our own script and style only, no inline
/// script, no frames, forms post only here.
pub const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The compiled templates.
pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    pub fn new() -> Pages {
        let mut env = Environment::new();
        for (name, src) in [
            ("layout.html", include_str!("layout.html")),
            ("login.html", include_str!("login.html")),
            ("inbox.html", include_str!("inbox.html")),
            ("mention.html", include_str!("mention.html")),
            ("error.html", include_str!("error.html")),
            ("dashboard.html", include_str!("dashboard.html")),
            ("reply_form.html", include_str!("reply_form.html")),
        ] {
            // compiled in: a syntax error is caught by the tests
            let _ = env.add_template(name, src);
        }
        Pages { env }
    }

    /// Renders `name` with `ctx`; a template error is a 500 that says so.
    pub fn render(&self, name: &str, ctx: impl Serialize) -> Response {
        match self.env.get_template(name).and_then(|t| t.render(ctx)) {
            Ok(html) => Html(html).into_response(),
            Err(e) => {
                tracing::error!("the page {name} cannot be rendered: {e:#}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "this page cannot be rendered (see the daemon's log)\n",
                )
                    .into_response()
            }
        }
    }

    /// An error page with a status.
    pub fn error(&self, status: StatusCode, message: &str) -> Response {
        let mut r = self.render(
            "error.html",
            minijinja::context! { status => status.as_u16(), message => message },
        );
        *r.status_mut() = status;
        r
    }
}

impl Default for Pages {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs store work off the runtime; its error (or the task's) as a 500 page.
pub async fn blocking<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    pages: &Pages,
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(pages.error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
        Err(e) => Err(pages.error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
    }
}

/// The headers of every web response.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // a click on "Reply on Hacker News" does not tell the site where it came from;
    // not `no-referrer`, with which browsers send `Origin: null` on our own form
    // posts, and the access guard refuses those as cross-site
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

fn asset(ctype: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, ctype),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        body,
    )
        .into_response()
}

pub async fn css() -> Response {
    asset("text/css; charset=utf-8", include_str!("static/inbox.css"))
}

pub async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("static/inbox.js"),
    )
}

/// A 303 to `back` when it is a path of this site, else to the inbox.
pub fn back_to(back: Option<&str>) -> Response {
    Redirect::to(safe_back(back)).into_response()
}

/// `back` when it is a local path (`/...`, not `//host` or `/\host`), else `/`.
pub fn safe_back(back: Option<&str>) -> &str {
    match back {
        Some(b)
            if b.starts_with('/')
                && !b.starts_with("//")
                && !b.starts_with("/\\")
                && !b.chars().any(|c| c.is_control()) =>
        {
            b
        }
        _ => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let p = Pages::new();
        for name in [
            "layout.html",
            "login.html",
            "inbox.html",
            "mention.html",
            "error.html",
            "dashboard.html",
            "reply_form.html",
        ] {
            assert!(p.env.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn redirects_stay_on_this_site() {
        assert_eq!(safe_back(Some("/m/abc?x=1")), "/m/abc?x=1");
        for bad in [
            "//evil.test/",
            "/\\evil.test",
            "https://evil.test/",
            "javascript:x",
            "/\nx",
        ] {
            assert_eq!(safe_back(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_back(None), "/");
    }
}
