//! How the CLI reads mentions, searches them and changes their triage state: through
//! the running daemon's API when one answers, else by opening the database (and the
//! search index) itself (sled allows one process at a time, and tantivy one writer).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::api::{ListQuery, MentionPage, StatsQuery, TriageRequest, MAX_PAGE};
use super::{
    Bucket, MentionFilter, ResponseRow, StatsRow, Store, StoreError, StoredMention, Transition,
    TriageError,
};
use crate::search::{Order, SearchError, SearchIndex, SearchQuery};

/// How long the CLI waits for the daemon's API before opening the database itself.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error(
        "the daemon holds the database at {path}, but its API at http://{api} did not answer \
         ({why}); is the daemon healthy? (sled allows one process per database, so the \
         database cannot be opened while the daemon runs)"
    )]
    DaemonSilent {
        path: PathBuf,
        api: SocketAddr,
        why: String,
    },
    #[error("the daemon's API at http://{api} failed: {why}")]
    Api { api: SocketAddr, why: String },
    #[error("the daemon's API at http://{api} answered 401 Unauthorized: {why}")]
    Unauthorized { api: SocketAddr, why: String },
    /// A triage change that cannot be made (the daemon's or the store's reason).
    #[error("{0}")]
    Refused(String),
}

/// The API token the CLI sends, and where it comes from (named in errors; the token
/// itself never is).
#[derive(Clone, Default)]
pub struct ApiToken {
    pub value: Option<String>,
    /// Where the token should come from, for the 401 message: e.g. "the environment
    /// variable OVERHEAR_API_TOKEN ([daemon] api_token_env)".
    pub from: String,
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiToken")
            .field("value", &self.value.as_ref().map(|_| "<secret>"))
            .field("from", &self.from)
            .finish()
    }
}

impl ApiToken {
    fn refused(&self) -> String {
        match (&self.value, self.from.is_empty()) {
            (Some(_), _) => format!(
                "the API token sent (from {}) is not the daemon's",
                self.from
            ),
            (None, false) => format!("no API token was sent: set {}", self.from),
            (None, true) => "the daemon wants an API token: set [daemon] api_token_env or \
                 api_token_file in this config to the daemon's"
                .to_string(),
        }
    }
}

/// Why the probe did not give a reader.
enum ProbeError {
    Silent(String),
    Unauthorized(String),
}

/// Where reads go.
pub enum Reader {
    Api {
        api: SocketAddr,
        client: reqwest::Client,
        rt: tokio::runtime::Runtime,
        token: ApiToken,
    },
    Direct(Store),
}

impl Reader {
    /// The daemon's API if it answers within [`PROBE_TIMEOUT`], else the database.
    /// `token` is sent with every request.
    pub fn connect(
        data_dir: &Path,
        api: SocketAddr,
        token: ApiToken,
    ) -> Result<Reader, ClientError> {
        let why = match Self::probe(api, token) {
            Ok(reader) => return Ok(reader),
            Err(ProbeError::Silent(why)) => why,
            Err(ProbeError::Unauthorized(why)) => {
                return Err(ClientError::Unauthorized { api, why })
            }
        };
        match Store::open_existing(data_dir) {
            Ok(store) => Ok(Reader::Direct(store)),
            Err(StoreError::Locked(path)) => Err(ClientError::DaemonSilent { path, api, why }),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens the database directly (no API).
    pub fn direct(data_dir: &Path) -> Result<Reader, ClientError> {
        Ok(Reader::Direct(Store::open_existing(data_dir)?))
    }

    fn probe(api: SocketAddr, token: ApiToken) -> Result<Reader, ProbeError> {
        let silent = ProbeError::Silent;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| silent(format!("cannot start a runtime: {e}")))?;
        let client = reqwest::Client::builder()
            .connect_timeout(PROBE_TIMEOUT)
            .timeout(Duration::from_secs(120))
            .no_proxy()
            .build()
            .map_err(|e| silent(e.to_string()))?;
        let url = format!("http://{api}/api/mentions?limit=0");
        let req = authorized(client.get(&url), &token);
        let probe = rt.block_on(async { tokio::time::timeout(PROBE_TIMEOUT, req.send()).await });
        match probe {
            Err(_) => Err(silent(format!("no answer within {PROBE_TIMEOUT:?}"))),
            Ok(Err(e)) if e.is_connect() => Err(silent("connection refused".into())),
            Ok(Err(e)) => Err(silent(e.to_string())),
            Ok(Ok(r)) if r.status().is_success() => Ok(Reader::Api {
                api,
                client,
                rt,
                token,
            }),
            Ok(Ok(r)) if r.status() == reqwest::StatusCode::UNAUTHORIZED => {
                Err(ProbeError::Unauthorized(token.refused()))
            }
            Ok(Ok(r)) => Err(silent(format!("it answered {} to {url}", r.status()))),
        }
    }

    /// "daemon API" or "database".
    pub fn via(&self) -> &'static str {
        match self {
            Reader::Api { .. } => "daemon API",
            Reader::Direct(_) => "database",
        }
    }

