//! How the CLI reads mentions: through the running daemon's API when one answers,
//! else by opening the database itself (sled allows one process at a time).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::api::StatsQuery;
use super::{Bucket, MentionFilter, StatsRow, Store, StoreError, StoredMention};

/// How long the CLI waits for the daemon's API before opening the database itself.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Store(#[from] StoreError),
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
}

/// Where reads go.
pub enum Reader {
    Api {
        api: SocketAddr,
        client: reqwest::Client,
        rt: tokio::runtime::Runtime,
    },
    Direct(Store),
}

impl Reader {
    /// The daemon's API if it answers within [`PROBE_TIMEOUT`], else the database.
    pub fn connect(data_dir: &Path, api: SocketAddr) -> Result<Reader, ClientError> {
        let why = match Self::probe(api) {
            Ok(reader) => return Ok(reader),
            Err(why) => why,
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

    fn probe(api: SocketAddr) -> Result<Reader, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a runtime: {e}"))?;
        let client = reqwest::Client::builder()
            .connect_timeout(PROBE_TIMEOUT)
            .timeout(Duration::from_secs(120))
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        let url = format!("http://{api}/api/mentions?limit=0");
        let probe = rt
            .block_on(async { tokio::time::timeout(PROBE_TIMEOUT, client.get(&url).send()).await });
        match probe {
            Err(_) => Err(format!("no answer within {PROBE_TIMEOUT:?}")),
            Ok(Err(e)) if e.is_connect() => Err("connection refused".into()),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(r)) if r.status().is_success() => Ok(Reader::Api { api, client, rt }),
            Ok(Ok(r)) => Err(format!("it answered {} to {url}", r.status())),
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
        let Reader::Api { api, client, rt } = self else {
            return Ok(None);
        };
        let api = *api;
        let fail = |why: String| ClientError::Api { api, why };
        rt.block_on(async {
            let r = client
                .get(format!("http://{api}{path}"))
                .query(query)
                .send()
                .await
                .map_err(|e| fail(e.to_string()))?;
            if r.status() == reqwest::StatusCode::NOT_FOUND {
                return Ok(None);
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

    pub fn list(&self, f: &MentionFilter) -> Result<Vec<StoredMention>, ClientError> {
        match self {
            Reader::Direct(s) => Ok(s.list_stored(f)?),
            Reader::Api { .. } => Ok(self.get_json("/api/mentions", f)?.unwrap_or_default()),
        }
    }

    /// A mention by id, post id or URL.
    pub fn get(&self, what: &str) -> Result<Option<StoredMention>, ClientError> {
        match self {
            Reader::Direct(s) => match s.resolve(what)? {
                Some(id) => Ok(s.get_stored(&id)?),
                None => Ok(None),
            },
            Reader::Api { .. } => {
                let seg: String = url::form_urlencoded::byte_serialize(what.as_bytes()).collect();
                self.get_json(&format!("/api/mentions/{seg}"), &())
            }
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
}
