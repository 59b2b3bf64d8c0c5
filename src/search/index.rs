//! Opening the index (and rebuilding one that cannot be used) and running searches:
//! newest first by a (post time, id) key read from fast fields, or by relevance.
//!
//! Reads only: this file never adds or deletes a document (`writer` does) and never
//! reads the store.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tantivy::collector::{CustomScorer, CustomSegmentScorer, TopDocs};
use tantivy::columnar::Column;
use tantivy::{DocId, Index, IndexReader, IndexWriter, ReloadPolicy, SegmentReader, TantivyError};

use super::query::{Analyzers, Builder};
use super::schema::{self, id_of, key_of, Fields, KEYWORD_ANALYZER, SCHEMA_VERSION, TEXT_ANALYZER};
use super::{Hit, Order, SearchError, SearchQuery, MAX_HITS};

/// The index in one data directory, ready to search (cheap to clone).
#[derive(Clone)]
pub struct SearchIndex {
    pub(crate) index: Index,
    pub(crate) reader: IndexReader,
    pub(crate) fields: Fields,
    path: PathBuf,
}

/// What every commit records, to tell an index of another layout.
pub(crate) fn payload() -> String {
    format!("{{\"overhear_search\":{SCHEMA_VERSION}}}")
}

impl SearchIndex {
    /// Where the index of `data_dir` lives.
    pub fn dir(data_dir: &Path) -> PathBuf {
        data_dir.join("search")
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn error(&self, e: impl std::fmt::Display) -> SearchError {
        SearchError::Index {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Opens the index of `data_dir` to search it; [`SearchError::Missing`] when
    /// there is none, an error naming the path when it cannot be used.
    pub fn open_existing(data_dir: &Path) -> Result<SearchIndex, SearchError> {
        let path = Self::dir(data_dir);
        if !path.join("meta.json").exists() {
            return Err(SearchError::Missing(path));
        }
        Self::open_at(&path).map_err(|message| SearchError::Index { path, message })
    }

    /// Opens the index of `data_dir`, or makes an empty one when it is missing,
    /// unreadable, or of another layout (the catch-up then fills it from the store).
    pub(crate) fn open_or_rebuild(data_dir: &Path) -> Result<SearchIndex, SearchError> {
        let path = Self::dir(data_dir);
        if path.join("meta.json").exists() {
            match Self::open_at(&path) {
                Ok(i) => return Ok(i),
                Err(why) => tracing::warn!(
                    path = %path.display(),
                    "the search index cannot be used ({why}); rebuilding it from the database"
                ),
            }
            std::fs::remove_dir_all(&path).map_err(|e| SearchError::Index {
                path: path.clone(),
                message: format!("cannot remove it to rebuild it: {e}"),
            })?;
        } else {
            tracing::info!(
                path = %path.display(),
                "no search index yet; building it from the database in the background"
            );
            if path.exists() {
                // a directory without an index (a rebuild interrupted before its first commit)
                let _ = std::fs::remove_dir_all(&path);
            }
        }
        Self::create_at(&path)
    }

    /// Makes an empty index at `path` (which must not hold one).
    pub(crate) fn create_at(path: &Path) -> Result<SearchIndex, SearchError> {
        let fail = |message: String| SearchError::Index {
            path: path.to_path_buf(),
            message,
        };
        crate::store::create_private_dir(path)
            .map_err(|e| fail(format!("cannot create it: {e}")))?;
        let index = Index::create_in_dir(path, schema::schema().0)
            .map_err(|e| fail(format!("cannot create it: {e}")))?;
        Self::ready(index, path).map_err(fail)
    }

    fn open_at(path: &Path) -> Result<SearchIndex, String> {
        let index = Index::open_in_dir(path).map_err(|e| e.to_string())?;
        let want = serde_json::to_value(schema::schema().0).map_err(|e| e.to_string())?;
        let have = serde_json::to_value(index.schema()).map_err(|e| e.to_string())?;
        if want != have {
            return Err("it was made by another version of overhear (its fields differ)".into());
        }
        let metas = index.load_metas().map_err(|e| e.to_string())?;
        if !metas.segments.is_empty() && metas.payload.as_deref() != Some(payload().as_str()) {
            return Err(format!(
                "its layout is {:?}, this overhear writes {}",
                metas.payload.unwrap_or_default(),
                payload()
            ));
        }
        Self::ready(index, path)
    }

    fn ready(index: Index, path: &Path) -> Result<SearchIndex, String> {
        schema::register(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e: TantivyError| e.to_string())?;
        let s = index.schema();
        let field = |name: &str| s.get_field(name).map_err(|e| e.to_string());
        let fields = Fields {
            id: field("id")?,
            key: field("key")?,
            rev: field("rev")?,
            ts: field("ts")?,
            brand: field("brand")?,
            source: field("source")?,
            site: field("site")?,
            author: field("author")?,
            title: field("title")?,
            text: field("text")?,
            sentiment: field("sentiment")?,
            status: field("status")?,
            assignee: field("assignee")?,
        };
        let me = SearchIndex {
            index,
            reader,
            fields,
            path: path.to_path_buf(),
        };
        // every segment's fast fields must open: a damaged file shows here, not mid-search
        for seg in me.reader.searcher().segment_readers() {
            columns_of(seg).map_err(|e| e.to_string())?;
            seg.fast_fields().u64("rev").map_err(|e| e.to_string())?;
        }
        Ok(me)
    }

    /// A writer (one process at a time: [`SearchError::Locked`] otherwise).
    pub(crate) fn writer(&self, threads: usize, budget: usize) -> Result<IndexWriter, SearchError> {
        match self.index.writer_with_num_threads(threads, budget) {
            Ok(w) => Ok(w),
            Err(TantivyError::LockFailure(..)) => Err(SearchError::Locked(self.path.clone())),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Makes what the last commit wrote searchable here.
    pub(crate) fn reload(&self) -> Result<(), SearchError> {
        self.reader.reload().map_err(|e| self.error(e))
    }

    /// Documents in the index (as of the last reload).
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Every live document's (id number, record hash), sorted by id number.
    pub(crate) fn entries(&self) -> Result<Vec<(u64, u64)>, SearchError> {
        let searcher = self.reader.searcher();
        let mut out = Vec::with_capacity(usize::try_from(searcher.num_docs()).unwrap_or(0));
        for seg in searcher.segment_readers() {
            let ff = seg.fast_fields();
            let key = ff.u64("key").map_err(|e| self.error(e))?;
            let rev = ff.u64("rev").map_err(|e| self.error(e))?;
            for doc in seg.doc_ids_alive() {
                if let (Some(k), Some(r)) = (key.first(doc), rev.first(doc)) {
                    out.push((k, r));
                }
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// The hits of `q`, in its order (at most `q.limit`, capped at [`MAX_HITS`]).
    pub fn hits(&self, q: &SearchQuery) -> Result<Vec<Hit>, SearchError> {
        let limit = q.limit.min(MAX_HITS);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let tokenizer = |name: &str| {
            self.index
                .tokenizers()
                .get(name)
                .ok_or_else(|| self.error(format!("analyzer {name} is not registered")))
        };
        let mut builder = Builder {
            fields: &self.fields,
            analyzers: Analyzers {
                text: tokenizer(TEXT_ANALYZER)?,
                keyword: tokenizer(KEYWORD_ANALYZER)?,
            },
        };
        let query = builder.build(q)?;
        let searcher = self.reader.searcher();
        match q.order {
            Order::Newest => {
                let after = match &q.after {
                    Some(a) => Some((
                        a.ms,
                        key_of(&a.id).ok_or_else(|| {
                            self.error(format!("cursor id {:?} is not a mention id", a.id))
                        })?,
                    )),
                    None => None,
                };
                let top = TopDocs::with_limit(limit).custom_score(NewestFirst { after });
                let found = searcher.search(&*query, &top).map_err(|e| self.error(e))?;
                Ok(found
                    .into_iter()
                    .filter_map(|(score, _)| score)
                    .map(|(ms, key)| Hit {
                        id: id_of(key),
                        created_ms: ms,
                        score: None,
                    })
                    .collect())
            }
            Order::Relevance => {
                let found = searcher
                    .search(&*query, &TopDocs::with_limit(limit))
                    .map_err(|e| self.error(e))?;
                let mut columns: HashMap<u32, (Column<i64>, Column<u64>)> = HashMap::new();
                let mut out = Vec::with_capacity(found.len());
                for (score, addr) in found {
                    let cols = match columns.get(&addr.segment_ord) {
                        Some(c) => c,
                        None => {
                            let seg = searcher.segment_reader(addr.segment_ord);
                            let c = columns_of(seg).map_err(|e| self.error(e))?;
                            columns.entry(addr.segment_ord).or_insert(c)
                        }
                    };
                    if let (Some(ms), Some(key)) =
                        (cols.0.first(addr.doc_id), cols.1.first(addr.doc_id))
                    {
                        out.push(Hit {
                            id: id_of(key),
                            created_ms: ms,
                            score: Some(score),
                        });
                    }
                }
                Ok(out)
            }
        }
    }
}

fn columns_of(seg: &SegmentReader) -> tantivy::Result<(Column<i64>, Column<u64>)> {
    let ff = seg.fast_fields();
    Ok((ff.i64("ts")?, ff.u64("key")?))
}

/// Scores a document by (post time, id number), so the top ones are the newest;
/// those at or before `after` in that order score `None` and are dropped.
struct NewestFirst {
    after: Option<(i64, u64)>,
}

struct NewestFirstSegment {
    ts: Column<i64>,
    key: Column<u64>,
    after: Option<(i64, u64)>,
}

impl CustomScorer<Option<(i64, u64)>> for NewestFirst {
    type Child = NewestFirstSegment;

    fn segment_scorer(&self, seg: &SegmentReader) -> tantivy::Result<NewestFirstSegment> {
        let (ts, key) = columns_of(seg)?;
        Ok(NewestFirstSegment {
            ts,
            key,
            after: self.after,
        })
    }
}

impl CustomSegmentScorer<Option<(i64, u64)>> for NewestFirstSegment {
    fn score(&mut self, doc: DocId) -> Option<(i64, u64)> {
        let k = (self.ts.first(doc)?, self.key.first(doc)?);
        match self.after {
            Some(a) if k >= a => None,
            _ => Some(k),
        }
    }
}