    fn get_json<T: serde::de::DeserializeOwned, Q: serde::Serialize>(
        &self,
        path: &str,
        query: &Q,
    ) -> Result<Option<T>, ClientError> {
        self.call(|c, api| c.get(format!("http://{api}{path}")).query(query))
    }

    /// Sends the request `build` makes and decodes its JSON answer: `None` for a 404
    /// (and with no API); a 409 is [`ClientError::Refused`] with the daemon's reason.
    pub(crate) fn call<T: serde::de::DeserializeOwned>(
        &self,
        build: impl FnOnce(&reqwest::Client, SocketAddr) -> reqwest::RequestBuilder,
    ) -> Result<Option<T>, ClientError> {
        let Reader::Api {
            api,
            client,
            rt,
            token,
        } = self
        else {
            return Ok(None);
        };
        let api = *api;
        let fail = |why: String| ClientError::Api { api, why };
        rt.block_on(async {
            let r = authorized(build(client, api), token)
                .send()
                .await
                .map_err(|e| fail(e.to_string()))?;
            if r.status() == reqwest::StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if r.status() == reqwest::StatusCode::UNAUTHORIZED {
                return Err(ClientError::Unauthorized {
                    api,
                    why: token.refused(),
                });
            }
            if r.status() == reqwest::StatusCode::CONFLICT {
                let body = r.text().await.unwrap_or_default();
                return Err(ClientError::Refused(body.trim().to_string()));
            }
            if !r.status().is_success() {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                return Err(fail(format!("{status}: {body}")));
            }
            r.json::<T>()
                .await
                .map(Some)
                .map_err(|e| fail(e.to_string()))
        })
    }

    /// Changes the triage state of the mention `what` names (id, post id or URL):
    /// through the daemon's API (`POST /api/mentions/{id}/{verb}`) when it answers,
    /// else in the database (and its search index, if there is one).
    /// `None` if there is no such mention.
    pub fn triage(&self, what: &str, t: &Transition) -> Result<Option<StoredMention>, ClientError> {
        match self {
            Reader::Direct(s) => {
                let Some(id) = s.resolve(what)? else {
                    return Ok(None);
                };
                let m = match s.triage(&id, t, Utc::now()) {
                    Err(StoreError::Triage(TriageError::NoMention(_))) => return Ok(None),
                    Err(StoreError::Triage(e)) => return Err(ClientError::Refused(e.to_string())),
                    r => r?,
                };
                if let Err(e) = crate::search::refresh_now(data_dir(s), s, &[id]) {
                    tracing::warn!(error = %e, "the search index was not updated; the daemon catches it up when it starts");
                }
                Ok(Some(m))
            }
            Reader::Api { .. } => {
                let seg = segment(what);
                let body = TriageRequest::of(t);
                let verb = t.action.verb();
                self.call(|c, api| {
                    c.post(format!("http://{api}/api/mentions/{seg}/{verb}"))
                        .json(&body)
                })
            }
        }
    }

    /// Mentions matching `f`, newest first: up to `f.limit`, else all of them
    /// (through the API, page by page, following the cursors).
    pub fn list(&self, f: &MentionFilter) -> Result<Vec<StoredMention>, ClientError> {
        if let Reader::Direct(s) = self {
            return Ok(s.list_stored(f)?);
        }
        self.pages(f.limit, |size, cursor| ListQuery::page(f, size, cursor))
    }

    /// Mentions matching the full-text query `text` and `f`'s filters, in `order`:
    /// up to `f.limit`, else all of them. Through the API (`/api/mentions?q=`) when
    /// the daemon runs, else from the search index in the data directory (checked
    /// against the database, as the daemon does).
    pub fn search(
        &self,
        text: &str,
        f: &MentionFilter,
        order: Order,
    ) -> Result<Vec<StoredMention>, ClientError> {
        let Reader::Direct(s) = self else {
            return self.pages(f.limit, |size, cursor| ListQuery {
                q: Some(text.to_string()),
                sort: Some(order),
                ..ListQuery::page(f, size, cursor)
            });
        };
        let index = SearchIndex::open_existing(data_dir(s))?;
        let mut q = SearchQuery::new(text, f);
        q.order = order;
        let mut out: Vec<StoredMention> = Vec::new();
        loop {
            q.limit = page_size(f.limit, out.len());
            if q.limit == 0 {
                break;
            }
            let page = crate::search::page(s, &index, &q)?;
            out.extend(page.mentions);
            match page.next {
                Some(a) => q.after = Some(a),
                None => break,
            }
        }
        Ok(out)
    }

    /// Reads `/api/mentions` page by page (the query for each page from `query`,
    /// given its size and cursor), following `next_cursor` until `limit` mentions
    /// (`None`: all).
    fn pages(
        &self,
        limit: Option<usize>,
        query: impl Fn(usize, Option<String>) -> ListQuery,
    ) -> Result<Vec<StoredMention>, ClientError> {
        let mut out: Vec<StoredMention> = Vec::new();
        let mut cursor = None;
        loop {
            let size = page_size(limit, out.len());
            if size == 0 {
                break;
            }
            let q = query(size, cursor.take());
            let page: MentionPage = self.get_json("/api/mentions", &q)?.unwrap_or_default();
            out.extend(page.mentions);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        Ok(out)
    }

    /// A mention by id, post id or URL.
    pub fn get(&self, what: &str) -> Result<Option<StoredMention>, ClientError> {
        match self {
            Reader::Direct(s) => match s.resolve(what)? {
                Some(id) => Ok(s.get_stored(&id)?),
                None => Ok(None),
            },
            Reader::Api { .. } => self.get_json(&format!("/api/mentions/{}", segment(what)), &()),
        }
    }

    pub fn stats(
        &self,
        brand: Option<&str>,
        since: Option<DateTime<Utc>>,
        by: Bucket,
    ) -> Result<Vec<StatsRow>, ClientError> {
        match self {
            Reader::Direct(s) => Ok(s.stats(brand, since, by)?),
            Reader::Api { .. } => {
                let q = StatsQuery {
                    brand: brand.map(str::to_string),
                    since,
                    by: Some(by),
                };
                Ok(self.get_json("/api/stats", &q)?.unwrap_or_default())
            }
        }
    }

    /// How fast the brand answered in public (see [`Store::responses`]).
    pub fn responses(
        &self,
        brand: Option<&str>,
        since: DateTime<Utc>,
    ) -> Result<Vec<ResponseRow>, ClientError> {
        match self {
            Reader::Direct(s) => Ok(s.responses(since, brand)?),
            Reader::Api { .. } => {
                let q = StatsQuery {
                    brand: brand.map(str::to_string),
                    since: Some(since),
                    by: None,
                };
                Ok(self
                    .get_json("/api/stats/responses", &q)?
                    .unwrap_or_default())
            }
        }
    }
}

/// How many to ask for next: what `limit` leaves after `have`, at most a page.
fn page_size(limit: Option<usize>, have: usize) -> usize {
    limit.map_or(MAX_PAGE, |l| l.saturating_sub(have).min(MAX_PAGE))
}

/// The data directory of a database opened directly (`data_dir/db`).
fn data_dir(s: &Store) -> &Path {
    s.path().parent().unwrap_or(s.path())
}

/// `what` (an id, a post id or a URL) as one path segment.
fn segment(what: &str) -> String {
    url::form_urlencoded::byte_serialize(what.as_bytes()).collect()
}

/// `req` with the bearer token, when there is one.
fn authorized(req: reqwest::RequestBuilder, token: &ApiToken) -> reqwest::RequestBuilder {
    match &token.value {
        Some(t) => req.bearer_auth(t),
        None => req,
    }
}
